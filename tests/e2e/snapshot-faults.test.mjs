// Snapshot faults end to end: what visitors get when the handle's snapshot in KV is
// corrupt, replaced, deleted, unreadable or slow to read. Every worker here runs with
// SNAPSHOT_TTL_SECONDS=1 (the harness default), so the visits span many refreshes:
//
//   1. corrupt from the start, stored under another handle's key, then fixed; and the
//      last-known-good snapshot kept across corrupt, older and deleted values written
//      while the worker runs (one worker, KV written by the test);
//   2. FAULTS=kv_read_error: every read fails, visitors go to SAFE_FALLBACK_URL (or the
//      worker's own safe page without one), never a 5xx;
//   3. FAULTS=kv_read_error_after=1 (the first snapshot read succeeds): last-known-good,
//      marked X-Snapshot-Stale, across many TTLs; the mmdb read fails too;
//   4. FAULTS=kv_read_delay_ms=300: still a 302, within a bound; cached visits stay fast.
//
// Every response goes through faults.mjs's observer (see there).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { IPS, UA, isRoutableUrl, startWorker, waitFor } from './harness.mjs';
import { IN_IPHONE, SAFE_FALLBACK_URL, assertSafeFallback, faultClient } from './faults.mjs';

const TTL_MS = 1000;
const V1 = 1000;

const { list, visit, checkEveryResponse } = await faultClient();

const version = (res) => Number(res.header('x-snapshot-version'));

describe('1. corrupt, replaced and deleted snapshots (KV written while the worker runs)', () => {
  const corrupt = {
    broken: '{"format":1,"version":5,"published_at":"2026-11-01T00:00:00Z","config":{"handle":"broken","entries":[',
    shapeless: '{"hello":"world"}',
  };
  let worker;
  let goodSnapshot; // the text of the seeded gharart snapshot

  before(async () => {
    worker = await startWorker({
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
  after(() => worker?.stop());

  describe('corrupt snapshot from the start', () => {
    test('visitors go to SAFE_FALLBACK_URL, not a 5xx, and keep doing so', async () => {
      const { token } = await worker.previewToken({ handle: 'broken' });
      const start = Date.now();
      do {
        for (const handle of Object.keys(corrupt)) assertSafeFallback(await visit(worker, `/${handle}/festive`));
        assertSafeFallback(await visit(worker, `/broken/festive?__preview=${token}&__explain=1`));
      } while (Date.now() - start < TTL_MS * 1.5); // across a refresh, too
      await worker.waitForLog(/corrupt snapshot for broken/);
    });

    test('a valid snapshot stored under another handle\'s key is refused', async () => {
      await worker.putKv('snapshot:imposter', goodSnapshot);
      const res = await visit(worker, '/imposter/festive');
      assertSafeFallback(res);
    });

    test('a handle that was corrupt from the start recovers once a valid snapshot is written', async () => {
      const fixed = JSON.parse(goodSnapshot);
      fixed.config.handle = 'broken';
      fixed.version = 7;
      await worker.putKv('snapshot:broken', JSON.stringify(fixed));
      const res = await waitFor(
        async () => {
          const r = await visit(worker, '/broken/festive');
          return r.status === 302 && r.header('x-router-outcome') !== 'snapshot_unavailable' ? r : null;
        },
        { timeoutMs: TTL_MS + 9000, what: 'the fixed snapshot of handle broken' },
      );
      assert.equal(version(res), 7);
      assert.ok(isRoutableUrl(list, res.location), res.location);
    });
  });

  describe('last-known-good snapshot', () => {
    const visitor = { ...IN_IPHONE, Cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' };
    const V2 = V1 + 1000;
    let goodLocation;

    test('the good snapshot is served', async () => {
      const res = await visit(worker, '/gharart/festive', visitor);
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
          seen.push(await visit(worker, '/gharart/festive', visitor));
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
      const file = await worker.snapshotFile(V2);
      await worker.putKv('snapshot:gharart', file);
      const written = Date.now();
      const res = await waitFor(
        async () => {
          const r = await visit(worker, '/gharart/festive', visitor);
          return version(r) === V2 ? r : null;
        },
        { timeoutMs: TTL_MS + 5000, intervalMs: 100, what: `X-Snapshot-Version ${V2}` },
      );
      assert.ok(Date.now() - written < TTL_MS + 5000);
      assert.equal(res.status, 302);
      assert.equal(res.location, goodLocation, 'same rules, same route');
      assert.equal(version(await visit(worker, '/gharart/does-not-exist')), V2);
    });

    test('an older valid snapshot does not replace the newer one', async () => {
      const mark = worker.log().length;
      await worker.putKv('snapshot:gharart', await worker.snapshotFile(V1 + 500));
      const seen = [];
      await waitFor(
        async () => {
          seen.push(await visit(worker, '/gharart/festive', visitor));
          return /older than/.test(worker.log().slice(mark));
        },
        { timeoutMs: 15_000, what: 'the worker noticing the older snapshot' },
      );
      for (const res of seen) assert.equal(version(res), V2);
    });

    test('a deleted snapshot key keeps the last good snapshot', async () => {
      const mark = worker.log().length;
      await worker.deleteKv('snapshot:gharart');
      const seen = [];
      await waitFor(
        async () => {
          seen.push(await visit(worker, '/gharart/festive', visitor));
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
});

describe('2. KV reads failing from the start (FAULTS=kv_read_error)', () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { FAULTS: 'kv_read_error', SAFE_FALLBACK_URL } });
  });
  after(() => worker?.stop());

  test('every visitor, entry and handle gets the SAFE_FALLBACK_URL redirect, no cookie, never a 5xx; across TTLs', async () => {
    const { token } = await worker.previewToken();
    const start = Date.now();
    let n = 0;
    do {
      for (const path of ['/gharart/festive', '/gharart/diwali-sale', '/gharart/no-such-entry', '/other/festive', `/gharart/festive?__preview=${token}&__explain=1`]) {
        for (const headers of [IN_IPHONE, { 'User-Agent': UA.googlebot }, { 'User-Agent': UA.desktop, 'X-Forwarded-For': IPS.AE }]) {
          assertSafeFallback(await visit(worker, path, headers));
          n += 1;
        }
      }
    } while (Date.now() - start < 2500); // SNAPSHOT_TTL_SECONDS=1: spans refreshes
    assert.ok(n >= 15);
    await worker.waitForLog(/KV read of the snapshot for gharart failed: injected KV read failure/);
  });

  test('without SAFE_FALLBACK_URL the worker\'s own safe page (200, HTML, a reference) is the answer', async () => {
    const plain = await startWorker({ vars: { FAULTS: 'kv_read_error', SAFE_FALLBACK_URL: '' } }); // wrangler.toml sets one
    try {
      const res = await visit(plain, '/gharart/festive');
      assert.equal(res.status, 200);
      assert.equal(res.header('x-router-outcome'), 'snapshot_unavailable');
      assert.match(res.header('content-type') ?? '', /text\/html/);
      assert.ok(res.body.includes(res.header('x-request-id')), 'the page shows the request id');
      assert.equal(res.location, null);
    } finally {
      await plain.stop();
    }
  });
});

describe('3. KV reads failing after a good one (FAULTS=kv_read_error_after=1): last-known-good', () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { FAULTS: 'kv_read_error_after=1', SAFE_FALLBACK_URL }, snapshotVersion: 4242 });
  });
  after(() => worker?.stop());

  test('the first visit reads the snapshot; every later refresh fails and visitors keep it, marked X-Snapshot-Stale', async () => {
    const first = await visit(worker, '/gharart/festive');
    assert.equal(first.status, 302);
    assert.equal(first.header('x-snapshot-version'), '4242');
    assert.equal(first.header('x-snapshot-stale'), null);
    const mark = worker.log().length;
    const seen = [];
    await waitFor(
      async () => {
        seen.push(await visit(worker, '/gharart/festive'));
        seen.push(await visit(worker, '/gharart/diwali-sale', { 'User-Agent': UA.desktop, 'X-Forwarded-For': IPS.GB }));
        return (worker.log().slice(mark).match(/KV read of the snapshot for gharart failed/g) ?? []).length >= 3;
      },
      { timeoutMs: 20_000, intervalMs: 150, what: 'three failed snapshot refreshes in the log' },
    );
    const stale = seen.filter((r) => r.header('x-snapshot-stale') === '1');
    assert.ok(stale.length >= 3, `${stale.length} of ${seen.length} visits marked stale`);
    for (const res of seen) {
      assert.equal(res.status, 302, `${res.path}: ${res.status}`);
      assert.equal(res.header('x-snapshot-version'), '4242', 'the last-known-good version');
      assert.notEqual(res.location, SAFE_FALLBACK_URL, 'not the no-snapshot fallback: the last good snapshot');
    }
  });

  test('the MaxMind DB read (the second KV read) failed too: geo comes from request.cf, routes stay routable', async () => {
    const { token } = await worker.previewToken();
    const trace = (await visit(worker, `/gharart/festive?__preview=${token}&__explain=1`)).json();
    assert.notEqual(trace.facts.country.source, 'mmdb');
    await worker.waitForLog(/KV read of geo:mmdb failed/);
    const unknown = await visit(worker, '/nohandle/festive');
    assert.ok([302, 404, 200].includes(unknown.status), `an unread handle: ${unknown.status}`);
    if (unknown.status === 302) assert.equal(unknown.location, SAFE_FALLBACK_URL);
  });
});

describe('4. slow KV (FAULTS=kv_read_delay_ms=300, EXPOSE_COUNTERS=true)', () => {
  const DELAY = 300;
  const BOUND_MS = 2 * DELAY + 1500; // snapshot + mmdb reads, plus slack for a loaded machine
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { FAULTS: `kv_read_delay_ms=${DELAY}`, EXPOSE_COUNTERS: 'true' } });
  });
  after(() => worker?.stop());

  test(`every visit is a 302 within ${BOUND_MS} ms; visits that read KV pay the delay, cached ones do not`, async () => {
    const results = [];
    const start = Date.now();
    while (Date.now() - start < 3500) {
      results.push(await visit(worker, '/gharart/festive'));
      results.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => visit(worker, '/gharart/festive', { 'User-Agent': UA.desktop, 'X-Forwarded-For': Object.values(IPS)[i % 6] })))));
    }
    for (const res of results) {
      assert.equal(res.status, 302, `${res.status} ${res.body.slice(0, 200)}`);
      assert.ok(res.ms < BOUND_MS, `${res.ms} ms`);
    }
    const reading = results.filter((r) => Number(r.header('x-kv-reads')) > 0);
    const cached = results.filter((r) => r.header('x-kv-reads') === '0');
    assert.ok(reading.length >= 2, `${reading.length} visits refreshed from KV (TTL 1 s)`);
    assert.ok(cached.length > reading.length, `${cached.length} cached visits`);
    for (const r of reading) assert.ok(r.ms >= DELAY - 20, `a KV-reading visit took ${r.ms} ms: the delay is applied`);
    const median = cached.map((r) => r.ms).sort((a, b) => a - b)[cached.length >> 1];
    assert.ok(median < DELAY, `cached visits take ${median} ms (median), under the injected ${DELAY} ms`);
  });
});

checkEveryResponse({ atLeast: 100 });
