// A campaign's results (GET .../campaigns/{id}/results, issue 13): per variant the
// exposed visitors, converting visitors on the chosen event and the conversion rate with
// its 95% interval drawn as a bar on one scale for all variants (the dot is the rate),
// the uplift against the control with its interval, the p-value and the chance to beat
// the control; the sample-ratio check, flagged in a warning; what the figures come from
// and when the last batch landed. A figure the API leaves out (`null`) says why. A worker
// without the results route (404 `route_not_found`) says results are not available yet.

import { apiCall, handlePath } from '../api.js';
import { code, el, replace, scrollRegion } from '../dom.js';
import { localTime } from '../format.js';
import { state } from '../state.js';
import { errorMessage } from './messages.js';

const SVG = 'http://www.w3.org/2000/svg';
const pct = (x, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const signed = (x) => `${x >= 0 ? '+' : '−'}${pct(Math.abs(x))}`;
const REASONS = {
  no_exposures: 'no exposed visitors',
  conversions_exceed_exposures: 'more converting than exposed visitors',
  control_rate_zero: 'the control has no conversions',
  no_variance: 'no variance (a rate of 0 or 1)',
  is_control: 'the control itself',
  one_variant: 'one variant',
  no_weights: 'weights sum to 0',
  exposed_at_zero_weight: 'visitors exposed at weight 0',
};
const why = (e, field) => el('span', { class: 'muted' }, `— (${REASONS[e.reasons && e.reasons[field]] || (e.reasons && e.reasons[field]) || 'not computed'})`);

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** The rate's interval as a bar on a 0..`max` scale, the rate as a dot. */
function intervalBar(e, max, label) {
  const x = (v) => Math.max(0, Math.min(100, (v / max) * 100));
  const [lo, hi] = e.interval;
  return svg('svg', { class: 'ci', viewBox: '0 0 100 10', preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    svg('rect', { class: 'ci-track', x: 0, y: 4, width: 100, height: 2 }),
    svg('rect', { class: 'ci-range', x: x(lo), y: 2, width: Math.max(0.5, x(hi) - x(lo)), height: 6 }),
    svg('rect', { class: 'ci-point', x: Math.max(0, x(e.rate) - 0.75), y: 0, width: 1.5, height: 10 }));
}

function rateCell(e, max, key) {
  if (e.rate === null || e.rate === undefined) return el('td', null, why(e, 'rate'));
  const text = e.interval ? `${pct(e.rate, 2)} (${pct(e.interval[0], 2)} – ${pct(e.interval[1], 2)})` : pct(e.rate, 2);
  return el('td', { class: 'rate' }, el('span', { class: 'nowrap' }, text),
    e.interval ? intervalBar(e, max, `${key}: rate ${text}, 95% interval`) : null);
}

function upliftCell(e, isControl) {
  if (isControl) return el('td', { class: 'muted' }, 'control');
  if (!e.uplift) return el('td', null, why(e, 'uplift'));
  const u = e.uplift;
  return el('td', { class: 'nowrap' }, signed(u.estimate), u.interval ? el('span', { class: 'muted small' }, ` (${signed(u.interval[0])} to ${signed(u.interval[1])})`) : null);
}

function chanceCell(e, isControl) {
  if (isControl) return el('td', { class: 'muted' }, '—');
  const p = e.chance_to_beat_control;
  if (p === null || p === undefined) return el('td', null, why(e, 'chance_to_beat_control'));
  return el('td', { class: 'nowrap' }, el('meter', { min: '0', max: '1', value: String(p), 'aria-label': `chance to beat control ${pct(p)}` }), ` ${pct(p)}`);
}

function srmBox(srm) {
  if (!srm) return null;
  const observed = Object.entries(srm.observed || {}).map(([k, n]) => `${k} ${n}`).join(', ');
  const expected = Object.entries(srm.expected_shares || {}).map(([k, s]) => `${k} ${pct(s, 0)}`).join(', ');
  if (srm.flagged) {
    return el('p', { class: 'msg msg-error srm', data: { srm: 'flagged' } }, el('strong', null, 'Sample-ratio mismatch. '),
      `Exposed visitors (${observed}) do not follow the weights (${expected})`, srm.p_value !== null && srm.p_value !== undefined ? `: p = ${srm.p_value.toExponential(2)} < ${srm.threshold}` : '',
      '. Assignment or exposure counting is off: do not trust the comparison until the cause is found.');
  }
  return el('p', { class: 'muted small srm', data: { srm: 'ok' } }, `Split check: exposed visitors ${observed || 'none'} against the weights ${expected}`,
    srm.p_value !== null && srm.p_value !== undefined ? ` (p = ${srm.p_value.toFixed(3)}): no mismatch.` : ` (${REASONS[srm.reason] || srm.reason || 'not computed'}).`);
}

function render(box, r, requestId, reload) {
  const event = r.primary_event ? r.primary_event.name : (r.events || [])[0];
  const rows = (r.variants || []).map((v) => ({ v, e: (v.events || {})[event] || { reasons: {} } }));
  const max = Math.max(0.01, ...rows.map(({ e }) => (e.interval ? e.interval[1] : e.rate || 0))) * 1.1;
  const select = el('select', { 'aria-label': 'Event' }, (r.events || [event]).map((name) => el('option', { value: name, selected: name === event }, name)));
  select.addEventListener('change', () => reload(select.value));
  const from = r.computed_from || {};
  replace(box,
    el('div', { class: 'results-head' }, el('label', null, 'Event ', select),
      el('p', { class: 'muted small' }, `Computed from ${from.exposed_visitors ?? '?'} exposed visitors, ${from.visits ?? '?'} visits and ${from.events ?? '?'} conversions; ${r.as_of ? `last batch ${localTime(r.as_of)}` : 'no exposure batch has landed yet'}.`)),
    srmBox(r.srm),
    scrollRegion('Results by variant (scrolls sideways)', el('table', { class: 'data results-table' },
      el('caption', null, `${event}: conversion rate with its 95% interval (bars share one scale), against the control ${r.control || ''}`),
      el('thead', null, el('tr', null, ['Variant', 'Exposed', 'Converting', 'Rate (95% interval)', 'Uplift', 'p-value', 'Chance to beat control'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, rows.map(({ v, e }) => el('tr', { data: { variant: v.key } },
        el('th', { scope: 'row' }, code(v.key), el('span', { class: 'prio' }, `${v.weight}%${v.is_control ? ', control' : ''}`)),
        el('td', { class: 'num' }, String(v.exposed_visitors)),
        el('td', { class: 'num' }, String(e.converting_visitors ?? 0)),
        rateCell(e, max, v.key),
        upliftCell(e, v.is_control),
        v.is_control ? el('td', { class: 'muted' }, '—') : el('td', { class: 'num' }, e.p_value === null || e.p_value === undefined ? why(e, 'p_value') : e.p_value.toFixed(3)),
        chanceCell(e, v.is_control)))))),
    from.methods ? el('p', { class: 'muted small' }, from.methods) : null,
    requestId ? el('p', { class: 'muted small' }, 'Request id ', code(requestId), '.') : null);
  box.dataset.loaded = 'true';
}

/** Reads and draws the results of campaign `id` into `box` (for `event`, else the primary). */
export async function showResults(box, id, event) {
  box.dataset.loaded = 'false';
  replace(box, el('p', { class: 'muted' }, 'Loading results…'));
  const query = event ? `?event=${encodeURIComponent(event)}` : '';
  try {
    const { json, requestId } = await apiCall('GET', handlePath(state.handle, `/campaigns/${encodeURIComponent(id)}/results${query}`), { token: state.token });
    render(box, json.results || json, requestId, (next) => showResults(box, id, next));
  } catch (err) {
    if (err.code === 'route_not_found') {
      replace(box, el('p', { class: 'msg msg-warn', data: { state: 'unavailable' } }, 'Results are not available on this worker yet (exposures and statistics are still to come). ',
        el('span', { class: 'ref' }, 'Request id ', code(err.requestId || '?'), '.')));
    } else {
      replace(box, errorMessage(err, 'read the results'));
    }
    box.dataset.loaded = 'true';
  }
}
