// Trust the API cannot talk around (issue 10), end to end against workerd: a
// configuration that claims its own domain is verified, scored and approved never sends a
// visitor there (through the API and through `router push`); a domain a writer scores
// itself is refused; a squatted Idempotency-Key takes nothing from another visitor's
// conversion; gated pages need an entitlement; and the Cron Trigger's re-check makes a
// domain whose TXT proof is gone unroutable. The visitor-side points (planted ctx,
// takedown, chunked bodies) are in router, snapshot-faults and security.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, ROUTER, RULES_DIR, UA, startDohServer, startWorker } from './harness.mjs';

const V2 = '/v2/handles/gharart';
const TTL_MS = 1000;
const EVIL = 'evil.example';

let worker;
let doh;
let T;

before(async () => {
  doh = await startDohServer();
  worker = await startWorker({
    d1Migrations: 'DB',
    testScheduled: true,
    vars: {
      DOH_RESOLVER_URL: doh.url,
      REVERIFY_INTERVAL_SECONDS: '0',
      API_WRITES_PER_MINUTE: '100000',
      API_READS_PER_MINUTE: '100000',
      API_PUBLIC_PER_MINUTE: '100000',
      API_AUTH_FAILURES_PER_MINUTE: '100000',
    },
    pats: {
      admin: { scopes: 'admin', sub: 'admin@e2e' },
      writer: { scopes: 'domains:write domains:read rules:write rules:read', sub: 'writer@e2e' },
      pages: { scopes: 'pages:write campaigns:read', sub: 'pages@e2e' },
      storefront: { scopes: 'entitlements', sub: 'storefront@e2e' },
    },
  });
  T = worker.pats;
});

after(async () => {
  await worker?.stop();
  await doh?.close();
});

async function call(method, path, opts = {}) {
  const res = await worker.api(method, path, opts);
  assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return res;
}

function expectOk(res, status = 200) {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.body.slice(0, 400)}`);
  return res.json;
}

function expectError(res, status, code) {
  assert.equal(res.status, status, `${res.method} ${res.path}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.error?.code, code);
  return res.error;
}

/** Visits an entry after the snapshot TTL, as an Indian desktop visitor. */
async function visit(entry, opts = {}) {
  await sleep(TTL_MS + 200);
  return worker.fetch(`/gharart/${entry}`, { ip: IPS.IN, ua: UA.desktop, ...opts });
}

const evilDomain = {
  domain: EVIL,
  verification: 'verified',
  token: 'gharart-verify=mine',
  risk_score: 0,
  decision: { value: 'approved', by: 'me', reason: 'trust me', at: '2026-11-29T00:00:00Z' },
  verified_at: '2026-11-29T00:00:00Z',
};

describe('a whole configuration cannot make its own domain routable', () => {
  test('PUT .../configuration: the evil domain starts pending, every claim is a warning, no visitor goes there', async () => {
    const current = expectOk(await call('GET', `${V2}/configuration`, { token: T.admin })).configuration;
    const evil = structuredClone(current);
    evil.domains.push(evilDomain);
    evil.entries.find((e) => e.slug === 'partner-offers').default = `https://${EVIL}/login`;
    evil.risk_threshold = 100;
    const out = expectOk(await call('PUT', `${V2}/configuration`, { token: T.admin, body: evil }));
    const index = evil.domains.length - 1;
    const ignored = out.warnings.filter((w) => w.code === 'ignored_trust_field').map((w) => w.path);
    for (const field of ['verification', 'token', 'risk_score', 'decision', 'verified_at']) {
      assert.ok(ignored.includes(`$.domains[${index}].${field}`), `${field} in ${ignored}`);
    }
    assert.ok(ignored.includes('$.risk_threshold'));
    const stored = expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin }));
    const listed = stored.domains.find((d) => d.domain === EVIL);
    assert.equal(listed.verification, 'pending');
    assert.equal(listed.routable, false);
    assert.equal(listed.risk_score, undefined);
    assert.equal(listed.decision, undefined);
    assert.notEqual(listed.token, evilDomain.token, 'a fresh token of the server');
    assert.equal(stored.risk_threshold, current.risk_threshold, 'the threshold stays');
    for (let i = 0; i < 3; i++) {
      const res = await visit('partner-offers');
      assert.notEqual(res.url?.hostname, EVIL, `visit ${i}: ${res.status} ${res.location}`);
      assert.ok([200, 302].includes(res.status));
    }
  });

  test('router push of the same claims: the same warnings, still no visitor sent there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trust-push-'));
    try {
      await cp(RULES_DIR, dir, { recursive: true });
      const domains = JSON.parse(await readFile(join(dir, 'domains.json'), 'utf8'));
      domains.domains.push(evilDomain);
      await writeFile(join(dir, 'domains.json'), JSON.stringify(domains, null, 2));
      const handle = JSON.parse(await readFile(join(dir, 'handle.json'), 'utf8'));
      handle.entries.find((e) => e.slug === 'partner-offers').default = `https://${EVIL}/push`;
      await writeFile(join(dir, 'handle.json'), JSON.stringify(handle, null, 2));
      const { stdout } = await promisify(execFile)(ROUTER, ['--json', 'push', dir, '--api', worker.base, '--token', T.admin]);
      const out = JSON.parse(stdout);
      assert.equal(out.ok, true, stdout);
      assert.ok(JSON.stringify(out).includes('ignored_trust_field'), `the push reports what was ignored: ${stdout.slice(0, 600)}`);
      const res = await visit('partner-offers');
      assert.notEqual(res.url?.hostname, EVIL, `${res.status} ${res.location}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a domain nobody approved is not routable', () => {
  test('a writer cannot score a domain; verified but unscored and undecided, a rule to it is skipped', async () => {
    const denied = expectError(await call('POST', `${V2}/destination-domains`, { token: T.writer, body: { domain: 'self-scored.example', risk_score: 0 } }), 403, 'insufficient_scope');
    assert.match(denied.message, /domains:admin/);
    const added = expectOk(await call('POST', `${V2}/destination-domains`, { token: T.writer, body: { domain: 'self-scored.example' } }), 201).domain;
    doh.answer(added.txt_record, { txt: [added.token] });
    const verified = expectOk(await call('POST', `${V2}/destination-domains/self-scored.example/verify`, { token: T.writer })).domain;
    assert.equal(verified.verification, 'verified');
    assert.equal(verified.routable, false);
    assert.equal(verified.not_routable.code, 'unscored');
    const rule = { priority: 1, entries: ['festive'], destination: 'https://self-scored.example/deal' };
    const put = expectOk(await call('PUT', `${V2}/personalization-rules/to-self-scored`, { token: T.writer, body: rule }), 201);
    assert.equal(put.rule.routable, false);
    const res = await visit('festive');
    assert.notEqual(res.url?.hostname, 'self-scored.example', `${res.status} ${res.location}`);
    expectOk(await call('DELETE', `${V2}/personalization-rules/to-self-scored`, { token: T.writer }));
  });
});

describe('Idempotency-Keys are scoped to the ctx they come with', () => {
  test('a stranger who takes a key first does not block the visitor whose conversion it is', async () => {
    const ctxOf = async (cookie) => {
      const res = await visit('festive', { cookie: `gh_vid=${cookie}` });
      const ctx = res.url?.searchParams.get('gh_ctx');
      assert.ok(ctx, `a campaign redirect with a ctx: ${res.status} ${res.location}`);
      return ctx;
    };
    // Two visitors of the diwali A/B test (Indian desktops).
    const victim = await ctxOf('7215ee9c7d9dc229d2921a40e899ec5f');
    const stranger = await ctxOf('5d41402abc4b2a76b9719d911017c592');
    const key = 'order-4711';
    const convert = (ctx, event = 'purchase') =>
      worker.api('POST', '/v2/public/conversions', { idempotencyKey: key, body: { ctx, event, value: 2499, currency: 'INR' } });
    assert.equal((await convert(stranger, 'squat')).status, 201, 'the stranger takes the key first');
    const real = await convert(victim);
    assert.equal(real.status, 201, `the real conversion is recorded: ${real.body}`);
    assert.equal(real.json.recorded, true);
    const retry = await convert(victim);
    assert.equal(retry.status, 200, 'a retry of the real one is a replay');
    assert.equal(retry.json.duplicate, true);
  });
});

describe('gated pages need an entitlement', () => {
  test('a FREE_WITH_LOGIN page: 401 without one, served with one the storefront minted', async () => {
    const page = `${V2}/site-structure/campaigns/diwali-hero-ab`;
    const doc = { title: 'Diwali for members', blocks: [{ type: 'login_gate' }, { type: 'cta', label: 'Shop', url: 'https://www.gharart.com/diwali' }] };
    expectOk(await call('PUT', page, { token: T.pages, body: { access_level: 'FREE_WITH_LOGIN', document: doc } }));
    expectOk(await call('POST', `${page}/publish`, { token: T.pages }));
    const publicPath = '/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab';
    const anonymous = expectError(await call('GET', publicPath), 401, 'entitlement_required');
    assert.match(anonymous.message, /entitlement/);
    const minted = expectOk(await call('POST', `${V2}/entitlements`, { token: T.storefront, body: { access_level: 'FREE_WITH_LOGIN', subject: 'member-42', ttl_seconds: 600 } }), 201);
    const served = expectOk(await call('GET', publicPath, { token: minted.token }));
    assert.equal(served.access_level, 'FREE_WITH_LOGIN');
    expectError(await call('GET', publicPath, { token: T.admin }), 401, 'invalid_token');
    const unroutable = { ...doc, blocks: [{ type: 'image', src: `https://${EVIL}/pixel.png`, alt: 'x' }] };
    const refused = expectError(await call('PUT', page, { token: T.pages, body: { access_level: 'PUBLIC', document: unroutable } }), 422, 'validation_failed');
    assert.deepEqual(refused.details.map((d) => [d.code, d.path]), [['unroutable_url', '$.document.blocks[0].src']]);
  });
});

describe('the Cron Trigger re-checks verified domains', () => {
  test('a TXT proof that is gone makes the domain failed and unroutable; a resolver error changes nothing', async () => {
    const name = 'cron-checked.example';
    const added = expectOk(await call('POST', `${V2}/destination-domains`, { token: T.admin, body: { domain: name, risk_score: 1 } }), 201).domain;
    doh.answer(added.txt_record, { txt: [added.token] });
    expectOk(await call('POST', `${V2}/destination-domains/${name}/verify`, { token: T.admin }));
    const rule = { priority: 1, entries: ['diwali-sale'], destination: `https://${name}/sale` };
    expectOk(await call('PUT', `${V2}/personalization-rules/to-cron-checked`, { token: T.admin, body: rule }), 201);
    assert.equal((await visit('diwali-sale')).url?.hostname, name, 'routable while its proof stands');

    // The resolver down: the scheduled run changes nothing.
    doh.answer(added.txt_record, { http: 502 });
    const from = worker.log().length;
    assert.equal((await worker.scheduled()).status, 200);
    await worker.waitForLog(/re-verification .*unanswered/, { from });
    let listed = expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin })).domains.find((d) => d.domain === name);
    assert.equal(listed.verification, 'verified', 'a resolver error changes nothing');

    // The proof gone.
    doh.answer(added.txt_record, { status: 3 });
    const before = worker.log().length;
    assert.equal((await worker.scheduled()).status, 200);
    await worker.waitForLog(new RegExp(`${name.replace('.', '\\.')} lost its TXT proof`), { from: before });
    listed = expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin })).domains.find((d) => d.domain === name);
    assert.equal(listed.verification, 'failed');
    assert.equal(listed.routable, false);
    assert.match(listed.failure, /no TXT record/);
    assert.ok(listed.checked_at, 'when it was checked');
    const res = await visit('diwali-sale');
    assert.notEqual(res.url?.hostname, name, `no visitor goes there any more: ${res.location}`);
  });
});
