// `make deploy` without an account (scripts/deploy/): the production guard over one fixture
// per local-only setting, the dry run with the real wrangler on a project with queues, a Cron
// Trigger and a rate limiter, and the account steps against a fake wrangler
// (tests/e2e/deploy/fake-wrangler.mjs) and a fake management API: lookup-or-create, the
// ids written into the production configuration only, the refusal without secrets, the
// push with a minted-then-revoked PAT, and re-runs that create nothing.
//
// Needs node_modules (wrangler) and target/debug/router; starts no worker.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, ROUTER, MMDB } from './harness.mjs';
import { check, readConfig } from '../../scripts/deploy/guard.mjs';
import { deployedUrl, resourcesOf } from '../../scripts/deploy/main.mjs';

const DEPLOY = join(ROOT, 'scripts', 'deploy', 'main.mjs');
const GUARD = join(ROOT, 'scripts', 'deploy', 'guard.mjs');
const FIXTURES = join(ROOT, 'tests', 'e2e', 'deploy');
const FAKE_WRANGLER = join(FIXTURES, 'fake-wrangler.mjs');
/** The development credentials the guard fixtures carry (written to a scratch checkout). */
const DEV_PAT = 'gr_pat_fixtureDevelopmentToken00000000000000000000';
const DEV_TOKEN_SECRET = 'fixture-dev-token-secret-0123456789abcdef';

const scratch = mkdtempSync(join(tmpdir(), 'deploy-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let serial = 0;

/** A copy of the fixture project (wrangler.toml with queues and crons, worker.js, the
 *  repository's migrations) in a directory of its own. */
function project({ toml = null } = {}) {
  const dir = join(scratch, `project-${++serial}`);
  cpSync(join(FIXTURES, 'project'), dir, { recursive: true });
  cpSync(join(ROOT, 'migrations'), join(dir, 'migrations'), { recursive: true });
  if (toml) writeFileSync(join(dir, 'wrangler.toml'), toml(readFileSync(join(dir, 'wrangler.toml'), 'utf8')));
  return dir;
}

/** Runs the deploy script; resolves {code, out} (standard output and error together). */
function deploy(args, env = {}, unset = []) {
  const environment = { ...process.env, ...env };
  for (const name of unset) delete environment[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEPLOY, ...args], {
      cwd: ROOT,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

// ---------------------------------------------------------------------------------------

describe('the production guard', () => {
  const root = join(scratch, 'checkout');
  before(() => {
    mkdirSync(join(root, '.dev'), { recursive: true });
    writeFileSync(join(root, '.dev', 'pat-gharart'), `${DEV_PAT}\n`);
    writeFileSync(join(root, '.dev.vars'), `TOKEN_SECRET=${DEV_TOKEN_SECRET}\nJWT_SECRET=fixture-dev-jwt-secret-0123456789abcdef\nTRUST_FORWARDED_IP=true\n`);
  });

  const dir = join(FIXTURES, 'guard');
  const fixtures = readdirSync(dir).filter((f) => f.endsWith('.toml')).sort();
  const expected = (file) => readFileSync(join(dir, file), 'utf8').match(/^# expect: (\S+)/)[1];

  test('there is a fixture for every local-only setting', () => {
    const codes = new Set(fixtures.map(expected));
    for (const code of ['trust_forwarded_ip', 'geo_order', 'expose_counters', 'faults', 'dev_pat', 'dev_secret', 'local_id', 'local_url', 'env_sections', 'ok']) {
      assert.ok(codes.has(code), `no fixture expects ${code}`);
    }
  });

  for (const file of fixtures) {
    test(`${file}: ${expected(file) === 'ok' ? 'passes' : `fails with ${expected(file)}`}`, async () => {
      const problems = check(await readConfig(join(dir, file)), { root });
      if (expected(file) === 'ok') {
        assert.deepEqual(problems, []);
      } else {
        assert.ok(problems.length > 0, 'the guard let it through');
        assert.deepEqual([...new Set(problems.map((p) => p.code))], [expected(file)], JSON.stringify(problems, null, 2));
      }
    });
  }

  test('the dry-run placeholder ids pass a dry run only', async () => {
    const config = await readConfig(join(dir, 'dry-run-ids.toml'));
    assert.deepEqual(check(config, { root, dryRun: true }), []);
    assert.equal(check(config, { root }).length, 2);
  });

  test('the local wrangler.toml is refused as a production configuration (exit 1)', async () => {
    const run = await new Promise((resolve) => {
      const child = spawn(process.execPath, [GUARD, join(ROOT, 'wrangler.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(run.code, 1, run.out);
    assert.match(run.out, /local_id: KV namespace CONFIG: id "edge-router-config" is the local placeholder/);
    assert.match(run.out, /local_id: D1 database DB: database_id "edge-router-local" is the local placeholder/);
  });
});

// ---------------------------------------------------------------------------------------

describe('the configuration', () => {
  test('every binding kind that names an account resource is found', async () => {
    const plan = resourcesOf(await readConfig(join(FIXTURES, 'project', 'wrangler.toml')));
    assert.deepEqual(plan.kv, [{ binding: 'CONFIG', title: 'router-fixture-config' }]);
    assert.deepEqual(plan.d1, [{ binding: 'DB', name: 'router-fixture', migrationsDir: 'migrations' }]);
    assert.deepEqual(plan.queues, ['router-fixture-exposures', 'router-fixture-exposures-dlq']);
    assert.deepEqual(plan.crons, ['17 */6 * * *']);
  });

  test('the workers.dev URL is read from wrangler deploy\'s output', () => {
    const output = 'Uploaded edge-router (3.10 sec)\nDeployed edge-router triggers (1.02 sec)\n  https://edge-router.gharart.workers.dev\n  schedule: 17 */6 * * *\n  Producer for exposures\nCurrent Version ID: 4e3c…';
    assert.equal(deployedUrl(output), 'https://edge-router.gharart.workers.dev');
    assert.equal(deployedUrl('Deployed edge-router triggers\n  go.gharart.com (custom domain)'), null);
  });
});

// ---------------------------------------------------------------------------------------

test('make deploy DRY_RUN=1 on a project with queues, a Cron Trigger and a rate limiter: bundles offline, writes no local file', async () => {
  const dir = project();
  const source = readFileSync(join(dir, 'wrangler.toml'), 'utf8');
  // No credentials anywhere (an empty wrangler home, no token): any account call would fail.
  const home = join(dir, 'home');
  mkdirSync(home);
  const run = await deploy(['--dry-run', '--config', join(dir, 'wrangler.toml'), '--rules', join(ROOT, 'rules'), '--outdir', join(dir, 'bundle')], { XDG_CONFIG_HOME: home, HOME: home }, ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_API_KEY', 'CLOUDFLARE_ACCOUNT_ID']);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /queues router-fixture-exposures, router-fixture-exposures-dlq; crons "17 \*\/6 \* \* \*"/);
  assert.match(run.out, /Total Upload: /);
  assert.match(run.out, /env\.EXPOSURES \(router-fixture-exposures\)\s+Queue/);
  assert.match(run.out, /env\.API_LIMITER \(100 requests\/60s\)\s+Rate Limit/);
  assert.match(run.out, /migrations\/: 0001_management_api\.sql, 0002_campaigns\.sql/);
  assert.match(run.out, /rules\/gharart: ok/);
  assert.match(run.out, /dry run complete: nothing was created, uploaded or pushed/);
  assert.ok(existsSync(join(dir, 'bundle', 'worker.js')), 'no bundle');
  assert.equal(readFileSync(join(dir, 'wrangler.toml'), 'utf8'), source, 'the local configuration was changed');
  assert.ok(!existsSync(join(dir, 'wrangler.production.jsonc')), 'a dry run wrote the production configuration');
  const generated = await readConfig(join(dir, 'wrangler.production.dry-run.jsonc'));
  assert.deepEqual(generated.triggers, { crons: ['17 */6 * * *'] });
  assert.equal(generated.queues.consumers[0].dead_letter_queue, 'router-fixture-exposures-dlq');
  assert.deepEqual(generated.ratelimits[0].simple, { limit: 100, period: 60 });
  assert.equal(generated.kv_namespaces[0].id, '0'.repeat(32));
});

test('the deploy refuses a local-only setting before asking the account anything', async () => {
  const dir = project({ toml: (t) => t.replace('TRUST_FORWARDED_IP = "false"', 'TRUST_FORWARDED_IP = "true"') });
  const state = join(dir, 'state.json');
  const run = await deploy(['--config', join(dir, 'wrangler.toml'), '--handles', ''], { WRANGLER: FAKE_WRANGLER, FAKE_WRANGLER_STATE: state });
  assert.equal(run.code, 1, run.out);
  assert.match(run.out, /refusing to deploy: wrangler\.toml is not fit for production:\n\s+trust_forwarded_ip:/);
  assert.ok(!existsSync(state), 'wrangler was called');
});

test('without workers.dev, the deploy asks where the worker answers before touching the account', async () => {
  const dir = project({ toml: (t) => t.replace('compatibility_date = "2026-04-20"', 'compatibility_date = "2026-04-20"\nworkers_dev = false') });
  const state = join(dir, 'state.json');
  const run = await deploy(['--config', join(dir, 'wrangler.toml'), '--rules', join(ROOT, 'rules'), '--handles', 'gharart'], { WRANGLER: FAKE_WRANGLER, FAKE_WRANGLER_STATE: state });
  assert.equal(run.code, 1, run.out);
  assert.match(run.out, /workers_dev = false: say where the worker answers, for the push: WORKER_URL=/);
  assert.ok(!existsSync(state), 'wrangler was called');
});

// ---------------------------------------------------------------------------------------

describe('make deploy against a fake account', () => {
  let dir;
  let statePath;
  let api;
  let server;
  const requests = [];
  /** What the fake API answers next (status), one per request; 200 when empty. */
  const script = [];
  const state = () => JSON.parse(readFileSync(statePath, 'utf8'));
  const env = () => ({ WRANGLER: FAKE_WRANGLER, FAKE_WRANGLER_STATE: statePath, ROUTER_BIN: ROUTER, DEPLOY_RETRY_MS: '50' });
  const args = (...more) => ['--config', join(dir, 'wrangler.toml'), '--rules', join(ROOT, 'rules'), '--handles', 'gharart', '--outdir', join(dir, 'bundle'), '--url', api, ...more];
  /** The calls of the last run (the state keeps every run's). */
  let callsBefore = 0;
  const lastCalls = () => state().calls.slice(callsBefore);
  const mark = () => (callsBefore = existsSync(statePath) ? state().calls.length : 0);

  before(async () => {
    chmodSync(FAKE_WRANGLER, 0o755);
    dir = project();
    statePath = join(dir, 'state.json');
    // The management API: PUT /v2/handles/{h}/configuration, accepting only a live PAT
    // whose SHA-256 the deploy stored in (fake) D1.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        const hash = createHash('sha256').update(token).digest('hex');
        const stored = state().tokens.find((t) => t.hash === hash);
        requests.push({ method: req.method, url: req.url, key: req.headers['idempotency-key'], hash, stored, body: JSON.parse(body || 'null') });
        const reply = (status, json) => {
          res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-${requests.length}` });
          res.end(JSON.stringify(json));
        };
        const next = script.shift() ?? 200;
        if (!stored || stored.revoked || stored.expires_at <= Date.now() / 1000) return reply(401, { error: { code: 'invalid_token', message: 'no such token', request_id: `req-${requests.length}` } });
        if (next !== 200) return reply(next, { error: { code: 'storage_unavailable', message: 'D1 is down', request_id: `req-${requests.length}` } });
        reply(200, { version: requests.length, warnings: [] });
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  test('first run: creates what is missing, writes the ids into the production configuration only, refuses without secrets', async () => {
    const source = readFileSync(join(dir, 'wrangler.toml'), 'utf8');
    mark();
    const run = await deploy(args(), env());
    assert.equal(run.code, 1, run.out);
    const s = state();
    assert.deepEqual(s.kv.map((k) => k.title), ['router-fixture-config']);
    assert.deepEqual(s.d1.map((d) => d.name), ['router-fixture']);
    assert.deepEqual(s.queues, ['router-fixture-exposures', 'router-fixture-exposures-dlq']);
    const generated = await readConfig(join(dir, 'wrangler.production.jsonc'));
    assert.equal(generated.kv_namespaces[0].id, s.kv[0].id);
    assert.equal(generated.d1_databases[0].database_id, s.d1[0].uuid);
    assert.deepEqual(generated.triggers, { crons: ['17 */6 * * *'] });
    assert.equal(readFileSync(join(dir, 'wrangler.toml'), 'utf8'), source, 'the local configuration was changed');
    assert.match(run.out, /refusing to deploy: the worker "router-fixture" does not exist yet: TOKEN_SECRET, JWT_SECRET/);
    assert.match(run.out, /\| \S*wrangler secret put TOKEN_SECRET --config \S*wrangler\.production\.jsonc/);
    assert.match(run.out, /\| \S*wrangler secret put JWT_SECRET --config \S*wrangler\.production\.jsonc/);
    const calls = lastCalls();
    assert.ok(!calls.some((c) => c.argv[0] === 'deploy' && !c.argv.includes('--dry-run')), 'deployed without secrets');
    assert.ok(!calls.some((c) => c.argv[1] === 'migrations'), 'migrated without secrets');
    assert.equal(requests.length, 0);
    assert.ok(calls.every((c) => c.stdin === 'closed'), 'wrangler could have prompted');
    for (const c of calls.filter((c) => ['secret', 'deploy'].includes(c.argv[0]))) assert.equal(c.config, 'wrangler.production.jsonc');
  });

  test('with the secrets set: migrates, seeds the mmdb, deploys, pushes with a PAT that is revoked afterwards', async () => {
    // What the printed `wrangler secret put` lines do (a new worker is created as a draft).
    const s0 = state();
    s0.workers.push('router-fixture');
    s0.secrets['router-fixture'] = ['TOKEN_SECRET', 'JWT_SECRET'];
    writeFileSync(statePath, JSON.stringify(s0));
    mark();
    const run = await deploy(args('--mmdb', MMDB), env());
    assert.equal(run.code, 0, run.out);
    const s = state();
    const calls = lastCalls();
    assert.ok(!calls.some((c) => c.argv.includes('create')), 'created something again');
    // Every migration of the repository, in order (the fake applies what the real one would).
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort();
    assert.ok(migrations.length >= 3, migrations.join());
    assert.deepEqual(s.migrations[s.d1[0].uuid], migrations);
    assert.deepEqual(s.kvPuts, [{ key: 'geo:mmdb', namespace: s.kv[0].id, size: readFileSync(MMDB).length }]);
    assert.equal(s.deploys.length, 1);
    assert.equal(s.deploys[0].kv[0].id, s.kv[0].id);
    assert.deepEqual(s.deploys[0].crons, ['17 */6 * * *']);
    assert.equal(s.deploys[0].vars.TRUST_FORWARDED_IP, 'false');
    // Only account-wide lookups and creates may read the local configuration (for nothing
    // but the account); everything that touches the worker or its bindings uses production's.
    const accountWide = (c) => (c.argv[0] === 'kv' && c.argv[1] === 'namespace') || (c.argv[0] === 'd1' && ['list', 'create'].includes(c.argv[1])) || c.argv[0] === 'queues';
    for (const c of calls.filter((c) => !accountWide(c))) {
      assert.equal(c.config, 'wrangler.production.jsonc', `wrangler ${c.argv.join(' ')}`);
    }
    // The push: one PUT with a PAT that was live then, admin on the handle, 15 minutes.
    assert.equal(requests.length, 1);
    const [put] = requests;
    assert.equal(put.method, 'PUT');
    assert.equal(put.url, '/v2/handles/gharart/configuration');
    assert.equal(put.body.handle, 'gharart');
    assert.equal(put.stored.handle, 'gharart');
    assert.equal(put.stored.scopes, 'admin');
    assert.match(put.stored.sub, /^deploy:/);
    assert.ok(put.stored.expires_at - Date.now() / 1000 <= 15 * 60 && put.stored.expires_at - Date.now() / 1000 > 10 * 60);
    assert.deepEqual(s.tokens.map((t) => [t.hash, t.revoked]), [[put.hash, 1]], 'the push PAT was not revoked');
    assert.ok(!run.out.includes('gr_pat_'), 'a token was printed');
    assert.match(run.out, /deployed to http:\/\/127\.0\.0\.1:\d+; pushed gharart/);
  });

  test('re-running is safe: nothing is created, the ids stay, the push happens again', async () => {
    const before = readFileSync(join(dir, 'wrangler.production.jsonc'), 'utf8');
    const accountBefore = state();
    mark();
    const run = await deploy(args(), env());
    assert.equal(run.code, 0, run.out);
    const s = state();
    assert.ok(!lastCalls().some((c) => c.argv.includes('create')), 'created something again');
    assert.deepEqual([s.kv, s.d1, s.queues], [accountBefore.kv, accountBefore.d1, accountBefore.queues]);
    assert.equal(readFileSync(join(dir, 'wrangler.production.jsonc'), 'utf8'), before);
    assert.match(run.out, /No migrations to apply/);
    assert.equal(s.deploys.length, 2);
    assert.equal(requests.length, 2);
    assert.ok(s.tokens.every((t) => t.revoked === 1));
  });

  test('a push the API fails is retried with the same idempotency key; the PAT is revoked whatever happens', async () => {
    script.push(503);
    const n = requests.length;
    let run = await deploy(args(), { ...env() });
    assert.equal(run.code, 0, run.out);
    const [first, second] = requests.slice(n);
    assert.equal(first.key, second.key);
    assert.match(run.out, /storage_unavailable \(503\): retrying/);

    script.push(503, 503, 503);
    run = await deploy(args(), { ...env(), DEPLOY_PUSH_ATTEMPTS: '3' });
    assert.equal(run.code, 1, run.out);
    assert.match(run.out, /router push of gharart failed: the API answered 503 storage_unavailable: D1 is down \(request id req-\d+\)/);
    assert.ok(state().tokens.every((t) => t.revoked === 1), 'a failed push left its PAT live');
  });

  test('a development PAT accepted by production D1 stops the deploy', async () => {
    const devDir = join(dir, '.dev');
    mkdirSync(devDir, { recursive: true });
    writeFileSync(join(devDir, 'pat-gharart'), `${DEV_PAT}\n`);
    const s = state();
    s.tokens.push({ hash: createHash('sha256').update(DEV_PAT).digest('hex'), handle: 'gharart', scopes: 'admin', sub: 'developer', expires_at: null, revoked: 0 });
    writeFileSync(statePath, JSON.stringify(s));
    const deploys = s.deploys.length;
    const run = await deploy(args(), env());
    assert.equal(run.code, 1, run.out);
    assert.match(run.out, /a development PAT \(\.dev\/pat-gharart\) is a live token in production D1/);
    assert.match(run.out, /UPDATE api_tokens SET revoked = 1 WHERE hash IN/);
    assert.equal(state().deploys.length, deploys);
    rmSync(devDir, { recursive: true });
  });

  test('a bundle carrying a development credential is not uploaded', async () => {
    const devVars = join(dir, '.dev.vars');
    writeFileSync(devVars, `TOKEN_SECRET=${DEV_TOKEN_SECRET}\n`);
    const deploys = state().deploys.length;
    const run = await deploy(args(), { ...env(), FAKE_BUNDLE_EXTRA: `const k = "${DEV_TOKEN_SECRET}";` });
    assert.equal(run.code, 1, run.out);
    assert.match(run.out, /dev_secret: the bundle \S+ contains the local TOKEN_SECRET from \.dev\.vars/);
    assert.equal(state().deploys.length, deploys);
    rmSync(devVars);
  });
});
