// The management API end to end: the built worker under wrangler dev (workerd) with local
// KV (the gharart snapshot) and local D1 (migrations applied, PATs stored as SHA-256),
// a DNS-over-HTTPS resolver started by this file on 127.0.0.1, and the visitor path
// checked after each write (SNAPSHOT_TTL_SECONDS=2: the router must follow within it).
//
// Tests run in file order and share one worker: later sections build on the state the
// earlier ones left (documented where it matters). Limits (413 at a tiny size, 429s, the
// credential-failure throttle) are in api-limits.test.mjs with a worker of their own; this
// worker raises API_AUTH_FAILURES_PER_MINUTE, since the matrices below fail credentials
// hundreds of times a minute from one address on purpose. The campaign routes (UC-07) are
// exercised in campaigns.test.mjs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, ROOT, ROUTER, UA, allowlist, newPat, ruleFile, sha256Hex, startDohServer, startWorker, waitFor } from './harness.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const FESTIVE = `/${HANDLE}/festive`;
const TTL_SECONDS = 2;
/** How long after a write the router may still serve the old snapshot (TTL + request slack). */
const FOLLOW_MS = TTL_SECONDS * 1000 + 2000;
const REQUEST_ID_RE = /^[0-9a-f]{32}$/;
/**
 * Routes the third engineer is still wiring (route_not_found until then). Their tests are
 * marked `todo` while listed here; empty the set once they are served.
 */
const PENDING_ROUTES = new Set([]);
const pending = (pattern) => (PENDING_ROUTES.has(pattern) ? `${pattern} is not wired yet` : false);

const nowS = () => Math.floor(Date.now() / 1000);

let worker;
let doh;
let T; // PATs by name
let list; // the allowlist computed from rules/gharart
let rules;
let templates;
let openapi;
/** Request ids of the deliberate 503s (resolver down): the only 5xx allowed. */
const deliberate503 = new Set();
/** Every API response of this file. */
const responses = [];

before(async () => {
  doh = await startDohServer();
  const now = nowS();
  [list, { rules }, { templates }, openapi] = await Promise.all([
    allowlist(),
    ruleFile('rules.json'),
    ruleFile('templates.json'),
    readFile(join(ROOT, 'src', 'api', 'openapi.json'), 'utf8').then(JSON.parse),
  ]);
  worker = await startWorker({
    d1Migrations: 'DB',
    vars: { DOH_RESOLVER_URL: doh.url, SNAPSHOT_TTL_SECONDS: String(TTL_SECONDS), API_AUTH_FAILURES_PER_MINUTE: '100000' },
    pats: {
      admin: { scopes: 'admin', sub: 'admin@e2e' },
      domainsRead: { scopes: 'domains:read', sub: 'domains-reader@e2e' },
      domainsWrite: { scopes: 'domains:write', sub: 'domains-writer@e2e' },
      domainsAdmin: { scopes: 'domains:admin', sub: 'trust@gharart.com' },
      // Setting a risk score is a trust decision (domains:admin); adding is domains:write.
      domainsScorer: { scopes: 'domains:write domains:admin', sub: 'risk-desk@gharart.com' },
      rulesRead: { scopes: 'rules:read', sub: 'rules-reader@e2e' },
      rulesWrite: { scopes: 'rules:write', sub: 'rules-writer@e2e' },
      templatesRead: { scopes: 'templates:read', sub: 'templates-reader@e2e' },
      templatesWrite: { scopes: 'templates:write', sub: 'templates-writer@e2e' },
      preview: { scopes: 'preview', sub: 'marketer@gharart.com' },
      readOnly: { scopes: ['rules:read', 'domains:read', 'templates:read'], sub: 'auditor@e2e' },
      unrelated: { scopes: 'campaigns:read pages:write', sub: 'unrelated@e2e' },
      expired: { scopes: 'admin', sub: 'expired@e2e', expiresAt: now - 3600 },
      revoked: { scopes: 'admin', sub: 'revoked@e2e', revoked: true },
      otherHandle: { handle: 'other-shop', scopes: 'admin', sub: 'other@e2e' },
      expiring: { scopes: 'admin', sub: 'expiring@e2e', expiresAt: now + 3600 },
      probe: { scopes: 'admin', sub: 'openapi-probe@e2e' },
    },
  });
  T = worker.pats;
});

after(async () => {
  await worker?.stop();
  await doh?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

/**
 * Calls the API and checks what every response must satisfy: an X-Request-Id, JSON, the
 * error envelope with the same request id, and no 5xx unless `allow503` (then recorded).
 */
async function call(method, path, opts = {}) {
  const { allow503 = false, ...rest } = opts;
  const res = await worker.api(method, path, rest);
  responses.push(res);
  const what = `${method} ${path} -> ${res.status} ${res.body.slice(0, 400)}`;
  assert.match(res.requestId ?? '', REQUEST_ID_RE, `X-Request-Id on ${what}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, what);
  if (res.status === 503 && allow503) deliberate503.add(res.requestId);
  else assert.ok(res.status < 500, `no 5xx: ${what}`);
  if (res.status >= 400) {
    assert.ok(res.error, `error envelope: ${what}`);
    assert.equal(typeof res.error.code, 'string', what);
    assert.equal(typeof res.error.message, 'string', what);
    // Replayed errors included: a replay names the replaying request's id.
    assert.equal(res.error.request_id, res.requestId, `error.request_id equals X-Request-Id: ${what}`);
  }
  return res;
}

function expectError(res, status, code) {
  assert.equal(res.status, status, `${res.method} ${res.path}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 400)}`);
  assert.equal(res.error?.code, code, `${res.method} ${res.path}: ${res.body.slice(0, 400)}`);
  if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer', `${res.path}: 401 carries WWW-Authenticate`);
  return res.error;
}

function expectOk(res, status = 200) {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.body.slice(0, 600)}`);
  return res.json;
}

const listDomains = async (token = T.admin) => expectOk(await call('GET', `${V2}/destination-domains`, { token }));
const listRules = async (token = T.admin) => expectOk(await call('GET', `${V2}/personalization-rules`, { token }));
const listTemplates = async (token = T.admin) => expectOk(await call('GET', `${V2}/tracking-templates`, { token }));
const currentVersion = async () => (await listRules()).version;
const domainView = async (name) => (await listDomains()).domains.find((d) => d.domain === name);
const ruleView = async (id) => (await listRules()).rules.find((r) => r.id === id);
const enc = encodeURIComponent;

/** A visit that is never a 5xx. */
async function visit(path, opts = {}) {
  const res = await worker.fetch(path, { ip: IPS.IN, ua: UA.iphone, ...opts });
  assert.ok(res.status < 500, `${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return res;
}

const snapshotVersion = (res) => Number(res.headers.get('x-snapshot-version'));

/**
 * Polls a visit until `check(res)` holds; fails unless that happened within FOLLOW_MS of
 * `since` (when the write was acknowledged).
 */
async function routerFollows(path, opts, check, { since, what }) {
  const res = await waitFor(
    async () => {
      const r = await visit(path, opts);
      return check(r) ? r : null;
    },
    { timeoutMs: FOLLOW_MS + 5_000, intervalMs: 150, what },
  );
  const elapsed = Date.now() - since;
  assert.ok(elapsed <= FOLLOW_MS, `${what}: the router followed after ${elapsed} ms, over the ${TTL_SECONDS} s TTL (+2 s slack)`);
  return res;
}

/** A preview (explain) trace of the festive entry for the given overrides. */
async function explain(query, opts = {}) {
  const { token } = await worker.previewToken();
  const q = new URLSearchParams({ __preview: token, __explain: '1', ...query });
  const res = await visit(`${FESTIVE}?${q}`, opts);
  assert.equal(res.status, 200, res.body.slice(0, 300));
  return res.json();
}

// ---------------------------------------------------------------------------------------

describe('OpenAPI document', () => {
  test('GET /v2/openapi.json is public and equals src/api/openapi.json', async () => {
    const res = await call('GET', '/v2/openapi.json');
    expectOk(res);
    assert.deepEqual(res.json, openapi);
    assert.match(res.json.openapi, /^3\.1\./);
  });

  /** Fills a path template with values that exist (or harmlessly do not). */
  function concrete(pattern) {
    return pattern
      .replace('{handle}', HANDLE)
      .replace('{domain}', 'no-such-domain.example')
      .replace('{ruleId}', 'openapi-probe-missing')
      .replace('{campaignId}', 'openapi-probe-missing')
      .replace('{version}', '999999');
  }

  function operations() {
    const out = [];
    for (const [pattern, item] of Object.entries(openapi.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters') continue;
        out.push({ method: method.toUpperCase(), pattern, op });
      }
    }
    return out;
  }

  test('every documented operation is served (never route_not_found / method_not_allowed)', async () => {
    const ops = operations();
    assert.ok(ops.length >= 13, `${ops.length} operations`);
    for (const { method, pattern, op } of ops) {
      if (PENDING_ROUTES.has(pattern)) continue;
      // Bodies the handlers refuse (or, for the preview token, accept): enough to reach them.
      const body = method === 'POST' || method === 'PUT' ? {} : undefined;
      const res = await call(method, concrete(pattern), { token: T.probe, body });
      assert.ok(
        !['route_not_found', 'method_not_allowed'].includes(res.error?.code),
        `${method} ${pattern} (${op.operationId}) is not served: ${res.status} ${res.body.slice(0, 200)}`,
      );
    }
  });

  test('every documented scope is enforced: no token is 401, a token without it 403 naming x-required-scope', async () => {
    for (const { method, pattern, op } of operations()) {
      if (PENDING_ROUTES.has(pattern)) continue;
      const scope = op['x-required-scope'];
      const path = concrete(pattern);
      const body = method === 'GET' ? undefined : {};
      if (op['x-site-token']) {
        // A campaign-scoped site token, never a management credential.
        assert.deepEqual(op.security, [{ siteToken: [] }], pattern);
        expectError(await call(method, path, { body }), 401, 'missing_token');
        expectError(await call(method, path, { token: T.admin, body }), 401, 'invalid_token');
        continue;
      }
      if (!scope && op.security.length > 0) {
        // Any management credential of the handle, whatever its scopes (whoami).
        assert.deepEqual(op.security, [{ bearerAuth: [] }], pattern);
        expectError(await call(method, path), 401, 'missing_token');
        assert.equal((await call(method, path, { token: T.unrelated })).status, 200, `${pattern} with any scope`);
        continue;
      }
      if (!scope) {
        assert.deepEqual(op.security, [], `${pattern} is public`);
        continue;
      }
      expectError(await call(method, path), 401, 'missing_token');
      // A token with scopes, none of them this one (`unrelated` holds the campaign scopes).
      const lacking = ['campaigns:read', 'campaigns:write', 'pages:write'].includes(scope) ? T.readOnly : T.unrelated;
      const forbidden = await call(method, path, { token: lacking, body });
      expectError(forbidden, 403, 'insufficient_scope');
      assert.ok(forbidden.error.message.includes(scope), `${method} ${pattern}: ${forbidden.error.message} names ${scope}`);
      assert.equal(forbidden.error.request_id, forbidden.requestId);
    }
  });

  test('the pending routes answer (todo until wired)', { todo: PENDING_ROUTES.size > 0 ? [...PENDING_ROUTES].join(', ') : false }, async () => {
    for (const pattern of ['/v2/handles/{handle}/route-preview', '/v2/handles/{handle}/rule-audit']) {
      const res = await call('GET', concrete(pattern), { token: T.probe });
      assert.notEqual(res.error?.code, 'route_not_found', `${pattern}: ${res.body.slice(0, 200)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------

describe('authentication and authorisation matrix', () => {
  const PROBE_RULE = {
    priority: 7,
    entries: ['festive'],
    conditions: { query: { probe: { in: ['auth-matrix'] } } },
    destination: 'https://www.gharart.com/festive/auth-probe',
    description: 'written by the auth matrix',
  };
  const ROUTES = [
    { method: 'GET', path: `${V2}/destination-domains`, scope: 'domains:read', pat: 'domainsRead', ok: 200 },
    { method: 'PUT', path: `${V2}/personalization-rules/auth-probe`, scope: 'rules:write', pat: 'rulesWrite', body: PROBE_RULE, ok: [200, 201] },
    {
      method: 'POST',
      path: `${V2}/destination-domains/gharart-gifts.co/decision`,
      scope: 'domains:admin',
      pat: 'domainsAdmin',
      body: { decision: 'approved', reason: 'auth matrix probe' },
      ok: 200,
      // The plain write scope is not enough for a decision.
      alsoForbidden: ['domainsWrite'],
    },
    { method: 'GET', path: `${V2}/tracking-templates`, scope: 'templates:read', pat: 'templatesRead', ok: 200 },
    { method: 'POST', path: `${V2}/preview-tokens`, scope: 'preview', pat: 'preview', body: {}, ok: 201 },
    { method: 'GET', path: `${V2}/personalization-rules`, scope: 'rules:read', pat: 'rulesRead', ok: 200 },
  ];

  function credentials(route) {
    const secret = worker.jwtSecret;
    const good = worker.jwt({ sub: `jwt-${route.scope}`, scopes: [route.scope] });
    const [head, , sig] = good.split('.');
    const elevated = Buffer.from(JSON.stringify({ sub: 'mallory', handle: HANDLE, scopes: ['admin'], exp: nowS() + 600 })).toString('base64url');
    return [
      ['no Authorization header', {}, 401, 'missing_token'],
      ['an empty Authorization header', { authorization: '' }, 401, 'missing_token'],
      ['a garbage bearer token', { authorization: 'Bearer not-a-token' }, 401, 'invalid_token'],
      ['the Basic scheme', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, 401, 'invalid_token'],
      ['a PAT too short to be one', { token: 'gr_pat_short' }, 401, 'invalid_token'],
      ['an unknown PAT', { token: newPat() }, 401, 'invalid_token'],
      ['a revoked PAT', { token: T.revoked }, 401, 'invalid_token'],
      ['an expired PAT', { token: T.expired }, 401, 'token_expired'],
      ['a JWT signed with another secret', { token: worker.jwt({ secret: `${secret}-other`, scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['a JWT whose payload was swapped for admin', { token: `${head}.${elevated}.${sig}` }, 401, 'invalid_token'],
      ['a JWT with alg none', { token: worker.jwt({ alg: 'none', scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['a JWT with alg HS512 in its header', { token: worker.jwt({ alg: 'HS512', scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['a JWT with no exp', { token: worker.jwt({ exp: null, scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['a JWT with a garbage signature', { token: worker.jwt({ signature: 'AAAA', scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['an expired JWT', { token: worker.jwt({ exp: nowS() - 3600, scopes: ['admin'] }) }, 401, 'token_expired'],
      ['a JWT for another handle', { token: worker.jwt({ handle: 'other-shop', scopes: ['admin'] }) }, 403, 'wrong_handle'],
      ['a PAT for another handle', { token: T.otherHandle }, 403, 'wrong_handle'],
      ['a PAT with unrelated scopes', { token: T.unrelated }, 403, 'insufficient_scope'],
      ['a JWT with unrelated scopes', { token: worker.jwt({ scopes: ['campaigns:write', 'pages:write'] }) }, 403, 'insufficient_scope'],
      ['a JWT with only unknown scopes', { token: worker.jwt({ scopes: ['superuser', 'root'] }) }, 403, 'insufficient_scope'],
      ...(route.alsoForbidden ?? []).map((name) => [`a PAT with ${name}`, { token: T[name] }, 403, 'insufficient_scope']),
      ['a PAT with the scope', { token: T[route.pat] }, route.ok],
      ['a JWT with the scope', { token: good }, route.ok],
      ['a JWT with the scope as a space-separated string', { token: worker.jwt({ scopes: `campaigns:read ${route.scope}` }) }, route.ok],
      ['an admin JWT (admin implies every scope)', { token: worker.jwt({ scopes: ['admin'] }) }, route.ok],
      ['an admin PAT that expires later', { token: T.expiring }, route.ok],
      ['the scheme in lower case', { authorization: `bearer ${T[route.pat]}` }, route.ok],
    ];
  }

  for (const route of ROUTES) {
    test(`${route.method} ${route.path.replace(V2, '/v2/handles/{handle}')} (${route.scope})`, async () => {
      for (const [what, creds, status, code] of credentials(route)) {
        const res = await call(route.method, route.path, { ...creds, body: route.body });
        if (code) {
          assert.equal(res.status, status, `${what}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
          assert.equal(res.error.code, code, `${what}: ${res.body.slice(0, 300)}`);
          if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer', `${what}: WWW-Authenticate`);
          if (code === 'insufficient_scope') assert.ok(res.error.message.includes(route.scope), `${what}: ${res.error.message}`);
        } else {
          const allowed = [status].flat();
          assert.ok(allowed.includes(res.status), `${what}: want ${allowed}, got ${res.status} ${res.body.slice(0, 300)}`);
        }
      }
    });
  }

  test('JWT clock skew is bounded: 30 s past exp is accepted, 90 s is token_expired; nbf ahead is refused', async () => {
    const path = `${V2}/destination-domains`;
    const now = nowS();
    expectOk(await call('GET', path, { token: worker.jwt({ exp: now - 30, scopes: ['domains:read'] }) }));
    expectError(await call('GET', path, { token: worker.jwt({ exp: now - 90, scopes: ['domains:read'] }) }), 401, 'token_expired');
    expectOk(await call('GET', path, { token: worker.jwt({ nbf: now + 20, scopes: ['domains:read'] }) }));
    expectError(await call('GET', path, { token: worker.jwt({ nbf: now + 600, scopes: ['domains:read'] }) }), 401, 'invalid_token');
    expectError(await call('GET', path, { token: worker.jwt({ sub: '', scopes: ['domains:read'] }) }), 401, 'invalid_token');
  });

  test('a PAT from `router pat` works once its SQL is run; revoking it takes effect at once', async () => {
    const { stdout } = await promisify(execFile)(ROUTER, ['--json', 'pat', '--handle', HANDLE, '--scopes', 'rules:read', '--sub', 'cli@e2e']);
    const pat = JSON.parse(stdout);
    assert.equal(pat.hash, sha256Hex(pat.token), 'stored as SHA-256 hex');
    assert.ok(!pat.sql.includes(pat.token), 'the SQL holds the hash, never the token');
    await worker.d1(pat.sql);
    expectOk(await call('GET', `${V2}/personalization-rules`, { token: pat.token }));
    expectError(await call('GET', `${V2}/destination-domains`, { token: pat.token }), 403, 'insufficient_scope');
    await worker.d1(`UPDATE api_tokens SET revoked = 1 WHERE hash = '${pat.hash}'`);
    expectError(await call('GET', `${V2}/personalization-rules`, { token: pat.token }), 401, 'invalid_token');
  });

  test('a token for a handle that does not exist passes auth and gets 404 handle_not_found', async () => {
    const res = await call('GET', '/v2/handles/other-shop/destination-domains', { token: T.otherHandle });
    expectError(res, 404, 'handle_not_found');
    // ... and cannot read gharart.
    expectError(await call('GET', `${V2}/destination-domains`, { token: T.otherHandle }), 403, 'wrong_handle');
  });

  test('the decision the matrix recorded does not make a failed domain routable', async () => {
    const gifts = await domainView('gharart-gifts.co');
    assert.equal(gifts.decision.value, 'approved');
    assert.equal(gifts.verification, 'failed');
    assert.equal(gifts.routable, false, 'routable = verified AND approved');
    assert.equal(gifts.not_routable.code, 'unverified');
  });
});

// ---------------------------------------------------------------------------------------

describe('destination domains', () => {
  test('the list shows verification, decision, risk score, routability and why not, as the rule files say', async () => {
    const body = await listDomains(T.domainsRead);
    const { domains } = await ruleFile('domains.json');
    assert.equal(body.handle, HANDLE);
    assert.equal(typeof body.version, 'number');
    assert.equal(body.risk_threshold, 30);
    const byName = new Map(body.domains.map((d) => [d.domain, d]));
    for (const d of domains) {
      const shown = byName.get(d.domain);
      assert.ok(shown, `${d.domain} is listed`);
      assert.equal(shown.verification, d.verification, d.domain);
      assert.equal(shown.risk_score, d.risk_score, d.domain);
      assert.equal(shown.txt_record, `_gharart-verify.${d.domain.replace(/^\*\./, '')}`);
      if (d.domain !== 'gharart-gifts.co') assert.deepEqual(shown.decision, d.decision, d.domain);
      const routable = d.domain === 'gharart-gifts.co' ? false : list.routable.includes(d.domain);
      assert.equal(shown.routable, routable, d.domain);
      if (!routable) {
        assert.equal(typeof shown.reason, 'string', `${d.domain}: why not routable`);
        assert.ok(shown.not_routable?.code, d.domain);
      } else {
        assert.equal(shown.not_routable, undefined, d.domain);
      }
    }
    const reason = (name) => byName.get(name).not_routable.code;
    assert.equal(reason('offers.gharart-deals.com'), 'unverified');
    assert.equal(reason('gharart-sale.shop'), 'rejected', 'a manual rejection overrides a low risk score');
    assert.equal(reason('festive-gharart.net'), 'risk_too_high');
    assert.equal(byName.get('m.gharart.in').routable, true, 'a manual approval overrides a high risk score');
  });

  test('POST normalises the name (case, scheme, trailing slash, IDNA) and adds it pending with a token', async () => {
    const v0 = await currentVersion();
    const cases = [
      ['HTTPS://Shop.Gharart-Partner.COM/', 'shop.gharart-partner.com'],
      ['Bücher-Geschenke.example', new URL('https://Bücher-Geschenke.example').hostname],
      ['*.Wild.Gharart-Partner.com', '*.wild.gharart-partner.com'],
      ['  trailing-dot.gharart-partner.com.  ', 'trailing-dot.gharart-partner.com'],
    ];
    let expected = v0;
    for (const [raw, name] of cases) {
      const res = await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body: { domain: raw, risk_score: 10 } });
      const out = expectOk(res, 201);
      expected += 1;
      assert.equal(out.version, expected, `${raw}: each write bumps the version by one`);
      assert.equal(out.domain.domain, name, raw);
      assert.match(name, /^[\x21-\x7e]+$/, 'ASCII');
      assert.equal(out.domain.verification, 'pending');
      assert.equal(out.domain.risk_score, 10);
      assert.equal(out.domain.routable, false);
      assert.equal(out.domain.not_routable.code, 'unverified');
      assert.equal(out.domain.txt_record, `_gharart-verify.${name.replace(/^\*\./, '')}`);
      assert.ok(out.domain.token && out.domain.token.length >= 16, `a verification token: ${out.domain.token}`);
    }
    const listed = await listDomains();
    assert.equal(listed.version, expected);
    for (const [, name] of cases) assert.ok(listed.domains.some((d) => d.domain === name), `${name} listed`);
    const tokens = listed.domains.filter((d) => cases.some(([, n]) => n === d.domain)).map((d) => d.token);
    assert.equal(new Set(tokens).size, tokens.length, 'every domain gets its own token');
  });

  test('POST of a listed domain (in other spelling) is 409 domain_exists', async () => {
    const v0 = await currentVersion();
    expectError(await call('POST', `${V2}/destination-domains`, { token: T.domainsWrite, body: { domain: 'https://SHOP.gharart-partner.com' } }), 409, 'domain_exists');
    expectError(await call('POST', `${V2}/destination-domains`, { token: T.domainsWrite, body: { domain: 'www.gharart.com' } }), 409, 'domain_exists');
    assert.equal(await currentVersion(), v0);
  });

  test('junk domains and bodies are 400 with the JSON path, and nothing is stored', async () => {
    const v0 = await currentVersion();
    const junk = [
      'https://evil.example:8443',
      'evil.example:443',
      'evil.example/path',
      'https://evil.example/path?x=1',
      'user@evil.example',
      'user:pw@evil.example',
      'two words.example',
      '',
      '   ',
      '127.0.0.1',
      '[::1]',
      'a..b.example',
      '-bad-.example',
      '*.*.example',
      'ev*il.example',
      'evil.example#frag',
      'evil%2eexample',
      `${'x'.repeat(64)}.example`,
      'javascript:alert(1)',
      'ftp://evil.example',
    ];
    for (const domain of junk) {
      const res = await call('POST', `${V2}/destination-domains`, { token: T.domainsWrite, body: { domain } });
      // A string that is no host name is refused by meaning (422), at its path.
      expectError(res, 422, 'validation_failed');
      assert.deepEqual(res.error.details?.map((d) => [d.code, d.path]), [['invalid_domain', '$.domain']], `${JSON.stringify(domain)}: ${res.body}`);
    }
    const bodies = [
      [{ domain: 'ok.gharart-partner.com', risk_score: 101 }, '$.risk_score'],
      [{ domain: 'ok.gharart-partner.com', risk_score: -1 }, '$.risk_score'],
      [{ domain: 'ok.gharart-partner.com', risk_score: 'low' }, '$.risk_score'],
      [{ domain: 'ok.gharart-partner.com', owner: 'me' }, '$.owner'],
      [{ domain: 42 }, '$.domain'],
      [{}, '$'],
    ];
    for (const [body, path] of bodies) {
      const res = await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details?.path, path, `${JSON.stringify(body)}: ${res.body}`);
    }
    const unknownField = await call('POST', `${V2}/destination-domains`, { token: T.domainsWrite, body: { domain: 'ok.gharart-partner.com', owner: 'me' } });
    assert.match(unknownField.error.message, /owner/, 'the unknown field is named');
    assert.equal(await currentVersion(), v0, 'no junk was stored');
    assert.ok(!(await listDomains()).domains.some((d) => d.domain.includes('evil') || d.domain === 'ok.gharart-partner.com'));
  });

  test('a JSON array is not an object body (serde would take a struct as a sequence): 400 invalid_body at $', async () => {
    const v0 = await currentVersion();
    for (const [path, body] of [
      [`${V2}/destination-domains`, ['array-body.gharart-partner.com']],
      [`${V2}/destination-domains/gharart-gifts.co/decision`, ['approved', 'sent as an array']],
      [`${V2}/tracking-templates`, ['array-template', { a: 'b' }]],
      [`${V2}/preview-tokens`, [60]],
    ]) {
      const res = await call('POST', path, { token: T.admin, body });
      assert.equal(res.status, 400, `${path} with ${JSON.stringify(body)}: ${res.status} ${res.body.slice(0, 200)}`);
      assert.equal(res.error.code, 'invalid_body');
      assert.equal(res.error.details.path, '$');
    }
    assert.equal(await currentVersion(), v0);
  });

  describe('verification over DNS-over-HTTPS (a resolver this test runs on 127.0.0.1)', () => {
    const NAME = 'shop.gharart-partner.com';
    const RECORD = `_gharart-verify.${NAME}`;
    const verifyPath = (name = NAME) => `${V2}/destination-domains/${enc(name)}/verify`;
    let token;

    before(async () => {
      token = (await domainView(NAME)).token;
      assert.ok(token, `${NAME} was added by an earlier test`);
    });

    test('the right token (among other records, split into strings) makes it verified', async () => {
      const half = Math.floor(token.length / 2);
      doh.answer(RECORD, { txt: ['v=spf1 -all', `"${token.slice(0, half)}" "${token.slice(half)}"`] });
      const before = doh.requests.length;
      const v0 = await currentVersion();
      const out = expectOk(await call('POST', verifyPath(), { token: T.domainsWrite }));
      assert.equal(out.check.matched, true);
      assert.equal(out.check.record, RECORD);
      assert.ok(out.check.found.includes(token), JSON.stringify(out.check.found));
      assert.equal(out.domain.verification, 'verified');
      assert.ok(Math.abs(Date.parse(out.domain.verified_at) / 1000 - nowS()) < 120, out.domain.verified_at);
      assert.equal(out.domain.routable, true, 'verified and risk 10 < 30: routable');
      assert.equal(out.version, v0 + 1);
      const seen = doh.requests.slice(before);
      assert.equal(seen.length, 1, 'one DoH query');
      assert.equal(seen[0].name, RECORD);
      assert.equal(seen[0].type, 'TXT');
      assert.match(seen[0].accept ?? '', /application\/dns-json/);
    });

    test('the domain in the path is normalised too (upper case)', async () => {
      const out = expectOk(await call('POST', verifyPath(NAME.toUpperCase()), { token: T.domainsWrite }));
      assert.equal(out.domain.domain, NAME);
      assert.equal(out.domain.verification, 'verified');
    });

    test('a wrong token makes it failed (and not routable)', async () => {
      doh.answer(RECORD, { txt: ['gharart-verify=somebody-elses-token'] });
      const out = expectOk(await call('POST', verifyPath(), { token: T.domainsWrite }));
      assert.equal(out.check.matched, false);
      assert.deepEqual(out.check.found, ['gharart-verify=somebody-elses-token']);
      assert.equal(out.domain.verification, 'failed');
      assert.equal(out.domain.routable, false);
      assert.equal(out.domain.not_routable.code, 'unverified');
    });

    test('NXDOMAIN makes it failed', async () => {
      doh.answer(RECORD, { status: 3 });
      const out = expectOk(await call('POST', verifyPath(), { token: T.domainsWrite }));
      assert.equal(out.check.matched, false);
      assert.deepEqual(out.check.found, []);
      assert.equal(out.domain.verification, 'failed');
    });

    test('a resolver answering garbage, HTTP 500, SERVFAIL, or not listening is 503 resolver_unavailable, domain unchanged', async () => {
      // Back to verified first, so "unchanged" is visible.
      doh.answer(RECORD, { txt: [token] });
      assert.equal(expectOk(await call('POST', verifyPath(), { token: T.domainsWrite })).domain.verification, 'verified');
      const before = await listDomains();
      const failures = [
        ['an HTML page', { http: 200, body: '<html>captive portal</html>' }],
        ['JSON of another shape', { http: 200, contentType: 'application/dns-json', body: '{"Answer":"nope"}' }],
        ['HTTP 500', { http: 500, body: 'internal error' }],
        ['SERVFAIL', { status: 2 }],
      ];
      for (const [what, spec] of failures) {
        doh.answer(RECORD, spec);
        const res = await call('POST', verifyPath(), { token: T.domainsWrite, allow503: true });
        expectError(res, 503, 'resolver_unavailable');
        assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: Retry-After`);
      }
      await doh.close();
      try {
        const res = await call('POST', verifyPath(), { token: T.domainsWrite, allow503: true });
        expectError(res, 503, 'resolver_unavailable');
      } finally {
        await doh.reopen();
      }
      const after = await listDomains();
      assert.equal(after.version, before.version, 'no write happened');
      assert.deepEqual(after.domains.find((d) => d.domain === NAME), before.domains.find((d) => d.domain === NAME));
    });

    test('a wildcard entry is verified at the record of its base name; a Unicode name is found by its ASCII form', async () => {
      const WILD = '*.wild.gharart-partner.com';
      const wild = await domainView(WILD);
      doh.answer('_gharart-verify.wild.gharart-partner.com', { txt: [wild.token] });
      const out = expectOk(await call('POST', verifyPath(WILD), { token: T.domainsWrite }));
      assert.equal(out.check.record, '_gharart-verify.wild.gharart-partner.com');
      assert.equal(out.domain.domain, WILD);
      assert.equal(out.domain.verification, 'verified');
      const ascii = new URL('https://Bücher-Geschenke.example').hostname;
      const unicode = await call('POST', `${V2}/destination-domains/${enc('Bücher-Geschenke.example')}/decision`, {
        token: T.domainsAdmin,
        body: { decision: 'rejected', reason: 'not ours' },
      });
      assert.equal(expectOk(unicode).domain.domain, ascii);
    });

    test('verifying a domain that is not listed is 404 domain_not_found, without a DNS query', async () => {
      const n = doh.requests.length;
      expectError(await call('POST', verifyPath('not-listed.gharart-partner.com'), { token: T.domainsWrite }), 404, 'domain_not_found');
      assert.equal(doh.requests.length, n);
    });
  });

  test('a decision records who, why and when; bad decisions are 400 with the path; unknown domain 404', async () => {
    const NAME = 'trailing-dot.gharart-partner.com';
    const path = `${V2}/destination-domains/${NAME}/decision`;
    const out = expectOk(await call('POST', path, { token: T.domainsAdmin, body: { decision: 'rejected', reason: '  lookalike of a partner  ' } }));
    assert.equal(out.domain.decision.value, 'rejected');
    assert.equal(out.domain.decision.by, 'trust@gharart.com', 'who: the token subject');
    assert.equal(out.domain.decision.reason, 'lookalike of a partner');
    assert.ok(Math.abs(Date.parse(out.domain.decision.at) / 1000 - nowS()) < 120, out.domain.decision.at);
    assert.equal((await domainView(NAME)).decision.by, 'trust@gharart.com');
    const v0 = await currentVersion();
    for (const [body, where] of [
      [{ decision: 'approved', reason: '' }, '$.reason'],
      [{ decision: 'approved', reason: '   ' }, '$.reason'],
      [{ decision: 'approved', reason: 'x'.repeat(501) }, '$.reason'],
      [{ decision: 'maybe', reason: 'why not' }, '$.decision'],
      [{ decision: 'approved' }, '$'],
      [{ decision: 'approved', reason: 'ok', by: 'someone-else' }, '$.by'],
    ]) {
      const res = await call('POST', path, { token: T.domainsAdmin, body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, where, JSON.stringify(body));
    }
    expectError(await call('POST', `${V2}/destination-domains/nobody.example/decision`, { token: T.domainsAdmin, body: { decision: 'approved', reason: 'x' } }), 404, 'domain_not_found');
    assert.equal(await currentVersion(), v0);
  });
});

test('a decision reason is limited in characters, not bytes: 500 x "é" (1000 bytes) is accepted, 501 is not', async () => {
  const path = `${V2}/destination-domains/trailing-dot.gharart-partner.com/decision`;
  const res = await call('POST', path, { token: T.domainsAdmin, body: { decision: 'rejected', reason: 'é'.repeat(500) } });
  assert.equal(expectOk(res).domain.decision.reason, 'é'.repeat(500));
  const emoji = await call('POST', path, { token: T.domainsAdmin, body: { decision: 'rejected', reason: '🪔'.repeat(500) } });
  assert.equal(expectOk(emoji).domain.decision.reason.length, 1000, '500 characters outside the BMP (2000 bytes) are 500 characters');
  const over = await call('POST', path, { token: T.domainsAdmin, body: { decision: 'rejected', reason: 'é'.repeat(501) } });
  expectError(over, 400, 'invalid_body');
  assert.equal(over.error.details.path, '$.reason');
});

// ---------------------------------------------------------------------------------------

describe('a decision flips routability and the router follows within the TTL', () => {
  const FLIP = 'flip.gharart-partner.com';
  const DEST = `https://${FLIP}/festive`;
  const PATH = `${FESTIVE}?promo=flip`;
  const inMobile = () => rules.find((r) => r.id === 'in-mobile').destination;
  let version;

  test('a verified but high-risk domain: a rule to it is accepted, flagged, and skipped by the router', async () => {
    const added = expectOk(await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body: { domain: FLIP, risk_score: 80 } }), 201);
    doh.answer(`_gharart-verify.${FLIP}`, { txt: [added.domain.token] });
    const verified = expectOk(await call('POST', `${V2}/destination-domains/${FLIP}/verify`, { token: T.domainsWrite }));
    assert.equal(verified.domain.verification, 'verified');
    assert.equal(verified.domain.routable, false);
    assert.equal(verified.domain.not_routable.code, 'risk_too_high');
    assert.equal(verified.domain.not_routable.score, 80);

    const put = await call('PUT', `${V2}/personalization-rules/partner-flip`, {
      token: T.rulesWrite,
      body: { priority: 5, entries: ['festive'], conditions: { query: { promo: { in: ['flip'] } } }, destination: DEST },
    });
    const out = expectOk(put, 201);
    assert.equal(out.created, true);
    assert.equal(out.rule.routable, false, 'flagged in the response');
    assert.ok(out.rule.warnings.some((w) => w.code === 'unroutable_destination' && w.severity === 'warning'), JSON.stringify(out.rule.warnings));
    version = out.version;
    const since = Date.now();
    const res = await routerFollows(PATH, {}, (r) => snapshotVersion(r) >= version, { since, what: `the router serving v${version}` });
    assert.equal(res.status, 302);
    assert.equal(`${res.url.origin}${res.url.pathname}`, inMobile(), 'the unroutable rule is skipped');
    const trace = await explain({ promo: 'flip' });
    const step = trace.rules.find((s) => s.id === 'partner-flip');
    assert.equal(step.result, 'skipped');
    assert.match(step.reason, /not routable/);
    const listed = await ruleView('partner-flip');
    assert.equal(listed.routable, false);
  });

  test('approving it (domains:admin) makes it routable; within the TTL the live redirect goes there', async () => {
    const res = await call('POST', `${V2}/destination-domains/${FLIP}/decision`, {
      token: T.domainsAdmin,
      body: { decision: 'approved', reason: 'partner contract signed; score is from a new certificate' },
    });
    const out = expectOk(res);
    const since = Date.now();
    assert.equal(out.domain.routable, true, 'a manual approval overrides the risk score');
    assert.equal(out.domain.decision.value, 'approved');
    assert.equal(out.version, version + 1);
    version = out.version;
    const followed = await routerFollows(PATH, {}, (r) => r.status === 302 && r.url.hostname === FLIP, { since, what: `a redirect to ${FLIP}` });
    assert.equal(`${followed.url.origin}${followed.url.pathname}`, DEST);
    assert.equal(snapshotVersion(followed), version);
    assert.equal((await ruleView('partner-flip')).routable, true);
    // Visitors without the promo query are untouched.
    const other = await visit(FESTIVE);
    assert.equal(`${other.url.origin}${other.url.pathname}`, inMobile());
  });

  test('rejecting it stops the redirect within the TTL', async () => {
    const out = expectOk(
      await call('POST', `${V2}/destination-domains/${FLIP}/decision`, { token: T.domainsAdmin, body: { decision: 'rejected', reason: 'contract withdrawn' } }),
    );
    const since = Date.now();
    assert.equal(out.domain.routable, false);
    assert.equal(out.domain.not_routable.code, 'rejected');
    const back = await routerFollows(PATH, {}, (r) => r.status === 302 && r.url.hostname !== FLIP, { since, what: `no more redirects to ${FLIP}` });
    assert.equal(`${back.url.origin}${back.url.pathname}`, inMobile());
    assert.equal(snapshotVersion(back), out.version);
  });
});

// ---------------------------------------------------------------------------------------

describe('personalization rules', () => {
  test('the list is in evaluation order with routability and warnings', async () => {
    const body = await listRules(T.rulesRead);
    assert.equal(body.handle, HANDLE);
    const ids = body.rules.map((r) => r.id);
    for (const r of rules) assert.ok(ids.includes(r.id), `${r.id} listed`);
    const order = body.rules.map((r) => [r.priority, r.id]);
    const sorted = [...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    assert.deepEqual(order, sorted, 'sorted by (priority, id)');
    const pending = body.rules.find((r) => r.id === 'in-deals-pending');
    assert.equal(pending.routable, false);
    assert.ok(pending.warnings.some((w) => w.code === 'unroutable_destination'));
    const inMobile = body.rules.find((r) => r.id === 'in-mobile');
    assert.equal(inMobile.routable, true);
    assert.deepEqual(inMobile.warnings, []);
    assert.deepEqual(
      { ...inMobile, routable: undefined, warnings: undefined },
      { ...rules.find((r) => r.id === 'in-mobile'), routable: undefined, warnings: undefined },
      'the stored document is shown as written',
    );
    assert.equal(body.rules.find((r) => r.id === 'in-mobile-2025').enabled, false);
  });

  test('PUT creates (201) then replaces (200); the body id may be left out or must match', async () => {
    const path = `${V2}/personalization-rules/campaign-probe.v1`;
    const rule = { priority: 8, entries: ['festive'], conditions: { query: { probe: { in: ['put'] } } }, destination: 'https://www.gharart.com/festive/put-probe' };
    const v0 = await currentVersion();
    const created = expectOk(await call('PUT', path, { token: T.rulesWrite, body: rule }), 201);
    assert.equal(created.created, true);
    assert.equal(created.version, v0 + 1);
    assert.equal(created.rule.id, 'campaign-probe.v1');
    assert.equal(created.rule.routable, true);
    const replaced = expectOk(await call('PUT', path, { token: T.rulesWrite, body: { ...rule, id: 'campaign-probe.v1', priority: 9 } }));
    assert.equal(replaced.created, false);
    assert.equal(replaced.rule.priority, 9);
    assert.equal(replaced.version, v0 + 2);
    const listed = (await listRules()).rules.filter((r) => r.id === 'campaign-probe.v1');
    assert.equal(listed.length, 1);
    assert.equal(listed[0].priority, 9);
    const mismatch = await call('PUT', path, { token: T.rulesWrite, body: { ...rule, id: 'another-id' } });
    expectError(mismatch, 400, 'invalid_body');
    assert.equal(mismatch.error.details.path, '$.id');
    const badId = await call('PUT', `${V2}/personalization-rules/${enc('bad id!')}`, { token: T.rulesWrite, body: rule });
    expectError(badId, 400, 'invalid_parameter');
    assert.equal(await currentVersion(), v0 + 2);
  });

  test('PUT with many problems: 422 validation_failed listing each with its code and $-relative path', async () => {
    const v0 = await currentVersion();
    const res = await call('PUT', `${V2}/personalization-rules/broken`, {
      token: T.rulesWrite,
      body: {
        priority: 5,
        entries: ['festive', 'no-such-entry'],
        conditions: {
          country: { in: ['IN', 'India'] },
          device: { in: ['phone'] },
          continent: { in: ['Europe'] },
          time: { start: 'tomorrow' },
        },
        destination: 'http://www.gharart.com/festive',
        template: 'no-such-template',
      },
    });
    const error = expectError(res, 422, 'validation_failed');
    const errors = error.details.filter((d) => d.severity === 'error');
    const found = errors.map((d) => [d.code, d.path]);
    for (const [code, path] of [
      ['unknown_entry', '$.entries[1]'],
      ['invalid_country', '$.conditions.country.in[1]'],
      ['invalid_device', '$.conditions.device.in[0]'],
      ['invalid_continent', '$.conditions.continent.in[0]'],
      ['invalid_url', '$.destination'],
      ['unknown_template', '$.template'],
    ]) {
      assert.ok(found.some(([c, p]) => c === code && p === path), `${code} at ${path} in ${JSON.stringify(found)}`);
    }
    assert.ok(found.some(([, p]) => p.startsWith('$.conditions.time')), `the bad time is reported: ${JSON.stringify(found)}`);
    for (const d of errors) {
      assert.ok(d.path.startsWith('$'), `every error path is $-relative: ${JSON.stringify(d)}`);
      assert.equal(typeof d.message, 'string');
      assert.ok(d.message.length > 0);
    }
    // Warnings about the rest of the configuration (other rules' unroutable destinations)
    // ride along with their configuration paths; see the report.
    for (const d of error.details.filter((x) => x.severity === 'warning')) assert.doesNotMatch(d.path, /^\$/, JSON.stringify(d));
    assert.match(error.message, /\d+ validation error/);
    assert.equal(await currentVersion(), v0);
    assert.equal(await ruleView('broken'), undefined, 'nothing stored');
  });

  test('malformed JSON is 400 invalid_json with line and column; shape errors name their path', async () => {
    const path = `${V2}/personalization-rules/shape-probe`;
    const malformed = await call('PUT', path, { token: T.rulesWrite, raw: true, body: '{\n  "priority": 5,\n  "entries": ["festive"]\n  "destination": "x"\n}' });
    const e1 = expectError(malformed, 400, 'invalid_json');
    assert.match(e1.message, /line 4 column \d+/, e1.message);
    expectError(await call('PUT', path, { token: T.rulesWrite, raw: true, body: '' }), 400, 'invalid_json');
    expectError(await call('PUT', path, { token: T.rulesWrite, raw: true, body: '{"priority": 5,' }), 400, 'invalid_json');
    for (const [body, where, mentions] of [
      [{ priority: 5, entries: ['festive'], conditions: { country: { in: ['IN'], bogus: 1 } } }, '$.conditions.country.bogus', /bogus/],
      [{ priority: 5, entries: ['festive'], destination: 'https://www.gharart.com/', colour: 'red' }, '$.colour', /colour/],
      [{ priority: 'high', entries: ['festive'] }, '$.priority', /./],
      [{ priority: 5, entries: 'festive' }, '$.entries', /./],
      [{ priority: 5, entries: ['festive'], conditions: { asn: { in: ['AS123'] } } }, '$.conditions.asn.in[0]', /./],
      [{ priority: 5, entries: ['festive'], conditions: { query: { utm_source: { in: [1] } } } }, '$.conditions.query.utm_source.in[0]', /./],
      [['not', 'an', 'object'], '$', /object/],
    ]) {
      const res = await call('PUT', path, { token: T.rulesWrite, body });
      const e = expectError(res, 400, 'invalid_body');
      assert.equal(e.details?.path, where, `${JSON.stringify(body)}: ${e.message}`);
      assert.match(e.message, mentions);
    }
    assert.equal(await ruleView('shape-probe'), undefined);
  });

  test('a rule change via PUT changes the live redirect within the TTL', async () => {
    const original = rules.find((r) => r.id === 'in-mobile');
    const before = await visit(FESTIVE);
    assert.equal(`${before.url.origin}${before.url.pathname}`, original.destination);
    const edited = { ...original, destination: 'https://m.gharart.in/festive-live-edit' };
    const out = expectOk(await call('PUT', `${V2}/personalization-rules/in-mobile`, { token: T.rulesWrite, body: edited }));
    const since = Date.now();
    assert.equal(out.created, false);
    const res = await routerFollows(FESTIVE, {}, (r) => r.url?.pathname === '/festive-live-edit', { since, what: 'the edited in-mobile destination' });
    assert.equal(res.url.hostname, 'm.gharart.in');
    assert.equal(snapshotVersion(res), out.version, 'X-Snapshot-Version is the version the write returned');
    assert.equal(res.url.searchParams.get('gh_rule'), 'in-mobile', 'the tracking template still applies');
    // Put it back.
    const restored = expectOk(await call('PUT', `${V2}/personalization-rules/in-mobile`, { token: T.rulesWrite, body: original }));
    await routerFollows(FESTIVE, {}, (r) => r.url?.pathname === '/festive', { since: Date.now(), what: 'the restored in-mobile destination' });
    assert.equal(restored.version, out.version + 1);
  });

  test('DELETE removes a rule (the router stops using it); deleting again is 404 rule_not_found', async () => {
    const path = `${V2}/personalization-rules/campaign-probe.v1`;
    const before = await visit(`${FESTIVE}?probe=put`);
    assert.equal(before.url.pathname, '/festive/put-probe');
    const out = expectOk(await call('DELETE', path, { token: T.rulesWrite }));
    const since = Date.now();
    assert.equal(out.deleted, 'campaign-probe.v1');
    assert.equal(await ruleView('campaign-probe.v1'), undefined);
    await routerFollows(`${FESTIVE}?probe=put`, {}, (r) => r.url?.pathname === '/festive', { since, what: 'the deleted rule no longer wins' });
    const again = await call('DELETE', path, { token: T.rulesWrite });
    expectError(again, 404, 'rule_not_found');
    expectError(await call('DELETE', `${V2}/personalization-rules/campaign-probe.v1`, { token: T.rulesRead }), 403, 'insufficient_scope');
  });
});

// ---------------------------------------------------------------------------------------

describe('tracking templates', () => {
  test('the list matches the rule files', async () => {
    const body = await listTemplates(T.templatesRead);
    assert.equal(body.default_template, 'festive-utm');
    assert.deepEqual(
      body.templates.map((t) => t.id).sort(),
      templates.map((t) => t.id).sort(),
    );
    assert.deepEqual(body.templates.find((t) => t.id === 'whatsapp-utm'), templates.find((t) => t.id === 'whatsapp-utm'));
  });

  test('POST creates (201) and replaces (200) a template; a rule using it fills the placeholders live', async () => {
    const template = { id: 'partner-utm', params: { utm_source: 'gharart-edge', utm_medium: 'partner', utm_campaign: '{entry}-{handle}', pr: '{rule}', where: '{country}-{device}' } };
    const created = expectOk(await call('POST', `${V2}/tracking-templates`, { token: T.templatesWrite, body: template }), 201);
    assert.equal(created.created, true);
    assert.deepEqual(created.template, template);
    const replaced = expectOk(await call('POST', `${V2}/tracking-templates`, { token: T.templatesWrite, body: { ...template, params: { ...template.params, utm_medium: 'partner-v2' } } }));
    assert.equal(replaced.created, false);
    assert.equal(replaced.version, created.version + 1);
    const rule = { priority: 6, entries: ['festive'], conditions: { query: { probe: { in: ['template'] } } }, destination: 'https://www.gharart.com/festive/template-probe', template: 'partner-utm' };
    const put = expectOk(await call('PUT', `${V2}/personalization-rules/template-probe`, { token: T.rulesWrite, body: rule }), 201);
    const res = await routerFollows(`${FESTIVE}?probe=template`, {}, (r) => r.url?.pathname === '/festive/template-probe', { since: Date.now(), what: 'the template probe rule' });
    assert.ok(snapshotVersion(res) >= put.version);
    const q = res.url.searchParams;
    assert.equal(q.get('utm_medium'), 'partner-v2');
    assert.equal(q.get('utm_campaign'), 'festive-gharart');
    assert.equal(q.get('pr'), 'template-probe');
    assert.equal(q.get('where'), 'IN-mobile');
  });

  test('a template with an unknown placeholder is refused with its path, and the router keeps the old snapshot', async () => {
    const v0 = await currentVersion();
    const live = await routerFollows(FESTIVE, {}, (r) => snapshotVersion(r) === v0, { since: Date.now(), what: `the router on v${v0}` });
    assert.equal(live.url.searchParams.get('utm_content'), 'IN-mobile');
    const festiveUtm = templates.find((t) => t.id === 'festive-utm');
    const broken = { ...festiveUtm, params: { ...festiveUtm.params, utm_content: '{country}-{devise}', gh_x: '{unbalanced' } };
    const res = await call('POST', `${V2}/tracking-templates`, { token: T.templatesWrite, body: broken });
    const error = expectError(res, 422, 'validation_failed');
    const found = error.details.filter((d) => d.severity === 'error').map((d) => [d.code, d.path]);
    assert.ok(found.some(([c, p]) => c === 'invalid_placeholder' && p === '$.params.utm_content'), JSON.stringify(found));
    assert.ok(found.some(([, p]) => p === '$.params.gh_x'), JSON.stringify(found));
    // A rule naming a template that does not exist, and a new template that is broken.
    expectError(await call('PUT', `${V2}/personalization-rules/ghost-template`, { token: T.rulesWrite, body: { priority: 6, entries: ['festive'], destination: 'https://www.gharart.com/', template: 'ghost' } }), 422, 'validation_failed');
    expectError(await call('POST', `${V2}/tracking-templates`, { token: T.templatesWrite, body: { id: 'brand-new', params: { x: '{nope}' } } }), 422, 'validation_failed');
    const unknown = await call('POST', `${V2}/tracking-templates`, { token: T.templatesWrite, body: { id: 'x', params: {}, owner: 'me' } });
    expectError(unknown, 400, 'invalid_body');
    assert.equal(unknown.error.details.path, '$.owner');
    assert.equal(await currentVersion(), v0, 'no version was published');
    assert.deepEqual((await listTemplates()).templates.find((t) => t.id === 'festive-utm'), festiveUtm);
    await sleep(TTL_SECONDS * 1000 + 200);
    const still = await visit(FESTIVE);
    assert.equal(snapshotVersion(still), v0, 'the router still serves the old version');
    assert.equal(still.url.searchParams.get('utm_content'), 'IN-mobile');
    const stored = await worker.d1(`SELECT version FROM documents WHERE handle = '${HANDLE}'`);
    assert.equal(stored[0].results[0].version, v0, 'D1 holds the old version too');
  });

  test('there is no template deletion route: DELETE is 405 with Allow', async () => {
    const res = await call('DELETE', `${V2}/tracking-templates`, { token: T.admin });
    expectError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'GET, POST');
  });
});

// ---------------------------------------------------------------------------------------

describe('preview tokens', () => {
  test('minting needs the preview scope; the token unlocks overrides and names who minted it', async () => {
    expectError(await call('POST', `${V2}/preview-tokens`, { token: T.rulesWrite }), 403, 'insufficient_scope');
    const res = await call('POST', `${V2}/preview-tokens`, { token: T.preview, body: { ttl_seconds: 120 } });
    const out = expectOk(res, 201);
    assert.equal(out.handle, HANDLE);
    assert.ok(Math.abs(out.expires_at - (nowS() + 120)) <= 5, `${out.expires_at}`);
    const q = new URLSearchParams({ __preview: out.token, __country: 'AE', __lang: 'ar', __device: 'desktop', __explain: '1' });
    const trace = (await visit(`${FESTIVE}?${q}`)).json();
    assert.equal(trace.preview, true);
    assert.deepEqual(trace.facts.country, { value: 'AE', source: 'override' });
    assert.equal(trace.rule, 'ae-arabic');
    assert.equal(trace.preview_sub, 'marketer@gharart.com');
    // Without a body: the default lifetime (an hour).
    const plain = expectOk(await call('POST', `${V2}/preview-tokens`, { token: T.preview }), 201);
    assert.ok(Math.abs(plain.expires_at - (nowS() + 3600)) <= 5);
  });

  test('a bad lifetime or an unknown field is 400 with the path', async () => {
    for (const [body, where] of [
      [{ ttl_seconds: 0 }, '$.ttl_seconds'],
      [{ ttl_seconds: 86_401 }, '$.ttl_seconds'],
      [{ ttl_seconds: 'soon' }, '$.ttl_seconds'],
      [{ handle: 'other-shop' }, '$.handle'],
    ]) {
      const res = await call('POST', `${V2}/preview-tokens`, { token: T.preview, body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, where, JSON.stringify(body));
    }
  });

  test('a token minted for another handle does not unlock gharart overrides', async () => {
    expectError(await call('POST', '/v2/handles/other-shop/preview-tokens', { token: T.preview }), 403, 'wrong_handle');
    const { token } = await worker.previewToken({ handle: 'other-shop' });
    const q = new URLSearchParams({ __preview: token, __country: 'AE', __lang: 'ar', __explain: '1' });
    const res = await visit(`${FESTIVE}?${q}`);
    assert.notEqual(res.status, 200, 'no explain trace without a valid token');
  });
});

// ---------------------------------------------------------------------------------------

describe('route preview matrix', { todo: pending('/v2/handles/{handle}/route-preview') }, () => {
  const path = (q) => `${V2}/route-preview?${new URLSearchParams(q)}`;

  test('countries x devices for an entry: each cell names its rule and final location', async () => {
    const out = expectOk(await call('GET', path({ entry: 'festive', countries: 'IN,AE,unknown', devices: 'desktop,mobile' }), { token: T.preview }));
    assert.equal(out.entry, 'festive');
    assert.deepEqual(out.countries, ['IN', 'AE', null]);
    assert.deepEqual(out.devices, ['desktop', 'mobile']);
    assert.equal(out.cells.length, 6);
    const cell = (country, device) => out.cells.find((c) => c.country === country && c.device === device);
    const inMobile = cell('IN', 'mobile');
    assert.equal(inMobile.rule, 'in-mobile');
    assert.equal(inMobile.outcome, 'rule');
    assert.equal(new URL(inMobile.location).origin + new URL(inMobile.location).pathname, 'https://m.gharart.in/festive');
    const inDesktop = cell('IN', 'desktop');
    assert.equal(inDesktop.rule, 'in-desktop-diwali-ab');
    assert.equal(inDesktop.campaign.id, 'diwali-hero-ab');
    assert.deepEqual(inDesktop.campaign.variants.map((v) => [v.key, v.weight]), [['control', 50], ['story', 50]]);
    assert.equal(cell(null, 'desktop').rule, 'rest-of-world');
    for (const c of out.cells) {
      assert.ok(out.legend[c.legend], `cell legend index ${c.legend}`);
      if (c.location) assert.ok(list.isRoutableHost(new URL(c.location).hostname) || new URL(c.location).hostname.endsWith('gharart.com'), c.location);
    }
    assert.equal(out.legend.reduce((n, l) => n + l.cells, 0), out.cells.length);
  });

  test('defaults, an unknown entry (404) and a bad country (400)', async () => {
    const out = expectOk(await call('GET', path({ entry: 'festive' }), { token: T.preview }));
    assert.deepEqual(out.countries.slice(0, 5), ['IN', 'AE', 'GB', 'US', 'DE']);
    assert.equal(out.countries.at(-1), null);
    assert.deepEqual(out.devices.slice(0, 3), ['desktop', 'mobile', 'tablet']);
    assert.equal(typeof out.version, 'number');
    // At a given time: the Dhanteras flash rule wins for India on its day.
    const dhanteras = expectOk(await call('GET', path({ entry: 'festive', countries: 'IN', devices: 'mobile', at: '2026-11-06T12:00:00+05:30' }), { token: T.preview }));
    assert.equal(dhanteras.cells[0].rule, 'dhanteras-flash');
    assert.equal(Date.parse(dhanteras.at), Date.parse('2026-11-06T12:00:00+05:30'));
    for (const [q, name] of [
      [{ entry: 'festive', at: 'yesterday' }, 'at'],
      [{ entry: 'festive', devices: 'phone' }, 'devices'],
      [{}, 'entry'],
    ]) {
      const res = await call('GET', path(q), { token: T.preview });
      expectError(res, 400, 'invalid_parameter');
      assert.ok(res.error.message.startsWith(`${name}:`), res.error.message);
    }
    expectError(await call('GET', path({ entry: 'no-such-entry' }), { token: T.preview }), 404, 'entry_not_found');
    const bad = await call('GET', path({ entry: 'festive', countries: 'IN,India' }), { token: T.preview });
    expectError(bad, 400, 'invalid_parameter');
    assert.match(bad.error.message, /India/);
    expectError(await call('GET', path({ entry: 'festive' }), { token: T.rulesRead }), 403, 'insufficient_scope');
  });
});

describe('rule audit', { todo: pending('/v2/handles/{handle}/rule-audit') }, () => {
  test('collisions, unroutable destinations (incl. rules accepted but flagged)', async () => {
    const out = expectOk(await call('GET', `${V2}/rule-audit`, { token: T.rulesRead }));
    assert.equal(out.handle, HANDLE);
    const collision = out.priority_collisions.find((c) => c.rules.includes('ae-arabic') && c.rules.includes('gulf-arabic'));
    assert.ok(collision, JSON.stringify(out.priority_collisions.map((c) => c.rules)));
    assert.equal(collision.priority, 30);
    assert.equal(collision.wins, 'ae-arabic');
    const unroutable = (rule) => out.unroutable.find((u) => u.rules.includes(rule));
    assert.equal(unroutable('in-deals-pending').reason.code, 'unverified');
    assert.equal(unroutable('gulf-sale-shop').reason.code, 'rejected');
    assert.equal(unroutable('eu-festive-net').reason.code, 'risk_too_high');
    // partner-flip was accepted while its domain was rejected: the audit flags it too.
    assert.equal(unroutable('partner-flip').reason.code, 'rejected');
    assert.ok(out.unroutable.some((u) => u.kind === 'entry_default' && u.entries.includes('partner-offers')));
    assert.equal(out.summary.unroutable, out.unroutable.length);
    assert.equal(out.summary.priority_collisions, out.priority_collisions.length);
    expectError(await call('GET', `${V2}/rule-audit`, { token: T.preview }), 403, 'insufficient_scope');
  });
});

// ---------------------------------------------------------------------------------------

describe('idempotency keys', () => {
  test('same key and body replays the stored response (same version, Idempotent-Replayed); one write happened', async () => {
    const key = `add-${Date.now()}`;
    const body = { domain: 'idem.gharart-partner.com', risk_score: 5 };
    const first = await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body, idempotencyKey: key });
    const out = expectOk(first, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body, idempotencyKey: key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, out, 'the same response: same version, same token');
    assert.notEqual(again.requestId, first.requestId, 'a replay is a request of its own');
    const listed = await listDomains();
    assert.equal(listed.version, out.version, 'no second write');
    assert.equal(listed.domains.filter((d) => d.domain === 'idem.gharart-partner.com').length, 1);
    // Without the key the same body is a real second attempt.
    expectError(await call('POST', `${V2}/destination-domains`, { token: T.domainsScorer, body }), 409, 'domain_exists');
  });

  test('same key with another body, or on another route, is 409 idempotency_key_reuse', async () => {
    const key = `reuse-${Date.now()}`;
    const rule = { priority: 7, entries: ['festive'], conditions: { query: { probe: { in: ['idem'] } } }, destination: 'https://www.gharart.com/festive/idem' };
    const first = expectOk(await call('PUT', `${V2}/personalization-rules/idem-probe`, { token: T.rulesWrite, body: rule, idempotencyKey: key }), 201);
    const v = await currentVersion();
    const changed = await call('PUT', `${V2}/personalization-rules/idem-probe`, { token: T.rulesWrite, body: { ...rule, priority: 8 }, idempotencyKey: key });
    expectError(changed, 409, 'idempotency_key_reuse');
    const otherPath = await call('PUT', `${V2}/personalization-rules/idem-probe-2`, { token: T.rulesWrite, body: rule, idempotencyKey: key });
    expectError(otherPath, 409, 'idempotency_key_reuse');
    // Whitespace-only differences are another body too (the key guards the exact request).
    const reformatted = await call('PUT', `${V2}/personalization-rules/idem-probe`, { token: T.rulesWrite, raw: true, body: JSON.stringify(rule, null, 2), idempotencyKey: key });
    expectError(reformatted, 409, 'idempotency_key_reuse');
    assert.equal(await currentVersion(), v);
    assert.equal((await ruleView('idem-probe')).priority, 7);
    assert.equal(first.version, v);
  });

  test('an error answer (4xx) is stored and replayed too; a 503 is not, so a retry runs for real', async () => {
    const key = `err-${Date.now()}`;
    const bad = { priority: 7, entries: ['nope'], destination: 'https://www.gharart.com/' };
    const first = await call('PUT', `${V2}/personalization-rules/idem-bad`, { token: T.rulesWrite, body: bad, idempotencyKey: key });
    expectError(first, 422, 'validation_failed');
    const replay = await call('PUT', `${V2}/personalization-rules/idem-bad`, { token: T.rulesWrite, body: bad, idempotencyKey: key });
    expectError(replay, 422, 'validation_failed');
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.error.details, first.error.details);
    assert.notEqual(replay.requestId, first.requestId);

    const NAME = 'idem.gharart-partner.com';
    const record = `_gharart-verify.${NAME}`;
    const token = (await domainView(NAME)).token;
    const vkey = `verify-${Date.now()}`;
    doh.answer(record, { http: 500, body: 'down' });
    const down = await call('POST', `${V2}/destination-domains/${NAME}/verify`, { token: T.domainsWrite, idempotencyKey: vkey, allow503: true });
    expectError(down, 503, 'resolver_unavailable');
    doh.answer(record, { txt: [token] });
    const retry = await call('POST', `${V2}/destination-domains/${NAME}/verify`, { token: T.domainsWrite, idempotencyKey: vkey });
    const out = expectOk(retry);
    assert.equal(retry.headers.get('idempotent-replayed'), null, 'the 503 was not stored: the retry ran');
    assert.equal(out.domain.verification, 'verified');
  });

  test('a replayed error carries the replay\'s request id in error.request_id, the rest as stored', async () => {
    const key = `err-id-${Date.now()}`;
    const bad = { priority: 7, entries: ['nope'], destination: 'https://www.gharart.com/' };
    const first = await call('PUT', `${V2}/personalization-rules/idem-bad-2`, { token: T.rulesWrite, body: bad, idempotencyKey: key });
    expectError(first, 422, 'validation_failed');
    const replay = await call('PUT', `${V2}/personalization-rules/idem-bad-2`, { token: T.rulesWrite, body: bad, idempotencyKey: key });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.notEqual(replay.requestId, first.requestId);
    assert.equal(replay.error.request_id, replay.requestId, 'error.request_id equals X-Request-Id');
    assert.deepEqual({ ...replay.error, request_id: null }, { ...first.error, request_id: null }, 'otherwise the stored error');
  });

  test('a malformed Idempotency-Key is 400 invalid_parameter; reads ignore the header', async () => {
    const body = { domain: 'key-probe.gharart-partner.com' };
    for (const key of ['k'.repeat(256), 'has space', 'tab\there']) {
      const res = await call('POST', `${V2}/destination-domains`, { token: T.domainsWrite, body, idempotencyKey: key });
      expectError(res, 400, 'invalid_parameter');
      assert.match(res.error.message, /Idempotency-Key/);
    }
    expectOk(await call('GET', `${V2}/destination-domains`, { token: T.domainsRead, idempotencyKey: 'has space' }));
  });

  test('concurrent identical retries: exactly one write (the version is bumped once)', async () => {
    const key = `race-${Date.now()}`;
    const rule = { priority: 7, entries: ['festive'], conditions: { query: { probe: { in: ['race'] } } }, destination: 'https://www.gharart.com/festive/race' };
    const v0 = await currentVersion();
    const token = worker.jwt({ sub: 'racer@e2e', scopes: ['rules:write'] });
    const all = await Promise.all(
      Array.from({ length: 8 }, () => call('PUT', `${V2}/personalization-rules/race-probe`, { token, body: rule, idempotencyKey: key })),
    );
    const fresh = all.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    const replays = all.filter((r) => r.headers.get('idempotent-replayed') === 'true');
    const inProgress = all.filter((r) => r.error?.code === 'idempotency_in_progress');
    assert.equal(fresh.length, 1, `one original: ${all.map((r) => `${r.status} ${r.error?.code ?? ''}`).join(', ')}`);
    assert.equal(fresh.length + replays.length + inProgress.length, all.length, all.map((r) => r.body.slice(0, 120)).join('\n'));
    for (const r of replays) assert.deepEqual(r.json, fresh[0].json, 'a replay is the original response');
    for (const r of inProgress) assert.equal(r.status, 409);
    assert.equal(fresh[0].json.version, v0 + 1);
    assert.equal(await currentVersion(), v0 + 1, 'bumped once');
    // After the race settles, the key replays.
    const late = await call('PUT', `${V2}/personalization-rules/race-probe`, { token, body: rule, idempotencyKey: key });
    assert.equal(late.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(late.json, fresh[0].json);
  });

  test('concurrent different writes all land (compare-and-swap retries): consecutive versions, nothing lost', async () => {
    const v0 = await currentVersion();
    const ids = Array.from({ length: 5 }, (_, i) => `cas-probe-${i}`);
    const all = await Promise.all(
      ids.map((id, i) =>
        call('PUT', `${V2}/personalization-rules/${id}`, {
          token: worker.jwt({ sub: `cas-${i}@e2e`, scopes: ['rules:write'] }),
          body: { priority: 7, entries: ['festive'], conditions: { query: { probe: { in: [id] } } }, destination: `https://www.gharart.com/festive/${id}` },
        }),
      ),
    );
    const statuses = all.map((r) => `${r.status} ${r.error?.code ?? ''}`);
    const landed = all.filter((r) => r.status === 201);
    // A write that lost the race more often than the retries allow may say write_conflict
    // (409, retry): acceptable, but nothing may be lost or doubled.
    for (const r of all) assert.ok(r.status === 201 || r.error?.code === 'write_conflict', statuses.join(', '));
    const versions = landed.map((r) => r.json.version).sort((a, b) => a - b);
    assert.deepEqual(versions, Array.from({ length: landed.length }, (_, i) => v0 + 1 + i), `versions ${versions}`);
    const listed = await listRules();
    assert.equal(listed.version, v0 + landed.length);
    for (const r of landed) assert.ok(listed.rules.some((x) => x.id === r.json.rule.id), `${r.json.rule.id} stored`);
    assert.ok(landed.length >= 1, statuses.join(', '));
  });
});

// ---------------------------------------------------------------------------------------

describe('routing, errors and limits', () => {
  test('unknown paths are 404 route_not_found, even without a token', async () => {
    for (const path of ['/v2', '/v2/', '/v2/nope', `${V2}/nope`, '/v2/handles//destination-domains', `${V2}/destination-domains/a/b/c`, '/V2/handles/gharart/destination-domains']) {
      const res = await call('GET', path);
      expectError(res, 404, 'route_not_found');
    }
  });

  test('a known path with another method is 405 with Allow and details.allowed', async () => {
    for (const [method, path, allow] of [
      ['PATCH', `${V2}/personalization-rules/in-mobile`, 'PUT, DELETE'],
      ['GET', `${V2}/personalization-rules/in-mobile`, 'PUT, DELETE'],
      ['DELETE', `${V2}/destination-domains`, 'GET, POST'],
      ['GET', `${V2}/destination-domains/www.gharart.com/verify`, 'POST'],
      ['POST', '/v2/openapi.json', 'GET'],
      ['PUT', `${V2}/preview-tokens`, 'POST'],
    ]) {
      const res = await call(method, path, { token: T.admin });
      expectError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      assert.deepEqual(res.error.details.allowed, allow.split(', '));
    }
  });

  test('HEAD is answered as GET: same status and headers, no body; never a write', async () => {
    const head = async (path, opts = {}) => {
      const res = await worker.api('HEAD', path, opts);
      responses.push(res);
      assert.match(res.requestId ?? '', REQUEST_ID_RE, `HEAD ${path}: X-Request-Id`);
      assert.equal(res.body, '', `HEAD ${path}: no body`);
      return res;
    };
    const pairs = [
      ['/v2/openapi.json', {}],
      [`${V2}/personalization-rules`, { token: T.readOnly }],
      [`${V2}/personalization-rules`, {}],
      [`${V2}/destination-domains`, { token: T.templatesRead }],
      [`${V2}/nope`, { token: T.readOnly }],
      [`${V2}/preview-tokens`, { token: T.admin }],
    ];
    for (const [path, opts] of pairs) {
      const get = await call('GET', path, opts);
      const res = await head(path, opts);
      assert.equal(res.status, get.status, `HEAD ${path}: the GET status (${get.status} ${get.error?.code ?? ''})`);
      for (const name of ['content-type', 'cache-control', 'www-authenticate', 'allow', 'x-snapshot-version']) {
        assert.equal(res.headers.get(name), get.headers.get(name), `HEAD ${path}: ${name}`);
      }
      assert.notEqual(res.requestId, get.requestId);
    }
    // The GET statuses these pairs cover: 200, 401 (missing token), 403, 404, 405.
    const v0 = await currentVersion();
    assert.equal((await head(`${V2}/personalization-rules/head-probe`, { token: T.admin })).status, 405, 'HEAD of a PUT/DELETE-only path is 405, not a write');
    assert.equal(await currentVersion(), v0);
  });

  test('a trailing slash is tolerated', async () => {
    expectOk(await call('GET', `${V2}/destination-domains/`, { token: T.readOnly }));
  });

  test('a body over the default 64 KiB limit is 413 body_too_large (declared or streamed)', async () => {
    const v0 = await currentVersion();
    const big = { priority: 7, entries: ['festive'], description: 'x'.repeat(70 * 1024) };
    const declared = await call('PUT', `${V2}/personalization-rules/too-big`, { token: T.rulesWrite, body: big });
    expectError(declared, 413, 'body_too_large');
    assert.match(declared.error.message, /65536/);
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= 5) controller.close();
        else {
          sent += 1;
          controller.enqueue(chunk);
        }
      },
    });
    const streamed = await call('PUT', `${V2}/personalization-rules/too-big`, { token: T.rulesWrite, raw: true, body: stream });
    expectError(streamed, 413, 'body_too_large');
    assert.equal(await currentVersion(), v0);
  });

  test('an expiring PAT and the read-only PAT read everything they are scoped for, and nothing else', async () => {
    expectOk(await call('GET', `${V2}/personalization-rules`, { token: T.readOnly }));
    expectOk(await call('GET', `${V2}/tracking-templates`, { token: T.readOnly }));
    expectError(await call('POST', `${V2}/tracking-templates`, { token: T.readOnly, body: { id: 'x', params: {} } }), 403, 'insufficient_scope');
    expectError(await call('POST', `${V2}/preview-tokens`, { token: T.readOnly }), 403, 'insufficient_scope');
  });
});

describe('a snapshot published to KV outside the API (router push, make dev)', () => {
  test('with a higher version it is adopted by the API, and the next write continues from it', async () => {
    const pushed = 5000;
    await worker.putKv(`snapshot:${HANDLE}`, await worker.snapshotFile(pushed));
    const listed = await listRules();
    assert.equal(listed.version, pushed, 'the higher version wins');
    assert.ok(!listed.rules.some((r) => r.id === 'partner-flip'), 'its configuration is the pushed one');
    const out = expectOk(await call('PUT', `${V2}/personalization-rules/after-push`, { token: T.rulesWrite, body: { priority: 7, entries: ['festive'], conditions: { query: { probe: { in: ['push'] } } }, destination: 'https://www.gharart.com/festive/push' } }), 201);
    assert.equal(out.version, pushed + 1);
    const stored = await worker.d1(`SELECT version FROM documents WHERE handle = '${HANDLE}'`);
    assert.equal(stored[0].results[0].version, pushed + 1, 'D1 follows');
    const res = await routerFollows(`${FESTIVE}?probe=push`, {}, (r) => r.url?.pathname === '/festive/push', { since: Date.now(), what: 'the write after the push' });
    assert.equal(snapshotVersion(res), pushed + 1);
  });
});

describe('over every API response of this file', () => {
  test('X-Request-Id is present and unique; no 5xx but the deliberate resolver 503s', () => {
    assert.ok(responses.length > 150, `${responses.length} responses`);
    const ids = responses.map((r) => r.requestId);
    assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    for (const r of responses) {
      if (r.status >= 500) assert.ok(deliberate503.has(r.requestId), `${r.method} ${r.path} answered ${r.status}`);
    }
    assert.ok(deliberate503.size >= 5);
  });
});
