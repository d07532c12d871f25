// Campaigns (campaigns:read): each with its status and the transitions it allows now
// (activate, pause, resume, cancel: campaigns:write; cancel asks to confirm), its
// variants, template, traffic tags and routing rules; its health checks; a test
// conversion per variant; its results (views/results.js); promoting a winner (admin: it
// completes the campaign and routes its rules to that variant's destination; undone by a
// restore in the history); and a link to its page.

import { apiCall, apiRequest, handlePath } from '../api.js';
import { act } from '../actions.js';
import { actionButton, applyScopes, can, cannotRead } from '../access.js';
import { $, code, el, idle, noToken, replace, scrollRegion } from '../dom.js';
import { localTime } from '../format.js';
import { loadInto } from '../panel.js';
import { state } from '../state.js';
import { offerTemplates, wireCampaignForm } from './campaign-form.js';
import { errorMessage } from './messages.js';
import { showResults } from './results.js';

const path = (rest = '') => handlePath(state.handle, `/campaigns${rest}`);
const cpath = (c, rest = '') => path(`/${encodeURIComponent(c.id)}${rest}`);
const VERB = { activate: 'Activate', pause: 'Pause', resume: 'Resume', cancel: 'Cancel campaign' };
const MARK = { pass: '✓', warn: '!', fail: '✗' };

/** Draws campaign `id`'s health into `box`. */
async function showHealth(box, c) {
  box.dataset.loaded = 'false';
  try {
    const { json: h, requestId } = await apiCall('GET', cpath(c, '/health'), { token: state.token });
    replace(box, el('div', { class: `health h-${h.status}`, data: { status: h.status } },
      el('p', null, el('strong', null, `Health: ${h.status}`), ` (campaign ${h.campaign_status}, checked ${localTime(h.checked_at)}, configuration version ${h.version}; request id `, code(requestId || '?'), ')'),
      el('ul', { class: 'checks' }, h.checks.map((k) => el('li', { data: { check: k.id, status: k.status } },
        el('span', { class: `tag c-${k.status}` }, el('span', { 'aria-hidden': 'true' }, MARK[k.status] || ''), ` ${k.status}`), ' ', el('strong', null, k.id), `: ${k.reason}`)))));
  } catch (err) {
    replace(box, errorMessage(err, 'check the health'));
  }
  box.dataset.loaded = 'true';
}

function lifecycle(c, out, refresh) {
  return c.allowed_transitions.map((t) => actionButton(VERB[t], 'campaigns:write', async (e) => {
    const button = e.currentTarget;
    if (t === 'cancel' && button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = 'Confirm: cancel for good';
      return;
    }
    const done = await act({
      out, button, doing: `${t} ${c.id}`, method: 'POST', path: cpath(c, `/${t}`),
      message: (r) => `${c.id}: ${r.from} → ${r.status} (configuration version ${r.version}).`,
    });
    if (done) await refresh(out);
  }, { class: t === 'cancel' ? 'danger' : t === 'pause' ? 'secondary' : null, data: { transition: t } }));
}

function testConversions(c, out) {
  return c.variants.map((v) => actionButton(`Test conversion: ${v.key}`, 'campaigns:write', (e) => act({
    out, button: e.currentTarget, doing: `record a test conversion for ${v.key}`, method: 'POST', path: cpath(c, '/test-conversion'), body: { variant: v.key },
    message: (r) => [`Test conversion recorded for ${v.key} (event ${r.conversion.event || 'test_conversion'}; kept out of every result).`],
  }), { class: 'secondary', data: { variant: v.key } }));
}

function promoteForm(c, out, refresh) {
  const id = `camp-${c.id}-promote`;
  const select = el('select', { id }, c.variants.map((v) => el('option', { value: v.key }, `${v.key}: ${v.destination}`)));
  const go = actionButton('Promote', 'admin', async (e) => {
    const button = e.currentTarget;
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = `Confirm: promote ${select.value}`;
      return;
    }
    const done = await act({
      out, button, doing: `promote ${select.value}`, method: 'POST', path: cpath(c, '/promote'), body: { variant: select.value },
      message: (r) => `Promoted ${r.variant}: ${c.id} is ${r.status}; ${r.rules.join(', ') || 'no rule'} now ${r.rules.length === 1 ? 'sends' : 'send'} visitors to ${r.destination} (configuration version ${r.version}). Undo it from the history.`,
    });
    if (done) await refresh(out);
    else if (out.dataset.state === 'error' && out.querySelector('[data-code="route_not_found"]')) {
      replace(out, el('p', { class: 'msg msg-warn' }, 'Promoting a winner is not available on this worker yet.'));
    }
  }, { data: { promote: c.id } });
  select.addEventListener('change', () => {
    if (go.tagName === 'BUTTON') {
      go.dataset.confirm = '';
      go.textContent = 'Promote';
    }
  });
  return el('details', { class: 'promote' }, el('summary', null, 'Promote a winner'),
    el('p', { class: 'muted small' }, 'Completes the campaign and gives its rules the chosen variant’s destination. Recorded in the history: restoring the version before undoes it.'),
    el('div', { class: 'field' }, el('label', { for: id }, 'Variant'), select), el('div', { class: 'actions' }, go));
}

function card(c, refresh) {
  const out = el('div', { class: 'outcome', role: 'status', 'aria-live': 'polite', tabindex: '-1' });
  const health = el('div', { class: 'health-box' });
  const results = el('div', { class: 'results-box' });
  const healthButton = el('button', { type: 'button', class: 'secondary', 'aria-label': `Check the health of ${c.id}` }, 'Check health');
  healthButton.addEventListener('click', () => showHealth(health, c));
  const resultsButton = el('button', { type: 'button', class: 'secondary', 'aria-label': `Results of ${c.id}` }, 'Results');
  resultsButton.addEventListener('click', () => showResults(results, c.id));
  const status = c.scheduled ? `${c.status} (scheduled)` : c.status;
  const node = el('article', { class: 'card campaign', id: `camp-${c.id}`, data: { campaign: c.id, status: c.status } },
    el('h3', null, c.name, ' ', el('span', { class: `tag s-${c.status}` }, status)),
    el('p', { class: 'muted small' }, code(c.id), c.stored_status !== c.status ? ` (stored as ${c.stored_status})` : '',
      `; ${c.start_date ? localTime(c.start_date) : 'from activation'} – ${c.end_date ? localTime(c.end_date) : 'no end'}`),
    scrollRegion(`Variants of ${c.id}`, el('table', { class: 'data' }, el('caption', { class: 'sr-only' }, `Variants of ${c.id}`),
      el('thead', null, el('tr', null, ['Variant', 'Weight', 'Destination'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, c.variants.map((v, i) => el('tr', null, el('th', { scope: 'row' }, code(v.key), i === 0 ? el('span', { class: 'prio' }, 'the control') : null),
        el('td', { class: 'num' }, `${v.weight}%`), el('td', null, code(v.destination))))))),
    el('dl', { class: 'kv' },
      el('dt', null, 'Template'), el('dd', null, c.template ? code(c.template) : 'the rule’s or entry’s'),
      el('dt', null, 'Traffic tags'), el('dd', null, c.required_tags.join(', ') || 'none'),
      el('dt', null, 'Routed by'), el('dd', null, c.routed_by.length ? c.routed_by.join(', ') : el('span', { class: 'no-text' }, 'no enabled rule: it gets no traffic')),
      el('dt', null, 'Page'), el('dd', null, el('a', { href: `#pages/${encodeURIComponent(c.id)}` }, 'Edit its page'))),
    el('div', { class: 'actions' }, lifecycle(c, out, refresh), c.allowed_transitions.length ? null : el('span', { class: 'muted' }, `No transition from ${c.status}.`)),
    el('div', { class: 'actions' }, healthButton, resultsButton),
    el('div', { class: 'actions' }, testConversions(c, out)),
    promoteForm(c, out, refresh),
    out, health, results);
  return node;
}

/** Draws the list; `focus`: a campaign whose health to show, with `kept` (an outcome's nodes) in its outcome line. */
async function load(focus, kept) {
  const list = await loadInto($('cp-list'), path(), 'read the campaigns', (l) => [
    el('p', { class: 'muted' }, `${l.campaigns.length} campaigns, newest first; configuration version ${l.version}.`),
    el('div', { class: 'cards' }, l.campaigns.slice().reverse().map((c) => card(c, (out) => load(c.id, [...out.childNodes])))),
  ]);
  if (list && focus) {
    const c = list.campaigns.find((x) => x.id === focus);
    const node = $(`camp-${focus}`);
    if (c && node) {
      const out = node.querySelector('.outcome');
      if (kept) {
        out.replaceChildren(...kept);
        out.dataset.state = 'ok';
        out.focus();
      }
      await showHealth(node.querySelector('.health-box'), c);
      node.scrollIntoView({ block: 'nearest' });
    }
  }
}

export const campaignsView = {
  show(arg) {
    const section = $('view-campaigns');
    wireCampaignForm((c) => {
      $('cp-create').open = false;
      return load(c.id);
    });
    replace($('cp-out'));
    if (!state.who) return idle($('cp-list'), noToken());
    applyScopes(section);
    if (can('templates:read')) {
      apiRequest('GET', handlePath(state.handle, '/tracking-templates'), state.token)
        .then((t) => offerTemplates(t.templates.map((x) => x.id))).catch(() => offerTemplates([]));
    }
    if (!can('campaigns:read')) return idle($('cp-list'), cannotRead('campaigns:read', 'list the campaigns'));
    return load(arg);
  },
};
