// Where a request's time goes (`make bench-breakdown`): the same release worker and large
// snapshot as `make bench`, loaded by wrk at 1 connection with one request shape at a time,
// each adding one piece of the visitor path, beside the null worker. The difference between
// neighbouring rows is what that piece costs per request on this runtime.

import { spawnSync } from 'node:child_process';
import { Miniflare } from 'miniflare';
import { NULL_WORKER, COMPAT, ourWorkerOptions, migrate, seed, bigSnapshot } from './bench.mjs';

const SECONDS = process.env.BENCH_SECONDS ?? '5';
const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

function wrk(url, headers) {
  const args = ['-t', '1', '-c', '1', '-d', `${SECONDS}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const run = spawnSync('wrk', [...args, url], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)[1]);
  const p50 = /50%\s+([\d.]+)(us|ms)/.exec(run.stdout);
  return { rps: Math.round(rps), p50_us: Math.round(Number(p50[1]) * (p50[2] === 'ms' ? 1000 : 1)), mean_us: Math.round(1e6 / rps) };
}

const rows = [];
const nullMf = new Miniflare({ host: '127.0.0.1', port: 0, modules: true, script: NULL_WORKER, compatibilityDate: COMPAT });
const nullBase = await nullMf.ready;
wrk(new URL('/', nullBase).toString(), {});
rows.push(['null worker (fixed 302)', wrk(new URL('/', nullBase).toString(), {})]);
await nullMf.dispose();

const ours = new Miniflare(ourWorkerOptions());
const base = await ours.ready;
await migrate(ours);
await seed(ours, bigSnapshot());
const url = (path) => new URL(path, base).toString();
wrk(url('/gharart/festive'), { 'User-Agent': UA, 'X-Forwarded-For': '49.36.0.1' }); // warm-up
const cases = [
  ['ours: /healthz (wasm entry and a response)', '/healthz', {}],
  ['ours: unknown entry (snapshot from the isolate cache, 404 page)', '/gharart/no-such-entry', {}],
  ['ours: entry, no headers (decide on unknown facts, 302)', '/gharart/festive', {}],
  ['+ User-Agent (woothee)', '/gharart/festive', { 'User-Agent': UA }],
  ['+ X-Forwarded-For (mmdb lookup)', '/gharart/festive', { 'User-Agent': UA, 'X-Forwarded-For': '49.36.0.1' }],
  ['+ Accept-Language', '/gharart/festive', { 'User-Agent': UA, 'X-Forwarded-For': '49.36.0.1', 'Accept-Language': 'en-IN,en;q=0.9' }],
  ['+ visitor cookie (no Set-Cookie)', '/gharart/festive', { 'User-Agent': UA, 'X-Forwarded-For': '49.36.0.1', 'Accept-Language': 'en-IN,en;q=0.9', Cookie: 'gh_vid=0123456789abcdef0123456789abcdef' }],
];
for (const [name, path, headers] of cases) rows.push([name, wrk(url(path), headers)]);
await ours.dispose();

const first = rows[0][1].mean_us;
console.log(`${'request shape'.padEnd(66)} ${'req/s'.padStart(7)} ${'mean us'.padStart(8)} ${'p50 us'.padStart(7)} ${'vs null'.padStart(8)}`);
for (const [name, r] of rows) console.log(`${name.padEnd(66)} ${String(r.rps).padStart(7)} ${String(r.mean_us).padStart(8)} ${String(r.p50_us).padStart(7)} ${`+${r.mean_us - first}`.padStart(8)}`);
