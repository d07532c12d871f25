// What the *-faults.test.mjs files share. Each of them starts workers with faults injected
// through the test-only var FAULTS (src/edge/faults.rs) or broken KV contents, and sends
// every response through one observer (observe.mjs): no 5xx but the API 503s a test
// asserted, no Location off the allowlist of rules/gharart (SAFE_FALLBACK_URL aside), no
// internal error text, at most one Set-Cookie.
//
//   const { list, visit, api, checkEveryResponse } = await faultClient();
//   const res = await visit(worker, '/gharart/festive');            // an Indian iPhone
//   expect503(await api(worker, 'GET', `${V2}/rule-audit`, { expect503: true }), 'storage_unavailable');
//   checkEveryResponse({ atLeast: 20 });                             // the file's last test

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, UA, allowlist } from './harness.mjs';
import { makeObserver, rawRequest, withJson } from './observe.mjs';

/** The fallback the fault workers are started with (wrangler.toml has another). */
export const SAFE_FALLBACK_URL = 'https://www.gharart.com/back-soon';
export const V2 = '/v2/handles/gharart';
/** The headers of an iPhone at `ip` (X-Forwarded-For: the workers trust it). */
export const iphoneFrom = (ip) => ({ 'User-Agent': UA.iphone, 'X-Forwarded-For': ip });
export const IN_IPHONE = iphoneFrom(IPS.IN);

/**
 * A client whose every response is observed: `visit(worker, path, headers)` (a visitor,
 * by default an Indian iPhone; `res.ms` is how long it took) and `api(worker, method,
 * path, { body, token = worker.pats?.admin, headers, expect503 })` (a 503 it expects is
 * deliberate). Responses are observe.mjs's raw ones; `api` adds `json`, `error` and
 * `requestId`. `list` is the allowlist of rules/gharart, which every worker starts from.
 */
export async function faultClient() {
  const list = await allowlist();
  const observer = makeObserver(() => list);

  async function visit(worker, path, headers = IN_IPHONE) {
    const started = Date.now();
    const res = await rawRequest(worker.base, path, { headers });
    res.ms = Date.now() - started;
    observer.observe(res, { fallbackUrl: SAFE_FALLBACK_URL });
    return res;
  }

  async function api(worker, method, path, { body, token = worker.pats?.admin, headers = {}, expect503 = false } = {}) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (payload !== undefined) h['Content-Type'] = 'application/json';
    const res = await rawRequest(worker.base, path, { method, headers: h, body: payload });
    observer.observe(res, { what: `${method} ${path}`, allow5xx: expect503 && res.status === 503 });
    withJson(res);
    res.requestId = res.header('x-request-id');
    return res;
  }

  /** The file's last test: the observer saw more than `atLeast` responses and no violation. */
  function checkEveryResponse({ atLeast }) {
    describe('over every response of this file', () => {
      test('no 5xx but the asserted 503s, no Location off the allowlist, no internal text, at most one Set-Cookie', async (t) => {
        await sleep(0);
        const s = observer.stats();
        t.diagnostic(`${s.responses} responses, ${s.redirects} redirects`);
        assert.ok(s.responses > atLeast, `${s.responses} responses`);
        assert.deepEqual(observer.violations.slice(0, 20), [], `${observer.violations.length} violations`);
      });
    });
  }

  return { list, visit, api, checkEveryResponse };
}

/** A 503 with `code`, its request id, Retry-After and a JSON body. */
export function expect503(res, code) {
  assert.equal(res.status, 503, `${res.method} ${res.path}: want 503 ${code}, got ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.error?.code, code, res.body.slice(0, 300));
  assert.equal(res.error.request_id, res.requestId);
  assert.ok(Number(res.header('retry-after')) > 0, 'Retry-After');
  assert.match(res.header('content-type') ?? '', /application\/json/);
}

/** The redirect a visitor gets with no snapshot to decide by. */
export function assertSafeFallback(res) {
  assert.equal(res.status, 302, `${res.path}: ${res.status} ${res.body.slice(0, 200)}`);
  assert.equal(res.location, SAFE_FALLBACK_URL);
  assert.equal(res.header('x-router-outcome'), 'snapshot_unavailable');
  assert.deepEqual(res.setCookies, []);
}
