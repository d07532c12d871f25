// Loading a handle with a management token: who the token is (`GET .../whoami`: its
// subject and scopes, which decide what the console offers), then what the page shows
// (the hook `onConnected`: the preview page previews, the console draws its view); and
// forgetting the token again. The preview view's own load (entries and rules, then the
// audit, the domains and a first preview) is `loadPreview`.

import { ApiError, apiCall, apiRequest, handlePath } from './api.js';
import { $, code, replace } from './dom.js';
import { plural } from './format.js';
import { loadPanel } from './panel.js';
import { preview } from './preview.js';
import { HANDLE_RE, cancelPreviews, forgetToken, rememberSession, setHandleData, state } from './state.js';
import { renderAudit } from './views/audit.js';
import { renderDomains } from './views/domains.js';
import { clearError, setStatus, showError, showHandleError } from './views/messages.js';
import { clearVariants, fillCountries, fillEntries } from './views/visitor-form.js';

const hooks = { connected: () => loadPreview(), forgotten: () => {} };

/** What to do once a token is accepted, and once it is forgotten. */
export function onSession(connected, forgotten) {
  hooks.connected = connected;
  hooks.forgotten = forgotten;
}

/** Hides everything drawn from a handle's data in the preview view. */
function hideData() {
  for (const id of ['visitor', 'results', 'audit', 'domains', 'skip']) $(id).hidden = true;
  $('link-box').hidden = true;
  state.link = '';
}

const loadAudit = () => loadPanel('audit', handlePath(state.handle, '/rule-audit'), renderAudit, 'read the rule audit');
const loadDomains = () => loadPanel('domains', handlePath(state.handle, '/destination-domains'), renderDomains, 'read the destination domains');

/** A refused token: not kept, the data hidden, the token field marked and focused. */
function refuseToken(tokenInput) {
  forgetToken();
  hideData();
  $('whoami').hidden = true;
  tokenInput.setAttribute('aria-invalid', 'true');
  tokenInput.setAttribute('aria-describedby', 'error token-hint');
  tokenInput.focus();
}

function showWho(who) {
  const scopes = who.scopes.length ? who.scopes.flatMap((s, i) => [i ? ' ' : '', code(s)]) : ['none'];
  replace($('whoami'), `Signed in as ${who.sub} on ${who.handle} (configuration version ${who.version}). Scopes: `, scopes,
    who.scopes.includes('admin') ? ' (every scope).' : '.');
  $('whoami').hidden = false;
}

/** Loads the handle of the access form with its token (a submit handler; also called directly). */
export async function connect(event) {
  if (event) event.preventDefault();
  clearError();
  const tokenInput = $('token');
  const handleInput = $('handle');
  const token = tokenInput.value.trim();
  const handle = handleInput.value.trim().toLowerCase();
  tokenInput.removeAttribute('aria-invalid');
  handleInput.removeAttribute('aria-invalid');
  if (!token) {
    showError(new ApiError(0, 'missing_token', 'no token given', null, null), 'load the handle');
    tokenInput.setAttribute('aria-invalid', 'true');
    tokenInput.focus();
    return;
  }
  if (!HANDLE_RE.test(handle)) {
    showHandleError();
    handleInput.setAttribute('aria-invalid', 'true');
    handleInput.focus();
    return;
  }
  handleInput.value = handle;
  const changed = handle !== state.handle || token !== state.token;
  state.token = token;
  state.handle = handle;
  $('connect').disabled = true;
  setStatus(`Loading ${handle}…`);
  try {
    state.who = (await apiCall('GET', handlePath(handle, '/whoami'), { token })).json;
  } catch (err) {
    showError(err, 'use this token');
    setStatus('');
    if ([401, 403, 404].includes(err.status)) refuseToken(tokenInput);
    return;
  } finally {
    $('connect').disabled = false;
  }
  tokenInput.setAttribute('aria-describedby', 'token-hint');
  rememberSession(token, handle);
  showWho(state.who);
  if (changed) clearVariants();
  setStatus(`Loaded ${handle} as ${state.who.sub}.`);
  document.documentElement.dataset.who = state.who.sub;
  await hooks.connected();
}

/** The preview view: entries and rules, the audit and domains panels, a first preview. */
export async function loadPreview() {
  const handle = state.handle;
  let list;
  try {
    list = await apiRequest('GET', handlePath(handle, '/personalization-rules'), state.token);
  } catch (err) {
    if (state.handle !== handle) return;
    showError(err, 'read the rules of this handle');
    setStatus('');
    hideData();
    return;
  }
  if (state.handle !== handle || !state.token) return;
  setHandleData(list);
  fillEntries(state.entries);
  fillCountries(state.rules);
  $('visitor').hidden = false;
  setStatus(`Loaded ${handle}: ${plural(state.entries.length, 'entry', 'entries')}, ${plural(state.rules.length, 'rule')} (configuration version ${list.version}).`);
  loadAudit();
  loadDomains();
  if (state.entries.length > 0) await preview();
}

/** Forgets the token (memory and tab), cancels any preview and hides the data. */
export function forget() {
  forgetToken();
  cancelPreviews();
  $('run').disabled = false;
  $('results').setAttribute('aria-busy', 'false');
  $('token').value = '';
  $('whoami').hidden = true;
  delete document.documentElement.dataset.who;
  clearError();
  hideData();
  setStatus('Token forgotten. Paste a token to load a handle again.');
  hooks.forgotten();
  $('token').focus();
}
