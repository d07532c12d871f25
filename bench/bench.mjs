// `make bench`: every figure of the performance budgets in one run, side by side.
//
// - Floor comparison: a null JavaScript worker answering a fixed 302 and our release
//   worker with a large snapshot (the festive rules expanded to 1,000 rules over 40
//   countries and 500 domains) in production's settings, each served by one programmatic
//   Miniflare instance (no wrangler dev proxy), loaded by wrk on loopback after a warm-up,
//   at 1 and 16 connections, in alternating rounds (the median round of each counts), with
//   a mix of user agents, client IPs and cookies (bench/mix.lua).
//   Beside them, the same bindings and module answering our answer as constants (see
//   `answerOnly`): the ceiling of the ratio for an answer of ours, whatever the visit costs;
//   and our entry with the wasm's answers memoized (see `memoizedEntry`): the ceiling for a
//   visit whose wasm costs nothing.
// - Core microbenchmarks: criterion (bench/core.rs), natively.
// - Size: raw and gzipped wasm and JS bundle.
// - Cold start: process start to first 302, median of COLD_RUNS fresh processes, in the
//   production geo order (cf,mmdb) and in local dev's (mmdb,cf), against the null worker.
// - KV reads per request, warm and cold, from the worker's own counter (X-Kv-Reads).
//
// Writes bench/results.json and prints the change of every figure against the version of
// that file in the repo (commit it to record a new baseline).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(root, 'bench/results.json');
const DURATION = process.env.BENCH_SECONDS ?? '15';
const WARMUP = process.env.BENCH_WARMUP_SECONDS ?? '3';
const COLD_RUNS = Number(process.env.COLD_RUNS ?? 20);
/** Rounds of each worker per connection count in the floor comparison (see loadSideBySide). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const COMPAT = '2026-04-20';
const SECRET = 'bench-secret-0123456789abcdef';
export const NULL_WORKER = `export default {
  fetch() {
    return new Response(null, { status: 302, headers: { Location: 'https://www.gharart.com/festive', 'Cache-Control': 'private, no-store' } });
  },
};`;

export const BINDINGS = {
  TOKEN_SECRET: SECRET,
  GEO_ORDER: process.env.BENCH_GEO_ORDER ?? 'mmdb,cf',
  TRUST_FORWARDED_IP: 'true',
  SNAPSHOT_TTL_SECONDS: '60',
  EXPOSE_COUNTERS: 'true',
};

/** The exposure queues as wrangler.toml declares them (keep the two in step). */
export const EXPOSURE_QUEUE = 'edge-router-exposures';
export const EXPOSURE_DLQ = 'edge-router-exposures-dlq';
export const QUEUES = {
  queueProducers: { EXPOSURES: { queueName: EXPOSURE_QUEUE }, EXPOSURES_DLQ: { queueName: EXPOSURE_DLQ } },
  queueConsumers: { [EXPOSURE_QUEUE]: { maxBatchSize: 100, maxBatchTimeout: 5, maxRetries: 3, deadLetterQueue: EXPOSURE_DLQ } },
};

/** The release worker with its bindings, exposures on (call `migrate` so they are written). */
export function ourWorkerOptions(extra = {}, geoOrder = BINDINGS.GEO_ORDER) {
  return {
    host: '127.0.0.1',
    port: 0,
    modules: true,
    scriptPath: join(root, 'build/index.js'),
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: COMPAT,
    kvNamespaces: ['CONFIG'],
    d1Databases: ['DB'],
    ...QUEUES,
    bindings: { ...BINDINGS, GEO_ORDER: geoOrder },
    ...extra,
  };
}

/** The SQL statements of a migration file: comments stripped, split on `;`. */
function statements(sql) {
  return sql
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies migrations/ to the D1 database `DB` of `mf` (of its worker `workerName`). */
export async function migrate(mf, workerName) {
  const db = await mf.getD1Database('DB', workerName);
  const dir = join(root, 'migrations');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    for (const stmt of statements(readFileSync(join(dir, file), 'utf8'))) await db.prepare(stmt).run();
  }
  return db;
}

function log(...args) {
  console.error('bench:', ...args);
}

/**
 * The large snapshot (1,000 rules, 40 countries, 500 generated domains) as a publisher
 * stores it: its JSON and its edge form (`router snapshot --edge-form`).
 */
export function bigSnapshot() {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-')), 'snapshot.bin');
  execFileSync(join(root, 'target/debug/router'), ['snapshot', join(root, 'rules/gharart'), '--expand', '1000', '--countries', '40', '--domains', '500', '--version', '1', '--edge-form', '-o', out]);
  return readFileSync(out);
}

/** Miniflare's KV proxy takes an ArrayBuffer, not a Node Buffer view of a shared pool. */
function arrayBuffer(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function mmdb() {
  return arrayBuffer(readFileSync(join(root, 'node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb')));
}

export async function seed(mf, snapshot) {
  const kv = await mf.getKVNamespace('CONFIG');
  await kv.put('snapshot:gharart', arrayBuffer(snapshot));
  await kv.put('geo:mmdb', mmdb());
}

function wrk(url, connections, seconds) {
  const threads = connections === 1 ? 1 : 2;
  const run = spawnSync('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '-s', join(root, 'bench/mix.lua'), url], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const line = run.stdout.trim().split('\n').find((l) => l.startsWith('{"requests"'));
  const r = JSON.parse(line);
  return {
    rps: Math.round((r.requests / r.duration_us) * 1e6),
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    errors: r.status_errors + r.socket_errors,
  };
}

/**
 * Loads the workers in turn (the null worker first), ROUNDS times each per connection count
 * (DURATION/ROUNDS seconds a round, the order alternating), and keeps each one's median
 * round: the VM's speed drifts over a run, and taking them side by side, round after
 * round, keeps the drift out of the ratio.
 */
async function loadSideBySide(workers) {
  const urls = await Promise.all(workers.map(async ([, mf]) => new URL('/gharart/festive', await mf.ready).toString()));
  for (const [i, [name]] of workers.entries()) {
    log(`${name}: warm-up ${WARMUP}s`);
    wrk(urls[i], 16, WARMUP);
  }
  const seconds = Math.max(1, Math.round(Number(DURATION) / ROUNDS));
  const figures = workers.map(() => ({}));
  for (const c of [1, 16]) {
    const rounds = workers.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...workers.keys()] : [...workers.keys()].reverse();
      for (const i of order) {
        log(`${workers[i][0]}: ${c} connection(s), round ${round + 1} of ${ROUNDS}, ${seconds}s`);
        rounds[i].push(wrk(urls[i], c, seconds));
      }
    }
    for (const [i, runs] of rounds.entries()) {
      const median = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
      figures[i][`c${c}`] = { ...median, rounds_rps: runs.map((r) => r.rps) };
    }
  }
  return figures;
}

async function floor(snapshot) {
  // KV reads per request come from the worker's own counter (`X-Kv-Reads`, on with
  // EXPOSE_COUNTERS), read on an instance of their own, before and after a moment of the
  // mix: the loaded instance answers as production does, without that header (each
  // header of an answer costs the whole pipeline a few microseconds).
  const counted = await ourInstance(snapshot, BINDINGS);
  const kvReads = await kvReadsPerRequest(counted);
  wrk(new URL('/gharart/festive', await counted.ready).toString(), 16, WARMUP);
  const warm = await kvReadsPerRequest(counted);
  await counted.dispose();
  const nullMf = new Miniflare({ host: '127.0.0.1', port: 0, modules: true, script: NULL_WORKER, compatibilityDate: COMPAT });
  const settings = { ...BINDINGS, EXPOSE_COUNTERS: 'false' };
  const ours = await ourInstance(snapshot, settings);
  const constant = new Miniflare(answerOnly(await answers(ours), settings));
  const memoized = await ourInstance(snapshot, settings, memoizedEntry());
  const [nullFigures, constantFigures, memoizedFigures, ourFigures] = await loadSideBySide([
    ['null worker', nullMf],
    ['our answer as constants', constant],
    ['our entry, wasm answers memoized', memoized],
    ['edge-router', ours],
  ]);
  await Promise.all([nullMf.dispose(), constant.dispose(), memoized.dispose(), ours.dispose()]);
  const ratio = (figures, c) => +(figures[c].rps / nullFigures[c].rps).toFixed(3);
  return {
    null: nullFigures,
    ours: ourFigures,
    ratio_rps: { c1: ratio(ourFigures, 'c1'), c16: ratio(ourFigures, 'c16') },
    answer_only: constantFigures,
    answer_only_ratio_rps: { c1: ratio(constantFigures, 'c1'), c16: ratio(constantFigures, 'c16') },
    wasm_memoized: memoizedFigures,
    wasm_memoized_ratio_rps: { c1: ratio(memoizedFigures, 'c1'), c16: ratio(memoizedFigures, 'c16') },
    kv_reads: { cold_first_request: kvReads.first, warm_max: warm.max },
  };
}

/** Headers of an answer that the runtime or the HTTP client adds, not the worker. */
const TRANSPORT = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/**
 * Our worker's answers to the mix's two kinds of visitor (a new one, who gets the cookie,
 * and a returning one), as they come over HTTP: `[{ status, headers: [[name, value]] }]`.
 * Asked as wrk asks (no compression accepted: Miniflare's entry, like Cloudflare's front
 * line, would add `Content-Encoding` to an answer for a client that accepts gzip).
 */
async function answers(mf) {
  const url = new URL('/gharart/festive', await mf.ready);
  const headers = { 'Accept-Encoding': 'identity', 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1', 'X-Forwarded-For': '49.36.0.1', 'Accept-Language': 'en-IN,en;q=0.9' };
  const out = [];
  for (const cookie of [null, 'gh_vid=0123456789abcdef0123456789abcdef']) {
    const res = await fetch(url, { headers: cookie ? { ...headers, Cookie: cookie } : headers, redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status !== 302) throw new Error(`answers: expected a 302, got ${res.status}`);
    out.push({ status: res.status, headers: [...res.headers].filter(([name]) => !TRANSPORT.has(name) && !name.startsWith('mf-')) });
  }
  if (!out[0].headers.some(([name]) => name === 'set-cookie')) throw new Error('answers: a new visitor got no cookie');
  return out;
}

/**
 * The ceiling of the floor ratio for our answer: a worker with our bindings, our settings
 * and our module loaded (the wasm instantiated, its start-up run) that does no visit and
 * answers `answers` as constants, new and returning visitor in turn as the mix sends them.
 * Whatever the visit costs, ours cannot run faster than this.
 */
function answerOnly(answers, bindings) {
  const literal = ({ status, headers }) => `new Response(null, { status: ${status}, headers: ${JSON.stringify(Object.fromEntries(headers))} })`;
  const script = `import './rust.js';
let turn = 0;
export default {
  fetch() {
    turn ^= 1;
    return turn ? ${literal(answers[0])} : ${literal(answers[1])};
  },
};
`;
  return ourWorkerOptions({ bindings, ...entryModule('answer-only.js', script) });
}

/**
 * Worker options whose module entry is `contents` (named `build/<name>`) beside our built
 * bundle and wasm, in place of build/index.js.
 */
function entryModule(name, contents) {
  return {
    scriptPath: undefined,
    modulesRules: undefined,
    modules: [
      { type: 'ESModule', path: join(root, 'build', name), contents },
      { type: 'ESModule', path: join(root, 'build/rust.js') },
      { type: 'CompiledWasm', path: join(root, 'build/index_bg.wasm') },
    ],
  };
}

/**
 * The ceiling of the floor ratio for a visit whose wasm costs nothing: our module entry
 * (src/edge/entry.mjs) with one change, each request's `A` answer from `hot_visit` kept by
 * the request's parts string and served again without calling the wasm. Everything else
 * is ours: the header reads, the parts string, `respond`, the exposures queued and written
 * (the same message again for a request of the same shape; the consumer counts it once).
 * An answer that starts a snapshot re-read (`@refresh`) is not kept. Ours runs slower
 * than this by what the wasm call costs.
 */
function memoizedEntry() {
  const entry = readFileSync(join(root, 'src/edge/entry.mjs'), 'utf8');
  const call = 'const out = wasm.visit(env, `${headers}\\n${geo}\\n${reads}`, Date.now());';
  const state = 'const reading = new Map();';
  if (!entry.includes(call) || !entry.includes(state)) {
    throw new Error('memoizedEntry: src/edge/entry.mjs no longer calls wasm.visit as this bench expects; update bench/bench.mjs');
  }
  const script = entry
    .replace(state, `${state}\n/** The bench's memo: each request shape's answer from its first wasm call. */\nconst memo = new Map();`)
    .replace(
      call,
      'const parts = `${headers}\\n${geo}\\n${reads}`;\n' +
        '      let out = memo.get(parts);\n' +
        '      if (out === undefined) {\n' +
        '        out = wasm.visit(env, parts, Date.now());\n' +
        "        if (out.charCodeAt(0) === 65 && !out.includes('\\n@refresh: ')) memo.set(parts, out);\n" +
        '      }',
    );
  return entryModule('memoized.js', script);
}

/**
 * Our release worker with `bindings` (or the module `entry` gives), the snapshot and the
 * MaxMind DB seeded, D1 migrated.
 */
async function ourInstance(snapshot, bindings, entry = {}) {
  const mf = new Miniflare(ourWorkerOptions({ bindings, ...entry }));
  await mf.ready;
  await seed(mf, snapshot);
  // Exposures on, as in production: the campaign visitors of the mix are queued and written.
  await migrate(mf);
  return mf;
}

/** KV reads of the first request of this isolate and the most any of 50 later ones made. */
async function kvReadsPerRequest(mf) {
  const headers = { 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148 Safari/604.1', 'X-Forwarded-For': '49.36.0.1' };
  const read = async () => {
    const res = await mf.dispatchFetch('http://bench.local/gharart/festive', { headers, redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status !== 302) throw new Error(`expected 302, got ${res.status}`);
    return Number(res.headers.get('x-kv-reads'));
  };
  const first = await read();
  let max = 0;
  for (let i = 0; i < 50; i++) max = Math.max(max, await read());
  return { first, max };
}

/**
 * Cold starts: process start to the first 302, median of COLD_RUNS fresh processes each,
 * for the null worker and for ours in the production geo order (cf,mmdb: request.cf has
 * the country, the MaxMind DB is not read) and in local dev's (mmdb,cf: it is). The three
 * take turns, one process each per round, so the VM's drift over the run falls on all
 * three alike.
 */
function coldStart(snapshot) {
  const persist = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  const script = join(root, 'bench/coldstart.mjs');
  const median = (runs, key) => {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b);
    return +values[Math.floor(values.length / 2)].toFixed(1);
  };
  const one = (mode, geoOrder) => {
    const env = { ...process.env, BENCH_GEO_ORDER: geoOrder ?? BINDINGS.GEO_ORDER };
    const text = execFileSync(process.execPath, mode ? [script, persist, mode] : [script, persist], { encoding: 'utf8', env });
    return JSON.parse(text.trim().split('\n').pop());
  };
  try {
    execFileSync(process.execPath, [script, persist, 'seed'], { input: snapshot, stdio: ['pipe', 'ignore', 'inherit'] });
    log(`cold starts: ${COLD_RUNS} rounds of the null worker and ours in each geo order`);
    const [floor, production, localDev] = [[], [], []];
    for (let i = 0; i < COLD_RUNS; i++) {
      floor.push(one('null'));
      production.push(one(undefined, 'cf,mmdb'));
      localDev.push(one(undefined, 'mmdb,cf'));
    }
    const figures = (ours) => ({
      process_to_first_302_ms: median(ours, 'total_ms'),
      runtime_ready_ms: median(ours, 'ready_ms'),
      first_request_ms: median(ours, 'first_request_ms'),
      ours_minus_null_first_request_ms: +(median(ours, 'first_request_ms') - median(floor, 'first_request_ms')).toFixed(1),
      kv_reads_first_request: median(ours, 'kv_reads'),
    });
    return {
      runs: COLD_RUNS,
      null_process_to_first_302_ms: median(floor, 'total_ms'),
      null_first_request_ms: median(floor, 'first_request_ms'),
      production: figures(production),
      local_dev: figures(localDev),
    };
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
}

function sizes() {
  const file = (p) => readFileSync(join(root, p));
  const wasm = file('build/index_bg.wasm');
  // The module entry (src/edge/entry.mjs) and worker-build's bundle it imports.
  const js = Buffer.concat([file('build/index.js'), file('build/rust.js')]);
  return { wasm_raw: wasm.length, wasm_gzip: gzipSync(wasm, { level: 9 }).length, js_raw: js.length, js_gzip: gzipSync(js, { level: 9 }).length };
}

function criterion() {
  log('criterion (native core microbenchmarks)');
  // The release profile's panic = "abort" (for the wasm) cannot build the bench harness
  // beside the router binary (cargo mixes unwind and abort copies of the dependencies);
  // unwinding costs the measured code nothing.
  const env = { ...process.env, CARGO_PROFILE_RELEASE_PANIC: 'unwind' };
  const run = spawnSync('cargo', ['bench', '--quiet', '--bench', 'core', '--', '--output-format', 'bencher', '--warm-up-time', '1', '--measurement-time', '3'], { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`cargo bench failed:\n${run.stderr}`);
  const out = {};
  for (const line of run.stdout.split('\n')) {
    const m = line.match(/^test (\S+) \.\.\. bench:\s+([\d,.]+) ns\/iter/);
    if (m) out[m[1]] = Number(m[2].replace(/,/g, ''));
  }
  return out;
}

// Issue 12's budgets (the visit at the platform floor), and the figures kept from before.
const BUDGETS = [
  ['floor.ratio_rps.c16', '>=', 0.85, 'ours/null requests/s at 16 connections'],
  ['floor.ratio_rps.c1', '>=', 0.85, 'ours/null requests/s at 1 connection'],
  ['cold_start.production.ours_minus_null_first_request_ms', '<=', 30, 'first request of a fresh isolate minus the null worker\'s, GEO_ORDER=cf,mmdb (ms)'],
  ['size.wasm_gzip', '<=', 1024 * 1024, 'wasm, gzipped (bytes)'],
  ['core_ns.decide/1000', '<=', 2000, 'decide at 1,000 rules (ns, native)'],
  ['floor.kv_reads.warm_max', '<=', 0, 'KV reads per warm request'],
  ['floor.kv_reads.cold_first_request', '<=', 2, 'KV reads on a cold isolate (snapshot + mmdb)'],
];

/** The ceilings printed beside each ratio budget: their results key and label. */
const CEILINGS = [
  ['answer_only_ratio_rps', 'our answer as constants, no visit'],
  ['wasm_memoized_ratio_rps', "our entry with the wasm's answers memoized"],
];

function get(obj, path) {
  // Keys may contain dots inside names like "decide/1000", so split only on known parents.
  const [head, ...rest] = path.split('.');
  return rest.length ? get(obj?.[head], rest.join('.')) : obj?.[head];
}

function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object') flatten(v, key, out);
    else if (typeof v === 'number') out[key] = v;
  }
  return out;
}

async function main() {
  const only = new Set((process.env.BENCH_ONLY ?? 'size,core,floor,cold').split(','));
  const snapshot = bigSnapshot();
  const results = { recorded_at: new Date().toISOString(), machine: `${process.platform} ${process.arch}, node ${process.version}` };
  if (only.has('size')) results.size = sizes();
  if (only.has('core')) results.core_ns = criterion();
  if (only.has('floor')) results.floor = await floor(snapshot);
  if (only.has('cold')) results.cold_start = coldStart(snapshot);

  const previous = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : null;
  const now = flatten(results);
  const before = previous ? flatten(previous) : {};
  console.log('\nfigure'.padEnd(52) + 'value'.padStart(14) + 'previous'.padStart(14) + 'change'.padStart(10));
  for (const [key, value] of Object.entries(now)) {
    const old = before[key];
    const change = old ? `${(((value - old) / old) * 100).toFixed(1)}%` : '';
    console.log(key.padEnd(52) + String(value).padStart(14) + (old === undefined ? '' : String(old)).padStart(14) + change.padStart(10));
  }
  console.log('\nbudgets');
  for (const [path, op, limit, label] of BUDGETS) {
    const value = get(results, path);
    if (value === undefined) continue;
    const met = op === '>=' ? value >= limit : value <= limit;
    // Each ratio line carries the same run's ceilings (see `answerOnly`, `memoizedEntry`).
    const note = path.startsWith('floor.ratio_rps.')
      ? CEILINGS.map(([key, label]) => [label, get(results, path.replace('ratio_rps', key))])
          .filter(([, ceiling]) => ceiling !== undefined)
          .map(([label, ceiling]) => `; ${label}: ${ceiling}`)
          .join('')
      : '';
    console.log(`  ${met ? 'met ' : 'MISS'}  ${label}: ${value} (budget ${op} ${limit}${note})`);
  }
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${RESULTS}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
