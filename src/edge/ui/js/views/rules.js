// Personalization rules in evaluation order (priority, then id): what each one matches
// and where it sends, whether it is enabled and routable, and the audit's findings on it
// (a priority collision comes with buttons that make the order explicit). Reordering (the
// arrow buttons, or dragging) is local until reviewed: the review shows the priorities
// that change and the collisions of the rules concerned, and saving writes each changed
// rule (PUT .../personalization-rules/{id}, rules:write), after checking nobody changed
// them meanwhile (the API has no If-Match; see conflictWith in rule-editor.js).

import { apiRequest, handlePath } from '../api.js';
import { act } from '../actions.js';
import { actionButton, applyScopes, can, cannotRead } from '../access.js';
import { $, code, el, idle, noToken, replace, scrollRegion } from '../dom.js';
import { plural } from '../format.js';
import { collisionKey, move, placeBefore, reprioritise } from '../order.js';
import { loadInto } from '../panel.js';
import { state } from '../state.js';
import { conflictWith, findings, openEditor, ruleBody, summary } from './rule-editor.js';

const data = { list: null, audit: null, order: null, explicit: new Set(), dragged: null };
const rulesPath = (rest = '') => handlePath(state.handle, `/personalization-rules${rest}`);
const byId = (id) => data.list.rules.find((r) => r.id === id);
const ordered = () => (data.order || data.list.rules.map((r) => r.id)).map(byId);

function collisionBlock(c) {
  const [a, b] = c.rules;
  const fix = (first, other) => actionButton(`Put ${first} first`, 'rules:write', () => reorder(placeBefore(ids(), first, other), first), { class: 'secondary small-btn' });
  const example = Object.entries(c.example || {}).map(([k, v]) => `${k} ${v}`).join(', ');
  return el('div', { class: 'collide', data: { finding: 'collision', rules: c.rules.join(' ') } },
    el('p', null, el('strong', null, 'Priority collision: '), `${a} and ${b} share priority ${c.priority} in ${c.entries.join(', ')} and can both hold`,
      example ? ` (e.g. ${example})` : '', `; ${c.wins ? `${c.wins} wins by id` : 'both are skipped'}. Make the order explicit:`),
    el('div', { class: 'actions' }, fix(a, b), fix(b, a)));
}

const ids = () => ordered().map((r) => r.id);
const collisions = () => new Set(((data.audit && data.audit.priority_collisions) || []).map((c) => collisionKey(c.rules[0], c.rules[1])));
const changes = () => reprioritise(ordered(), data.explicit, collisions());
const moved = (id) => Boolean(data.order) && [...data.explicit].some((k) => k.split('|').includes(id));
const discard = () => {
  data.order = null;
  data.explicit.clear();
};

function row(r, i, list) {
  const pending = moved(r.id);
  const collisions = (data.audit ? data.audit.priority_collisions || [] : []).filter((c) => c.rules[0] === r.id);
  const up = actionButton('↑', 'rules:write', () => reorder(move(ids(), r.id, -1), r.id), { class: 'secondary small-btn', 'aria-label': `Move ${r.id} up`, disabled: i === 0 });
  const down = actionButton('↓', 'rules:write', () => reorder(move(ids(), r.id, 1), r.id), { class: 'secondary small-btn', 'aria-label': `Move ${r.id} down`, disabled: i === list.length - 1 });
  const toggle = actionButton(r.enabled === false ? 'Enable' : 'Disable', 'rules:write', (e) => setEnabled(r, r.enabled === false, e.currentTarget), { class: 'secondary', 'aria-label': `${r.enabled === false ? 'Enable' : 'Disable'} ${r.id}` });
  const edit = actionButton('Edit', 'rules:write', () => edit0(r), { 'aria-label': `Edit ${r.id}` });
  const li = el('li', { class: `card rule${r.enabled === false ? ' off' : ''}${pending ? ' moved' : ''}`, data: { rule: r.id, priority: String(r.priority) }, draggable: can('rules:write') ? 'true' : null },
    el('div', { class: 'rule-head' }, el('span', { class: 'prio-badge' }, `priority ${r.priority}`), ' ', code(r.id), ' ',
      r.enabled === false ? el('span', { class: 'tag no' }, 'disabled') : null, ' ',
      r.routable ? null : el('span', { class: 'tag no' }, 'not routable'), pending ? el('span', { class: 'tag v-pending' }, 'moved') : null),
    el('p', { class: 'rule-what' }, summary(r)),
    findings(r.id, data.audit, false),
    (r.warnings || []).map((w) => el('p', { class: 'muted small' }, `${w.code}: ${w.message}`)),
    collisions.map(collisionBlock),
    el('div', { class: 'actions' }, edit, toggle, up, down));
  li.addEventListener('dragstart', (e) => {
    data.dragged = r.id;
    e.dataTransfer.setData('text/plain', r.id);
    e.dataTransfer.effectAllowed = 'move';
  });
  li.addEventListener('dragover', (e) => e.preventDefault());
  li.addEventListener('drop', (e) => {
    e.preventDefault();
    if (data.dragged && data.dragged !== r.id) reorder(placeBefore(ids(), data.dragged, r.id), data.dragged);
    data.dragged = null;
  });
  return li;
}

function renderList(list) {
  data.list = list;
  const a = data.audit && data.audit.summary;
  const rules = ordered();
  return [
    el('p', { class: 'muted' }, `${plural(list.rules.length, 'rule')}, configuration version ${list.version}.`,
      a ? ` Audit: ${plural(a.priority_collisions, 'priority collision')}, ${plural(a.shadowed, 'shadowed rule')}, ${plural(a.unroutable, 'unroutable destination')}.` : ''),
    el('ol', { class: 'rule-list', 'aria-label': 'Rules in evaluation order' }, rules.map((r, i) => row(r, i, rules))),
  ];
}

async function load() {
  $('rl-list').dataset.loaded = 'false';
  data.audit = await apiRequest('GET', handlePath(state.handle, '/rule-audit'), state.token).catch(() => null);
  await loadInto($('rl-list'), rulesPath(), 'read the rules', renderList);
  $('rl-list').dataset.version = data.list ? String(data.list.version) : '';
}

function redraw() {
  replace($('rl-list'), renderList(data.list));
  drawOrderBar();
}

/** Takes a new local order (`{ order, pair }` from order.js; null: nothing moved) in which `id` moved. */
function reorder(result, id) {
  if (!result) return;
  data.order = result.order;
  data.explicit.add(result.pair);
  if (changes().size === 0) discard();
  redraw();
  const node = $('rl-list').querySelector(`li[data-rule="${CSS.escape(id)}"]`);
  if (node) node.scrollIntoView({ block: 'nearest' });
  if (data.order) $('rl-review').focus();
}

function drawOrderBar(reviewing = false) {
  const bar = $('rl-order');
  if (!data.order) return replace(bar);
  const changing = changes();
  const rows = [...changing].map(([id, p]) => el('tr', { data: { rule: id } }, el('th', { scope: 'row' }, code(id)), el('td', { class: 'num' }, String(byId(id).priority)), el('td', { class: 'num' }, String(p))));
  replace(bar, el('div', { class: 'panel order-bar', role: 'region', 'aria-label': 'New order' },
    el('p', null, el('strong', null, 'Order changed, not saved yet: '), `new priorities for ${plural(changing.size, 'rule')}.`),
    reviewing ? [
      scrollRegion('Priorities that change', el('table', { class: 'data' }, el('caption', null, 'Priorities that change'),
        el('thead', null, el('tr', null, ['Rule', 'Priority now', 'New priority'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', null, rows))),
      [...changing.keys()].map((id) => findings(id, data.audit, true)),
      el('p', { class: 'muted small' }, 'The audit runs again on the saved rules.'),
    ] : null,
    el('div', { class: 'actions' },
      reviewing ? el('button', { type: 'button', id: 'rl-save-order' }, 'Save new order') : el('button', { type: 'button', id: 'rl-review' }, 'Review new order'),
      el('button', { type: 'button', id: 'rl-discard', class: 'secondary' }, 'Discard'))));
  if (reviewing) $('rl-save-order').addEventListener('click', saveOrder);
  else $('rl-review').addEventListener('click', () => {
    drawOrderBar(true);
    $('rl-save-order').focus();
  });
  $('rl-discard').addEventListener('click', () => {
    discard();
    redraw();
  });
  return undefined;
}

async function saveOrder() {
  const out = $('rl-out');
  for (const [id, priority] of changes()) {
    const base = ruleBody(byId(id));
    if (await conflictWith(id, base, out, () => load())) {
      discard();
      return;
    }
    const done = await act({
      out, button: $('rl-save-order'), doing: `save the priority of ${id}`, method: 'PUT', path: rulesPath(`/${encodeURIComponent(id)}`),
      body: { ...base, priority }, message: (r) => `Saved the new order: ${id} now has priority ${priority} (configuration version ${r.version}).`,
    });
    if (!done) return;
  }
  discard();
  replace($('rl-order'));
  await load();
}

async function setEnabled(r, enabled, button) {
  const out = $('rl-out');
  const base = ruleBody(r);
  if (await conflictWith(r.id, base, out, () => load())) return;
  const done = await act({
    out, button, doing: `${enabled ? 'enable' : 'disable'} ${r.id}`, method: 'PUT', path: rulesPath(`/${encodeURIComponent(r.id)}`),
    body: { ...base, enabled }, message: (x) => `${r.id} is ${enabled ? 'enabled' : 'disabled'} (configuration version ${x.version}).`,
  });
  if (done) await load();
}

function edit0(rule) {
  openEditor(rule, { list: data.list, audit: data.audit, onSaved: load });
}

export const rulesView = {
  show() {
    const section = $('view-rules');
    if (!section.dataset.wired) {
      $('rl-new').addEventListener('click', () => edit0(null));
      section.dataset.wired = 'true';
    }
    replace($('rl-out'));
    replace($('rl-editor'));
    discard();
    replace($('rl-order'));
    if (!state.who) return idle($('rl-list'), noToken());
    applyScopes(section);
    if (!can('rules:read')) return idle($('rl-list'), cannotRead('rules:read', 'list the rules'));
    return load();
  },
};

