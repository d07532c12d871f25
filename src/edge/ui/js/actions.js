// Running an action against the API: its button busy while it runs, an Idempotency-Key
// per write (the same key again when the very same write is retried after a network
// failure or a 5xx, so a retry never writes twice), and the outcome with its request id
// in the view's outcome line. Validation problems are shown at the field whose
// `data-path` is the longest prefix of their JSON path (`$.conditions.country.in[0]`
// goes to the field of `$.conditions.country`); the rest are listed in the outcome.

import { apiCall, newKey } from './api.js';
import { code, el, replace } from './dom.js';
import { state } from './state.js';
import { errorBlock, list } from './views/messages.js';

const retryKeys = new Map();

/** A problem found before sending anything: `details` as the API gives them. */
export const formError = (details) => Object.assign(new Error('the form has problems'), { status: 0, code: 'invalid_form', details });

/** The request id of a reply or an error, as a reference to quote. */
export const ref = (requestId, replayed) => (requestId
  ? el('span', { class: 'ref' }, ' Request id ', code(requestId), replayed ? ' (a replay of the same request)' : '', '.')
  : null);

/** Shows a success in `out`: the message (text or nodes) and the request id. */
export function success(out, message, result) {
  replace(out, el('p', { class: 'msg msg-ok', data: { requestId: result.requestId || '' } }, message, ref(result.requestId, result.replayed)));
  out.dataset.state = 'ok';
}

/** Shows an error in `out` (with the problems no field took). */
export function failure(out, err, doing, leftover = list(err.details)) {
  replace(out, el('div', { class: 'msg msg-error', data: { code: err.code, requestId: err.requestId || '' } },
    el('p', null, errorBlock(err, doing)),
    leftover.length ? el('ul', { class: 'problems' }, leftover.map((d) => el('li', null, d.path ? [code(d.path), ': '] : '', d.message || d.code || ''))) : null));
  out.dataset.state = 'error';
}

/** Removes the field errors under `form`. */
export function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.remove();
  for (const f of form.querySelectorAll('[aria-invalid]')) {
    f.removeAttribute('aria-invalid');
    const ids = (f.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.endsWith('-err'));
    if (ids.length) f.setAttribute('aria-describedby', ids.join(' '));
    else f.removeAttribute('aria-describedby');
  }
}

/**
 * What a problem says: its message; else, for the one problem of an error that names only
 * a path (`invalid_body`: `{ path }`), the error's message without its `path: ` prefix.
 */
function problemText(d, err, count) {
  if (d.message) return d.message;
  if (count === 1 && err.message) return String(err.message).replace(`${d.path}: `, '');
  return d.code || '';
}

/** Whether `path` is `prefix` or below it. */
const under = (path, prefix) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/**
 * Puts each problem of `err` at the field of `form` whose `data-path` is its longest
 * prefix; returns the problems no field took. The first field with a problem gets focus.
 */
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  const fields = [...form.querySelectorAll('[data-path]')];
  const leftover = [];
  let first = null;
  const problems = list(err.details);
  for (const d of problems) {
    const path = String(d.path || '');
    const field = fields.filter((f) => under(path, f.dataset.path)).sort((a, b) => b.dataset.path.length - a.dataset.path.length)[0];
    if (!field) {
      leftover.push(d);
      continue;
    }
    const id = `${field.id || field.dataset.path.replace(/\W+/g, '-')}-err`;
    let box = form.querySelector(`#${CSS.escape(id)}`);
    if (!box) {
      box = el('p', { class: 'field-error', id });
      (field.closest('.field') || field).append(box);
    }
    box.append(el('span', { data: { path } }, path === field.dataset.path ? '' : [code(path.slice(field.dataset.path.length) || path), ' '], problemText(d, err, problems.length)));
    field.setAttribute('aria-invalid', 'true');
    const described = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!described.includes(id)) field.setAttribute('aria-describedby', [...described, id].join(' '));
    first = first || field;
  }
  if (first && typeof first.focus === 'function') first.focus();
  return leftover;
}

/**
 * Runs one action: `method path` with `body` (the token unless `auth` is false), the
 * `button` disabled meanwhile. On success shows `message(result)` in `out` and resolves
 * to the result; on failure shows the error (problems at `form`'s fields) and resolves
 * to null.
 */
export async function act({ out, button, form, doing, method, path, body, auth = true, message }) {
  const write = method !== 'GET';
  const id = `${method} ${path} ${JSON.stringify(body ?? null)}`;
  const key = write ? retryKeys.get(id) || newKey() : undefined;
  if (write) retryKeys.set(id, key);
  if (button) button.disabled = true;
  if (form) clearFieldErrors(form);
  out.dataset.state = 'busy';
  try {
    const result = await apiCall(method, path, { token: auth ? state.token : undefined, body, key });
    retryKeys.delete(id);
    success(out, message ? message(result.json, result) : 'Done.', result);
    return result;
  } catch (err) {
    if (err.status && err.status < 500) retryKeys.delete(id);
    failure(out, err, doing, form ? showFieldErrors(form, err) : list(err.details));
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}
