// A panel filled from one API read: "Loading…" while it runs, the rendering when it
// answers, the error in the panel when it does not. `data-loaded` on the panel tells
// when it is done (tests wait on it). A late answer for another handle, or after the
// token was forgotten, is dropped.

import { apiRequest } from './api.js';
import { $, el, replace } from './dom.js';
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
