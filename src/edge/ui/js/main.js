// The marketer console (`/console`) and the route preview (`/preview`: the console's
// preview view alone, as the page was before the console). Plain ES modules, no
// dependencies, no build step. The pages hold no data of their own: everything comes from
// this origin's API, called with the token the person pastes (kept in sessionStorage
// only, never in localStorage or a URL):
//   GET  /v2/handles/{h}/whoami                 who the token is, its scopes (session.js)
//   the preview view (preview.js, session.js): personalization-rules, preview-tokens, the
//        explain trace of /{h}/{entry}, route-preview, rule-audit, destination-domains
//   the console's views (views/*.js, one module each, routed by the hash: router.js)
// api.js calls the API, state.js holds the token and the handle's data, access.js what
// the token may do, actions.js runs writes and shows their outcome, and this module wires
// the page together.

import { $ } from './dom.js';
import { preview } from './preview.js';
import { refresh, register, startRouter } from './router.js';
import { connect, forget, loadPreview, onSession } from './session.js';
import { savedSession, state } from './state.js';
import { campaignsView } from './views/campaigns.js';
import { domainsView } from './views/domain-manager.js';
import { historyView } from './views/history.js';
import { onCellPicked } from './views/matrix.js';
import { pagesView } from './views/pages.js';
import { copyLink } from './views/result.js';
import { rulesView } from './views/rules.js';
import { supportView } from './views/support.js';
import { templatesView } from './views/templates.js';
import { describeEntry, fillCountries, selectSegment } from './views/visitor-form.js';

const CONSOLE_VIEWS = {
  domains: domainsView,
  rules: rulesView,
  templates: templatesView,
  campaigns: campaignsView,
  pages: pagesView,
  preview: { show: () => (state.who ? loadPreview() : undefined) },
  history: historyView,
  support: supportView,
};

function wirePreview() {
  $('visitor').addEventListener('submit', preview);
  $('copy').addEventListener('click', copyLink);
  $('entry').addEventListener('change', () => describeEntry(state.entries));
  onCellPicked((segment) => {
    selectSegment(segment);
    preview();
  });
  $('link').addEventListener('focus', (e) => e.target.select());
  fillCountries(state.rules);
}

/** The preview page: the preview view alone, no menu, as `/preview` always was. */
function previewPage() {
  $('title').textContent = 'Route preview';
  $('about').textContent = 'See where a visitor goes, which rules matched or were skipped and why, the country × device matrix, the rule audit and the trust state of every destination domain.';
  $('preview-title').hidden = true;
  $('to-console').hidden = false;
  document.title = 'Route preview · edge router';
}

/** The console: the menu, the views by hash, each drawn once a token is loaded. */
function consolePage() {
  for (const [name, view] of Object.entries(CONSOLE_VIEWS)) register(name, view);
  onSession(() => refresh(), () => refresh());
  $('views').hidden = false;
  $('skip-view').hidden = false;
  startRouter('domains');
}

function init() {
  const mode = location.pathname.startsWith('/preview') ? 'preview' : 'console';
  document.documentElement.dataset.mode = mode;
  $('access').addEventListener('submit', connect);
  $('forget').addEventListener('click', forget);
  wirePreview();
  if (mode === 'preview') previewPage();
  else consolePage();
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
