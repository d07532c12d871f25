// Editing one rule: a form for the common fields (entries, destination, campaign,
// template, and the country, device, language and region conditions) with the other
// conditions as JSON; Enter reviews. The review shows the diff against the stored rule,
// the audit's findings on it and the rules it would share its priority with; saving
// first checks that nobody changed the rule since it was opened (the API takes no
// If-Match, so the console compares the stored rule with the one it started from and
// explains a conflict), then PUTs it. Problems come back at their fields.

import { apiRequest, handlePath } from '../api.js';
import { act, clearFieldErrors, failure, formError, showFieldErrors } from '../actions.js';
import { $, code, el, replace } from '../dom.js';
import { diff, diffTable } from '../diff.js';
import { shortUrl } from '../format.js';
import { state } from '../state.js';

const FIELDS = ['priority', 'enabled', 'entries', 'conditions', 'destination', 'campaign', 'template', 'description'];
const FORM_CONDITIONS = [['country', 'Country', 'IN, AE'], ['device', 'Device', 'desktop, mobile, tablet, crawler, other'], ['language', 'Language', 'hi, ar'], ['region', 'Region', 'IN-MH']];

/** A rule as a PUT body: its document fields, without `id` (the path gives it). */
export function ruleBody(r) {
  const body = {};
  for (const k of FIELDS) if (r[k] !== undefined && r[k] !== null) body[k] = r[k];
  return body;
}

function testText(name, t) {
  if (t === null || typeof t !== 'object') return `${name} ${JSON.stringify(t)}`;
  if (t.in) return `${name} in ${t.in.join(', ')}`;
  if (t.not_in) return `${name} not in ${t.not_in.join(', ')}`;
  if ('start' in t || 'end' in t) return `${name} from ${t.start || '…'} until ${t.end || '…'}`;
  return `${name} ${JSON.stringify(t)}`;
}

/** What a rule matches and where it sends, in one line. */
export function summary(r) {
  const c = r.conditions || {};
  const tests = Object.entries(c).flatMap(([k, v]) => (k === 'query' ? Object.entries(v).map(([q, t]) => testText(`?${q}`, t)) : [testText(k, v)]));
  const to = r.campaign ? `A/B test ${r.campaign}${r.destination ? ` (else ${shortUrl(r.destination)})` : ''}` : r.destination ? shortUrl(r.destination) : 'nowhere';
  return `${(r.entries || []).join(', ')} · ${tests.length ? tests.join('; ') : 'every visitor'} → ${to}`;
}

/** The audit's findings on rule `id` (collisions only in a review: the list shows them itself). */
export function findings(id, audit, withCollisions) {
  if (!audit) return null;
  const items = [];
  if (withCollisions) {
    for (const c of audit.priority_collisions || []) {
      if (c.rules.includes(id)) items.push(`collides with ${c.rules.find((x) => x !== id)} at priority ${c.priority}: ${c.why}`);
    }
  }
  for (const s of audit.shadowed || []) if (s.rule === id) items.push(`shadowed: ${s.shadowed_in.map((x) => `${x.entry}: ${x.why}`).join('; ')}`);
  for (const u of audit.unroutable || []) if ((u.rules || []).includes(id)) items.push(`unroutable: ${u.message}`);
  if (!items.length) return null;
  return el('ul', { class: 'msg msg-warn findings', data: { rule: id } }, items.map((t) => el('li', null, `${id} ${t}`)));
}

/**
 * Whether rule `id` changed since the editor (or the list) read it as `base` (null: it
 * did not exist): if so, says so in `out` with what changed, offers `reload`, and
 * resolves to true.
 */
export async function conflictWith(id, base, out, reload) {
  const list = await apiRequest('GET', handlePath(state.handle, '/personalization-rules'), state.token);
  const now = list.rules.find((r) => r.id === id);
  const theirs = now ? ruleBody(now) : null;
  const changes = diff(base || {}, theirs || {});
  if (!changes.length && Boolean(now) === Boolean(base)) return false;
  const button = el('button', { type: 'button', class: 'secondary' }, 'Reload');
  button.addEventListener('click', reload);
  replace(out, el('div', { class: 'msg msg-error', data: { code: 'changed_meanwhile' } },
    el('p', null, el('strong', null, 'Conflict. '), `Someone changed ${id} since you opened it (the configuration is at version ${list.version} now), so nothing was saved: saving would have replaced their change without you seeing it.`),
    changes.length ? diffTable(changes, `What they changed in ${id}`) : el('p', null, base ? 'They deleted it.' : 'They created a rule with this id.'),
    el('p', null, 'Reload, check their change, and make yours again.'), button));
  out.dataset.state = 'error';
  return true;
}

const input = (id, label, attrs = {}, hint) => el('div', { class: 'field' }, el('label', { for: id }, label),
  el('input', { id, type: 'text', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', ...attrs, 'aria-describedby': hint ? `${id}-hint` : null }),
  hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : null);

function conditionField(name, label, hint, test) {
  const mode = test ? (test.in ? 'in' : 'not_in') : '';
  const values = test ? (test.in || test.not_in || []).join(', ') : '';
  return el('div', { class: 'field cond' },
    el('label', { for: `re-${name}` }, label),
    el('div', { class: 'link-row' },
      el('select', { id: `re-${name}-mode`, 'aria-label': `${label}: how to test` },
        ['', 'in', 'not_in'].map((m) => el('option', { value: m, selected: m === mode }, { '': 'any', in: 'is one of', not_in: 'is none of' }[m]))),
      el('input', { id: `re-${name}`, type: 'text', value: values, autocomplete: 'off', spellcheck: 'false', 'data-path': `$.conditions.${name}`, placeholder: hint })));
}

function form(rule, list) {
  const c = (rule && rule.conditions) || {};
  const others = Object.fromEntries(Object.entries(c).filter(([k]) => !FORM_CONDITIONS.some(([n]) => n === k)));
  const entries = rule ? rule.entries || [] : ['festive'];
  return el('form', { id: 're-form', class: 'panel editor', novalidate: true },
    el('h3', { id: 're-title', tabindex: '-1' }, rule ? `Edit rule ${rule.id}` : 'New rule'),
    el('div', { class: 'grid' },
      input('re-id', 'Rule id', { value: rule ? rule.id : '', readonly: Boolean(rule), required: true, 'data-path': '$.id' }),
      input('re-priority', 'Priority', { type: 'number', min: '0', inputmode: 'numeric', value: rule ? String(rule.priority) : '', required: true, 'data-path': '$.priority' }, 'Lower first; same priority: by id.'),
      input('re-destination', 'Destination', { type: 'url', value: (rule && rule.destination) || '', 'data-path': '$.destination', placeholder: 'https://…' }),
      input('re-campaign', 'Campaign (A/B test)', { value: (rule && rule.campaign) || '', 'data-path': '$.campaign' }),
      input('re-template', 'Tracking template', { value: (rule && rule.template) || '', 'data-path': '$.template' }),
      input('re-description', 'Description', { value: (rule && rule.description) || '', 'data-path': '$.description' }),
      el('div', { class: 'field' }, el('label', { class: 'check' }, el('input', { id: 're-enabled', type: 'checkbox', checked: !rule || rule.enabled !== false, 'data-path': '$.enabled' }), ' Enabled'))),
    el('fieldset', { id: 're-entries', class: 'field', 'data-path': '$.entries' }, el('legend', null, 'Entries'),
      ['*', ...list.entries.map((e) => e.slug)].map((slug) => el('label', { class: 'check' },
        el('input', { type: 'checkbox', name: 're-entry', value: slug, checked: entries.includes(slug) }), ' ', slug === '*' ? 'every entry (*)' : slug))),
    el('fieldset', { class: 'conds' }, el('legend', null, 'Conditions (all must hold)'),
      el('div', { class: 'grid' }, FORM_CONDITIONS.map(([n, l, h]) => conditionField(n, l, h, c[n]))),
      el('div', { class: 'field' }, el('label', { for: 're-more' }, 'More conditions (JSON)'),
        el('textarea', { id: 're-more', rows: '4', spellcheck: 'false', 'data-path': '$.conditions', 'aria-describedby': 're-more-hint' }, Object.keys(others).length ? JSON.stringify(others, null, 2) : ''),
        el('p', { class: 'hint', id: 're-more-hint' }, 'continent, city, asn, os, browser, eu, time, query: e.g. {"time": {"start": "2026-11-06T00:00:00+05:30"}}'))),
    el('div', { class: 'actions' }, el('button', { type: 'submit', id: 're-review' }, 'Review changes'), el('button', { type: 'button', id: 're-cancel', class: 'secondary' }, 'Cancel')),
    el('div', { id: 're-review-box' }));
}

/** The form as `{ id, body }`, or throws `{ details }` for what cannot be read. */
function read(f) {
  const v = (id) => f.querySelector(`#${id}`).value.trim();
  const problems = [];
  const conditions = {};
  const more = v('re-more');
  if (more) {
    try {
      Object.assign(conditions, JSON.parse(more));
    } catch (e) {
      problems.push({ path: '$.conditions', message: `not JSON: ${e.message}` });
    }
  }
  for (const [n] of FORM_CONDITIONS) {
    const mode = v(`re-${n}-mode`);
    const values = v(`re-${n}`).split(/[\s,;]+/).filter(Boolean);
    if (mode && values.length) conditions[n] = { [mode]: values };
    else if (mode) problems.push({ path: `$.conditions.${n}`, message: 'give at least one value, or choose “any”' });
  }
  const priority = Number(v('re-priority'));
  if (!Number.isInteger(priority) || priority < 0) problems.push({ path: '$.priority', message: 'a whole number, 0 or more' });
  if (problems.length) throw formError(problems);
  const body = { priority, enabled: f.querySelector('#re-enabled').checked, entries: [...f.querySelectorAll('input[name=re-entry]:checked')].map((x) => x.value) };
  if (Object.keys(conditions).length) body.conditions = conditions;
  for (const k of ['destination', 'campaign', 'template', 'description']) if (v(`re-${k}`)) body[k] = v(`re-${k}`);
  return { id: v('re-id'), body };
}

/** Same-priority rules sharing an entry with `body` (other than `id`). */
function ties(id, body, list) {
  const shares = (r) => r.entries.includes('*') || body.entries.includes('*') || r.entries.some((e) => body.entries.includes(e));
  return list.rules.filter((r) => r.id !== id && r.priority === body.priority && r.enabled !== false && shares(r)).map((r) => r.id);
}

/** Opens the editor on `rule` (null: a new one); `ctx`: `{ list, audit, onSaved }`. */
export function openEditor(rule, ctx) {
  const base = rule ? ruleBody(rule) : null;
  const f = form(rule, ctx.list);
  replace($('rl-editor'), f);
  const out = $('rl-out');
  replace(out);
  $('re-cancel').addEventListener('click', () => replace($('rl-editor')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    clearFieldErrors(f);
    let read0;
    try {
      read0 = read(f);
    } catch (err) {
      failure(out, err, 'review the rule', showFieldErrors(f, err));
      return;
    }
    const { id, body } = read0;
    const changes = diff(base || {}, body);
    const tied = ties(id, body, ctx.list);
    const save = el('button', { type: 'button', id: 're-save' }, rule ? 'Save rule' : 'Create rule');
    replace($('re-review-box'), el('div', { class: 'review', role: 'region', 'aria-label': 'Review' },
      changes.length ? diffTable(changes, rule ? `Changes to ${id}` : `New rule ${id}`) : el('p', null, 'Nothing changed.'),
      findings(id, ctx.audit, true),
      tied.length ? el('p', { class: 'msg msg-warn', data: { ties: tied.join(' ') } }, `Shares priority ${body.priority} with ${tied.join(', ')} in an entry they have in common: if both can hold for one visitor, the audit will report a collision and the lower id wins.`) : null,
      el('div', { class: 'actions' }, save)));
    save.disabled = !changes.length;
    save.addEventListener('click', async () => {
      const reload = async () => {
        replace($('rl-editor'));
        await ctx.onSaved();
      };
      if (await conflictWith(id, base, out, reload)) return;
      const done = await act({
        out, form: f, button: save, doing: `save rule ${id}`, method: 'PUT', path: handlePath(state.handle, `/personalization-rules/${encodeURIComponent(id)}`), body,
        message: (r) => [`${r.created ? 'Created' : 'Saved'} rule `, code(id), ` (configuration version ${r.version})${r.rule && !r.rule.routable ? ': its destination is not routable, so visitors skip it' : ''}.`],
      });
      if (done) {
        replace($('rl-editor'));
        await ctx.onSaved();
        out.focus();
      }
    });
    save.focus();
  });
  $('re-title').focus();
}
