// What the console-*.test.mjs files share: a worker of their own (local KV with the
// gharart snapshot, local D1 with the file's PATs, generous API limits, and optionally
// the suite's DNS-over-HTTPS server as DOH_RESOLVER_URL), Debian's Chromium through
// playwright-core (see browser.mjs), and the moves a person makes in the console
// (`/console`): signing in with a token, opening a view, running an action and reading
// its outcome. Every step is checked in the page and against the API.
//
//   describeConsole('…', { pats: { marketer: { scopes, sub } }, doh: true }, (suite) => {
//     test('…', async () => { const { page } = await suite.open({ token: suite.pats.marketer, view: 'domains' }); … });
//   });
//
// Screenshots: tests/e2e/artifacts/console-*.png always; the README's copies in
// tests/e2e/screenshots/ with UPDATE_SCREENSHOT=1 (`make screenshot`).
//
// CONSOLE_UI_FROM_SOURCE=1 serves the page's files from src/edge/ui/ instead of the
// built worker (the API stays the worker's), with the worker's headers: for working on
// the console's JavaScript without rebuilding the wasm. `make test` never sets it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, REQUIRED, SCREENSHOTS, SKIP } from './browser.mjs';
import { ROOT, startDohServer, startWorker, waitFor } from './harness.mjs';

const FROM_SOURCE = process.env.CONSOLE_UI_FROM_SOURCE === '1';
const TYPES = { html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' };

/** Serves /console/* and /preview/* from src/edge/ui (see CONSOLE_UI_FROM_SOURCE). */
async function fromSource(context, worker) {
  const page = await worker.fetch('/console');
  const headers = Object.fromEntries(['content-security-policy', 'cache-control', 'x-content-type-options', 'referrer-policy'].map((h) => [h, page.headers.get(h)]));
  await context.route(/\/(console|preview)(\/.*)?$/, (route) => {
    const url = new URL(route.request().url());
    const [, mount, rest] = url.pathname.match(/^\/(console|preview)\/?(.*)$/);
    const file = rest || 'index.html';
    let body = readFileSync(join(ROOT, 'src', 'edge', 'ui', file), 'utf8');
    if (!rest) body = body.replaceAll('{{base}}', `/${mount}`);
    route.fulfill({ status: 200, headers: { ...headers, 'content-type': TYPES[file.split('.').pop()] }, body });
  });
}

export const HANDLE = 'gharart';
export const V2 = `/v2/handles/${HANDLE}`;
/** The phone width the flows run at (the console must be usable there). */
export const PHONE = { width: 390, height: 844 };
const WAIT_MS = 30_000;
/** SNAPSHOT_TTL_SECONDS of the console suites' workers. */
const TTL_SECONDS = 1;
/** How soon after a write a visitor must get the new routing: the TTL, plus 2 s of slack. */
const FOLLOW_MS = TTL_SECONDS * 1000 + 2000;
const LIMITS = {
  API_WRITES_PER_MINUTE: '100000',
  API_READS_PER_MINUTE: '100000',
  API_PUBLIC_PER_MINUTE: '100000',
  API_AUTH_FAILURES_PER_MINUTE: '100000',
  DAILY_WRITE_LIMIT: '100000',
};

/**
 * A `describe` whose tests drive the console in Chromium against a worker of its own.
 * Once `before` ran: `suite.worker`, `suite.pats` (tokens by name), `suite.doh` (with
 * `doh: true`), `suite.open(…)` and `suite.api(…)`.
 */
export function describeConsole(title, { pats, doh = false, vars = {} }, body) {
  test('Chromium is installed (CI_REQUIRE_BROWSER)', { skip: REQUIRED ? false : 'CI_REQUIRE_BROWSER is not set' }, () => {
    assert.ok(HAVE_CHROMIUM, `CI_REQUIRE_BROWSER is set but ${CHROMIUM} is absent`);
  });
  let browser;
  const suite = {
    worker: null,
    pats: null,
    doh: null,
    /** A console page (390 px wide unless told), on `view`, signed in with `token` if given. */
    async open({ token, view = 'domains', width = PHONE.width, height = PHONE.height, permissions = [] } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US', timezoneId: 'UTC' });
      if (permissions.length) await context.grantPermissions(permissions, { origin: suite.worker.base });
      if (FROM_SOURCE) await fromSource(context, suite.worker);
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const problems = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      const response = await page.goto(`${suite.worker.base}/console#${view}`);
      await page.waitForSelector('html[data-ready="true"]');
      if (token) await signIn(page, token);
      return { context, page, problems, response };
    },
    /** The API as the test sees it (not through the page): `{ status, json, error, requestId }`. */
    async api(method, path, token, body) {
      return suite.worker.api(method, path, { token, body });
    },
  };
  describe(title, { skip: SKIP || (!HAVE_CHROMIUM && `${CHROMIUM} is absent (see the failure above)`) }, () => {
    before(async () => {
      const { chromium } = await import('playwright-core');
      if (doh) suite.doh = await startDohServer();
      suite.worker = await startWorker({
        d1Migrations: 'DB',
        vars: { ...LIMITS, SNAPSHOT_TTL_SECONDS: String(TTL_SECONDS), ...(doh ? { DOH_RESOLVER_URL: suite.doh.url } : {}), ...vars },
        pats,
      });
      suite.pats = suite.worker.pats;
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      mkdirSync(ARTIFACTS, { recursive: true });
    });
    after(async () => {
      await browser?.close();
      await suite.worker?.stop();
      await suite.doh?.close();
    });
    body(suite);
  });
}

/**
 * Visits `path` as `opts` (`{ ip, ua }`) until the redirect's destination (origin and
 * path) satisfies `expected` (a string, or a predicate on it), and resolves to that
 * destination. Fails unless the router followed within FOLLOW_MS of the call: an isolate
 * answers from the snapshot it holds while it re-reads one a TTL old, so the visit right
 * after the TTL may still get the earlier routing.
 */
export async function visitorGets(worker, path, opts, expected, what = 'the visitor') {
  const since = Date.now();
  const ok = typeof expected === 'function' ? expected : (dest) => dest === expected;
  let last = null;
  try {
    return await waitFor(async () => {
      const res = await worker.fetch(path, opts);
      last = res.status === 302 ? res.url.origin + res.url.pathname : `status ${res.status}`;
      return res.status === 302 && ok(last) ? last : null;
    }, { timeoutMs: FOLLOW_MS, intervalMs: 150, what });
  } catch (e) {
    assert.fail(`${what}: still sent to ${last} ${Date.now() - since} ms after the write (want ${typeof expected === 'function' ? 'another destination' : expected}; the TTL is ${TTL_SECONDS} s)`);
  }
}

/** Signs in with `token` through the access form and waits for the view to load. */
export async function signIn(page, token) {
  await page.fill('#token', token);
  await page.fill('#handle', HANDLE);
  await page.evaluate(() => {
    delete document.documentElement.dataset.who;
  });
  await page.click('#connect');
  await page.waitForSelector('html[data-who]');
  await settled(page);
}

/** Waits until no list of the shown view is loading. */
export async function settled(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('main > .view:not([hidden]) [data-loaded]')]
    .every((e) => e.dataset.loaded === 'true'));
}

/** Opens view `name` from the menu and waits for it to load. */
export async function openView(page, name) {
  await page.evaluate((n) => {
    for (const e of document.querySelectorAll(`#view-${n} [data-loaded]`)) e.dataset.loaded = 'stale';
  }, name);
  await page.click(`#views a[data-view="${name}"]`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
  await settled(page);
}

/**
 * Runs `action` (clicks, typing) and waits for the outcome line `out` (a selector) to say
 * how it went; resolves to `{ state, text, requestId, code }`. Lists of the view being
 * reloaded after the action are waited for too.
 */
export async function outcome(page, out, action) {
  await page.$eval(out, (e) => {
    e.dataset.state = 'waiting';
    for (const l of e.closest('.view').querySelectorAll('[data-loaded]')) l.dataset.loaded = 'true';
  });
  await action();
  await page.waitForFunction((sel) => ['ok', 'error'].includes(document.querySelector(sel)?.dataset.state), out);
  await settled(page);
  return page.$eval(out, (e) => {
    const msg = e.querySelector('[data-request-id]');
    return {
      state: e.dataset.state,
      text: e.textContent.replace(/\s+/g, ' ').trim(),
      requestId: msg ? msg.dataset.requestId : null,
      code: msg ? msg.dataset.code || null : null,
    };
  });
}

/** Asserts an outcome went well and names a request id the worker really answered with. */
export function assertOk(result, pattern) {
  assert.equal(result.state, 'ok', result.text);
  assert.ok(result.requestId, `a request id: ${result.text}`);
  assert.ok(result.text.includes(result.requestId), `the request id is shown: ${result.text}`);
  if (pattern) assert.match(result.text, pattern);
}

/**
 * A screenshot of view `name` at the page's width (the top `maxHeight` pixels of the
 * view): tests/e2e/artifacts/console-<name>.png always, and the README's copy in
 * tests/e2e/screenshots/ with UPDATE_SCREENSHOT=1.
 */
export async function screenshot(page, name, maxHeight = 1800) {
  const box = await page.$eval(`#view-${name}`, (e) => {
    const r = e.getBoundingClientRect();
    return { y: r.top + window.scrollY, height: r.height };
  });
  const width = page.viewportSize().width;
  const clip = { x: 0, y: Math.max(0, box.y - 8), width, height: Math.min(maxHeight, box.height + 16) };
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true, clip });
  if (process.env.UPDATE_SCREENSHOT === '1') {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`), fullPage: true, clip });
  }
}
