// DOM helpers. Every string goes into the page as text (textContent or a text node),
// never as HTML: the page shows values from the API and from the person's own input.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** `el('p', {class: 'x', data: {rule: 'a'}}, 'text', node, …)`. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'data') for (const [k, v] of Object.entries(value)) node.dataset[k] = v;
    else if (key === 'text') node.textContent = value;
    else if (key === 'hidden') node.hidden = true;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces the children of `container` (nested arrays flattened, empty values dropped). */
export function replace(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
}

export const code = (text) => el('code', null, text);

/** Text with line-break opportunities after `/`, `?` and `&` (URLs in narrow cells). */
export const breakable = (text) => String(text).split(/(?<=[/?&])/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));

/** Text for screen readers only. */
export const srOnly = (text) => el('span', { class: 'sr-only' }, text);

/** A sideways-scrolling, keyboard-focusable region around a wide table. */
export const scrollRegion = (label, content) => el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': label }, content);

/** A read-only text box holding `value` with a Copy button (clipboard, else selected for Ctrl+C). */
export function copyable(label, value, id) {
  const input = el('input', { id, type: 'text', readonly: true, value, spellcheck: 'false', class: 'mono' });
  const status = el('span', { class: 'hint copy-status', role: 'status', 'aria-live': 'polite' });
  const button = el('button', { type: 'button', class: 'secondary small-btn', 'aria-label': `Copy ${label}` }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      status.textContent = 'Copied.';
    } catch {
      input.focus();
      input.select();
      status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  input.addEventListener('focus', () => input.select());
  return el('div', { class: 'copy-field' }, el('label', { for: id }, label), el('div', { class: 'link-row' }, input, button), status);
}

/** Shows `node` in `container` in place of data that will not load (no token, no scope). */
export function idle(container, node) {
  replace(container, node);
  container.dataset.loaded = 'true';
}

/** A "Load a handle first" note for a view without a token. */
export const noToken = () => el('p', { class: 'muted' }, 'Paste a management token and load a handle to see this view.');
