// CPU profile of the worker under load (`make bench-profile`): the release worker with the
// large snapshot in one Miniflare instance with its V8 inspector open, the wrk mix of
// `make bench` at 16 connections for BENCH_SECONDS, sampled by V8's profiler. Prints self
// time by where it runs (our wasm, our JS entry, the wasm-bindgen glue, the runtime's own
// work, garbage collection, idle) and the hottest functions, and writes the
// .cpuprofile (open it in Chrome DevTools for the flame graph).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { ourWorkerOptions, migrate, seed, bigSnapshot, root } from './bench.mjs';

const SECONDS = process.env.BENCH_SECONDS ?? '10';
const OUT = join(root, 'bench/profile.cpuprofile');
const INSPECTOR = 9239;

const mf = new Miniflare(ourWorkerOptions({ inspectorPort: INSPECTOR }));
const base = await mf.ready;
await migrate(mf);
await seed(mf, bigSnapshot());
const url = new URL('/gharart/festive', base).toString();
const wrk = (seconds, connections = 16) => spawnSync('wrk', ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '-s', join(root, 'bench/mix.lua'), url], { encoding: 'utf8' });
wrk(3); // warm-up: the snapshot and the mmdb are cached, the code is hot

const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR}/json`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
let nextId = 0;
const pending = new Map();
ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.id !== undefined && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  }
});
const send = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 50 });
await send('Profiler.start');
const load = wrk(SECONDS);
const { result } = await send('Profiler.stop');
ws.close();
await mf.dispose();

const stats = JSON.parse(load.stdout.trim().split('\n').find((l) => l.startsWith('{"requests"')));
const profile = result.profile;
writeFileSync(OUT, JSON.stringify(profile));

// Self time per node from the samples.
const dt = new Map();
for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
const kind = (frame) => {
  if (frame.url.startsWith('wasm://')) return 'our wasm (decide, geo, templates, tokens, glue into JS)';
  if (frame.url.endsWith('index.js')) return 'our JS entry (src/edge/entry.mjs: parts in, Response out)';
  if (frame.url.endsWith('rust.js')) return 'wasm-bindgen glue and worker-build shim (rust.js)';
  if (['(idle)', '(program)', '(garbage collector)'].includes(frame.functionName)) return frame.functionName;
  return 'runtime built-ins (Headers, Response, URL, crypto, ...)';
};
const byKind = new Map();
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const t = dt.get(node.id) ?? 0;
  total += t;
  byKind.set(kind(node.callFrame), (byKind.get(kind(node.callFrame)) ?? 0) + t);
  const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').pop()}:${node.callFrame.lineNumber}:${node.callFrame.columnNumber}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + t);
}
const busy = total - (byKind.get('(idle)') ?? 0);
const requests = stats.requests;
console.log(`${requests} requests in ${SECONDS}s at 16 connections; isolate busy ${(busy / 1e3).toFixed(0)} ms of ${(total / 1e3).toFixed(0)} ms sampled`);
console.log(`\n${'where'.padEnd(60)} ${'share'.padStart(6)} ${'us/request'.padStart(11)}`);
for (const [k, t] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(`${k.padEnd(60)} ${`${((100 * t) / total).toFixed(1)}%`.padStart(6)} ${(t / requests).toFixed(1).padStart(11)}`);
console.log(`\nhottest functions (self time)`);
for (const [k, t] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${k.slice(0, 70).padEnd(70)} ${`${((100 * t) / total).toFixed(1)}%`.padStart(6)} ${(t / requests).toFixed(1).padStart(8)} us/req`);
console.log(`\nwrote ${OUT}`);
