// The contract: Schemathesis (pinned in tests/contract/requirements.txt, installed into
// .tools/venv by scripts/schemathesis.sh) over every operation of the /v2/openapi.json this
// worker serves, with every check (`--checks all`), a fixed seed and a bounded number of
// examples, as a new user would run it. The test passes iff Schemathesis reports no failure,
// error or warning it is told to fail on (tests/contract/schemathesis.toml); otherwise it
// fails with Schemathesis's report (each failure with a curl command that reproduces it;
// the Authorization header shows as [Filtered]: the tokens are this run's own).
//
// The worker is its own (wrangler dev, local KV/D1 seeded from rules/gharart) with the
// throttles raised so that the run tests the contract and not the limits, and a DoH
// resolver on loopback that publishes every listed domain's verification record, so that
// verify reaches a real answer. Before the run: the development PAT (admin on gharart,
// as `make dev` makes it); campaigns of the run's own in every state a transition starts
// from, and a live one routed to by a rule; published pages (so that the public page reads
// find one); a site token for the live campaign and a ctx token from a real redirect into
// it. The config (tests/contract/schemathesis.toml) and its hooks (hooks.py) put them
// where an operation needs them.
//
// Knobs: CONTRACT_SEED (default 20261129), CONTRACT_MAX_EXAMPLES (default 25),
// CONTRACT_WORKERS (default 1), CONTRACT_ARGS (more arguments for `schemathesis run`,
// split on spaces, e.g. "--include-operation-id recordConversion"). The report is also
// written to tests/e2e/artifacts/contract-report.txt. Skipped (not failed) only when
// Schemathesis is not installed and CI_REQUIRE_SCHEMATHESIS is unset; `make test` and
// `make contract` install it and set it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { IPS, ROOT, UA, startDohServer, startWorker, waitFor } from './harness.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const SCHEMATHESIS = join(ROOT, '.tools', 'venv', 'bin', 'schemathesis');
const CONFIG = join(ROOT, 'tests', 'contract', 'schemathesis.toml');
const REPORT = join(ROOT, 'tests', 'e2e', 'artifacts', 'contract-report.txt');

const SEED = Number(process.env.CONTRACT_SEED ?? 20261129);
const MAX_EXAMPLES = Number(process.env.CONTRACT_MAX_EXAMPLES ?? 25);
// One worker: Schemathesis's threads race in CPython 3.11.2's ast.parse (Debian 12's
// python3; a 'Runtime Error: AST constructor recursion depth mismatch' in the report).
const WORKERS = process.env.CONTRACT_WORKERS ?? '1';
const EXTRA_ARGS = (process.env.CONTRACT_ARGS ?? '').split(' ').filter(Boolean);
/** The whole Schemathesis run may take this long (it takes 1-2 minutes on 2 cores). */
const RUN_TIMEOUT_MS = Number(process.env.CONTRACT_TIMEOUT_MS ?? 10 * 60_000);

/** The campaign the test creates, whose site token and ctx token the run uses. */
const CAMPAIGN = 'contract-live';
/** Campaigns whose page the test publishes (the seeded two and its own). */
const PAGES = [CAMPAIGN, 'diwali-hero-ab', 'gulf-eid-teaser'];
/** A page document as the storefront's editor would write it. */
const PAGE = {
  title: 'Diwali 2026',
  summary: 'Handmade festive décor from Indian artisans',
  locale: 'en-IN',
  blocks: [
    { type: 'hero', heading: 'Light up Diwali', cta: { label: 'Shop the collection', url: 'https://www.gharart.com/festive' } },
    { type: 'product_grid', title: 'Bestsellers', products: ['diya-set-12', 'rangoli-kit'] },
  ],
};

const installed = existsSync(SCHEMATHESIS);
const required = Boolean(process.env.CI_REQUIRE_SCHEMATHESIS);
const skip = !installed && !required
  ? `${SCHEMATHESIS} is absent: run scripts/schemathesis.sh (make test and make contract do, and set CI_REQUIRE_SCHEMATHESIS=1 so that a missing install fails)`
  : false;

let doh;
let worker;
const secrets = {};

before(async () => {
  if (skip) return;
  assert.ok(installed, `${SCHEMATHESIS} is missing: run scripts/schemathesis.sh`);
  doh = await startDohServer();
  const unlimited = '1000000';
  worker = await startWorker({
    d1Migrations: 'DB',
    vars: {
      DOH_RESOLVER_URL: doh.url,
      // One client address sends every request of the run: no throttle may answer for the contract.
      API_READS_PER_MINUTE: unlimited,
      API_WRITES_PER_MINUTE: unlimited,
      API_PUBLIC_PER_MINUTE: unlimited,
      API_AUTH_FAILURES_PER_MINUTE: unlimited,
      DAILY_WRITE_LIMIT: unlimited,
    },
    // The development PAT, as `make dev` makes it (scripts/seed.sh).
    pats: { developer: { scopes: 'admin', sub: 'developer' } },
  });
  secrets.pat = worker.pats.developer;
  const api = async (method, path, body, status) => {
    const res = await worker.api(method, path, { token: secrets.pat, body });
    assert.equal(res.status, status, `setup: ${method} ${path} -> ${res.status} ${res.body.slice(0, 800)}`);
    return res.json;
  };

  // Every listed domain's verification record, published on the resolver.
  const { domains } = await api('GET', `${V2}/destination-domains`, undefined, 200);
  for (const d of domains) if (d.token && d.txt_record) doh.answer(d.txt_record, { txt: [d.token] });

  // Campaigns of the run's own, each in the state its transition leaves (the config gives
  // activate the drafts, pause the active ones, resume the paused ones, cancel its own).
  const day = 86_400_000;
  const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const campaign = (id, status) => ({
    id,
    name: `Contract run: ${id}`,
    status,
    start_date: rfc3339(Date.now() - day),
    end_date: rfc3339(Date.now() + 365 * day),
    template: 'diwali-ab-utm',
    variants: [
      { key: 'a', weight: 50, destination: 'https://www.gharart.com/festive/contract-a' },
      { key: 'b', weight: 50, destination: 'https://www.gharart.com/festive/contract-b' },
    ],
  });
  for (const n of [1, 2, 3]) {
    await api('POST', `${V2}/campaigns`, campaign(`contract-draft-${n}`, 'draft'), 201);
    await api('POST', `${V2}/campaigns`, campaign(`contract-cancel-${n}`, 'draft'), 201);
    await api('POST', `${V2}/campaigns`, campaign(`contract-active-${n}`, 'active'), 201);
    await api('POST', `${V2}/campaigns`, campaign(`contract-paused-${n}`, 'active'), 201);
    await api('POST', `${V2}/campaigns/contract-paused-${n}/pause`, undefined, 200);
  }
  // The live one: active for a year, routed to by a rule of its own (?contract=1 on the
  // festive entry), with a published page (as are the seeded campaigns') and a site token.
  await api('POST', `${V2}/campaigns`, campaign(CAMPAIGN, 'active'), 201);
  await api('PUT', `${V2}/personalization-rules/${CAMPAIGN}`, {
    priority: 0,
    entries: ['festive'],
    conditions: { query: { contract: { in: ['1'] } } },
    campaign: CAMPAIGN,
    destination: 'https://www.gharart.com/festive',
  }, 201);
  for (const id of PAGES) {
    await api('PUT', `${V2}/site-structure/campaigns/${id}`, { access_level: 'PUBLIC', document: PAGE }, 200);
    await api('POST', `${V2}/site-structure/campaigns/${id}/publish`, undefined, 200);
  }
  secrets.siteToken = (await api('POST', `${V2}/campaigns/${CAMPAIGN}/site-tokens`, { ttl_seconds: 3600 }, 201)).token;

  // A ctx token from a real redirect into the live campaign: its template (diwali-ab-utm)
  // hands the ctx on as gh_ctx. Routers pick the new snapshot up within a second.
  const visit = await waitFor(async () => {
    const res = await worker.fetch(`/${HANDLE}/festive?contract=1`, { ip: IPS.IN, ua: UA.desktop });
    return res.url?.searchParams.get('gh_ctx') ? res : null;
  }, { timeoutMs: 15_000, what: 'a redirect into the campaign with a gh_ctx' });
  secrets.ctx = visit.url.searchParams.get('gh_ctx');
});

after(async () => {
  await worker?.stop();
  await doh?.stop();
});

/** Runs a command; resolves to { code, signal, output (stdout and stderr interleaved) }. */
function runCommand(file, args, { env, timeoutMs }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      output += `\n[contract test: killed after ${timeoutMs} ms]\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, output });
    });
  });
}

/** The report for a failure message: very long lines (generated bodies) cut. */
function shorten(text, width = 2_000) {
  return text
    .split('\n')
    .map((line) => (line.length > width ? `${line.slice(0, width)} …[${line.length - width} more characters]` : line))
    .join('\n');
}

/** Runs `schemathesis run` over the served document with `args` added; appends to the report. */
async function schemathesis(label, extra) {
  const args = [
    '--config-file', CONFIG,
    'run', `${worker.base}/v2/openapi.json`,
    '--url', worker.base,
    '--checks', 'all',
    '--seed', String(SEED),
    '--max-examples', String(MAX_EXAMPLES),
    '--workers', WORKERS,
    '--request-timeout', '20',
    '--no-color',
    ...extra,
    ...EXTRA_ARGS,
  ];
  // Hypothesis keeps examples and constants in a directory (by default .hypothesis/ in the
  // working directory, the repository) and replays them next time: a fresh one per run.
  const storage = await mkdtemp(join(tmpdir(), 'edge-router-contract-'));
  const env = {
    ...process.env,
    HYPOTHESIS_STORAGE_DIRECTORY: storage,
    CONTRACT_PAT: secrets.pat,
    CONTRACT_SITE_TOKEN: secrets.siteToken,
    CONTRACT_CTX: secrets.ctx,
    // Stable layout of the report; no colour codes.
    COLUMNS: '120',
    NO_COLOR: '1',
    PYTHONIOENCODING: 'utf-8',
  };
  const started = Date.now();
  const { code, signal, output } = await runCommand(SCHEMATHESIS, args, { env, timeoutMs: RUN_TIMEOUT_MS }).finally(() =>
    rm(storage, { recursive: true, force: true }),
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const shown = args.map((a) => a.replace(worker.base, 'http://127.0.0.1:PORT')).join(' ');
  const report = `=== ${label}\n$ schemathesis ${shown}\n(exit ${code ?? signal}, ${seconds} s)\n\n${output}\n`;
  await mkdir(dirname(REPORT), { recursive: true });
  await appendFile(REPORT, report);
  if (code !== 0) {
    assert.fail(`Schemathesis found the document and the worker in disagreement (${label}; exit ${code ?? signal}); report also in ${REPORT}:\n\n${shorten(report)}`);
  }
}

const TITLE = `--checks all, seed ${SEED}, ${MAX_EXAMPLES} examples`;

// PUT .../configuration replaces the whole configuration: a generated body that passes
// (e.g. no rules, no campaigns) would leave every later request without real objects. So
// it runs on its own, after all the others.
test(`Schemathesis over every operation but putConfiguration (${TITLE})`, { skip, timeout: RUN_TIMEOUT_MS + 60_000 }, async () => {
  await rm(REPORT, { force: true });
  await schemathesis('every operation but putConfiguration', ['--exclude-operation-id', 'putConfiguration']);
});

test(`Schemathesis over putConfiguration, last (${TITLE})`, { skip, timeout: RUN_TIMEOUT_MS + 60_000 }, async () => {
  await schemathesis('putConfiguration', ['--include-operation-id', 'putConfiguration']);
});
