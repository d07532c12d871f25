// The production guard of `make deploy` (scripts/deploy/guard.mjs): one fixture per
// local-only setting (tests/e2e/deploy/guard/*.toml, each naming the problem it must raise
// on its first line), and the committed wrangler.toml refused as a production configuration.
//
// Needs node_modules (wrangler reads the TOML); starts no worker.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './harness.mjs';
import { check, readConfig } from '../../scripts/deploy/guard.mjs';

const GUARD = join(ROOT, 'scripts', 'deploy', 'guard.mjs');
const FIXTURES = join(ROOT, 'tests', 'e2e', 'deploy');
/** The development credentials the guard fixtures carry (written to a scratch checkout). */
const DEV_PAT = 'gr_pat_fixtureDevelopmentToken00000000000000000000';
const DEV_TOKEN_SECRET = 'fixture-dev-token-secret-0123456789abcdef';

const scratch = mkdtempSync(join(tmpdir(), 'deploy-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

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
