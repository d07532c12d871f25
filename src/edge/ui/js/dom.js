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
