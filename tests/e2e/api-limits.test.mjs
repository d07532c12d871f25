// The management API's limits end to end, with a worker of its own started with tiny
// limits: API_MAX_BODY_BYTES=1024 (413), API_READS_PER_MINUTE=4 and
// API_WRITES_PER_MINUTE=3 per caller and route (429 rate_limited), DAILY_WRITE_LIMIT=8
// successful writes per handle, UTC day and kind of credential (429 daily_write_limit),
// API_AUTH_FAILURES_PER_MINUTE=5 failed credentials per client address (429 rate_limited,
// checked before the next credential is looked at). Callers are told apart by their
// token subject, so each test mints JWTs with subjects of its own; public callers and
// credential failures by their address (X-Forwarded-For: local dev trusts it).
//
// The per-minute windows are fixed (Unix minute): the throttle tests wait for a fresh
// minute when too little of the current one is left, so one burst never spans two.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { startWorker } from './harness.mjs';

const V2 = '/v2/handles/gharart';
const LIMITS = { body: 1024, reads: 4, writes: 3, daily: 8, authFailures: 5 };

let worker;
const responses = [];

before(async () => {
  worker = await startWorker({
    d1Migrations: 'DB',
    vars: {
      API_MAX_BODY_BYTES: String(LIMITS.body),
      API_READS_PER_MINUTE: String(LIMITS.reads),
      API_WRITES_PER_MINUTE: String(LIMITS.writes),
      DAILY_WRITE_LIMIT: String(LIMITS.daily),
      API_AUTH_FAILURES_PER_MINUTE: String(LIMITS.authFailures),
    },
  });
});

after(async () => {
  await worker?.stop();
});

async function call(method, path, opts = {}) {
  const res = await worker.api(method, path, opts);
  responses.push(res);
  const what = `${method} ${path} -> ${res.status} ${res.body.slice(0, 300)}`;
  assert.ok(res.status < 500, `no 5xx: ${what}`);
  assert.match(res.requestId ?? '', /^[0-9a-f]{32}$/, what);
  if (res.status >= 400) assert.equal(res.error?.request_id, res.requestId, what);
  return res;
}

function expectError(res, status, code) {
  assert.equal(res.status, status, `${res.method} ${res.path}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.error.code, code);
  return res;
}

const token = (sub, scopes = ['admin']) => worker.jwt({ sub, scopes });
const rule = (id) => ({ priority: 7, entries: ['festive'], conditions: { query: { probe: { in: [id] } } }, destination: `https://www.gharart.com/festive/${id}` });
const version = async () => (await call('GET', `${V2}/personalization-rules`, { token: token(`version-${Math.random()}`) })).json.version;

/** Waits until at least `seconds` of the current Unix minute are left. */
async function freshWindow(seconds = 20) {
  const into = (Date.now() / 1000) % 60;
  if (60 - into < seconds) await sleep((60 - into) * 1000 + 250);
}

function retryAfter(res) {
  const value = res.headers.get('retry-after');
  assert.match(value ?? '', /^\d+$/, 'Retry-After is a number of seconds');
  return Number(value);
}

describe('body size limit (API_MAX_BODY_BYTES=1024)', () => {
  test('a body over the limit is 413 body_too_large, declared or streamed, before authentication', async () => {
    const v0 = await version();
    const big = { ...rule('big'), description: 'x'.repeat(LIMITS.body) };
    const declared = expectError(await call('PUT', `${V2}/personalization-rules/big`, { token: token('big-1'), body: big }), 413, 'body_too_large');
    assert.match(declared.error.message, /1024 bytes/);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
        controller.close();
      },
    });
    expectError(await call('PUT', `${V2}/personalization-rules/big`, { token: token('big-2'), raw: true, body: stream }), 413, 'body_too_large');
    // The size is checked before the token: no token, still 413.
    expectError(await call('PUT', `${V2}/personalization-rules/big`, { body: big }), 413, 'body_too_large');
    assert.equal(await version(), v0);
  });

  test('exactly the limit is accepted; one byte more is not', async () => {
    const base = JSON.stringify({ ttl_seconds: 60 });
    const exact = base + ' '.repeat(LIMITS.body - base.length);
    assert.equal(Buffer.byteLength(exact), LIMITS.body);
    const ok = await call('POST', `${V2}/preview-tokens`, { token: token('exact'), raw: true, body: exact });
    assert.equal(ok.status, 201, ok.body);
    expectError(await call('POST', `${V2}/preview-tokens`, { token: token('exact-plus-one'), raw: true, body: `${exact} ` }), 413, 'body_too_large');
  });
});

describe('throttles', () => {
  before(() => freshWindow());

  test(`reads: the ${LIMITS.reads + 1}th read of a route in a minute is 429 rate_limited with Retry-After; per caller and route`, async () => {
    const reader = token('reader@e2e', ['domains:read', 'rules:read']);
    for (let i = 0; i < LIMITS.reads; i++) assert.equal((await call('GET', `${V2}/destination-domains`, { token: reader })).status, 200);
    const limited = expectError(await call('GET', `${V2}/destination-domains`, { token: reader }), 429, 'rate_limited');
    const wait = retryAfter(limited);
    const expected = 60 - (Math.floor(Date.now() / 1000) % 60);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.ok(Math.abs(wait - expected) <= 2, `Retry-After ${wait} points at the next minute (${expected} s away)`);
    // Another route of the same caller, and the same route of another caller, are not limited.
    assert.equal((await call('GET', `${V2}/personalization-rules`, { token: reader })).status, 200);
    assert.equal((await call('GET', `${V2}/destination-domains`, { token: token('another-reader@e2e', ['domains:read']) })).status, 200);
  });

  test(`writes: the ${LIMITS.writes + 1}th write of a route in a minute is 429 rate_limited, and nothing is written`, async () => {
    const writer = token('writer@e2e', ['rules:write']);
    const v0 = await version();
    for (let i = 0; i < LIMITS.writes; i++) {
      const res = await call('PUT', `${V2}/personalization-rules/throttle-${i}`, { token: writer, body: rule(`throttle-${i}`) });
      assert.equal(res.status, 201, res.body);
    }
    const limited = expectError(await call('PUT', `${V2}/personalization-rules/throttle-x`, { token: writer, body: rule('throttle-x') }), 429, 'rate_limited');
    assert.ok(retryAfter(limited) <= 60);
    assert.equal(await version(), v0 + LIMITS.writes, 'the refused write changed nothing');
    const rules = (await call('GET', `${V2}/personalization-rules`, { token: token('reader-2@e2e', ['rules:read']) })).json.rules;
    assert.ok(!rules.some((r) => r.id === 'throttle-x'));
    // Another caller may still write (writes so far today: LIMITS.writes + 1).
    const other = await call('PUT', `${V2}/personalization-rules/throttle-other`, { token: token('writer-2@e2e', ['rules:write']), body: rule('throttle-other') });
    assert.equal(other.status, 201, other.body);
  });

  test(`site tokens have a daily budget of their own: ${LIMITS.daily} site writes do not spend the management API's`, async () => {
    const pages = token('pages@e2e', ['pages:write']);
    const site = async (campaign) => (await call('POST', `${V2}/campaigns/${campaign}/site-tokens`, { token: pages })).json.token;
    const publicPage = (campaign) => `/v2/public/handles/gharart/site-structure/campaigns/${campaign}`;
    const draft = (n) => ({ access_level: 'FREE_WITH_LOGIN', document: { title: `Site write ${n}`, blocks: [{ type: 'text', body: `draft ${n}` }] } });
    const managementBefore = await version();
    // Two campaigns, four writes each (three drafts and a publish): under the per-minute
    // throttle of every (caller, route), and exactly the day's budget of site writes.
    let n = 0;
    for (const campaign of ['diwali-hero-ab', 'gulf-eid-teaser']) {
      const auth = { token: await site(campaign) };
      for (let i = 0; i < 3; i++) {
        n += 1;
        const res = await call('PUT', publicPage(campaign), { ...auth, body: draft(n) });
        assert.equal(res.status, 200, `site write ${n}: ${res.body}`);
      }
      n += 1;
      const res = await call('POST', `${publicPage(campaign)}/publish`, auth);
      assert.equal(res.status, 200, `site write ${n}: ${res.body}`);
    }
    assert.equal(n, LIMITS.daily);
    const spent = await call('POST', `${publicPage('gulf-eid-teaser')}/publish`, { token: await site('gulf-eid-teaser') });
    expectError(spent, 429, 'daily_write_limit');
    // The management API's budget is untouched: no management write happened, and the next
    // one goes through (the daily test below counts it).
    assert.equal(await version(), managementBefore);
    const res = await call('PUT', `${V2}/personalization-rules/after-site-writes`, { token: token('writer-3@e2e', ['rules:write']), body: rule('after-site-writes') });
    assert.equal(res.status, 201, `a management write after the site budget is spent: ${res.body}`);
  });

  test(`the daily write limit: write ${LIMITS.daily + 1} of the handle today is 429 daily_write_limit until UTC midnight`, async () => {
    const now = Date.now() / 1000;
    const midnight = Math.ceil(now / 86_400) * 86_400;
    if (midnight - now < 60) await sleep((midnight - now + 1) * 1000);
    // LIMITS.writes + 2 management writes so far today (the site writes have their own
    // budget), each under its own caller from here on.
    let n = LIMITS.writes + 2;
    while (n < LIMITS.daily) {
      n += 1;
      const res = await call('POST', `${V2}/destination-domains`, { token: token(`daily-${n}@e2e`, ['domains:write']), body: { domain: `daily-${n}.gharart-partner.com` } });
      assert.equal(res.status, 201, `write ${n}: ${res.body}`);
    }
    const limited = expectError(
      await call('PUT', `${V2}/personalization-rules/one-too-many`, { token: token('fresh-writer@e2e', ['rules:write']), body: rule('one-too-many') }),
      429,
      'daily_write_limit',
    );
    const wait = retryAfter(limited);
    const expected = Math.ceil(midnight - Date.now() / 1000);
    assert.ok(Math.abs(wait - expected) <= 3, `Retry-After ${wait} points at UTC midnight (${expected} s away)`);
    // Every write route of the handle is refused, whoever asks; reads still work.
    expectError(await call('POST', `${V2}/tracking-templates`, { token: token('fresh-writer-2@e2e'), body: { id: 't', params: {} } }), 429, 'daily_write_limit');
    assert.equal((await call('GET', `${V2}/tracking-templates`, { token: token('fresh-reader@e2e') })).status, 200);
    // What stops traffic stays possible: rejecting a domain, pausing or canceling a
    // campaign. Approving one is a write like the others.
    const decide = (decision) => call('POST', `${V2}/destination-domains/daily-${LIMITS.daily}.gharart-partner.com/decision`, { token: token('trust@e2e', ['domains:admin']), body: { decision, reason: 'daily limit test' } });
    expectError(await decide('approved'), 429, 'daily_write_limit');
    assert.equal((await decide('rejected')).status, 200, 'a rejection is never refused by the daily limit');
    const cancel = await call('POST', `${V2}/campaigns/gulf-eid-teaser/cancel`, { token: token('campaigns@e2e', ['campaigns:write']) });
    assert.equal(cancel.status, 200, `canceling a campaign past the daily limit: ${cancel.body}`);
    expectError(await call('POST', `${V2}/campaigns/diwali-hero-ab/resume`, { token: token('campaigns-2@e2e', ['campaigns:write']) }), 429, 'daily_write_limit');
    // Minting a preview token is not a write.
    assert.equal((await call('POST', `${V2}/preview-tokens`, { token: token('fresh-previewer@e2e') })).status, 201);
    // The limit is per handle: another handle's writes are not refused by it.
    const other = await call('POST', '/v2/handles/other-shop/destination-domains', { token: worker.jwt({ sub: 'other@e2e', handle: 'other-shop' }), body: { domain: 'x.example' } });
    expectError(other, 404, 'handle_not_found');
  });
});

describe(`credential failures (API_AUTH_FAILURES_PER_MINUTE=${LIMITS.authFailures} per client address)`, () => {
  before(() => freshWindow());

  test('past the limit every request from that address is 429 before any credential is checked; other addresses are not affected', async () => {
    const from = (ip) => ({ 'X-Forwarded-For': ip });
    const A = from('198.51.100.10');
    const bad = { authorization: 'Bearer not-a-token' };
    const path = `${V2}/personalization-rules`;
    // A 403 comes from a valid token without the scope: it is not a failed credential and
    // is not counted.
    expectError(await call('GET', path, { token: token('no-scope@e2e', ['preview']), headers: A }), 403, 'insufficient_scope');
    for (let i = 0; i < LIMITS.authFailures; i++) expectError(await call('GET', path, { ...bad, headers: A }), 401, 'invalid_token');
    const limited = expectError(await call('GET', path, { ...bad, headers: A }), 429, 'rate_limited');
    const wait = retryAfter(limited);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    expectError(await call('GET', path, { headers: A }), 429, 'rate_limited');
    // The throttle is checked before authenticating: a guess that happens to be right is
    // refused like the others, so the limit gives a brute force no oracle.
    expectError(await call('GET', path, { token: token('valid-after-failures@e2e', ['rules:read']), headers: A }), 429, 'rate_limited');
    expectError(await call('GET', path, { ...bad, headers: from('198.51.100.11') }), 401, 'invalid_token');
    assert.equal((await call('GET', path, { token: token('other-address@e2e', ['rules:read']), headers: from('198.51.100.11') })).status, 200);
  });

  test('IPv6 addresses are throttled by /64: another address in the same /64 is refused, another /64 is not', async () => {
    const bad = { authorization: 'Bearer not-a-token' };
    const path = `${V2}/personalization-rules`;
    const v6 = (ip) => ({ 'X-Forwarded-For': ip });
    for (let i = 0; i < LIMITS.authFailures; i++) expectError(await call('GET', path, { ...bad, headers: v6(`2001:db8:aa:1::${i + 1}`) }), 401, 'invalid_token');
    expectError(await call('GET', path, { ...bad, headers: v6('2001:db8:aa:1:ffff:ffff:ffff:fffe') }), 429, 'rate_limited');
    expectError(await call('GET', path, { ...bad, headers: v6('2001:db8:aa:2::1') }), 401, 'invalid_token');
  });
});

describe('public writes and the daily write limit', () => {
  /** A ctx token as src/token.rs makes them, for the seeded active campaign. */
  function ctxToken(vid) {
    const now = Math.floor(Date.now() / 1000);
    const body = Buffer.from(JSON.stringify({ iat: now, exp: now + 600, handle: 'gharart', campaign: 'diwali-hero-ab', variant: 'control', vid })).toString('base64url');
    const key = createHmac('sha256', worker.secret).update('edge-router/ctx').digest();
    return `v1.${body}.${createHmac('sha256', key).update(`v1.ctx.${body}`).digest('base64url')}`;
  }

  test('regression: support reports do not use up the daily write budget of conversions (they are bounded per client address)', async () => {
    const now = Date.now() / 1000;
    const midnight = Math.ceil(now / 86_400) * 86_400;
    if (midnight - now < 60) await sleep((midnight - now + 1) * 1000);
    // Each from its own address, so the per-minute throttle (per caller) never bites.
    for (let i = 0; i <= LIMITS.daily; i++) {
      await call('POST', '/v2/support/report', { body: { summary: `report ${i}`, details: 'filling the budget' }, headers: { 'X-Forwarded-For': `198.51.100.${100 + i}` } });
    }
    const conversion = await call('POST', '/v2/public/conversions', {
      body: { ctx: ctxToken('c0ffee00c0ffee00c0ffee00c0ffee00'), event: 'purchase' },
      idempotencyKey: `daily-${Date.now()}`,
      headers: { 'X-Forwarded-For': '198.51.100.250' },
    });
    assert.equal(conversion.status, 201, `a visitor's conversion is not refused by support reports: ${conversion.body.slice(0, 300)}`);
  });
});

describe('over every response of this file', () => {
  test('X-Request-Id everywhere, unique; never a 5xx', () => {
    assert.ok(responses.length > 20);
    assert.equal(new Set(responses.map((r) => r.requestId)).size, responses.length);
    assert.ok(responses.every((r) => r.status < 500));
  });
});
