// The worker's module entry (copied to build/index.js by `make build`; worker-build's own
// bundle becomes build/rust.js). It sends visitors straight to one exported wasm function
// and everything else (the API, the preview page, health, the cron) to the `worker`
// crate's handlers, unchanged. Nothing is decided here: src/edge/hot.rs says what the
// answer is, what to read first and what to do after responding.
//
// A visit: the request's parts as one string in, one string out (`A` an answer, `P` not a
// visitor path, `S <handle>` read that snapshot first, `G` read the MaxMind DB first, `C`
// send request.cf too; see hot.rs). The snapshot is served from the isolate and re-read in the background once
// its TTL has passed (`@refresh` after the answer), so a visitor waits for KV only on an
// isolate's first visit to a handle.

import RustWorker from './rust.js';

// worker-build puts every wasm export on the entrypoint's prototype, where service
// bindings could call it over RPC: take them off and keep them here.
const exported = RustWorker.prototype;
const wasm = {
  visit: exported.hot_visit,
  snapshot: exported.hot_snapshot,
  geodb: exported.hot_geodb,
  kvFault: exported.hot_kv_fault,
  cfFirst: exported.hot_cf_first,
};
for (const name of ['hot_visit', 'hot_snapshot', 'hot_geodb', 'hot_kv_fault', 'hot_cf_first']) delete exported[name];

const MMDB_KEY = 'geo:mmdb';
/** Reads in flight, by KV key: concurrent first visits wait for the same one. */
const reading = new Map();
/** Whether the geo order starts with `request.cf` (asked once per isolate). */
let cfFirst = null;

// A plain object, not a subclass of worker-build's entrypoint: that class is wrapped in a
// Proxy that builds a Proxy per instance and per method call, a cost every visit would
// pay. The `worker` crate's handlers get an instance of it only when they run.
export default {
  async fetch(request, env, ctx) {
    const { method } = request;
    if (method === 'GET' || method === 'HEAD') {
      const url = request.url;
      const start = url.indexOf('/', url.indexOf('//') + 2);
      const q = url.indexOf('?', start);
      const path = q < 0 ? url.slice(start) : url.slice(start, q);
      if (!path.startsWith('/v2/')) {
        const answer = await visit(request, env, ctx, method, path, q < 0 ? '' : url.slice(q + 1));
        if (answer !== null) return answer;
      }
    }
    return new RustWorker(ctx, env).fetch(request);
  },
  async scheduled(controller, env, ctx) {
    return new RustWorker(ctx, env).scheduled(controller);
  },
};

/** The visit's answer, or null when the path is not a visitor's. */
async function visit(request, env, ctx, method, path, query) {
  const h = request.headers;
  // The order of hot.rs `Field`. `request.cf` only when the wasm needs it (`C`): workerd
  // parses the whole object on its first access.
  const headers = [
    method, path, query,
    h.get('user-agent'), h.get('sec-ch-ua-mobile'), h.get('sec-ch-ua-platform'),
    h.get('accept-language'), h.get('cookie'), h.get('cf-connecting-ip'), h.get('x-forwarded-for'),
  ].map((v) => v ?? '').join('\n');
  const withCf = () => {
    const cf = request.cf;
    return [cf?.country, cf?.continent, cf?.regionCode, cf?.city, cf?.asn, '1'].map((v) => v ?? '').join('\n');
  };
  let reads = 0;
  try {
    cfFirst ??= wasm.cfFirst(env);
    let geo = cfFirst ? withCf() : '\n\n\n\n\n';
    // At most a snapshot, the MaxMind DB and request.cf to read before the answer.
    for (let step = 0; step < 4; step += 1) {
      const out = wasm.visit(env, `${headers}\n${geo}\n${reads}`, Date.now());
      switch (out.charCodeAt(0)) {
        case 65: // A
          return respond(out, env, ctx);
        case 80: // P
          return null;
        case 83: // S <handle>
          reads += 1;
          await once(`snapshot:${out.slice(2)}`, () => readSnapshot(env, out.slice(2)));
          break;
        case 67: // C
          geo = withCf();
          break;
        case 71: // G [<handle>]
          reads += 1;
          if (out.length > 2) refresh(env, ctx, out.slice(2));
          await once(MMDB_KEY, () => readGeodb(env));
          break;
        default:
          throw new Error(`unexpected answer from hot_visit: ${out.slice(0, 40)}`);
      }
    }
    throw new Error('hot_visit asked for more than it may');
  } catch (error) {
    return failed(error, env);
  }
}

/** Builds the Response of an `A` answer; runs its `@` tasks after it. */
function respond(out, env, ctx) {
  const split = out.indexOf('\n\n');
  const head = out.slice(0, split).split('\n');
  const body = out.slice(split + 2);
  const headers = [];
  for (let i = 2; i < head.length; i += 1) {
    const line = head[i];
    const colon = line.indexOf(': ');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === '@refresh') refresh(env, ctx, value);
    else headers.push([name, value]);
  }
  return new Response(body === '' ? null : body, { status: Number(head[1]), headers });
}

/** Re-reads a handle's snapshot after the response (stale-while-revalidate). */
function refresh(env, ctx, handle) {
  ctx.waitUntil(once(`snapshot:${handle}`, () => readSnapshot(env, handle)));
}

function once(key, read) {
  let pending = reading.get(key);
  if (!pending) {
    pending = read().finally(() => reading.delete(key));
    reading.set(key, pending);
  }
  return pending;
}

/** One KV read through the fault-injection layer (src/edge/faults.rs; tests only). */
async function readKv(env, key) {
  const fault = wasm.kvFault(env);
  if (fault !== '') {
    const [delay, fails] = fault.split(',');
    if (Number(delay) > 0) await new Promise((resolve) => setTimeout(resolve, Number(delay)));
    if (fails === '1') throw new Error('injected KV read failure');
  }
  return env.CONFIG.get(key, 'arrayBuffer');
}

async function readSnapshot(env, handle) {
  const [value, failure] = await settle(readKv(env, `snapshot:${handle}`));
  wasm.snapshot(env, handle, value, failure, Date.now());
}

async function readGeodb(env) {
  const [value, failure] = await settle(readKv(env, MMDB_KEY));
  wasm.geodb(env, value, failure, Date.now());
}

/** `[bytes or undefined (no key), '' or why the read failed]`. */
async function settle(read) {
  try {
    const value = await read;
    return [value === null ? undefined : new Uint8Array(value), ''];
  } catch (error) {
    return [undefined, String(error?.message ?? error) || 'KV read failed'];
  }
}

/**
 * The wasm module failed (a trap, or it was already terminated): the next request
 * re-instantiates it (worker-build's reset, through `__worker_init_state`); this visitor
 * gets the operator's fallback or a page, never a 5xx.
 */
function failed(error, env) {
  console.error(`visit failed: ${error?.stack ?? error}`);
  if (globalThis.__worker_init_state) globalThis.__worker_init_state.criticalError = true;
  const headers = {
    'Cache-Control': 'private, no-store',
    'X-Request-Id': crypto.randomUUID().replaceAll('-', ''),
    'X-Router-Outcome': 'snapshot_unavailable',
  };
  const fallback = httpsUrl(env.SAFE_FALLBACK_URL);
  if (fallback) return new Response(null, { status: 302, headers: { ...headers, Location: fallback } });
  return new Response('Back soon: this link is briefly unavailable. Please try again in a minute.\n', {
    status: 200,
    headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

/** `SAFE_FALLBACK_URL` as the worker's settings take it: an https URL, else none. */
function httpsUrl(value) {
  try {
    const url = new URL(String(value ?? '').trim());
    return url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
