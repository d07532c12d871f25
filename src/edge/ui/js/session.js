// Loading a handle with a management token (its entries and rules, then the audit, the
// domains and a first preview), and forgetting the token again.

import { ApiError, apiRequest, handlePath } from './api.js';
import { $ } from './dom.js';
import { plural } from './format.js';
import { loadPanel } from './panel.js';
import { preview } from './preview.js';
import { HANDLE_RE, cancelPreviews, forgetToken, rememberSession, setHandleData, state } from './state.js';
import { renderAudit } from './views/audit.js';
import { renderDomains } from './views/domains.js';
import { clearError, setStatus, showError, showHandleError } from './views/messages.js';
import { clearVariants, fillCountries, fillEntries } from './views/visitor-form.js';

/** Hides everything drawn from a handle's data. */
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
  tokenInput.setAttribute('aria-invalid', 'true');
  tokenInput.setAttribute('aria-describedby', 'error token-hint');
  tokenInput.focus();
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
  let list;
  try {
    list = await apiRequest('GET', handlePath(handle, '/personalization-rules'), token);
  } catch (err) {
    showError(err, 'read the rules of this handle');
    setStatus('');
    if (err.status === 401 || err.status === 403) refuseToken(tokenInput);
    return;
  } finally {
    $('connect').disabled = false;
  }
  tokenInput.setAttribute('aria-describedby', 'token-hint');
  rememberSession(token, handle);
  setHandleData(list);
  if (changed) clearVariants();
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
  clearError();
  hideData();
  setStatus('Token forgotten. Paste a token to load a handle again.');
  $('token').focus();
}
