// The error box and the status line. An error reads as a heading, a sentence a person can
// act on (from the API's stable code) and a reference: HTTP status, code and request id.

import { $, el, replace } from '../dom.js';
import { plural } from '../format.js';
import { state } from '../state.js';

/** An error's `details` as a list of `{ path, message, code }`. */
export function list(details) {
  if (Array.isArray(details)) return details.filter((d) => d && typeof d === 'object');
  if (details && typeof details === 'object' && details.path) return [details];
  return [];
}

/** A sentence a person can act on, from the API's stable error code. */
function describe(err, doing) {
  const h = state.handle;
  switch (err.code) {
    case 'missing_token':
      return 'Paste a management token first.';
    case 'invalid_token':
      return 'This token was not accepted: it is unknown, revoked or malformed. Check that you pasted the whole token, or create a new one.';
    case 'token_expired':
      return 'This token has expired. Create a new one and paste it here.';
    case 'wrong_handle':
      return `This token is not valid for the handle “${h}”. Use a token made for ${h}, or change the handle.`;
    case 'insufficient_scope':
      return `This token may not ${doing}: ${err.message}.`;
    case 'rate_limited':
    case 'daily_write_limit':
      return `Too many requests; try again in ${err.retryAfter || 'a few'} seconds.`;
    case 'handle_not_found':
      return `There is no handle “${h}”. Check the handle.`;
    case 'entry_not_found':
      return `This entry does not exist (any more): ${err.message}. Load the handle again.`;
    case 'previews_disabled':
      return `Previews are switched off on this worker: ${err.message}.`;
    case 'network':
      return `Could not reach the worker (${err.message}). Check your connection and try again.`;
    case 'validation_failed':
      return `Nothing was saved: the change does not validate (${plural(list(err.details).length, 'problem')}, shown at their fields).`;
    case 'invalid_form':
      return 'Nothing was sent: check the fields marked below.';
    case 'invalid_body':
    case 'invalid_json':
      return `Nothing was saved: ${err.message}.`;
    case 'write_conflict':
      return 'Nothing was saved: other changes to this handle kept landing at the same moment. Load the view again, check what changed, and retry.';
    case 'idempotency_in_progress':
      return 'The same request is still running (a double click or a retry). Wait a moment and load the view again.';
    case 'idempotency_key_reuse':
      return 'This retry differs from the request it repeats; nothing was changed. Submit it again.';
    case 'route_not_found':
      return `This worker does not offer that yet (${err.message}).`;
    case 'already_current':
      return 'That version is the current configuration already: nothing to restore.';
    default:
      return `Could not ${doing}: ${err.message}`;
  }
}

function heading(err) {
  if (err.status === 401) return 'Not signed in.';
  if (err.status === 403) return 'Not allowed.';
  if (err.status === 429) return 'Slow down.';
  if (err.status === 409) return 'Conflict.';
  if (['validation_failed', 'invalid_body', 'invalid_json', 'invalid_form'].includes(err.code)) return 'Not saved.';
  if (err.status === 0) return 'Offline?';
  return 'Something went wrong.';
}

/** A message block for an error: heading, sentence, code and request id. */
export function errorBlock(err, doing) {
  return [
    el('strong', null, heading(err)), ' ',
    describe(err, doing), ' ',
    el('span', { class: 'ref' }, `(${err.status ? `HTTP ${err.status} ` : ''}${err.code}${err.requestId ? `, request ${err.requestId}` : ''})`),
  ];
}

/** The error as a paragraph inside a panel (the panel could not be drawn). */
export const errorMessage = (err, doing) => el('p', { class: 'msg msg-error' }, errorBlock(err, doing));

/** Shows the error in the page's error box (announced at once). */
export function showError(err, doing) {
  const box = $('error');
  replace(box, errorBlock(err, doing));
  box.dataset.code = err.code;
  box.hidden = false;
}

/** Shows that the handle typed is not a handle. */
export function showHandleError() {
  replace($('error'), el('strong', null, 'Check the handle.'), ' A handle is lower-case letters, digits and “-”, such as gharart.');
  $('error').hidden = false;
}

export function clearError() {
  const box = $('error');
  box.hidden = true;
  delete box.dataset.code;
  box.replaceChildren();
}

/** The polite status line. */
export function setStatus(text) {
  $('status').textContent = text;
}
