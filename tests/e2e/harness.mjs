// End-to-end harness: runs the built worker (build/) under `wrangler dev` (workerd) with
// local KV seeded from rules/, and gives tests a small client. No dependencies beyond
// node:* and the project's own node_modules/.bin/wrangler and target/debug/router.
//
//   const worker = await startWorker({ vars, kv, mmdb, d1Migrations });
//   after(() => worker.stop());
//   const res = await worker.fetch('/gharart/festive', { ip: '49.36.0.1', ua: UA.iphone });
//
// The management API (`/v2/...`): start with `d1Migrations: 'DB'` (or `true`), create
// tokens with `worker.createPats([...])` / `worker.createPat({...})` (PATs stored straight
// into local D1 as SHA-256 hex) or `worker.jwt({...})` (HS256 over the worker's random
// JWT_SECRET, with forging knobs), and call `worker.api(method, path, { token, body })`.
// `startDohServer()` is a DNS-over-HTTPS JSON resolver on 127.0.0.1 for domain verification.
//
// Each call of startWorker gets its own temporary persist directory, its own free port and
// its own process group; stop() kills the whole group (wrangler, its node child, esbuild and
// both workerd processes) and removes the directory. A process 'exit' / signal hook kills
// any group a test forgot, so no wrangler or workerd outlives the test run.

import { spawn, execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { allowlistFromListing } from './observe.mjs';

/** The repository root (tests/e2e/../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ROUTER = join(ROOT, 'target', 'debug', 'router');
export const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
export const MMDB = join(ROOT, 'node_modules', '@ip-location-db', 'geo-whois-asn-country-mmdb', 'geo-whois-asn-country.mmdb');
export const BUILD = join(ROOT, 'build', 'index.js');
export const RULES_DIR = join(ROOT, 'rules', 'gharart');

/** How long the server may take to answer /healthz (cold wrangler + workerd: ~3-10 s). */
const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 90_000);
/** How long one wrangler CLI call (kv put, d1 migrations) may take. */
const CLI_TIMEOUT_MS = Number(process.env.E2E_CLI_TIMEOUT_MS ?? 120_000);
/** Per request. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Log kept in memory per worker (the tail is what matters in an error). */
const MAX_LOG_CHARS = 400_000;

/** Client IPs the CC0 mmdb maps to a known country. */
export const IPS = {
  IN: '49.36.0.1',
  AE: '2.50.0.1',
  GB: '81.2.69.160',
  US: '8.8.8.8',
  DE: '217.160.0.1',
  SA: '176.224.0.1',
};

/** User agents of the device categories the router knows. */
export const UA = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  androidTablet: 'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  desktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
};

// ---------------------------------------------------------------------------------------
// Process-group bookkeeping: every live server group, killed on exit whatever happens.

const liveGroups = new Set();
/** Scratch directories of workers not stopped yet, removed on exit too. */
const liveScratch = new Set();

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if (e.code === 'ESRCH') return false; // nobody left in the group
    throw e;
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code !== 'ESRCH';
  }
}

function killAllNow() {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of liveScratch) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  liveScratch.clear();
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAllNow();
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal]));
  });
}

// ---------------------------------------------------------------------------------------
// Small utilities.

function childEnv(extra = {}) {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    NO_UPDATE_NOTIFIER: '1',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    CI: 'true',
    ...extra,
  };
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
function run(file, args, { env = {}, timeoutMs = CLI_TIMEOUT_MS, cwd = ROOT } = {}) {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { cwd, env: childEnv(env), timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const shown = [file, ...args].map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a)).join(' ');
        reject(new Error(`\`${shown}\` failed (${error.code ?? error.signal}):\n${stdout}\n${stderr}`));
      } else {
        resolvePromise({ stdout, stderr });
      }
    });
  });
}

function requireFile(path, hint) {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${hint}`);
}

/** Checks the native CLI, wrangler and the built worker are there, with what to run if not. */
export function checkPrerequisites() {
  requireFile(ROUTER, 'run `cargo build --bin router` first');
  requireFile(WRANGLER, 'run `npm ci` first');
  requireFile(MMDB, 'run `npm ci` first (the mmdb ships in @ip-location-db/geo-whois-asn-country-mmdb)');
  requireFile(BUILD, 'build the worker first (`make build`)');
}

/** A TCP port nobody listens on right now (bound and released on 127.0.0.1). */
export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/** Polls `check` (async, truthy = done) every `intervalMs` until `timeoutMs`; returns its value. */
export async function waitFor(check, { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------
// The CLI: snapshots and preview tokens.

/**
 * Compiles a rule directory into a snapshot file with the CLI; returns the file path. With
 * `edgeForm`, the file is what publishers store (the JSON, then the compiled edge form);
 * without, the JSON alone (which the worker loads too, by parsing and compiling it).
 */
export async function buildSnapshot({ out, version, generation, dir = RULES_DIR, edgeForm = false }) {
  requireFile(ROUTER, 'run `cargo build --bin router` first');
  const args = ['snapshot', dir, '-o', out];
  if (version !== undefined) args.push('--version', String(version));
  if (generation !== undefined) args.push('--generation', String(generation));
  if (edgeForm) args.push('--edge-form');
  await run(ROUTER, args);
  return out;
}

/**
 * Mints a preview token with the CLI, TOKEN_SECRET passed in its environment (and a
 * --dev-vars path that does not exist, so a developer's .dev.vars is never read).
 * Returns `{ token, expiresAt }` (expiresAt in Unix seconds).
 */
export async function mintPreviewToken({ secret, handle = 'gharart', ttl = 3600, sub } = {}) {
  requireFile(ROUTER, 'run `cargo build --bin router` first');
  if (!secret) throw new Error('mintPreviewToken needs the secret');
  const args = ['--json', 'token', 'preview', '--handle', handle, '--ttl', String(ttl), '--dev-vars', '/nonexistent/.dev.vars'];
  if (sub) args.push('--sub', sub);
  const { stdout } = await run(ROUTER, args, { env: { TOKEN_SECRET: secret } });
  const parsed = JSON.parse(stdout);
  return { token: parsed.token, expiresAt: parsed.expires_at };
}

/** `router --json validate DIR`: `{ ok, diagnostics: [{ code, file, id, message, path, severity }] }`. */
export async function validateRules(dir = RULES_DIR) {
  requireFile(ROUTER, 'run `cargo build --bin router` first');
  const { stdout } = await run(ROUTER, ['--json', 'validate', dir]);
  return JSON.parse(stdout);
}

// ---------------------------------------------------------------------------------------
// Management API credentials: PATs stored straight into local D1, JWTs signed here.

/** SQL string literal. */
function sqlText(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** A fresh PAT in the worker's format: `gr_pat_` + 43 URL-safe characters. */
export function newPat() {
  return `gr_pat_${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 hex, the stored form of a PAT. */
export function sha256Hex(text) {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Stores PATs in the `api_tokens` table of local D1 with one `wrangler d1 execute --command`.
 * Each spec: `{ handle = 'gharart', scopes = 'admin' (string or array), sub = 'e2e',
 * expiresAt (Unix seconds), revoked = false, token (default: a fresh one) }`. `specs` is an
 * array (resolves to an array of tokens) or an object of named specs (resolves to an
 * object of tokens under the same names).
 */
async function storePats(persistDir, scratch, specs) {
  const named = !Array.isArray(specs);
  const entries = named ? Object.entries(specs) : specs.map((spec, i) => [i, spec]);
  const tokens = [];
  const rows = [];
  for (const [, spec] of entries) {
    const { handle = 'gharart', scopes = 'admin', sub = 'e2e', expiresAt = null, revoked = false, token = newPat() } = spec ?? {};
    const scopeText = Array.isArray(scopes) ? scopes.join(' ') : scopes;
    tokens.push(token);
    rows.push(
      `(${sqlText(sha256Hex(token))}, ${sqlText(handle)}, ${sqlText(scopeText)}, ${sqlText(sub)}, ${expiresAt === null || expiresAt === undefined ? 'NULL' : Math.trunc(expiresAt)}, ${revoked ? 1 : 0}, ${sqlText(new Date().toISOString())})`,
    );
  }
  if (rows.length > 0) {
    const sql = `INSERT INTO api_tokens (hash, handle, scopes, sub, expires_at, revoked, created_at) VALUES ${rows.join(', ')}`;
    await run(WRANGLER, ['d1', 'execute', 'DB', '--local', '--persist-to', persistDir, '--command', sql], {
      env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
    });
  }
  return named ? Object.fromEntries(entries.map(([name], i) => [name, tokens[i]])) : tokens;
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/**
 * An HS256 JWT (Node crypto HMAC). Claims: `sub = 'e2e'`, `handle = 'gharart'`,
 * `scopes = ['admin']` (array, or a space-separated string), `exp` (default now + 600;
 * `null` leaves it out), `nbf`, `iat`, plus `claims` merged in. Forging knobs: `alg`
 * (header alg, default HS256; `'none'` gives an empty signature unless `sign` is true),
 * `header` (the whole header object), `secret` (sign with another secret), `signature`
 * (a literal signature part), `payload` (a literal payload object, bypassing the claims).
 */
export function jwt({
  secret,
  sub = 'e2e',
  handle = 'gharart',
  scopes = ['admin'],
  exp = Math.floor(Date.now() / 1000) + 600,
  nbf,
  iat,
  claims = {},
  alg = 'HS256',
  header,
  payload,
  signature,
  sign,
} = {}) {
  const head = header ?? { alg, typ: 'JWT' };
  const body = payload ?? {
    sub,
    handle,
    scopes,
    ...(exp === null ? {} : { exp }),
    ...(nbf === undefined ? {} : { nbf }),
    ...(iat === undefined ? {} : { iat }),
    ...claims,
  };
  const input = `${b64url(head)}.${b64url(body)}`;
  if (signature !== undefined) return `${input}.${signature}`;
  if (head.alg === 'none' && !sign) return `${input}.`;
  if (!secret) throw new Error('jwt() needs a secret');
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// ---------------------------------------------------------------------------------------
// A DNS-over-HTTPS (JSON API) resolver on 127.0.0.1 for domain verification.

/**
 * Starts a DoH JSON resolver: `GET /dns-query?name=N&type=TXT` answers what `answer(name,
 * ...)` set for N, NXDOMAIN (`{"Status":3}`) otherwise. An answer is one of
 * `{ txt: [strings] }` (Status 0 with those TXT records), `{ status: n }` (a DNS status
 * with no answer), `{ http: code, body }` (any HTTP answer, e.g. garbage or a 500), or
 * `{ hang: true }` (never answers).
 *
 * Returns `{ url, port, answer(name, spec), clear(), requests, close(), reopen(), stop() }`:
 * `requests` lists `{ name, type, accept, url }`; `close()` stops listening and drops every
 * connection (the port is then closed: connection refused), `reopen()` listens on the same
 * port again.
 */
export async function startDohServer() {
  const answers = new Map();
  const requests = [];
  const sockets = new Set();
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const name = url.searchParams.get('name') ?? '';
    requests.push({ name, type: url.searchParams.get('type'), accept: req.headers.accept ?? null, url: req.url });
    const spec = answers.get(name.replace(/\.$/, '').toLowerCase()) ?? { status: 3 };
    if (spec.hang) return;
    if (spec.http) {
      res.writeHead(spec.http, { 'Content-Type': spec.contentType ?? 'text/html' });
      res.end(spec.body ?? '');
      return;
    }
    const status = spec.status ?? 0;
    const out = { Status: status, TC: false, RD: true, RA: true, AD: false, CD: false, Question: [{ name: `${name}.`, type: 16 }] };
    if (spec.txt) {
      out.Answer = spec.txt.map((t) => ({ name: `${name}.`, type: 16, TTL: 300, data: t.startsWith('"') ? t : JSON.stringify(t) }));
    }
    res.writeHead(200, { 'Content-Type': 'application/dns-json' });
    res.end(JSON.stringify(out));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port) =>
    new Promise((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolvePromise(server.address().port);
      });
    });
  const port = await listen(0);
  let listening = true;
  const close = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise((r) => server.close(() => r()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    port,
    requests,
    answer: (name, spec) => answers.set(name.replace(/\.$/, '').toLowerCase(), spec),
    clear: () => answers.clear(),
    close,
    reopen: async () => {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    stop: close,
  };
}

// ---------------------------------------------------------------------------------------
// KV seeding through wrangler's own client.

function isFileRef(value) {
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && typeof value.path === 'string';
}

/** string / Buffer / {path} / other JSON-able value -> something `kv key put --path` takes. */
async function valueFile(dir, value) {
  if (isFileRef(value)) return value.path;
  const file = join(dir, `kv-${randomBytes(6).toString('hex')}`);
  const data = typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value);
  await writeFile(file, data);
  return file;
}

async function kvPut(persistDir, scratch, key, value) {
  const file = await valueFile(scratch, value);
  await run(WRANGLER, ['kv', 'key', 'put', '--local', '--persist-to', persistDir, '--binding', 'CONFIG', key, '--path', file], {
    env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
  });
}

/**
 * Seeds every key: UTF-8 text values go through one `kv bulk put`; binary values (and
 * files, like the mmdb) go through `kv key put --path` one by one, because wrangler 4.86's
 * local bulk put decodes `base64: true` values to a UTF-8 string and so corrupts binary data.
 */
async function seedKv(persistDir, scratch, entries) {
  const text = [];
  const binary = [];
  for (const [key, value] of entries) {
    if (typeof value === 'string') text.push({ key, value });
    else if (isFileRef(value) || Buffer.isBuffer(value)) binary.push([key, value]);
    else text.push({ key, value: JSON.stringify(value) });
  }
  const logs = { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') };
  if (text.length > 0) {
    const bulk = join(scratch, 'kv-bulk.json');
    await writeFile(bulk, JSON.stringify(text));
    await run(WRANGLER, ['kv', 'bulk', 'put', '--local', '--persist-to', persistDir, '--binding', 'CONFIG', bulk], { env: logs });
  }
  for (const [key, value] of binary) await kvPut(persistDir, scratch, key, value);
}

// ---------------------------------------------------------------------------------------
// The server.

/**
 * Starts the worker under `wrangler dev` with a fresh local KV.
 *
 * Options:
 * - `vars`: extra/overriding vars (defaults: a random TOKEN_SECRET, GEO_ORDER=mmdb,cf,
 *   TRUST_FORWARDED_IP=true, SNAPSHOT_TTL_SECONDS=1); a value of `null` leaves a default out.
 * - `kv`: extra keys, `{ key: string | Buffer | {path} | JSON value | null }`; `null` skips
 *   a default key (`snapshot:gharart`, `geo:mmdb`).
 * - `mmdb`: false to start without the `geo:mmdb` key.
 * - `snapshotVersion`: version stamped on the seeded gharart snapshot (default 1000).
 * - `d1Migrations`: a D1 binding name (or names; `true` means `DB`) whose migrations
 *   (`migrations/`) are applied locally (`wrangler d1 migrations apply NAME --local
 *   --persist-to DIR`) before the server starts. Needed by every `/v2` route.
 * - `pats`: PATs to store before the server starts (see `createPats`), saving one wrangler
 *   call; their tokens are in the client's `pats` (same order / same keys).
 *
 * Defaults also set a random JWT_SECRET (the client's `jwtSecret`).
 *
 * Returns `{ base, port, pgid, persistDir, secret, jwtSecret, vars, snapshotVersion, pats, fetch,
 * api, jwt, createPat, createPats, d1, putKv, deleteKv, snapshotFile, routerLocal, previewToken, log, waitForLog,
 * history, stop }`.
 */
export async function startWorker({ vars = {}, kv = {}, mmdb = true, snapshotVersion = 1000, d1Migrations, pats, testScheduled = false } = {}) {
  checkPrerequisites();
  const scratch = await mkdtemp(join(tmpdir(), 'edge-router-e2e-'));
  liveScratch.add(scratch);
  const persistDir = join(scratch, 'state');
  let server;
  try {
    const secret = `e2e-${randomBytes(24).toString('hex')}`;
    const allVars = {
      TOKEN_SECRET: secret,
      JWT_SECRET: `jwt-${randomBytes(24).toString('hex')}`,
      GEO_ORDER: 'mmdb,cf',
      TRUST_FORWARDED_IP: 'true',
      SNAPSHOT_TTL_SECONDS: '1',
      ...vars,
    };
    for (const [k, v] of Object.entries(allVars)) if (v === null || v === undefined) delete allVars[k];

    const seeds = new Map();
    // As the API publishes it (with its edge form); tests that write snapshots later write
    // the JSON alone (`snapshotFile`), so both ways of loading one are exercised.
    seeds.set('snapshot:gharart', { path: await buildSnapshot({ out: join(scratch, 'snapshot-gharart.bin'), version: snapshotVersion, edgeForm: true }) });
    if (mmdb) seeds.set('geo:mmdb', { path: MMDB });
    for (const [key, value] of Object.entries(kv)) {
      if (value === null) seeds.delete(key);
      else seeds.set(key, value);
    }
    await seedKv(persistDir, scratch, seeds);
    const databases = d1Migrations === true ? ['DB'] : [d1Migrations ?? []].flat().filter(Boolean);
    for (const db of databases) {
      await run(WRANGLER, ['d1', 'migrations', 'apply', db, '--local', '--persist-to', persistDir], {
        env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
      });
    }
    let storedPats;
    if (pats) {
      if (databases.length === 0) throw new Error('startWorker({ pats }) needs d1Migrations');
      storedPats = await storePats(persistDir, scratch, pats);
    }

    // An empty --env-file keeps a developer's .dev.vars / .env out of the test's vars.
    const envFile = join(scratch, 'empty.env');
    await writeFile(envFile, '');
    for (let attempt = 1; ; attempt++) {
      server = await spawnServer({ scratch, persistDir, envFile, vars: allVars, testScheduled });
      try {
        await server.ready;
        break;
      } catch (e) {
        await server.kill();
        // A port taken between freePort() and wrangler's bind: try once more.
        if (attempt < 2 && /EADDRINUSE|address already in use/i.test(server.log())) continue;
        throw e;
      }
    }
    return makeClient({ server, scratch, persistDir, secret, vars: allVars, snapshotVersion, pats: storedPats });
  } catch (e) {
    await server?.kill();
    await rm(scratch, { recursive: true, force: true });
    liveScratch.delete(scratch);
    throw e;
  }
}

async function spawnServer({ scratch, persistDir, envFile, vars, testScheduled }) {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const args = [
    'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persistDir, '--env-file', envFile, '--show-interactive-dev-session=false', '--live-reload=false',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    // wrangler's scheduled test route: GET /__scheduled?cron=... runs the Cron Trigger.
    ...(testScheduled ? ['--test-scheduled'] : []),
  ];
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    env: childEnv({ WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') }),
    detached: true, // its own process group, so stop() can kill workerd and all
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid;
  liveGroups.add(pgid);
  let log = '';
  const append = (chunk) => {
    log += chunk.toString();
    if (log.length > MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS / 2);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let exited = null;
  const exit = new Promise((res) => child.once('exit', (code, signal) => res((exited = { code, signal }))));
  const base = `http://127.0.0.1:${port}`;

  const ready = (async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) break;
      try {
        const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(150);
    }
    const why = exited ? `wrangler exited early (${JSON.stringify(exited)})` : `no 200 from ${base}/healthz within ${START_TIMEOUT_MS} ms`;
    throw new Error(`worker did not start: ${why}\n--- wrangler log ---\n${log.slice(-20_000)}`);
  })();

  async function kill() {
    if (!liveGroups.has(pgid)) return;
    killGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + 5_000;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
    while (groupAlive(pgid)) {
      killGroup(pgid, 'SIGKILL');
      await sleep(50);
    }
    await Promise.race([exit, sleep(1_000)]);
    liveGroups.delete(pgid);
  }

  return { base, port, pgid, ready, kill, log: () => log };
}

function makeClient({ server, scratch, persistDir, secret, vars, snapshotVersion, pats }) {
  const history = [];
  let stopped = false;

  /**
   * GET (or `method`) `path` with `redirect: 'manual'`. Options: `ip` (X-Forwarded-For),
   * `ua` (User-Agent, default a desktop Chrome; `null` sends none of ours), `lang`
   * (Accept-Language), `cookie` (Cookie header), `headers` (anything else).
   * Resolves to `{ status, headers, location, url (parsed Location), setCookies, body,
   * json() }`, after reading the body.
   */
  async function request(path, { ip, ua = UA.desktop, lang, cookie, headers = {}, method = 'GET' } = {}) {
    const h = new Headers(headers);
    if (ip) h.set('X-Forwarded-For', ip);
    if (ua) h.set('User-Agent', ua);
    if (lang) h.set('Accept-Language', lang);
    if (cookie) h.set('Cookie', cookie);
    const res = await fetch(`${server.base}${path}`, { method, headers: h, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = await res.text();
    const location = res.headers.get('location');
    const out = {
      path,
      status: res.status,
      headers: res.headers,
      location,
      url: location ? new URL(location) : null,
      setCookies: res.headers.getSetCookie(),
      body,
      json: () => JSON.parse(body),
    };
    history.push({ path, status: out.status, location, setCookies: out.setCookies });
    return out;
  }

  /**
   * Calls the management API. `body`: a JSON value (sent as JSON), unless `raw` is true
   * (then a string / Buffer / ReadableStream sent as is; a stream goes without
   * Content-Length). `token`: the bearer token (`authorization` sets the whole header
   * instead). `idempotencyKey`: the Idempotency-Key header. Resolves to `{ method, path,
   * status, headers, body (text), json (parsed or null), requestId, error (the error
   * object or null) }`.
   */
  async function api(method, path, { token, authorization, body, headers = {}, idempotencyKey, raw = false } = {}) {
    const h = new Headers(headers);
    if (authorization !== undefined) h.set('Authorization', authorization);
    else if (token) h.set('Authorization', `Bearer ${token}`);
    if (idempotencyKey !== undefined) h.set('Idempotency-Key', idempotencyKey);
    let payload;
    if (body !== undefined) {
      payload = raw ? body : JSON.stringify(body);
      if (!h.has('Content-Type')) h.set('Content-Type', 'application/json');
    }
    const init = { method, headers: h, body: payload, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
    if (payload && typeof payload.getReader === 'function') init.duplex = 'half';
    const res = await fetch(`${server.base}${path}`, init);
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const out = {
      method,
      path,
      status: res.status,
      headers: res.headers,
      body: text,
      json: parsed,
      requestId: res.headers.get('x-request-id'),
      error: parsed && typeof parsed === 'object' && parsed.error ? parsed.error : null,
    };
    history.push({ method, path, status: out.status, requestId: out.requestId, location: res.headers.get('location'), setCookies: [] });
    return out;
  }

  const jwtSecret = vars.JWT_SECRET;
  const d1 = (sql) =>
    run(WRANGLER, ['d1', 'execute', 'DB', '--local', '--persist-to', persistDir, '--json', '--command', sql], {
      env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
    }).then(({ stdout }) => JSON.parse(stdout));

  return {
    base: server.base,
    port: server.port,
    /** The process group of wrangler and its workerd processes (to read their memory). */
    pgid: server.pgid,
    persistDir,
    secret,
    jwtSecret,
    vars,
    snapshotVersion,
    /** Tokens of `startWorker({ pats })`, in the same shape (array or object). */
    pats,
    /** Every response so far: `{ path, status, location, setCookies }` (API calls add `method`, `requestId`). */
    history,
    fetch: request,
    api,
    /** An HS256 JWT over this worker's JWT_SECRET (see the exported `jwt`). */
    jwt: (opts = {}) => jwt({ secret: jwtSecret, ...opts }),
    /** Stores PATs in local D1 while the server runs (one wrangler call); resolves to their tokens. */
    createPats: (list) => storePats(persistDir, scratch, list),
    /** Stores one PAT; resolves to its token. */
    createPat: async (opts) => (await storePats(persistDir, scratch, [opts]))[0],
    /** Runs SQL against local D1 (`wrangler d1 execute DB --local --json`); resolves to wrangler's JSON. */
    d1,
    /** Writes a KV key while the server runs: string / Buffer / JSON value, or `{ path }`. */
    putKv: (key, valueOrFile) => kvPut(persistDir, scratch, key, valueOrFile),
    /** Deletes a KV key while the server runs. */
    deleteKv: (key) =>
      run(WRANGLER, ['kv', 'key', 'delete', '--local', '--persist-to', persistDir, '--binding', 'CONFIG', key], {
        env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
      }),
    /** Runs the Cron Trigger now (`startWorker({ testScheduled: true })`); resolves to the response. */
    scheduled: (cron = '*/30 * * * *') => request(`/__scheduled?cron=${encodeURIComponent(cron)}`),
    /** A preview token signed with this worker's TOKEN_SECRET (by the CLI). */
    previewToken: (opts = {}) => mintPreviewToken({ secret, ...opts }),
    /** Builds a snapshot of rules/gharart into the scratch dir; returns its `{ path }`. */
    snapshotFile: async (version, { generation } = {}) => ({
      path: await buildSnapshot({ out: join(scratch, `snapshot-g${generation ?? 0}-v${version}.json`), version, generation }),
    }),
    /**
     * Runs a `router` command against this worker's local KV while it runs (`--persist-to`
     * and `--wrangler` appended), e.g. `['takedown', '--handle', 'gharart', '--local']`;
     * resolves to `{ stdout, stderr }`.
     */
    routerLocal: (args) =>
      run(ROUTER, [...args, '--persist-to', persistDir, '--wrangler', WRANGLER], {
        env: { WRANGLER_LOG_PATH: join(scratch, 'wrangler-logs') },
      }),
    /** The server's log (wrangler and the worker's console) so far. */
    log: server.log,
    /** Waits until the log, from character `from` on, matches `pattern`. */
    waitForLog: (pattern, { from = 0, timeoutMs = 10_000 } = {}) =>
      waitFor(() => pattern.test(server.log().slice(from)), { timeoutMs, what: `log line ${pattern}` }),
    /** Kills the server's whole process group and removes the scratch directory. */
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.kill();
      await rm(scratch, { recursive: true, force: true });
      liveScratch.delete(scratch);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Helpers the test files share.

/** Reads a JSON rule file of rules/gharart. */
export async function ruleFile(name) {
  return JSON.parse(await readFile(join(RULES_DIR, name), 'utf8'));
}

/**
 * The routable allowlist computed from rules/gharart independently of the worker: a domain
 * entry is routable when verified AND approved (a manual decision wins; without one, a
 * risk score under the handle's threshold). Returns `isRoutableHost(host)` plus the lists.
 */
export async function allowlist() {
  const { domains } = await ruleFile('domains.json');
  const { risk_threshold } = await ruleFile('handle.json');
  // The rule files carry the fields of the API's listing that the verdict reads.
  return allowlistFromListing({ domains, risk_threshold });
}

/** Whether a URL may be redirected to: https, no credentials or port, routable host. */
export function isRoutableUrl(list, url) {
  const u = url instanceof URL ? url : new URL(url);
  return u.protocol === 'https:' && !u.username && !u.password && !u.port && list.isRoutableHost(u.hostname);
}

/** `gh_vid` from a response's Set-Cookie headers, if any. */
export function visitorCookie(res) {
  for (const c of res.setCookies) {
    const m = /^gh_vid=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return null;
}

/** 32-bit FNV-1a over UTF-8 bytes. */
export function fnv1a32(text) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** GrowthBook hash v2 bucket number in 0..10000 (as the design pins it). */
export function bucketNumber(seed, visitorId) {
  return fnv1a32(String(fnv1a32(seed + visitorId))) % 10000;
}
