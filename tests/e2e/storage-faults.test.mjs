// Storage faults end to end: the management API's stores failing under it. Each describe
// starts a worker of its own:
//
//   1. D1 without its tables (no migrations applied): 503 storage_unavailable with
//      Retry-After, never a bare 500 or internals; what needs no storage still answers;
//   2. FAULTS=kv_write_error and a DoH resolver that is down: writes answer 503
//      publish_failed and nothing is stored or published (a GET shows the old version,
//      an Idempotency-Key retry runs again); visitors keep the published snapshot;
//      conversions (no KV write) still count once; verification answers 503
//      resolver_unavailable;
//   3. FAULTS=d1_error: the API answers 503 storage_unavailable to reads and writes and
//      stores nothing; visitors are unaffected.
//
// (A DoH resolver answering garbage is in api.test.mjs, with its own resolver.) Every
// response goes through faults.mjs's observer (see there).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

import { IPS, UA, freePort, newPat, startWorker } from './harness.mjs';
import { allowlistFromListing } from './observe.mjs';
import { V2, expect503, faultClient, iphoneFrom } from './faults.mjs';

const { list, visit, api, checkEveryResponse } = await faultClient();

/** A ctx token as src/token.rs makes them (for conversions under storage faults). */
function ctxToken(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(JSON.stringify({ iat: now, exp: now + 600, ...claims })).toString('base64url');
  const key = createHmac('sha256', secret).update('edge-router/ctx').digest();
  return `v1.${body}.${createHmac('sha256', key).update(`v1.ctx.${body}`).digest('base64url')}`;
}

const rule = (id) => ({ priority: 3, entries: ['festive'], conditions: { query: { probe: { in: [id] } } }, destination: `https://www.gharart.com/${id}` });

describe('1. the management API without its D1 tables (this worker starts without migrations)', () => {
  let worker;
  before(async () => {
    worker = await startWorker();
  });
  after(() => worker?.stop());

  test('answers 503 storage_unavailable with Retry-After, never a bare 500 or internals', async () => {
    const doc = await api(worker, 'GET', '/v2/openapi.json');
    assert.equal(doc.status, 200, 'the public document needs no storage');
    for (const [what, token] of [
      ['a PAT (looked up in D1)', newPat()],
      ['a JWT (verified without D1; the throttle counter is in D1)', worker.jwt({ scopes: ['admin'] })],
    ]) {
      const res = await api(worker, 'GET', `${V2}/destination-domains`, { token, expect503: true });
      assert.equal(res.status, 503, `${what}: ${res.body.slice(0, 300)}`);
      expect503(res, 'storage_unavailable');
      assert.match(res.requestId ?? '', /^[0-9a-f]{32}$/);
      assert.doesNotMatch(res.body, /sqlite|no such table|D1_ERROR|api_tokens|rate_counters/i, `${what}: no internals in ${res.body}`);
    }
    // What is decided before storage still answers as usual.
    const missing = await api(worker, 'GET', `${V2}/destination-domains`);
    assert.equal(missing.status, 401);
    assert.equal(missing.error.code, 'missing_token');
    const unknown = await api(worker, 'GET', `${V2}/nope`);
    assert.equal(unknown.error.code, 'route_not_found');
    // The visitor path does not need D1 at all.
    assert.equal((await visit(worker, '/gharart/festive', { 'User-Agent': UA.desktop, 'X-Forwarded-For': IPS.IN })).status, 302);
  });
});

describe('2. KV writes failing (FAULTS=kv_write_error), the DoH resolver down', () => {
  let worker;
  let v0;
  before(async () => {
    const closed = await freePort(); // nobody listens there: connection refused
    worker = await startWorker({
      d1Migrations: 'DB',
      pats: { admin: { scopes: 'admin', sub: 'faults@e2e' } },
      vars: { FAULTS: 'kv_write_error', DOH_RESOLVER_URL: `http://127.0.0.1:${closed}/dns-query` },
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

  test('visitors keep the published snapshot', async () => {
    for (const ip of Object.values(IPS)) {
      const res = await visit(worker, '/gharart/festive', iphoneFrom(ip));
      assert.equal(res.status, 302);
      assert.equal(res.header('x-snapshot-version'), String(v0));
    }
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

describe('3. D1 failing (FAULTS=d1_error)', () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      d1Migrations: 'DB',
      pats: { admin: { scopes: 'admin', sub: 'faults@e2e' } },
      vars: { FAULTS: 'd1_error' },
    });
  });
  after(() => worker?.stop());

  const count = async (table) => (await worker.d1(`SELECT COUNT(*) AS n FROM ${table}`))[0].results[0].n;

  test('the first read of a throttle window answers 503 storage_unavailable (its counter sweep is a faulted statement)', async () => {
    expect503(await api(worker, 'GET', `${V2}/rule-audit`, { expect503: true }), 'storage_unavailable');
  });

  test('regression: reads answer 503 storage_unavailable, every time (PAT and JWT callers)', async () => {
    for (const token of [worker.pats.admin, worker.jwt({ sub: 'jwt-reader@e2e' })]) {
      for (const path of [`${V2}/personalization-rules`, `${V2}/destination-domains`, `${V2}/campaigns/diwali-hero-ab`]) {
        for (let i = 0; i < 3; i++) expect503(await api(worker, 'GET', path, { token, expect503: true }), 'storage_unavailable');
      }
    }
  });

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

  test('visitors are unaffected (no D1 on the visitor path)', async () => {
    for (const ip of Object.values(IPS)) {
      const res = await visit(worker, '/gharart/festive', iphoneFrom(ip));
      assert.equal(res.status, 302);
      assert.equal(res.header('x-router-outcome'), 'rule');
    }
  });
});

checkEveryResponse({ atLeast: 50 });
