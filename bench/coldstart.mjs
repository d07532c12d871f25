// One cold start: this process starts the worker (one programmatic Miniflare instance over
// a KV directory seeded beforehand) and times its first 302. `performance.now()` counts
// from this process's start, so total_ms includes Node's own start-up.
// Usage: node bench/coldstart.mjs <persist-dir> [seed|null]   (seed reads the snapshot on
// stdin; null times the null JavaScript worker the same way, the platform's own floor)

import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { NULL_WORKER, COMPAT, ourWorkerOptions, seed } from './bench.mjs';

const [persist, mode] = process.argv.slice(2);
const options =
  mode === 'null'
    ? { modules: true, script: NULL_WORKER, compatibilityDate: COMPAT }
    : ourWorkerOptions({ kvPersist: persist, d1Persist: persist, port: undefined, host: undefined });
const mf = new Miniflare(options);
await mf.ready;
const ready = performance.now();
if (mode === 'seed') {
  await seed(mf, readFileSync(0));
  await mf.dispose();
  process.exit(0);
}
const headers = { 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148 Safari/604.1', 'X-Forwarded-For': '49.36.0.1' };
const res = await mf.dispatchFetch('http://bench.local/gharart/festive', { headers, redirect: 'manual' });
await res.arrayBuffer();
const done = performance.now();
if (res.status !== 302) {
  console.error(`expected 302, got ${res.status}`);
  process.exit(1);
}
console.log(JSON.stringify({ total_ms: done, ready_ms: ready, first_request_ms: done - ready, kv_reads: Number(res.headers.get('x-kv-reads') ?? 0) }));
await mf.dispose();
