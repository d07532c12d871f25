// The rule audit: priority collisions, shadowed rules, unroutable destinations and empty
// condition sets, each with what it means for visitors.

import { $, code, el, replace, scrollRegion } from '../dom.js';
import { plural } from '../format.js';

function section(title, count, content, emptyText) {
  return [
    el('h3', null, `${title} (${count})`),
    count ? content : el('p', { class: 'muted' }, emptyText),
  ];
}

/** Who uses an unroutable destination, in words. */
function usedBy(u) {
  const rules = (u.rules || []).join(', ');
  const entries = (u.entries || []).join(', ');
  switch (u.kind) {
    case 'rule_destination':
      return `rule ${rules}, in ${entries}`;
    case 'campaign_rule_destination':
      return `fallback of campaign rule ${rules}, in ${entries}`;
    case 'variant':
      return `variant ${u.variant} of campaign ${u.campaign}${rules ? ` (rule ${rules})` : ''}, in ${entries}`;
    case 'entry_default':
      return `default of entry ${entries}`;
    case 'handle_fallback':
      return 'the handle fallback';
    default:
      return [u.kind, rules, entries].filter(Boolean).join(', ');
  }
}

const collisionList = (collisions) => el('ul', { class: 'findings' }, collisions.map((c) => el('li', { data: { finding: 'collision', rules: c.rules.join(' ') } },
  el('p', null, el('strong', null, `${c.rules[0]} and ${c.rules[1]}`), ` share priority ${c.priority} in ${c.entries.join(', ')}; `,
    c.wins ? [code(c.wins), ' wins.'] : 'both are skipped.'),
  el('p', { class: 'muted' }, c.why))));

const shadowedList = (shadowed) => el('ul', { class: 'findings' }, shadowed.map((r) => el('li', { data: { finding: 'shadowed', rule: r.rule } },
  el('p', null, el('strong', null, r.rule), ` (priority ${r.priority}) can never win ${r.scope === 'everywhere' ? 'anywhere' : `in ${r.shadowed_in.map((x) => x.entry).join(', ')}`}.`),
  el('ul', null, r.shadowed_in.map((x) => el('li', { class: 'muted' }, `${x.entry}: ${x.why}`))))));

const unroutableTable = (unroutable) => scrollRegion('Unroutable destinations (scrolls sideways)',
  el('table', { class: 'data' },
    el('caption', { class: 'sr-only' }, 'Destinations visitors cannot be sent to, with why and what happens instead'),
    el('thead', null, el('tr', null, ['Destination', 'Used by', 'Why not routable', 'Effect'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, unroutable.map((u) => el('tr', { data: { finding: 'unroutable', kind: u.kind, rules: (u.rules || []).join(' ') } },
      el('th', { scope: 'row' }, code(u.destination)),
      el('td', null, usedBy(u)),
      el('td', null, u.message, ' ', el('span', { class: 'muted' }, `(${u.reason && u.reason.code})`)),
      el('td', null, u.effect))))));

const emptyList = (empty) => el('ul', { class: 'findings' }, empty.map((e) => el('li', null,
  el('strong', null, e.rule), ' ', code(e.path), `: ${e.effect}`)));

/** Draws rule-audit `a`. */
export function renderAudit(a) {
  const s = a.summary || {};
  const collisions = a.priority_collisions || [];
  const shadowed = a.shadowed || [];
  const unroutable = a.unroutable || [];
  const empty = a.empty_condition_sets || [];
  replace($('audit-body'),
    el('p', { class: 'lead' }, [
      plural(s.priority_collisions ?? collisions.length, 'priority collision'), ' · ',
      plural(s.shadowed ?? shadowed.length, 'shadowed rule'), ' · ',
      plural(s.unroutable ?? unroutable.length, 'unroutable destination'), ' · ',
      plural(s.empty_condition_sets ?? empty.length, 'empty condition set'),
    ].join('')),
    section('Priority collisions', collisions.length, collisionList(collisions), 'No two same-priority rules can hold for one visitor.'),
    section('Shadowed rules', shadowed.length, shadowedList(shadowed), 'Every rule can win for some visitor.'),
    section('Unroutable destinations', unroutable.length, unroutableTable(unroutable), 'Every destination is routable.'),
    section('Empty condition sets', empty.length, emptyList(empty), 'None.'));
  $('audit').hidden = false;
}
