// One preview: a fresh preview token, then the explain trace of the route and the
// country × device matrix together. Only the newest preview draws its results.

import { ApiError, apiRequest, fetchTrace, handlePath } from './api.js';
import { $, replace } from './dom.js';
import { OUTCOME_WORDS, shortUrl } from './format.js';
import { isCurrent, nextPreview, state } from './state.js';
import { renderMatrix } from './views/matrix.js';
import { clearError, errorMessage, setStatus, showError } from './views/messages.js';
import { hideLink, renderResult, showLink } from './views/result.js';
import { clearTrace, renderTrace } from './views/trace.js';
import { fillVariants, readForm } from './views/visitor-form.js';

/** The overrides of a form reading as reserved query parameters (without the token). */
function overrideParams(o) {
  const p = [];
  if (o.country) p.push(['__country', o.country]);
  if (o.region) p.push(['__region', o.region]);
  if (o.device) p.push(['__device', o.device]);
  if (o.lang) p.push(['__lang', o.lang]);
  if (o.at) p.push(['__at', o.at]);
  if (o.variant) p.push(['__variant', o.variant]);
  return p;
}

/** The visitor route with the preview token and the overrides (and `__explain=1`). */
function routeUrl(o, token, explain) {
  const params = new URLSearchParams([['__preview', token], ...overrideParams(o)]);
  if (explain) params.set('__explain', '1');
  return `${location.origin}/${encodeURIComponent(state.handle)}/${encodeURIComponent(o.entry)}?${params}`;
}

function matrixPath(o) {
  const params = new URLSearchParams({ entry: o.entry });
  if (o.matrixCountries) params.set('countries', o.matrixCountries);
  if (o.at) params.set('at', o.at);
  return handlePath(state.handle, `/route-preview?${params}`);
}

/** The matrix; the selected country is added as a row when the default rows lack it. */
async function loadMatrix(o) {
  const m = await apiRequest('GET', matrixPath(o), state.token);
  if (o.matrixCountries || !o.country || m.countries.includes(o.country) || m.countries.length >= 60) return m;
  const rows = m.countries.filter((c) => c !== null).concat(o.country, m.countries.includes(null) ? ['unknown'] : []);
  return apiRequest('GET', matrixPath({ ...o, matrixCountries: rows.join(',') }), state.token);
}

function drawTrace(trace, o, minted) {
  if (trace.status === 'fulfilled') {
    renderResult(trace.value, o);
    renderTrace(trace.value);
    state.link = routeUrl(o, minted.token, false);
    showLink(state.link, minted.expires_at);
  } else {
    replace($('result-body'), errorMessage(trace.reason, 'explain this route'));
    clearTrace();
    hideLink();
  }
}

function drawMatrix(matrix, o) {
  if (matrix.status === 'fulfilled') {
    renderMatrix(matrix.value, o);
    fillVariants(matrix.value);
  } else {
    replace($('matrix-body'), errorMessage(matrix.reason, 'build the matrix'));
  }
}

/** Previews the visitor form (a submit handler; also called directly). */
export async function preview(event) {
  if (event) event.preventDefault();
  if (!state.token) {
    showError(new ApiError(0, 'missing_token', 'no token', null, null), 'preview');
    $('token').focus();
    return;
  }
  const o = readForm();
  if (!o.entry) return;
  const seq = nextPreview();
  const results = $('results');
  results.setAttribute('aria-busy', 'true');
  $('run').disabled = true;
  setStatus(`Previewing ${o.entry}…`);
  try {
    let minted;
    try {
      minted = await apiRequest('POST', handlePath(state.handle, '/preview-tokens'), state.token);
    } catch (err) {
      if (!isCurrent(seq)) return;
      showError(err, 'mint a preview token');
      setStatus('');
      return;
    }
    const [trace, matrix] = await Promise.allSettled([
      fetchTrace(routeUrl(o, minted.token, true), { handle: state.handle, entry: o.entry }),
      loadMatrix(o),
    ]);
    if (!isCurrent(seq)) return;
    clearError();
    results.hidden = false;
    $('skip').hidden = false;
    drawTrace(trace, o, minted);
    drawMatrix(matrix, o);
    if (trace.status === 'fulfilled') {
      const t = trace.value;
      setStatus(`Preview of ${o.entry}: ${t.rule ? `rule ${t.rule}` : OUTCOME_WORDS[t.outcome] || t.outcome}, ${t.location ? shortUrl(t.location) : 'no destination'}.`);
    } else {
      setStatus('');
      showError(trace.reason, 'explain this route');
    }
  } finally {
    if (isCurrent(seq)) {
      results.dataset.seq = String(seq);
      results.setAttribute('aria-busy', 'false');
      $('run').disabled = false;
    }
  }
}
