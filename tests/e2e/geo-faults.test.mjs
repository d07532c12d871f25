// Geo faults end to end: a MaxMind DB (KV key geo:mmdb, read once per isolate) that is
// missing, garbage, truncated or scrambled inside its search tree. Each describe starts a
// worker of its own with one of them (GEO_ORDER=mmdb,cf as in local dev, client addresses
// posed through X-Forwarded-For). Visitors are still redirected to routable destinations,
// never a 5xx; where the database cannot be read, the trace takes no fact from it and the
// worker logs why. (An mmdb whose KV read fails is in snapshot-faults.test.mjs, with the
// other KV read failures.) Every response goes through faults.mjs's observer.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { IPS, MMDB, UA, isRoutableUrl, startWorker } from './harness.mjs';
import { faultClient, iphoneFrom } from './faults.mjs';

const real = readFileSync(MMDB);
/** Random-looking bytes: no MaxMind metadata marker at all. */
const garbageMmdb = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 251));
/** The first half of the real database: the metadata (at the end) is gone. */
const truncatedMmdb = real.subarray(0, real.length >> 1);
/** The real database with its search tree scrambled: it parses, lookups go astray. */
const scrambledMmdb = Buffer.from(real);
for (let i = 1000; i < 400_000; i++) scrambledMmdb[i] ^= 0x5a;

const { list, visit, checkEveryResponse } = await faultClient();

/** Starts a worker for the enclosing describe; returns a getter for it. */
function workerWith(options) {
  let worker;
  before(async () => {
    worker = await startWorker(options);
  });
  after(() => worker?.stop());
  return () => worker;
}

/**
 * An iPhone visits from every test address: a 302 (also checked by `check`) whose trace
 * takes no fact from the mmdb (`why`).
 */
async function visitsWithoutMmdbFacts(worker, why, check = () => {}) {
  const { token } = await worker.previewToken();
  for (const ip of Object.values(IPS)) {
    const res = await visit(worker, '/gharart/festive', iphoneFrom(ip));
    assert.equal(res.status, 302);
    check(res);
    const trace = (await visit(worker, `/gharart/festive?__preview=${token}&__explain=1`, iphoneFrom(ip))).json();
    assert.notEqual(trace.facts.country.source, 'mmdb', why);
  }
}

describe('no MaxMind DB (worker started without geo:mmdb)', () => {
  const worker = workerWith({ mmdb: false });

  test('visitors are still redirected to routable destinations, never 5xx', async () => {
    const { token } = await worker().previewToken();
    for (const [ip, ua] of [[IPS.IN, UA.iphone], [IPS.AE, UA.desktop], [IPS.DE, UA.ipad], [undefined, UA.desktop]]) {
      const headers = ip ? { 'User-Agent': ua, 'X-Forwarded-For': ip } : { 'User-Agent': ua };
      const res = await visit(worker(), '/gharart/festive', headers);
      assert.equal(res.status, 302, res.body.slice(0, 200));
      assert.ok(isRoutableUrl(list, res.location), res.location);
      assert.equal(Number(res.header('x-snapshot-version')), worker().snapshotVersion);
      const trace = (await visit(worker(), `/gharart/festive?__preview=${token}&__explain=1`, headers)).json();
      assert.notEqual(trace.facts.country.source, 'mmdb', 'no mmdb, no mmdb facts');
      assert.ok(['cf', 'unknown'].includes(trace.facts.country.source), JSON.stringify(trace.facts.country));
    }
    await worker().waitForLog(/geo:mmdb is not in KV/); // the worker's console reaches the log a little later
  });
});

describe('a garbage MaxMind DB (no metadata marker)', () => {
  const worker = workerWith({ kv: { 'geo:mmdb': garbageMmdb } });

  test('visitors are redirected; geo comes from request.cf', async () => {
    await visitsWithoutMmdbFacts(worker(), 'no facts from a garbage mmdb');
    await worker().waitForLog(/geo:mmdb: /);
  });
});

describe('a truncated MaxMind DB (its metadata gone)', () => {
  const worker = workerWith({ kv: { 'geo:mmdb': truncatedMmdb } });

  test('visitors are redirected by a rule; the truncated mmdb leaves geo to request.cf', async () => {
    await visitsWithoutMmdbFacts(worker(), 'no facts from a truncated mmdb', (res) => assert.equal(res.header('x-router-outcome'), 'rule'));
    await worker().waitForLog(/geo:mmdb: /);
  });
});

describe('a MaxMind DB scrambled inside its search tree', () => {
  const worker = workerWith({ kv: { 'geo:mmdb': scrambledMmdb } });

  test('never breaks a visit (lookups may go astray, the route stays routable)', async () => {
    for (const ip of [...Object.values(IPS), '10.0.0.1', '2001:db8::1', '255.255.255.255', '::']) {
      const res = await visit(worker(), '/gharart/festive', iphoneFrom(ip));
      assert.equal(res.status, 302, `${ip}: ${res.status}`);
    }
  });
});

checkEveryResponse({ atLeast: 20 });
