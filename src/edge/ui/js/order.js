// New priorities for a reordered rule list, changing as few rules as possible. Rules are
// evaluated by (priority, id), so the list order is what the priorities must produce,
// with two exceptions that make fewer writes possible:
// - rules that shared a priority and do not collide (the audit found no visitor both
//   can hold for) may change places freely: their order never mattered;
// - the pairs the person ordered by hand (moved up, down, dragged, "put first") are
//   ordered strictly: never by an id tie-break, so the order is explicit.
// Each rule keeps its priority when that still fits between what must come before and
// what must come after it; a rule that does not fit takes the nearest priority that does
// (just below what follows when it moved up, just above what precedes when it moved
// down), and where there is no room the rules after it are pushed down.

const pairKey = (a, b) => `${a}|${b}`;

/** The pair of colliding rules `a` and `b` as a key, in either order. */
export const collisionKey = (a, b) => (a < b ? pairKey(a, b) : pairKey(b, a));

/**
 * `rows`: `[{ id, priority }]` in the new order; `explicit`: keys `a|b` of pairs the
 * person put in that order; `collisions`: `collisionKey`s of same-priority rules that can
 * both hold. Returns a Map of id → new priority for the rules whose priority changes.
 */
export function reprioritise(rows, explicit = new Set(), collisions = new Set()) {
  const pos = new Map(rows.map((r, i) => [r.id, i]));
  const strict = (x, y) => explicit.has(pairKey(x.id, y.id)) && pos.get(x.id) < pos.get(y.id);
  const free = (x, y) => !strict(x, y) && x.priority === y.priority && !collisions.has(collisionKey(x.id, y.id));
  const q = new Map();
  rows.forEach((r, i) => {
    let low = 0;
    for (const x of rows.slice(0, i)) {
      if (free(x, r)) continue;
      const qx = q.get(x.id);
      low = Math.max(low, strict(x, r) || x.id > r.id ? qx + 1 : qx);
    }
    let high = Infinity;
    for (const y of rows.slice(i + 1)) {
      if (free(r, y)) continue;
      high = Math.min(high, strict(r, y) || r.id > y.id ? y.priority - 1 : y.priority);
    }
    let next = low;
    if (r.priority >= low && r.priority <= high) next = r.priority;
    else if (low <= high && r.priority > high) next = high;
    q.set(r.id, next);
  });
  return new Map(rows.filter((r) => q.get(r.id) !== r.priority).map((r) => [r.id, q.get(r.id)]));
}

/** `ids` with `id` moved `by` places (-1 up, +1 down) and the pair it was ordered in, or null at an end. */
export function move(ids, id, by) {
  const i = ids.indexOf(id);
  const j = i + by;
  if (i < 0 || j < 0 || j >= ids.length) return null;
  const next = ids.slice();
  next.splice(i, 1);
  next.splice(j, 0, id);
  return { order: next, pair: by < 0 ? pairKey(id, ids[j]) : pairKey(ids[j], id) };
}

/** `ids` with `id` placed directly before `before`, and the pair it was ordered in. */
export function placeBefore(ids, id, before) {
  const next = ids.filter((x) => x !== id);
  const j = next.indexOf(before);
  next.splice(j < 0 ? next.length : j, 0, id);
  return { order: next, pair: pairKey(id, before) };
}
