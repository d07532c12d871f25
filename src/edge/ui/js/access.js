// What the token may do: its scopes, as `GET .../whoami` told them (PATs are opaque);
// `admin` implies every scope. Actions the token may not take are disabled and say which
// scope they need, in text next to them (a disabled button cannot be focused, so a
// tooltip alone would not reach a keyboard or screen-reader user).

import { el } from './dom.js';
import { state } from './state.js';

/** Whether the loaded token holds `scope` (or `admin`). */
export const can = (scope) => Boolean(state.who && (state.who.scopes.includes(scope) || state.who.scopes.includes('admin')));

let noteIds = 0;

/** The note next to a disabled action: `needs <scope>`. */
export function needsNote(scope) {
  noteIds += 1;
  return el('span', { class: 'needs', id: `needs-${noteIds}`, data: { needsScope: scope } }, 'needs ', el('code', null, scope));
}

/** A button that runs `onClick`, disabled with a note when the token lacks `scope`. */
export function actionButton(label, scope, onClick, attrs = {}) {
  const button = el('button', { type: 'button', ...attrs }, label);
  if (scope && !can(scope)) {
    const note = needsNote(scope);
    button.disabled = true;
    button.dataset.needs = scope;
    button.setAttribute('aria-describedby', note.id);
    return el('span', { class: 'act' }, button, note);
  }
  button.addEventListener('click', onClick);
  return button;
}

/**
 * Applies the token's scopes to the static controls under `root` that name one with
 * `data-scope`: a form gets every control disabled and a note at its top; a button, a
 * note after it.
 */
export function applyScopes(root) {
  for (const old of root.querySelectorAll('.needs[data-static]')) old.remove();
  for (const node of root.querySelectorAll('[data-scope]')) {
    const scope = node.dataset.scope;
    const ok = can(scope);
    const controls = node.matches('form') ? [...node.elements] : [node];
    for (const c of controls) c.disabled = !ok;
    if (ok) {
      delete node.dataset.needs;
      continue;
    }
    node.dataset.needs = scope;
    const note = needsNote(scope);
    note.dataset.static = 'true';
    if (node.matches('form')) {
      note.className = 'needs needs-form';
      note.prepend('Your token may not do this: it ');
      node.prepend(note);
    } else {
      node.after(note);
      node.setAttribute('aria-describedby', note.id);
    }
  }
}

/** A paragraph saying the token may not read something, and which scope it needs. */
export const cannotRead = (scope, what) => el('p', { class: 'msg msg-warn', data: { needs: scope } },
  `Your token may not ${what}: it needs the scope `, el('code', null, scope), '.');
