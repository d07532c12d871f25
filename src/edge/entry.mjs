// The worker's module entry (copied to build/index.js by `make build`; worker-build's own
// bundle becomes build/rust.js). It sends visitors straight to one exported wasm function
// and everything else (the API, the preview page, health, the cron) to the `worker`
// crate's handlers, unchanged. Nothing is decided here: src/edge/hot.rs says what the
// answer is, what to read first and what to do after responding.
//
// A visit: the request's parts as one string in, one string out (`A` an answer, `P` not a
// visitor path, `S <handle>` read that snapshot first, `G` read the MaxMind DB first, `C`
// send request.cf too; `G`/`C` may name a handle whose re-read to start; see hot.rs). The snapshot is served from the isolate and re-read in the background once
// its TTL has passed (`@refresh` after the answer), so a visitor waits for KV only on an
// isolate's first visit to a handle. A visit that showed a campaign variant carries its
// exposure (`@exposure`), queued after the answer (see `expose`).

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
  sendFault: exported.hot_send_fault,
};
for (const name of ['hot_visit', 'hot_snapshot', 'hot_geodb', 'hot_kv_fault', 'hot_cf_first', 'hot_send_fault']) delete exported[name];

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
  // The exposure queue's consumer (src/edge/queue.rs): without this handler the runtime
  // has no consumer to deliver batches to, and no exposure is ever written.
  async queue(batch, env, ctx) {
    return new RustWorker(ctx, env).queue(batch);
  },
};

/** The visit's answer, or null when the path is not a visitor's. */
async function visit(request, env, ctx, method, path, query) {
  const h = request.headers;
  // The order of hot.rs `Field` (one template string: no array, no closure per field).
  // `request.cf` only when the wasm needs it (`C`): workerd parses the whole object on
  // its first access.
  const headers =
    `${method}\n${path}\n${query}\n${h.get('user-agent') ?? ''}\n${h.get('sec-ch-ua-mobile') ?? ''}` +
    `\n${h.get('sec-ch-ua-platform') ?? ''}\n${h.get('accept-language') ?? ''}\n${h.get('cookie') ?? ''}` +
    `\n${h.get('cf-connecting-ip') ?? ''}\n${h.get('x-forwarded-for') ?? ''}`;
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
        case 67: // C [<handle>]
          if (out.length > 2) refresh(env, ctx, out.slice(2));
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

/**
 * Builds the Response of an `A` answer; runs its `@` tasks after it. The headers go to the
 * Response as a plain object, which workerd takes faster than a list of pairs; a name
 * that comes twice (no visitor answer has one) switches to the list.
 */
function respond(out, env, ctx) {
  let at = out.indexOf('\n', 2);
  const status = Number(at < 0 ? out.slice(2) : out.slice(2, at));
  let headers = {};
  let body = null;
  while (at >= 0) {
    const start = at + 1;
    at = out.indexOf('\n', start);
    if (at === start) {
      body = out.slice(at + 1);
      break;
    }
    const line = at < 0 ? out.slice(start) : out.slice(start, at);
    const colon = line.indexOf(': ');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === '@refresh') refresh(env, ctx, value);
    else if (name === '@exposure') expose(env, ctx, value);
    else if (Array.isArray(headers)) headers.push([name, value]);
    else if (Object.hasOwn(headers, name)) headers = [...Object.entries(headers), [name, value]];
    else headers[name] = value;
  }
  return new Response(body === '' ? null : body, { status, headers });
}

/** Re-reads a handle's snapshot after the response (stale-while-revalidate). */
function refresh(env, ctx, handle) {
  ctx.waitUntil(once(`snapshot:${handle}`, () => readSnapshot(env, handle)));
}

/**
 * Exposures waiting to be sent, gathered per isolate: the visit that starts a batch sends
 * it EXPOSURE_GATHER_MS later in its own waitUntil, or the visit that fills it sends it at
 * once; visits in between only add their message. So a busy isolate makes one
 * `sendBatch` per batch instead of a queue call per visit, and each send runs in the
 * context of the visit that makes it. The visitor never waits: the answer is built
 * already. A send that fails (a queue over its 5,000 messages/s answers Too Many Requests
 * until the rate falls) is tried again with backoff, in the same waitUntil, for up to
 * about 28 s (waitUntil's 30 s after the response); then, or when more than
 * EXPOSURE_RETRY_MAX_BATCHES batches of this isolate already wait, it is logged and its
 * exposures are lost. Never surfaced to the visitor; a missing binding is logged once.
 * A batch sent twice (an error after the queue took it) counts once: the consumer
 * deduplicates by visit id.
 */
const EXPOSURE_GATHER_MS = 50;
/** The most messages one `sendBatch` takes (Cloudflare Queues' limit). */
const EXPOSURE_BATCH_MAX = 100;
/** Waits before the attempts after a failed send, in ms (27.75 s in all). */
const EXPOSURE_RETRY_MS = [250, 500, 1000, 2000, 4000, 8000, 12000];
/** Batches an isolate keeps for another attempt (10,000 messages, about 2 MB). */
const EXPOSURE_RETRY_MAX_BATCHES = 100;
let gathering = null;
let retrying = 0;
let unboundLogged = false;

function expose(env, ctx, message) {
  const queue = env.EXPOSURES;
  if (!queue) {
    if (!unboundLogged) console.error('exposures: no EXPOSURES queue binding; exposures are not recorded');
    unboundLogged = true;
    return;
  }
  let batch = gathering;
  if (!batch) {
    batch = { messages: [], sent: false };
    gathering = batch;
    const started = batch;
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, EXPOSURE_GATHER_MS)).then(() => flush(env, queue, started)));
  }
  batch.messages.push({ body: message, contentType: 'text' });
  if (batch.messages.length >= EXPOSURE_BATCH_MAX) ctx.waitUntil(flush(env, queue, batch));
}

async function flush(env, queue, batch) {
  if (batch.sent) return;
  batch.sent = true;
  if (gathering === batch) gathering = null;
  const send = async () => {
    try {
      // The fault-injection layer first (src/edge/faults.rs; tests only).
      if (wasm.sendFault(env)) throw new Error('injected queue send failure');
      await queue.sendBatch(batch.messages);
      return null;
    } catch (error) {
      return error;
    }
  };
  let failure = await send();
  if (failure === null) return;
  const n = batch.messages.length;
  const why = () => failure?.message ?? failure;
  if (retrying >= EXPOSURE_RETRY_MAX_BATCHES) {
    console.error(`exposures: ${n} lost (${retrying} batches wait already): ${why()}`);
    return;
  }
  retrying += 1;
  try {
    for (const [attempt, wait] of EXPOSURE_RETRY_MS.entries()) {
      console.error(`exposures: sending ${n} failed (${why()}); trying again in ${wait} ms (attempt ${attempt + 2})`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      failure = await send();
      if (failure === null) return;
    }
    console.error(`exposures: ${n} lost (${EXPOSURE_RETRY_MS.length + 1} attempts): ${why()}`);
  } finally {
    retrying -= 1;
  }
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
