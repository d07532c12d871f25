// The change history and restore end to end against workerd (local D1 with the
// migrations, local KV seeded with rules/gharart): a rule change is recorded with who,
// the route and the request id; restoring the earlier version through the API makes the
// live redirect go back within SNAPSHOT_TTL_SECONDS; `router history` and `router
// restore` (the CLI binary) do the same; and a restore never brings trust back: the evil
// configuration (a domain claimed verified, approved and scored) and a domain since
// rejected never produce an off-list Location through a restore.
//
// Tests run in file order and share one worker; each builds on the versions the earlier
// ones wrote (kept in `v`).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, ROUTER, UA, startWorker, waitFor } from './harness.mjs';
import { allowlistFromListing, checkLocation } from './observe.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const FESTIVE = `/${HANDLE}/festive`;
const TTL_SECONDS = 2;
const FOLLOW_MS = TTL_SECONDS * 1000 + 2000;
const IN_MOBILE = 'https://m.gharart.in/festive';
const SALE = 'https://m.gharart.in/sale';
const EVIL = 'evil.example';
const NET = 'festive-gharart.net';

let worker;
let T;
/** Versions written so far, by name. */
const v = {};

before(async () => {
  worker = await startWorker({
    d1Migrations: 'DB',
    vars: {
      SNAPSHOT_TTL_SECONDS: String(TTL_SECONDS),
      API_WRITES_PER_MINUTE: '100000',
      API_READS_PER_MINUTE: '100000',
    },
    pats: {
      admin: { scopes: 'admin', sub: 'admin@e2e' },
      reader: { scopes: 'history:read', sub: 'auditor@e2e' },
      rules: { scopes: 'rules:read rules:write', sub: 'rules-writer@e2e' },
    },
  });
  T = worker.pats;
});

after(async () => {
  await worker?.stop();
});

async function call(method, path, opts = {}) {
  const res = await worker.api(method, path, opts);
  assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return res;
}

function expectOk(res, status = 200) {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.body.slice(0, 500)}`);
  return res.json;
}

function expectError(res, status, code) {
  assert.equal(res.status, status, `${res.method} ${res.path}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.error?.code, code);
}

const where = (res) => (res.url ? `${res.url.origin}${res.url.pathname}` : `(${res.status})`);

/** An Indian iPhone on the festive entry, with an optional query. */
const visit = (query = '') => worker.fetch(`${FESTIVE}${query}`, { ip: IPS.IN, ua: UA.iphone });

/** Polls visits until `check` holds; fails unless within FOLLOW_MS of `since`. */
async function routerFollows(query, check, { since, what }) {
  const res = await waitFor(
    async () => {
      const r = await visit(query);
      return check(r) ? r : null;
    },
    { timeoutMs: FOLLOW_MS + 5_000, intervalMs: 150, what },
  );
  const elapsed = Date.now() - since;
  assert.ok(elapsed <= FOLLOW_MS, `${what}: the router followed after ${elapsed} ms, over the ${TTL_SECONDS} s TTL (+2 s slack)`);
  return res;
}

async function restore(version, token = T.admin) {
  return call('POST', `${V2}/changes/${version}/restore`, { token });
}

const cli = (args) => promisify(execFile)(ROUTER, args, { env: { ...process.env, ROUTER_TOKEN: T.admin } });

describe('a rule change and its restore', () => {
  test('the change is recorded with who, the route and the request id, and the live redirect follows it', async () => {
    assert.equal(where(await visit()), IN_MOBILE);
    const rules = expectOk(await call('GET', `${V2}/personalization-rules`, { token: T.admin }));
    v.seed = rules.version;
    const { id, routable, warnings, ...rule } = rules.rules.find((r) => r.id === 'in-mobile');
    const res = await call('PUT', `${V2}/personalization-rules/in-mobile`, { token: T.rules, body: { ...rule, destination: SALE } });
    const out = expectOk(res);
    const since = Date.now();
    v.sale = out.version;
    assert.equal(v.sale, v.seed + 1);
    await routerFollows('', (r) => where(r) === SALE, { since, what: 'the redirect to the sale page' });

    const list = expectOk(await call('GET', `${V2}/changes`, { token: T.reader }));
    assert.equal(list.version, v.sale);
    const [latest, baseline] = list.changes;
    assert.equal(latest.version, v.sale);
    assert.equal(latest.version_before, v.seed);
    assert.equal(latest.kind, 'change');
    assert.equal(latest.subject, 'rules-writer@e2e');
    assert.equal(latest.route, 'PUT /v2/handles/{handle}/personalization-rules/{ruleId}');
    assert.equal(latest.request_id, res.requestId);
    assert.deepEqual(latest.summary, { rules: { changed: ['in-mobile'] } });
    assert.equal(baseline.kind, 'baseline', 'the seeded snapshot is restorable');
    assert.equal(baseline.version, v.seed);

    const one = expectOk(await call('GET', `${V2}/changes/${v.sale}`, { token: T.reader }));
    const fields = one.change.diff.rules.changed[0].fields;
    assert.deepEqual(fields.find((f) => f.path === '$.destination'), { path: '$.destination', before: IN_MOBILE, after: SALE });
    expectError(await call('GET', `${V2}/changes`, { token: T.rules }), 403, 'insufficient_scope');
    // The D1 row was written in the document's batch.
    const rows = await worker.d1(`SELECT version, version_before, route FROM changes WHERE handle = '${HANDLE}' ORDER BY version`);
    assert.deepEqual(
      rows[0].results.map((r) => r.version),
      [v.seed, v.sale],
    );
  });

  test('restoring the earlier version through the API makes the live redirect go back', async () => {
    const out = expectOk(await restore(v.seed));
    const since = Date.now();
    v.restored = out.version;
    assert.equal(out.restored_from, v.seed);
    assert.equal(out.version, v.sale + 1);
    assert.ok(!out.warnings.some((w) => w.code === 'ignored_trust_field'), JSON.stringify(out.warnings));
    await routerFollows('', (r) => where(r) === IN_MOBILE, { since, what: 'the redirect back to the festive page' });
    const latest = expectOk(await call('GET', `${V2}/changes?limit=1`, { token: T.reader })).changes[0];
    assert.equal(latest.kind, 'restore');
    assert.equal(latest.restored_from, v.seed);
    assert.equal(latest.route, 'POST /v2/handles/{handle}/changes/{version}/restore');
    expectError(await restore(v.restored), 409, 'already_current');
    expectError(await restore(999999), 404, 'version_not_found');
    expectError(await restore(v.seed, T.reader), 403, 'insufficient_scope');
  });

  test('router history and router restore (the CLI binary) against the worker', async () => {
    const { stdout } = await cli(['--json', 'history', '--api', worker.base, '--limit', '2']);
    const listed = JSON.parse(stdout);
    assert.equal(listed.ok, true);
    assert.deepEqual(
      listed.changes.map((c) => c.version),
      [v.restored, v.sale],
    );
    assert.equal(listed.next_before, v.sale);
    const text = (await cli(['history', '--api', worker.base])).stdout;
    assert.match(text, new RegExp(`^v${v.restored}\\s.*restore of v${v.seed}`, 'm'));
    assert.match(text, new RegExp(`^v${v.sale}\\s.*rules-writer@e2e.*rules ~in-mobile$`, 'm'));

    const restored = JSON.parse((await cli(['--json', 'restore', String(v.sale), '--api', worker.base])).stdout);
    const since = Date.now();
    assert.equal(restored.ok, true);
    assert.equal(restored.restored_from, v.sale);
    v.cli = restored.version;
    await routerFollows('', (r) => where(r) === SALE, { since, what: 'the CLI restore of the sale page' });
    const shown = (await cli(['history', String(v.cli), '--api', worker.base])).stdout;
    assert.ok(shown.includes(`$.destination: "${IN_MOBILE}" -> "${SALE}"`), shown);
    // The CLI says what the API refused, with its code, and exits 2.
    await assert.rejects(cli(['restore', String(v.cli), '--api', worker.base]), (e) => e.code === 2 && /409 already_current/.test(e.stderr));
  });
});

describe('concurrent writes', () => {
  test('each version written has exactly its own entry: the one its request wrote', async () => {
    const writes = Array.from({ length: 6 }, (_, n) =>
      call('PUT', `${V2}/personalization-rules/race-${n}`, {
        token: T.admin,
        body: { priority: 90, entries: ['festive'], conditions: { query: { race: { in: [String(n)] } } }, destination: `https://www.gharart.com/race/${n}` },
      }),
    );
    const results = await Promise.all(writes);
    const won = results.filter((r) => r.status === 201);
    for (const r of results.filter((r) => r.status !== 201)) expectError(r, 409, 'write_conflict');
    assert.ok(won.length >= 1);
    const list = expectOk(await call('GET', `${V2}/changes?limit=100`, { token: T.reader })).changes;
    for (const res of won) {
      const entry = list.find((c) => c.version === res.json.version);
      assert.ok(entry, `version ${res.json.version} is recorded`);
      assert.equal(entry.request_id, res.requestId, `version ${res.json.version}: the entry of the request that wrote it`);
      const id = res.path.split('/').pop();
      assert.deepEqual(entry.summary, { rules: { added: [id] } });
    }
    // Versions are contiguous: nothing skipped, nothing recorded twice.
    const versions = list.map((c) => c.version);
    assert.deepEqual(versions, [...versions].sort((a, b) => b - a));
    assert.equal(new Set(versions).size, versions.length);
    assert.equal(versions[0] - versions[versions.length - 1] + 1, versions.length);
  });
});

describe('a restore never brings trust back', () => {
  const evilDomain = {
    domain: EVIL,
    verification: 'verified',
    token: 'gharart-verify=mine',
    risk_score: 0,
    decision: { value: 'approved', by: 'me', reason: 'trust me', at: '2026-11-29T00:00:00Z' },
    verified_at: '2026-11-29T00:00:00Z',
  };

  /** Visits after the TTL with several visitors; every Location must be on the allowlist the API lists now. */
  async function neverOffList(query = '') {
    await sleep(TTL_SECONDS * 1000 + 300);
    const list = allowlistFromListing(expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin })));
    for (const [ip, ua] of [[IPS.IN, UA.iphone], [IPS.IN, UA.desktop], [IPS.AE, UA.desktop], [IPS.US, UA.android]]) {
      for (const entry of ['festive', 'partner-offers', 'diwali-sale']) {
        const res = await worker.fetch(`/${HANDLE}/${entry}${query}`, { ip, ua });
        assert.ok([200, 302].includes(res.status), `${entry}: ${res.status}`);
        if (res.location) {
          const check = checkLocation(list, res.location);
          assert.ok(check.ok, `${entry}${query}: off the allowlist (${check.why}): ${res.location}`);
          assert.ok(![EVIL, NET].includes(res.url.hostname), `${entry}${query}: ${res.location}`);
        }
      }
    }
  }

  test('the evil configuration, written and restored, never produces an off-list Location', async () => {
    const current = expectOk(await call('GET', `${V2}/configuration`, { token: T.admin })).configuration;
    const evil = structuredClone(current);
    evil.domains.push(evilDomain);
    evil.entries.find((e) => e.slug === 'partner-offers').default = `https://${EVIL}/login`;
    evil.rules.push({ id: 'evil-first', priority: 0, entries: ['*'], destination: `https://${EVIL}/festive` });
    evil.risk_threshold = 100;
    v.evil = expectOk(await call('PUT', `${V2}/configuration`, { token: T.admin, body: evil })).version;
    await neverOffList();
    // The evil version is replaced, then restored: its domain comes back pending.
    expectOk(await call('PUT', `${V2}/configuration`, { token: T.admin, body: current }));
    const out = expectOk(await restore(v.evil));
    const ignored = out.warnings.filter((w) => w.code === 'ignored_trust_field' && w.id === EVIL);
    assert.ok(ignored.length > 0, JSON.stringify(out.warnings));
    const listed = expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin }));
    const domain = listed.domains.find((d) => d.domain === EVIL);
    assert.equal(domain.verification, 'pending');
    assert.equal(domain.routable, false);
    assert.equal(listed.risk_threshold, current.risk_threshold);
    await neverOffList();
    expectOk(await call('PUT', `${V2}/configuration`, { token: T.admin, body: current }));
  });

  test('a domain approved then and rejected since stays rejected through a restore', async () => {
    expectOk(await call('POST', `${V2}/destination-domains/${NET}/decision`, { token: T.admin, body: { decision: 'approved', reason: 'partner' } }));
    const rule = { priority: 0, entries: ['festive'], conditions: { query: { promo: { in: ['net'] } } }, destination: `https://${NET}/flip` };
    const routed = expectOk(await call('PUT', `${V2}/personalization-rules/net-flip`, { token: T.admin, body: rule }), 201);
    v.net = routed.version;
    let since = Date.now();
    await routerFollows('?promo=net', (r) => r.url?.hostname === NET, { since, what: `a redirect to ${NET}` });
    expectOk(await call('POST', `${V2}/destination-domains/${NET}/decision`, { token: T.admin, body: { decision: 'rejected', reason: 'lookalike' } }));
    since = Date.now();
    await routerFollows('?promo=net', (r) => r.status === 302 && r.url?.hostname !== NET, { since, what: `no redirect to ${NET}` });
    const out = expectOk(await restore(v.net));
    assert.ok(
      out.warnings.some((w) => w.code === 'ignored_trust_field' && w.id === NET && w.path.endsWith('.decision')),
      JSON.stringify(out.warnings),
    );
    const domain = expectOk(await call('GET', `${V2}/destination-domains`, { token: T.admin })).domains.find((d) => d.domain === NET);
    assert.equal(domain.decision.value, 'rejected');
    assert.equal(domain.routable, false);
    await neverOffList('?promo=net');
  });
});
