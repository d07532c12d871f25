// Faults end to end: missing and corrupt snapshots, last-known-good across KV writes made
// while the server runs, takedowns (a tombstone, a deleted key confirmed) and a deliberate
// rollback by generation, and a missing MaxMind DB. One worker for the file, started
// WITHOUT the geo:mmdb key (so every visit here also exercises the missing-mmdb path) and
// with SNAPSHOT_TTL_SECONDS=1. No response may ever be a 5xx.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { IPS, RULES_DIR, UA, allowlist, isRoutableUrl, newPat, startWorker, waitFor } from './harness.mjs';

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

function assertNotFoundPage(res) {
  assert.equal(res.status, 404, `${res.path}: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(res.body, /<html/i);
  assert.equal(res.location, null);
  assert.deepEqual(res.setCookies, []);
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
  assert.ok(res.body.includes(res.headers.get('x-request-id')), 'the page shows the request id for support');
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

describe('missing snapshot and unknown paths', () => {
  test('an unknown handle answers the 404 page, not a 5xx, also once cached', async () => {
    for (let i = 0; i < 2; i++) assertNotFoundPage(await visit('/nohandle/festive'));
  });

  test('an unknown entry of a known handle answers 404 with the snapshot version', async () => {
    for (const path of ['/gharart/does-not-exist', '/gharart/festive/extra']) {
      const res = await visit(path);
      assertNotFoundPage(res);
    }
    assert.equal(version(await visit('/gharart/does-not-exist')), V1);
    assert.equal((await visit('/healthz')).status, 200);
  });
});

describe('retyped links', () => {
  test('a trailing slash and upper case still reach the entry (links get retyped in print)', async () => {
    for (const path of ['/gharart/festive/', '/Gharart/FESTIVE']) {
      const res = await visit(path);
      assert.equal(res.status, 302, path);
      assert.equal(version(res), V1);
    }
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

  // Issue 10 changed this deliberately: a deleted key used to keep the last good snapshot
  // in a warm isolate for as long as it lived. One missing read still keeps it (a KV glitch
  // must not take a handle down); the re-read a TTL later confirms the deletion.
  test('a deleted snapshot key is a takedown once a re-read confirms it: the 404 page within two TTLs', async () => {
    const V2 = V1 + 1000;
    const mark = worker.log().length;
    await worker.deleteKv('snapshot:gharart');
    const deleted = Date.now();
    const seen = await visitUntilNotFound(visitor, 2 * TTL_MS + 8000, 'the 404 page after the deletion');
    const elapsed = Date.now() - deleted;
    const before = seen.slice(0, -1);
    for (const res of before) {
      assert.equal(res.status, 302);
      assert.equal(version(res), V2, 'the last good snapshot until the deletion is confirmed');
      assert.equal(res.location, goodLocation);
    }
    assert.ok(
      before.some((res) => res.headers.get('x-snapshot-stale') === '1'),
      'between the first missing read and the confirming one, the snapshot is served as stale',
    );
    await worker.waitForLog(/snapshot for gharart is missing from KV; keeping the last-known-good one until a re-read confirms/, { from: mark });
    await worker.waitForLog(/snapshot for gharart is still missing from KV: deleted, taken down/, { from: mark });
    assertTakenDown(seen.at(-1));
    for (const path of ['/gharart/festive', '/gharart/diwali-sale', '/gharart/does-not-exist']) {
      assertTakenDown(await visit(path, visitor));
    }
    // Slack for wrangler's own latency; the worker itself needs at most two TTLs.
    assert.ok(elapsed < 2 * TTL_MS + 5000, `taken down ${elapsed} ms after the deletion`);
  });
});

describe('takedown and rollback (issue 10)', () => {
  const visitor = { ip: IPS.IN, ua: UA.iphone, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' };
  const V3 = V1 + 2000;
  let goodLocation;

  test('a snapshot above the one the deleted key held brings the handle back', async () => {
    await worker.putKv('snapshot:gharart', await worker.snapshotFile(V3));
    const res = await waitFor(
      async () => {
        const r = await visit('/gharart/festive', visitor);
        return version(r) === V3 ? r : null;
      },
      { timeoutMs: TTL_MS + 5000, intervalMs: 100, what: `X-Snapshot-Version ${V3}` },
    );
    assert.equal(res.status, 302);
    assert.ok(isRoutableUrl(list, res.url), res.location);
    goodLocation = res.location;
  });

  test('`router takedown --local` (a tombstone) stops routing within the TTL: the 404 page, never a redirect', async () => {
    const mark = worker.log().length;
    const { stdout } = await worker.routerLocal(['takedown', '--handle', 'gharart', '--local', '--reason', 'e2e']);
    assert.match(stdout, /took gharart down/);
    const written = Date.now();
    const seen = await visitUntilNotFound(visitor, TTL_MS + 5000, 'the 404 page after the tombstone');
    const elapsed = Date.now() - written;
    for (const res of seen.slice(0, -1)) {
      assert.equal(res.status, 302);
      assert.equal(res.location, goodLocation, 'the live snapshot until the tombstone is read');
    }
    assert.ok(elapsed < TTL_MS + 3000, `taken down ${elapsed} ms after the tombstone was written`);
    await worker.waitForLog(/snapshot for gharart is a tombstone \(version \d+\): taken down/, { from: mark });
    for (let i = 0; i < 5; i += 1) assertTakenDown(await visit('/gharart/festive', visitor));
  });

  test('a stale read of the older snapshot does not lift the takedown', async () => {
    const mark = worker.log().length;
    await worker.putKv('snapshot:gharart', await worker.snapshotFile(V3));
    const seen = [];
    await waitFor(
      async () => {
        seen.push(await visit('/gharart/festive', visitor));
        return /KV returned snapshot version \d+ for gharart, older than the version \d+ held/.test(worker.log().slice(mark));
      },
      { timeoutMs: TTL_MS + 5000, intervalMs: 100, what: 'the worker noticing the older snapshot' },
    );
    seen.push(await visit('/gharart/festive', visitor));
    for (const res of seen) assertTakenDown(res);
  });

  test('a republished snapshot with a lower version but a newer generation is served (a deliberate rollback)', async () => {
    const low = V1; // far below the tombstone's version (Unix seconds)
    const refused = await worker
      .routerLocal(['push', RULES_DIR, '--local', '--version', String(low)])
      .then(() => null, (e) => e);
    assert.ok(refused, 'a lower version in the same generation is refused by the CLI');
    assert.match(refused.message, /not above .* pass --generation 1/s);
    const { stdout } = await worker.routerLocal(['push', RULES_DIR, '--local', '--version', String(low), '--generation', '1']);
    assert.match(stdout, /version 1000 of generation 1/);
    const res = await waitFor(
      async () => {
        const r = await visit('/gharart/festive', visitor);
        return r.status === 302 ? r : null;
      },
      { timeoutMs: TTL_MS + 5000, intervalMs: 100, what: 'the rolled-back snapshot being served' },
    );
    assert.equal(version(res), low);
    assert.equal(res.location, goodLocation, 'same rules, same route');
    assert.equal(res.headers.get('x-snapshot-stale'), null);
  });
});

/** Visits /gharart/festive every 100 ms until it answers 404; every answer, in order. */
async function visitUntilNotFound(visitor, timeoutMs, what) {
  const seen = [];
  await waitFor(
    async () => {
      const res = await visit('/gharart/festive', visitor);
      seen.push(res);
      return res.status === 404;
    },
    { timeoutMs, intervalMs: 100, what },
  );
  return seen;
}

/** The takedown answer: the 404 page, no Location, no cookie. */
function assertTakenDown(res) {
  assertNotFoundPage(res);
  assert.equal(res.headers.get('x-router-outcome'), 'taken_down');
  assert.equal(res.headers.get('x-snapshot-version'), null);
}

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
