// What changed between two JSON values, as `{ path, before, after }` rows with JSON paths
// like the API's (`$.conditions.country.in`): objects are compared key by key, arrays and
// scalars as whole values. A missing side is `undefined` ("absent"). The rows render as a
// table, for the rule editor's review, a reorder's review and the change history.

import { code, el, scrollRegion } from './dom.js';

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const key = (k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);

/** The changes from `a` to `b` below `path`. */
export function diff(a, b, path = '$') {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diff(a[k], b[k], `${path}${key(k)}`));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [{ path, before: a, after: b }];
}

/** A value as short JSON text (absent: an em dash). */
export const show = (v) => (v === undefined ? '—' : JSON.stringify(v));

/** The rows as a table: field, before, after. */
export function diffTable(rows, caption) {
  return scrollRegion(caption, el('table', { class: 'data diff' },
    el('caption', null, caption),
    el('thead', null, el('tr', null, ['Field', 'Before', 'After'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, rows.map((r) => el('tr', { data: { path: r.path } },
      el('th', { scope: 'row' }, code(r.path)),
      el('td', { class: 'before' }, r.elided ? el('em', null, 'too long to show') : code(show(r.before))),
      el('td', { class: 'after' }, r.elided ? el('em', null, 'too long to show') : code(show(r.after))))))));
}
