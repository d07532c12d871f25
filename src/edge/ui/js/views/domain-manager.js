// Destination domains: each with whether visitors may be sent there and why (not), the
// TXT record to publish (copyable), verification over DNS and the manual decision; and
// adding one. Reads `destination-domains` (domains:read); adds and verifies with
// domains:write; approves or rejects with domains:admin, always with a reason.

import { handlePath } from '../api.js';
import { act } from '../actions.js';
import { actionButton, applyScopes, can, cannotRead } from '../access.js';
import { $, code, copyable, el, idle, noToken, replace } from '../dom.js';
import { localTime } from '../format.js';
import { loadInto } from '../panel.js';
import { state } from '../state.js';

const path = (rest = '') => handlePath(state.handle, `/destination-domains${rest}`);
const slug = (domain) => domain.replace(/[^a-z0-9]+/gi, '-');

/** Why a domain is (not) routable, and what to do about it. */
function why(d, threshold) {
  if (d.routable) {
    const by = d.decision ? `approved by ${d.decision.by}` : `its risk score ${d.risk_score} is under the threshold ${threshold}`;
    return el('p', { class: 'why ok-text' }, `Routable: verified, and ${by}.`);
  }
  const next = {
    unverified: 'Publish the TXT record below at your DNS provider, then verify.',
    unscored: 'It has no risk score: someone with domains:admin must approve it.',
    risk_too_high: `Its risk score is at or over ${threshold}: only an approval makes it routable.`,
    rejected: 'A person rejected it; only a new approval makes it routable.',
  }[d.not_routable && d.not_routable.code];
  return el('p', { class: 'why no-text' }, `Not routable: ${d.reason || (d.not_routable && d.not_routable.code) || 'unknown'}.`, next ? ` ${next}` : '');
}

function decisionText(d) {
  if (!d.decision) return el('span', { class: 'muted' }, 'none');
  const x = d.decision;
  return [el('span', { class: `tag d-${x.value}` }, x.value), ` by ${x.by} (${localTime(x.at)}): ${x.reason}`];
}

function verification(d) {
  return [el('span', { class: `tag v-${d.verification}` }, d.verification),
    d.checked_at ? ` checked ${localTime(d.checked_at)}` : '', d.failure ? `: ${d.failure}` : ''];
}

/** The TXT record to publish for `d`: its name and value, each copyable. */
export const txtRecord = (d, prefix) => el('div', { class: 'txt' },
  copyable('TXT record name', d.txt_record, `${prefix}-name`),
  d.token ? copyable('TXT record value', d.token, `${prefix}-value`) : el('p', { class: 'muted' }, 'No token yet.'));

function decideForm(d) {
  const id = `dom-${slug(d.domain)}`;
  const form = el('form', { class: 'decide', novalidate: true, data: { scope: 'domains:admin' } },
    el('div', { class: 'grid' },
      el('div', { class: 'field' }, el('label', { for: `${id}-decision` }, 'Decision'),
        el('select', { id: `${id}-decision`, 'data-path': '$.decision' },
          el('option', { value: 'approved' }, 'Approve'), el('option', { value: 'rejected' }, 'Reject'))),
      el('div', { class: 'field' }, el('label', { for: `${id}-reason` }, 'Reason (kept with the decision)'),
        el('input', { id: `${id}-reason`, type: 'text', maxlength: '500', required: true, 'data-path': '$.reason' }))),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Record decision')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const decision = form.elements[`${id}-decision`].value;
    const done = await act({
      out: $('dm-out'), form, button: form.querySelector('button[type=submit]'), doing: `decide on ${d.domain}`,
      method: 'POST', path: path(`/${encodeURIComponent(d.domain)}/decision`),
      body: { decision, reason: form.elements[`${id}-reason`].value.trim() },
      message: (r) => `${d.domain} ${r.domain.decision ? r.domain.decision.value : decision}; it is ${r.domain.routable ? '' : 'not '}routable now (configuration version ${r.version}).`,
    });
    if (done) await load();
  });
  return form;
}

function card(d, threshold) {
  const id = `dom-${slug(d.domain)}`;
  const verify = actionButton('Verify now', 'domains:write', async (e) => {
    const done = await act({
      out: $('dm-out'), button: e.currentTarget, doing: `verify ${d.domain}`,
      method: 'POST', path: path(`/${encodeURIComponent(d.domain)}/verify`),
      message: (r) => (r.check.matched
        ? `${d.domain} is verified: ${r.check.record} holds its token (configuration version ${r.version}).`
        : `${d.domain} is not verified: ${r.check.record} holds ${r.check.found.length ? r.check.found.map((f) => `“${f}”`).join(', ') : 'no TXT record'}, not its token.`),
    });
    if (done) await load();
  }, { class: 'secondary', 'aria-label': `Verify ${d.domain}` });
  const node = el('article', { class: 'card domain', id, data: { domain: d.domain, routable: String(Boolean(d.routable)), verification: d.verification } },
    el('h3', null, code(d.domain), ' ', el('span', { class: `tag ${d.routable ? 'ok' : 'no'}` }, d.routable ? 'routable' : 'not routable')),
    why(d, threshold),
    el('dl', { class: 'kv' },
      el('dt', null, 'Verification'), el('dd', null, verification(d)),
      el('dt', null, 'Decision'), el('dd', null, decisionText(d)),
      el('dt', null, 'Risk score'), el('dd', null, typeof d.risk_score === 'number' ? String(d.risk_score) : 'unscored')),
    d.verification === 'verified' ? el('details', null, el('summary', null, 'TXT record'), txtRecord(d, id)) : txtRecord(d, id),
    el('div', { class: 'actions' }, verify),
    decideForm(d));
  applyScopes(node);
  return node;
}

async function load() {
  await loadInto($('dm-list'), path(), 'read the destination domains', (list) => [
    el('p', { class: 'muted' }, `${list.domains.length} domains, configuration version ${list.version}. Those visitors cannot be sent to yet come first, the newest at the top. Without a decision, a risk score under ${list.risk_threshold} counts as approved.`),
    el('div', { class: 'cards' }, [...list.domains.filter((d) => !d.routable).reverse(), ...list.domains.filter((d) => d.routable)].map((d) => card(d, list.risk_threshold))),
  ]);
}

async function add(e) {
  e.preventDefault();
  const form = $('dm-add');
  const input = $('dm-domain');
  const domain = input.value.trim();
  const done = await act({
    out: $('dm-out'), form, button: form.querySelector('button[type=submit]'), doing: `add ${domain || 'the domain'}`,
    method: 'POST', path: path(), body: { domain },
    message: (r) => [`Added ${r.domain.domain} (pending). Publish this TXT record, then verify it on its card below.`,
      txtRecord(r.domain, 'dm-new')],
  });
  if (done) {
    input.value = '';
    await load();
  }
}

export const domainsView = {
  show() {
    const section = $('view-domains');
    if (!section.dataset.wired) {
      $('dm-add').addEventListener('submit', add);
      $('dm-domain').setAttribute('data-path', '$.domain');
      section.dataset.wired = 'true';
    }
    replace($('dm-out'));
    if (!state.who) return idle($('dm-list'), noToken());
    applyScopes(section);
    if (!can('domains:read')) return idle($('dm-list'), cannotRead('domains:read', 'list the destination domains'));
    return load();
  },
};
