// Reporting a problem to support (POST /v2/support/report: public, no token needed):
// summary, details, handle, this tab's session id, a request id and a reproduction. It
// answers a report id to quote. Below the form, the request ids of this tab's calls
// (newest first), each with a button that puts it in the form.

import { calls } from '../api.js';
import { act } from '../actions.js';
import { $, code, el, replace, scrollRegion } from '../dom.js';
import { localTime } from '../format.js';
import { sessionId, state } from '../state.js';

function drawRecent() {
  const rows = calls.filter((c) => c.requestId && !c.path.endsWith('/support/report'));
  replace($('sp-recent'), rows.length ? scrollRegion('Request ids of this session', el('table', { class: 'data' },
    el('caption', { class: 'sr-only' }, 'Calls of this tab with their request ids, newest first'),
    el('thead', null, el('tr', null, ['When', 'Call', 'Answer', 'Request id', ''].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, rows.map((c) => {
      const use = el('button', { type: 'button', class: 'secondary small-btn', 'aria-label': `Quote request ${c.requestId}` }, 'Quote');
      use.addEventListener('click', () => {
        $('sp-request').value = c.requestId;
        if (!$('sp-artifact').value) $('sp-artifact').value = `${c.method} ${location.origin}${c.path} → ${c.status || 'no answer'}${c.code ? ` ${c.code}` : ''}`;
        $('sp-request').focus();
      });
      return el('tr', { data: { requestId: c.requestId, status: String(c.status) } },
        el('td', null, localTime(c.at)), el('td', null, code(`${c.method} ${c.path}`)),
        el('td', { class: c.status >= 400 || !c.status ? 'no-text' : null }, `${c.status || '—'}${c.code ? ` ${c.code}` : ''}`),
        el('td', null, code(c.requestId)), el('td', null, use));
    })))) : el('p', { class: 'muted' }, 'No calls yet in this tab.'));
}

async function send(e) {
  e.preventDefault();
  const form = $('sp-form');
  const body = { summary: $('sp-summary').value.trim(), details: $('sp-details').value.trim() };
  for (const [id, field] of [['sp-handle', 'handle'], ['sp-session', 'sessionId'], ['sp-request', 'requestId'], ['sp-artifact', 'reproArtifact']]) {
    const v = $(id).value.trim();
    if (v) body[field] = v;
  }
  const done = await act({
    out: $('sp-out'), form, button: form.querySelector('button[type=submit]'), doing: 'send the report', auth: false,
    method: 'POST', path: '/v2/support/report', body,
    message: (r) => [el('strong', null, 'Report sent. '), 'Quote report id ', code(r.report_id), body.requestId ? [' and request id ', code(body.requestId)] : '', ` (received ${localTime(r.received_at)}).`],
  });
  if (done) {
    $('sp-summary').value = '';
    $('sp-details').value = '';
    $('sp-out').focus();
  }
  drawRecent();
}

export const supportView = {
  show() {
    const section = $('view-support');
    if (!section.dataset.wired) {
      $('sp-form').addEventListener('submit', send);
      section.dataset.wired = 'true';
    }
    if (!$('sp-handle').value) $('sp-handle').value = state.handle || $('handle').value;
    if (!$('sp-session').value) $('sp-session').value = sessionId();
    drawRecent();
  },
};
