// Injected faults end to end, beyond faults.test.mjs (missing/corrupt snapshot, last-known-
// good across KV writes, missing mmdb, D1 without its tables) and api.test.mjs (DoH
// resolver down or answering garbage). The worker honours the test-only var FAULTS
// (src/edge/faults.rs); each describe starts a worker of its own with one set of faults:
//
//   1. kv_read_error from the start: visitors go to SAFE_FALLBACK_URL, never a 5xx;
//   2. kv_read_error_after=1 (the first snapshot read succeeds): last-known-good, marked
//      X-Snapshot-Stale, across many TTLs; the mmdb read fails too (geo from request.cf);
//   3. kv_read_delay_ms=300: still a 302, within a bound; cached visits stay fast; the
//      mmdb here is corrupt inside its search tree (it parses, lookups go wrong);
//   4. kv_write_error, a garbage mmdb and a DoH resolver that is down: writes answer 503
//      publish_failed and nothing is stored or published (a GET shows the old version,
//      an Idempotency-Key retry runs again); visitors are redirected via request.cf;
//   5. d1_error and a truncated mmdb: the API answers 503 storage_unavailable to reads
//      and writes and stores nothing; visitors are unaffected.
//
// Every response of the file goes through observe.mjs: no 5xx but the deliberate API
// 503s, no Location off the allowlist, no internal error text, at most one Set-Cookie.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, MMDB, UA, allowlist, freePort, startWorker, waitFor } from './harness.mjs';
import { allowlistFromListing, makeObserver, rawRequest, withJson } from './observe.mjs';

const SAFE_FALLBACK_URL = 'https://www.gharart.com/back-soon';
const V2 = '/v2/handles/gharart';
const IN_IPHONE = { 'User-Agent': UA.iphone, 'X-Forwarded-For': IPS.IN };

// The allowlist of rules/gharart (every worker here starts from it); section 4 checks the
// API lists the same.
const list = await allowlist();
const observer = makeObserver(() => list);
const deliberate = new Set(); // request ids of the 503s a test asserted

const real = readFileSync(MMDB);
/** Random-looking bytes: no MaxMind metadata marker at all. */
const garbageMmdb = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 251));
/** The first half of the real database: the metadata (at the end) is gone. */
const truncatedMmdb = real.subarray(0, real.length >> 1);
/** The real database with its search tree scrambled: it parses, lookups go astray. */
const scrambledMmdb = Buffer.from(real);
for (let i = 1000; i < 400_000; i++) scrambledMmdb[i] ^= 0x5a;

async function visit(worker, path, headers = IN_IPHONE) {
  const started = Date.now();
  const res = await rawRequest(worker.base, path, { headers });
  res.ms = Date.now() - started;
  observer.observe(res, { fallbackUrl: SAFE_FALLBACK_URL });
  return res;
}

/** A management call; a 503 it expects is recorded as deliberate. */
async function api(worker, method, path, { body, token = worker.pats?.admin, headers = {}, expect503 = false } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (payload !== undefined) h['Content-Type'] = 'application/json';
  const res = await rawRequest(worker.base, path, { method, headers: h, body: payload });
  const requestId = res.header('x-request-id');
  if (expect503 && res.status === 503) deliberate.add(requestId);
  observer.observe(res, { what: `${method} ${path}`, allow5xx: expect503 && res.status === 503 });
  withJson(res);
  res.requestId = requestId;
  return res;
}

function expect503(res, code) {
  assert.equal(res.status, 503, `${res.method} ${res.path}: want 503 ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.error?.code, code, res.body.slice(0, 300));
  assert.equal(res.error.request_id, res.requestId);
  assert.ok(Number(res.header('retry-after')) > 0, 'Retry-After');
  assert.match(res.header('content-type') ?? '', /application\/json/);
}

function assertSafeFallback(res) {
  assert.equal(res.status, 302, `${res.path}: ${res.status} ${res.body.slice(0, 200)}`);
  assert.equal(res.location, SAFE_FALLBACK_URL);
  assert.equal(res.header('x-router-outcome'), 'snapshot_unavailable');
  assert.deepEqual(res.setCookies, []);
}

/** A ctx token as src/token.rs makes them (for conversions under D1 faults). */
function ctxToken(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(JSON.stringify({ iat: now, exp: now + 600, ...claims })).toString('base64url');
  const key = createHmac('sha256', secret).update('edge-router/ctx').digest();
  return `v1.${body}.${createHmac('sha256', key).update(`v1.ctx.${body}`).digest('base64url')}`;
}

const rule = (id) => ({ priority: 3, entries: ['festive'], conditions: { query: { probe: { in: [id] } } }, destination: `https://www.gharart.com/${id}` });

// ---------------------------------------------------------------------------------------

describe('1. KV reads failing from the start (FAULTS=kv_read_error)', () => {
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

describe('2. KV reads failing after a good one (FAULTS=kv_read_error_after=1): last-known-good', () => {
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

describe('3. slow KV (FAULTS=kv_read_delay_ms=300, EXPOSE_COUNTERS=true)', () => {
  const DELAY = 300;
  const BOUND_MS = 2 * DELAY + 1500; // snapshot + mmdb reads, plus slack for a loaded machine
  let worker;
  before(async () => {
    worker = await startWorker({ vars: { FAULTS: `kv_read_delay_ms=${DELAY}`, EXPOSE_COUNTERS: 'true' }, kv: { 'geo:mmdb': scrambledMmdb } });
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

  test('a MaxMind DB scrambled inside its search tree never breaks a visit (lookups may go astray, the route stays routable)', async () => {
    for (const ip of [...Object.values(IPS), '10.0.0.1', '2001:db8::1', '255.255.255.255', '::']) {
      const res = await visit(worker, '/gharart/festive', { 'User-Agent': UA.iphone, 'X-Forwarded-For': ip });
      assert.equal(res.status, 302, `${ip}: ${res.status}`);
    }
  });
});

describe('4. KV writes failing (FAULTS=kv_write_error), a garbage mmdb, the DoH resolver down', () => {
  let worker;
  let v0;
  before(async () => {
    const closed = await freePort(); // nobody listens there: connection refused
    worker = await startWorker({
      d1Migrations: 'DB',
      pats: { admin: { scopes: 'admin', sub: 'faults@e2e' } },
      vars: { FAULTS: 'kv_write_error', DOH_RESOLVER_URL: `http://127.0.0.1:${closed}/dns-query` },
      kv: { 'geo:mmdb': garbageMmdb },
    });
    const listing = await api(worker, 'GET', `${V2}/destination-domains`);
    assert.deepEqual(allowlistFromListing(listing.json).routable, list.routable);
    v0 = listing.json.version;
  });
  after(() => worker?.stop());

  test('every configuration write answers 503 publish_failed; a GET afterwards shows the old version and nothing new', async () => {
    const writes = [
      ['PUT', `${V2}/personalization-rules/kv-write-fault`, rule('kv-write-fault')],
      ['DELETE', `${V2}/personalization-rules/in-mobile`, undefined],
      ['POST', `${V2}/tracking-templates`, { id: 'kv-write-fault', params: { a: 'b' } }],
      ['POST', `${V2}/destination-domains`, { domain: 'kv-write-fault.gharart.com' }],
      ['POST', `${V2}/destination-domains/gharart-sale.shop/decision`, { decision: 'approved', reason: 'fault test' }],
      ['POST', `${V2}/campaigns`, { id: 'kv-write-fault', name: 'x', variants: [{ key: 'a', weight: 100, destination: 'https://www.gharart.com/x' }] }],
      ['POST', `${V2}/campaigns/diwali-hero-ab/pause`, undefined],
    ];
    for (const [method, path, body] of writes) expect503(await api(worker, method, path, { body, expect503: true }), 'publish_failed');
    const config = (await api(worker, 'GET', `${V2}/configuration`)).json;
    expect503(await api(worker, 'PUT', `${V2}/configuration`, { body: { ...config.configuration, fallback: 'https://gharart.in/' }, expect503: true }), 'publish_failed');
    const after = (await api(worker, 'GET', `${V2}/configuration`)).json;
    assert.equal(after.version, v0, 'the version did not move');
    assert.deepEqual(after.configuration, config.configuration, 'nothing of any refused write is there');
    const campaigns = (await api(worker, 'GET', `${V2}/campaigns`)).json.campaigns;
    assert.equal(campaigns.find((c) => c.id === 'diwali-hero-ab').status, 'active');
    assert.ok(!campaigns.some((c) => c.id === 'kv-write-fault'));
    // The store of record agrees: the D1 row was rolled back (or never written).
    const rows = (await worker.d1('SELECT version FROM documents WHERE handle = \'gharart\''))[0].results;
    assert.ok(rows.length === 0 || rows[0].version === v0, JSON.stringify(rows));
  });

  test('a retry under the same Idempotency-Key runs again (a 503 is not stored), and is refused again', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await api(worker, 'PUT', `${V2}/personalization-rules/kv-write-retry`, { body: rule('kv-write-retry'), headers: { 'Idempotency-Key': 'kv-write-retry-1' }, expect503: true });
      expect503(res, 'publish_failed');
      assert.equal(res.header('idempotent-replayed'), null);
    }
    const rows = (await worker.d1('SELECT key, status FROM idempotency WHERE key = \'kv-write-retry-1\''))[0].results;
    assert.deepEqual(rows, [], 'the reservation was released');
  });

  test('visitors keep the published snapshot; with a garbage mmdb geo comes from request.cf', async () => {
    const { token } = await worker.previewToken();
    for (const ip of Object.values(IPS)) {
      const res = await visit(worker, '/gharart/festive', { 'User-Agent': UA.iphone, 'X-Forwarded-For': ip });
      assert.equal(res.status, 302);
      assert.equal(res.header('x-snapshot-version'), String(v0));
      const trace = (await visit(worker, `/gharart/festive?__preview=${token}&__explain=1`, { 'User-Agent': UA.iphone, 'X-Forwarded-For': ip })).json();
      assert.notEqual(trace.facts.country.source, 'mmdb', 'no facts from a garbage mmdb');
    }
    await worker.waitForLog(/geo:mmdb: /);
  });

  test('conversions need no KV write: they are still recorded exactly once', async () => {
    const ctx = ctxToken(worker.secret, { handle: 'gharart', campaign: 'diwali-hero-ab', variant: 'control', vid: 'c0ffee00c0ffee00c0ffee00c0ffee00' });
    const send = () => api(worker, 'POST', '/v2/public/conversions', { token: null, body: { ctx, event: 'purchase' }, headers: { 'Idempotency-Key': 'kv-fault-conv' } });
    const all = await Promise.all([send(), send(), send()]);
    assert.deepEqual(all.map((r) => r.status).sort(), [200, 200, 201]);
  });

  test('the DoH resolver down: verify answers 503 resolver_unavailable and leaves verification as it was', async () => {
    const before = (await api(worker, 'GET', `${V2}/destination-domains`)).json.domains.find((d) => d.domain === 'offers.gharart-deals.com');
    expect503(await api(worker, 'POST', `${V2}/destination-domains/offers.gharart-deals.com/verify`, { expect503: true }), 'resolver_unavailable');
    const after = (await api(worker, 'GET', `${V2}/destination-domains`)).json.domains.find((d) => d.domain === 'offers.gharart-deals.com');
    assert.deepEqual(after, before);
  });
});

describe('5. D1 failing (FAULTS=d1_error), a truncated mmdb', () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      d1Migrations: 'DB',
      pats: { admin: { scopes: 'admin', sub: 'faults@e2e' } },
      vars: { FAULTS: 'd1_error' },
      kv: { 'geo:mmdb': truncatedMmdb },
    });
  });
  after(() => worker?.stop());

  const count = async (table) => (await worker.d1(`SELECT COUNT(*) AS n FROM ${table}`))[0].results[0].n;

  test('the first read of a throttle window answers 503 storage_unavailable (its counter sweep is a faulted statement)', async () => {
    expect503(await api(worker, 'GET', `${V2}/rule-audit`, { expect503: true }), 'storage_unavailable');
  });

  test(
    'regression: reads answer 503 storage_unavailable, every time (PAT and JWT callers)',
    async () => {
    for (const token of [worker.pats.admin, worker.jwt({ sub: 'jwt-reader@e2e' })]) {
      for (const path of [`${V2}/personalization-rules`, `${V2}/destination-domains`, `${V2}/campaigns/diwali-hero-ab`]) {
        for (let i = 0; i < 3; i++) expect503(await api(worker, 'GET', path, { token, expect503: true }), 'storage_unavailable');
      }
    }
    },
  );

  test('writes, conversions and support reports answer 503 storage_unavailable and store nothing', async () => {
    const before = { documents: await count('documents'), conversions: await count('conversions'), reports: await count('support_reports'), keys: await count('idempotency') };
    for (let i = 0; i < 2; i++) {
      expect503(await api(worker, 'PUT', `${V2}/personalization-rules/d1-fault`, { body: rule('d1-fault'), headers: { 'Idempotency-Key': `d1-fault-${i}` }, expect503: true }), 'storage_unavailable');
      expect503(await api(worker, 'POST', `${V2}/tracking-templates`, { body: { id: 'd1-fault', params: {} }, expect503: true }), 'storage_unavailable');
    }
    const ctx = ctxToken(worker.secret, { handle: 'gharart', campaign: 'diwali-hero-ab', variant: 'control', vid: 'c0ffee00c0ffee00c0ffee00c0ffee00' });
    expect503(await api(worker, 'POST', '/v2/public/conversions', { token: null, body: { ctx, event: 'purchase' }, headers: { 'Idempotency-Key': 'd1-conv' }, expect503: true }), 'storage_unavailable');
    expect503(await api(worker, 'POST', '/v2/support/report', { token: null, body: { summary: 's', details: 'd' }, expect503: true }), 'storage_unavailable');
    assert.deepEqual({ documents: await count('documents'), conversions: await count('conversions'), reports: await count('support_reports'), keys: await count('idempotency') }, before);
  });

  test('visitors are unaffected (no D1 on the visitor path); the truncated mmdb leaves geo to request.cf', async () => {
    for (const ip of Object.values(IPS)) {
      const res = await visit(worker, '/gharart/festive', { 'User-Agent': UA.iphone, 'X-Forwarded-For': ip });
      assert.equal(res.status, 302);
      assert.equal(res.header('x-router-outcome'), 'rule');
    }
    await worker.waitForLog(/geo:mmdb: /);
  });
});

describe('over every response of this file', () => {
  test('no 5xx but the asserted 503s, no Location off the allowlist, no internal text, at most one Set-Cookie', async () => {
    await sleep(0);
    const s = observer.stats();
    assert.ok(s.responses > 100, `${s.responses} responses`);
    assert.deepEqual(observer.violations.slice(0, 20), [], `${observer.violations.length} violations`);
  });
});
