// Faults end to end: corrupt snapshots, last-known-good across KV writes made while the
// server runs, and a missing MaxMind DB (unknown handles and entries: router.test.mjs). One worker for the file, started
// WITHOUT the geo:mmdb key (so every visit here also exercises the missing-mmdb path) and
// with SNAPSHOT_TTL_SECONDS=1. No response may ever be a 5xx.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { IPS, UA, allowlist, isRoutableUrl, newPat, startWorker, waitFor } from './harness.mjs';

const SAFE_FALLBACK_URL = 'https://www.gharart.com/back-soon';
const TTL_MS = 1000;
const V1 = 1000;

let worker;
let list;
let goodSnapshot; // the text of the seeded gharart snapshot

const corrupt = {
  broken: '{"format":1,"version":5,"published_at":"2026-11-01T00:00:00Z","config":{"handle":"broken","entries":[',
  shapeless: '{"hello":"world"}',
};

before(async () => {
  list = await allowlist();
  worker = await startWorker({
    mmdb: false,
    snapshotVersion: V1,
    vars: { SAFE_FALLBACK_URL },
    kv: {
      'snapshot:broken': corrupt.broken,
      'snapshot:shapeless': corrupt.shapeless,
    },
  });
  // A valid gharart snapshot stored under another handle's key: it must not be served there.
  goodSnapshot = await readFile((await worker.snapshotFile(V1)).path, 'utf8');
});

after(async () => {
  await worker?.stop();
});

async function visit(path, opts = {}) {
  const res = await worker.fetch(path, { ip: IPS.IN, ua: UA.iphone, ...opts });
  assert.ok(res.status < 500, `${path} answered ${res.status}: ${res.body.slice(0, 500)}`);
  return res;
}

function version(res) {
  return Number(res.headers.get('x-snapshot-version'));
}

function assertSafeFallback(res) {
  assert.equal(res.status, 302, `${res.path}: ${res.status} ${res.body.slice(0, 200)}`);
  assert.equal(res.location, SAFE_FALLBACK_URL);
  assert.equal(res.headers.get('x-router-outcome'), 'snapshot_unavailable');
  assert.deepEqual(res.setCookies, []);
}

describe('missing MaxMind DB (worker started without geo:mmdb)', () => {
  test('visitors are still redirected to routable destinations, never 5xx', async () => {
    const { token } = await worker.previewToken();
    for (const [ip, ua] of [[IPS.IN, UA.iphone], [IPS.AE, UA.desktop], [IPS.DE, UA.ipad], [undefined, UA.desktop]]) {
      const res = await visit('/gharart/festive', { ip, ua });
      assert.equal(res.status, 302, res.body.slice(0, 200));
      assert.ok(isRoutableUrl(list, res.url), res.location);
      assert.equal(version(res), V1);
      const trace = (await visit(`/gharart/festive?__preview=${token}&__explain=1`, { ip, ua })).json();
      assert.notEqual(trace.facts.country.source, 'mmdb', 'no mmdb, no mmdb facts');
      assert.ok(['cf', 'unknown'].includes(trace.facts.country.source), JSON.stringify(trace.facts.country));
    }
    await worker.waitForLog(/geo:mmdb is not in KV/); // the worker's console reaches the log a little later
  });
});

describe('corrupt snapshot from the start', () => {
  test('visitors go to SAFE_FALLBACK_URL, not a 5xx, and keep doing so', async () => {
    const { token } = await worker.previewToken({ handle: 'broken' });
    const start = Date.now();
    do {
      for (const handle of Object.keys(corrupt)) assertSafeFallback(await visit(`/${handle}/festive`));
      assertSafeFallback(await visit(`/broken/festive?__preview=${token}&__explain=1`));
    } while (Date.now() - start < TTL_MS * 1.5); // across a refresh, too
    await worker.waitForLog(/corrupt snapshot for broken/);
  });

  test('a valid snapshot stored under another handle\'s key is refused', async () => {
    await worker.putKv('snapshot:imposter', goodSnapshot);
    const res = await visit('/imposter/festive');
    assertSafeFallback(res);
  });

  test('a handle that was corrupt from the start recovers once a valid snapshot is written', async () => {
    const fixed = JSON.parse(goodSnapshot);
    fixed.config.handle = 'broken';
    fixed.version = 7;
    await worker.putKv('snapshot:broken', JSON.stringify(fixed));
    const res = await waitFor(
      async () => {
        const r = await visit('/broken/festive');
        return r.status === 302 && r.headers.get('x-router-outcome') !== 'snapshot_unavailable' ? r : null;
      },
      { timeoutMs: TTL_MS + 9000, what: 'the fixed snapshot of handle broken' },
    );
    assert.equal(version(res), 7);
    assert.ok(isRoutableUrl(list, res.url), res.location);
  });
});

describe('last-known-good snapshot', () => {
  const visitor = { ip: IPS.IN, ua: UA.iphone, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' };
  let goodLocation;

  test('the good snapshot is served', async () => {
    const res = await visit('/gharart/festive', visitor);
    assert.equal(res.status, 302);
    assert.equal(version(res), V1);
    goodLocation = res.location;
  });

  test('overwritten with corrupt JSON: visitors keep the last good snapshot after the TTL', async () => {
    const mark = worker.log().length;
    await worker.putKv('snapshot:gharart', '{"format":1,"version":999999,"published_at":"2026-11-22T00:00:00Z","config":{"handle":"gharart",');
    const seen = [];
    const corruptReads = () => (worker.log().slice(mark).match(/corrupt snapshot for gharart/g) ?? []).length;
    // Visit until the worker has read the corrupt value twice (two TTL periods), so the
    // visits span refreshes that failed.
    await waitFor(
      async () => {
        seen.push(await visit('/gharart/festive', visitor));
        return corruptReads() >= 2;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'two reads of the corrupt snapshot in the worker log' },
    );
    assert.ok(seen.length >= 5, `${seen.length} visits`);
    for (const res of seen) {
      assert.equal(res.status, 302);
      assert.equal(version(res), V1, 'still the last good version');
      assert.equal(res.location, goodLocation);
    }
  });

  test('a new valid snapshot with a higher version is picked up within the TTL', async () => {
    const V2 = V1 + 1000;
    const file = await worker.snapshotFile(V2);
    await worker.putKv('snapshot:gharart', file);
    const written = Date.now();
    const res = await waitFor(
      async () => {
        const r = await visit('/gharart/festive', visitor);
        return version(r) === V2 ? r : null;
      },
      { timeoutMs: TTL_MS + 5000, intervalMs: 100, what: `X-Snapshot-Version ${V2}` },
    );
    assert.ok(Date.now() - written < TTL_MS + 5000);
    assert.equal(res.status, 302);
    assert.equal(res.location, goodLocation, 'same rules, same route');
    assert.equal(version(await visit('/gharart/does-not-exist')), V2);
  });

  test('an older valid snapshot does not replace the newer one', async () => {
    const V2 = V1 + 1000;
    const mark = worker.log().length;
    await worker.putKv('snapshot:gharart', await worker.snapshotFile(V1 + 500));
    const seen = [];
    await waitFor(
      async () => {
        seen.push(await visit('/gharart/festive', visitor));
        return /older than/.test(worker.log().slice(mark));
      },
      { timeoutMs: 15_000, what: 'the worker noticing the older snapshot' },
    );
    for (const res of seen) assert.equal(version(res), V2);
  });

  test('a deleted snapshot key keeps the last good snapshot', async () => {
    const V2 = V1 + 1000;
    const mark = worker.log().length;
    await worker.deleteKv('snapshot:gharart');
    const seen = [];
    await waitFor(
      async () => {
        seen.push(await visit('/gharart/festive', visitor));
        return /snapshot for gharart is missing from KV/.test(worker.log().slice(mark));
      },
      { timeoutMs: 15_000, what: 'the worker noticing the missing key' },
    );
    for (const res of seen) {
      assert.equal(res.status, 302);
      assert.equal(version(res), V2);
    }
  });
});

/** Request ids of the deliberate 503s below (the API without its D1 tables). */
const deliberate503 = new Set();

describe('the management API without its D1 tables (this worker starts without migrations)', () => {
  test('answers 503 storage_unavailable with Retry-After, never a bare 500 or internals', async () => {
    const doc = await worker.api('GET', '/v2/openapi.json');
    assert.equal(doc.status, 200, 'the public document needs no storage');
    for (const [what, token] of [
      ['a PAT (looked up in D1)', newPat()],
      ['a JWT (verified without D1; the throttle counter is in D1)', worker.jwt({ scopes: ['admin'] })],
    ]) {
      const res = await worker.api('GET', '/v2/handles/gharart/destination-domains', { token });
      assert.equal(res.status, 503, `${what}: ${res.body.slice(0, 300)}`);
      assert.equal(res.error.code, 'storage_unavailable', what);
      assert.equal(res.error.request_id, res.requestId);
      assert.match(res.requestId ?? '', /^[0-9a-f]{32}$/);
      assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: Retry-After`);
      assert.doesNotMatch(res.body, /sqlite|no such table|D1_ERROR|api_tokens|rate_counters/i, `${what}: no internals in ${res.body}`);
      deliberate503.add(res.requestId);
    }
    // What is decided before storage still answers as usual.
    const missing = await worker.api('GET', '/v2/handles/gharart/destination-domains');
    assert.equal(missing.status, 401);
    assert.equal(missing.error.code, 'missing_token');
    const unknown = await worker.api('GET', '/v2/handles/gharart/nope');
    assert.equal(unknown.error.code, 'route_not_found');
    // The visitor path does not need D1 at all.
    assert.equal((await visit('/gharart/festive', { ip: IPS.IN })).status, 302);
  });
});

describe('over every response of this file', () => {
  test('nothing answered 5xx (but the deliberate storage 503s)', () => {
    assert.ok(worker.history.length > 20);
    for (const h of worker.history) assert.ok(h.status < 500 || deliberate503.has(h.requestId), `${h.path} answered ${h.status}`);
    for (const h of worker.history.filter((x) => x.location && x.location !== SAFE_FALLBACK_URL)) {
      assert.ok(isRoutableUrl(list, h.location), `${h.path} -> ${h.location}`);
    }
  });
});
