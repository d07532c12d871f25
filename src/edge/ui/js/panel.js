// A panel filled from one API read: "Loading…" while it runs, the rendering when it
// answers, the error in the panel when it does not. `data-loaded` on the panel tells
// when it is done (tests wait on it). A late answer for another handle, or after the
// token was forgotten, is dropped.

import { apiCall, apiRequest } from './api.js';
import { $, code, el, replace } from './dom.js';
import { state } from './state.js';
import { errorMessage, showError } from './views/messages.js';

/** Fills panel `id` (its body is `#${id}-body`) with `render(GET path)`. */
export async function loadPanel(id, path, render, doing) {
  const body = $(`${id}-body`);
  const handle = state.handle;
  replace(body, el('p', { class: 'muted' }, 'Loading…'));
  $(id).hidden = false;
  $(id).dataset.loaded = 'false';
  try {
    const data = await apiRequest('GET', path, state.token);
    if (state.handle !== handle || !state.token) return;
    render(data);
  } catch (err) {
    if (state.handle !== handle) return;
    replace(body, errorMessage(err, doing));
    if (err.status === 401) showError(err, doing);
  }
  $(id).dataset.loaded = 'true';
}

/**
 * Fills `container` with `render(GET path)` (the console's views): "Loading…" meanwhile,
 * the error (with its request id) when the read fails; `data-loaded` and
 * `data-request-id` say when and from which request. Resolves to the data, or null.
 */
export async function loadInto(container, path, doing, render) {
  const handle = state.handle;
  container.dataset.loaded = 'false';
  delete container.dataset.error;
  replace(container, el('p', { class: 'muted' }, 'Loading…'));
  let data = null;
  try {
    const result = await apiCall('GET', path, { token: state.token });
    if (state.handle !== handle || !state.token) return null;
    data = result.json;
    replace(container, render(data), el('p', { class: 'muted small read-ref' }, 'Read with request id ', code(result.requestId || '?'), '.'));
    container.dataset.requestId = result.requestId || '';
  } catch (err) {
    if (state.handle !== handle) return null;
    replace(container, errorMessage(err, doing));
    container.dataset.error = err.code;
  }
  container.dataset.loaded = 'true';
  return data;
}
