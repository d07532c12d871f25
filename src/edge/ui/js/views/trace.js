// The explain trace: every rule of the entry in evaluation order with its result and why,
// and every fact with where it came from.

import { $, code, el, replace, scrollRegion } from '../dom.js';
import { plural } from '../format.js';

const RESULT_WORDS = { won: 'Won', no_match: 'No match', skipped: 'Skipped', not_reached: 'Not reached' };
const RESULT_MARKS = { won: '✓', no_match: '✗', skipped: '↷', not_reached: '·' };

/** Draws trace `t` (the JSON of `__explain=1`). */
export function renderTrace(t) {
  const facts = Object.entries(t.facts || {});
  const factTable = el('table', { class: 'data facts' },
    el('caption', null, 'Facts used, and where each came from'),
    el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Fact'), el('th', { scope: 'col' }, 'Value'), el('th', { scope: 'col' }, 'Source'))),
    el('tbody', null, facts.map(([name, f]) => el('tr', { data: { fact: name } },
      el('th', { scope: 'row' }, name),
      el('td', null, f.value === null || f.value === undefined ? el('span', { class: 'muted' }, 'unknown') : f.value),
      el('td', { class: f.source === 'override' ? 'src-override' : null }, f.source)))));
  const rules = t.rules || [];
  const ruleTable = el('table', { class: 'data rules' },
    el('caption', null, `${plural(rules.length, 'rule')} of ${t.entry}, in evaluation order (priority, then id)`),
    el('thead', null, el('tr', null,
      el('th', { scope: 'col' }, 'Rule'), el('th', { scope: 'col' }, 'Result'), el('th', { scope: 'col' }, 'Why'))),
    el('tbody', null, rules.map((r) => el('tr', { class: `r-${r.result}`, data: { rule: r.id, result: r.result } },
      el('th', { scope: 'row' }, code(r.id), el('span', { class: 'prio' }, `priority ${r.priority}`)),
      el('td', { class: 'result' }, el('span', { class: `res res-${r.result}` }, el('span', { 'aria-hidden': 'true' }, RESULT_MARKS[r.result] || ''), ' ', RESULT_WORDS[r.result] || r.result)),
      el('td', { class: 'why' }, r.reason)))));
  replace($('trace-body'),
    rules.length ? scrollRegion('Rules considered', ruleTable) : el('p', null, 'This entry has no rules: every visitor gets its default destination.'),
    scrollRegion('Facts used', factTable),
    el('p', { class: 'muted small' }, `Handle ${t.handle}, snapshot version ${t.snapshot_version}${t.preview_sub ? `, preview token for ${t.preview_sub}` : ''}.`));
}

/** Empties the trace (the route gave none). */
export function clearTrace() {
  replace($('trace-body'));
}
