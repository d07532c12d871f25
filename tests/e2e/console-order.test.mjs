// The console's reordering arithmetic (src/edge/ui/js/order.js), run in Node: the
// priorities it writes reproduce the order the person made, wherever the order matters;
// hand-made pairs are strict; rules whose order never mattered are left alone; and the
// cases of the UC-08 flow give the one write a person would make.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { collisionKey, move, placeBefore, reprioritise } from '../../src/edge/ui/js/order.js';

const rows = (pairs) => pairs.map(([id, priority]) => ({ id, priority }));

/** The rules sorted as the router evaluates them, with `changes` applied. */
function evaluated(list, changes) {
  return list.map((r) => ({ id: r.id, priority: changes.get(r.id) ?? r.priority }))
    .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function checkInvariants(list, order, explicit, collisions) {
  const byId = new Map(list.map((r) => [r.id, r]));
  const next = order.map((id) => byId.get(id));
  const changes = reprioritise(next, explicit, collisions);
  const rank = new Map(evaluated(list, changes).map((r, i) => [r.id, i]));
  const q = (id) => changes.get(id) ?? byId.get(id).priority;
  for (let i = 0; i < next.length; i++) {
    for (let j = i + 1; j < next.length; j++) {
      const [x, y] = [next[i], next[j]];
      const hand = explicit.has(`${x.id}|${y.id}`);
      const free = !hand && x.priority === y.priority && !collisions.has(collisionKey(x.id, y.id));
      if (free) continue;
      assert.ok(rank.get(x.id) < rank.get(y.id), `${x.id} before ${y.id} in ${order.join(',')} → ${JSON.stringify([...changes])}`);
      if (hand) assert.ok(q(x.id) < q(y.id), `${x.id}|${y.id} strictly`);
    }
  }
  for (const [, p] of changes) assert.ok(Number.isInteger(p) && p >= 0);
  return changes;
}

test('the UC-08 cases: one write each', () => {
  const festive = rows([['in-mobile-2025', 49], ['ae-shop', 50], ['gulf-mobile', 50], ['in-diwali-sale', 50], ['in-mobile', 50], ['uk-mobile', 50], ['eu-festive-net', 55]]);
  const ids = festive.map((r) => r.id);
  const collisions = new Set([collisionKey('ae-shop', 'gulf-mobile')]);
  const byId = new Map(festive.map((r) => [r.id, r]));
  const run = ({ order, pair }) => reprioritise(order.map((id) => byId.get(id)), new Set([pair]), collisions);
  assert.deepEqual([...run(placeBefore(ids, 'ae-shop', 'gulf-mobile'))], [['gulf-mobile', 51]]);
  assert.deepEqual([...run(placeBefore(ids, 'gulf-mobile', 'ae-shop'))], [['ae-shop', 51]]);
  // eu-festive-net up past uk-mobile: it must stay after gulf-mobile and in-mobile (at 50,
  // with ids after its own) and go before uk-mobile, so there is no room: two writes.
  assert.deepEqual([...run(move(ids, 'eu-festive-net', -1))], [['eu-festive-net', 51], ['uk-mobile', 52]]);
  const gulf = rows([['us-ca', 20], ['ae-arabic', 30], ['gulf-arabic', 30], ['gulf-eid', 35]]);
  const g = new Map(gulf.map((r) => [r.id, r]));
  const up = move(gulf.map((r) => r.id), 'gulf-arabic', -1);
  assert.deepEqual([...reprioritise(up.order.map((id) => g.get(id)), new Set([up.pair]))], [['gulf-arabic', 29]]);
  assert.equal(move(['a', 'b'], 'a', -1), null, 'nothing above the first');
  assert.deepEqual(reprioritise(festive), new Map(), 'no move, no write');
});

test('random lists and moves: the order holds where it matters, hand-made pairs are strict', () => {
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 400; round++) {
    const n = 2 + random(14);
    const list = Array.from({ length: n }, (_, i) => ({ id: `r${String(i).padStart(2, '0')}${'abc'[random(3)]}`, priority: random(6) * 10 + random(2) }))
      .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : 1));
    const collisions = new Set();
    for (let i = 1; i < n; i++) if (list[i].priority === list[i - 1].priority && random(2)) collisions.add(collisionKey(list[i].id, list[i - 1].id));
    let order = list.map((r) => r.id);
    const explicit = new Set();
    for (let k = 0; k < 1 + random(3); k++) {
      const id = order[random(n)];
      const result = random(2) ? move(order, id, random(2) ? -1 : 1) : placeBefore(order, id, order[random(n)]);
      if (!result || result.pair.split('|')[0] === result.pair.split('|')[1]) continue;
      order = result.order;
      explicit.add(result.pair);
    }
    const consistent = new Set([...explicit].filter((p) => {
      const [a, b] = p.split('|');
      return order.indexOf(a) < order.indexOf(b);
    }));
    checkInvariants(list, order, consistent, collisions);
  }
});
