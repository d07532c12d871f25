// The console's views and the hash that names one: `#domains`, `#rules`, …, with an
// optional argument (`#pages/diwali-hero-ab`). Each view is `{ show(arg) }`: it draws
// itself from the API every time it is shown (the data may have changed meanwhile) and
// copes with there being no token yet. A view chosen from the menu gets the focus on its
// heading, so keyboard and screen-reader users land where the content starts.

import { $ } from './dom.js';

const views = new Map();
let current = null;

/** Registers view `name` (its section is `#view-${name}`). */
export const register = (name, view) => views.set(name, view);

/** The view shown now, and its argument. */
export const shown = () => current;

function parse() {
  const [name, ...rest] = decodeURIComponent(location.hash.slice(1)).split('/');
  return { name, arg: rest.join('/') || null };
}

/** Shows the view the hash names (or `fallback`); `focus` moves the focus to its heading. */
export function showView(fallback, focus) {
  let { name, arg } = parse();
  if (!views.has(name)) {
    if (current && !name) return;
    if (current) return; // another anchor (a skip link): stay
    name = fallback;
    arg = null;
  }
  current = { name, arg };
  for (const section of document.querySelectorAll('main > .view')) section.hidden = section.id !== `view-${name}`;
  for (const a of document.querySelectorAll('#views a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${$(`${name}-title`).textContent} · console · edge router`;
  if (focus) $(`${name}-title`).focus();
  return views.get(name).show(arg);
}

/** Draws the current view again (a token was loaded or forgotten). */
export function refresh() {
  if (current) return views.get(current.name).show(current.arg);
  return undefined;
}

/** Opens view `name` with `arg` (through the hash, so Back works). */
export function go(name, arg) {
  location.hash = arg ? `${name}/${encodeURIComponent(arg)}` : name;
}

/** Follows the hash from now on; the menu's links move the focus. */
export function startRouter(fallback) {
  let fromMenu = false;
  $('views').addEventListener('click', (e) => {
    const link = e.target.closest('a[data-view]');
    if (!link) return;
    fromMenu = true;
    if (current && current.name === link.dataset.view && !current.arg) {
      e.preventDefault();
      fromMenu = false;
      showView(fallback, true);
    }
  });
  window.addEventListener('hashchange', () => {
    showView(fallback, fromMenu);
    fromMenu = false;
  });
  $('skip-view').addEventListener('click', (e) => {
    e.preventDefault();
    if (current) $(`${current.name}-title`).focus();
  });
  return showView(fallback, false);
}
