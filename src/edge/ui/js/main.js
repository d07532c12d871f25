// The preview page (`/preview`): plain ES modules, no dependencies, no build step. It holds
// no data of its own: everything comes from this origin's API, called with the token the
// person pastes (kept in sessionStorage only, never in localStorage or a URL):
//   GET  /v2/handles/{h}/personalization-rules   entries and rules      (session.js)
//   POST /v2/handles/{h}/preview-tokens          a fresh preview token  (preview.js)
//   GET  /{h}/{entry}?__preview=…&__explain=1    the explain trace      (preview.js)
//   GET  /v2/handles/{h}/route-preview           the country x device matrix
//   GET  /v2/handles/{h}/rule-audit              collisions, shadowed, unroutable
//   GET  /v2/handles/{h}/destination-domains     domain trust states
// api.js calls the API, state.js holds the token and the handle's data, views/ draw one
// panel each (text only: dom.js), and this module wires the controls to them.

import { $ } from './dom.js';
import { preview } from './preview.js';
import { connect, forget } from './session.js';
import { savedSession, state } from './state.js';
import { onCellPicked } from './views/matrix.js';
import { copyLink } from './views/result.js';
import { describeEntry, fillCountries, selectSegment } from './views/visitor-form.js';

function init() {
  $('access').addEventListener('submit', connect);
  $('visitor').addEventListener('submit', preview);
  $('forget').addEventListener('click', forget);
  $('copy').addEventListener('click', copyLink);
  $('entry').addEventListener('change', () => describeEntry(state.entries));
  onCellPicked((segment) => {
    selectSegment(segment);
    preview();
  });
  $('link').addEventListener('focus', (e) => e.target.select());
  fillCountries(state.rules);
  const saved = savedSession();
  if (saved.handle) $('handle').value = saved.handle;
  if (saved.token) {
    $('token').value = saved.token;
    connect();
  }
  document.documentElement.dataset.ready = 'true';
}

// A module script runs once the document is parsed (it is deferred), so the controls exist.
init();
