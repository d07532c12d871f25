// What the browser-*.test.mjs files share: Debian's Chromium driven by playwright-core
// against the built worker under wrangler dev (local KV with the gharart snapshot, local
// D1 with PATs), and the moves a person makes on the preview page (`/preview`).
//
//   describeInChromium('…', (suite) => {
//     test('…', async () => { const { page, problems } = await suite.openPage(); … });
//   });
//
// Each file gets a worker and a browser of its own (started in the suite's `before`).
// The suite is skipped (not failed) only when /usr/bin/chromium is absent and
// CI_REQUIRE_BROWSER is not set; `make test` installs chromium and sets it. Playwright's
// own browser download does not work here: the executable is always Debian's.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, startWorker } from './harness.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const REQUIRED = Boolean(process.env.CI_REQUIRE_BROWSER);
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const SKIP = !HAVE_CHROMIUM && !REQUIRED
  ? `${CHROMIUM} is absent: install Debian's chromium (make test does, and sets CI_REQUIRE_BROWSER=1 so that a missing browser fails)`
  : false;
/** The flags this machine's Chromium needs (no sandbox as root, no network of its own). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** Screenshots of every run (tests/e2e/artifacts/, not committed). */
export const ARTIFACTS = join(ROOT, 'tests', 'e2e', 'artifacts');
/** The README's picture (refreshed with UPDATE_SCREENSHOT=1, `make screenshot`). */
export const SCREENSHOTS = join(ROOT, 'tests', 'e2e', 'screenshots');
export const HANDLE = 'gharart';
export const V2 = `/v2/handles/${HANDLE}`;
const WAIT_MS = 30_000;
/**
 * The time the visitor form decides at (the browser runs in UTC): fixed, so that the
 * Dhanteras flash window (6 November 2026, India time) and the campaign dates never move
 * what the tests expect, whatever day they run on.
 */
export const AT_LOCAL = '2026-11-20T12:00';
export const AT = '2026-11-20T12:00:00.000Z';

/**
 * A `describe` whose tests drive the page in Chromium. `body(suite)` registers the tests;
 * once the suite's `before` has run, `suite.worker` is the worker, `suite.pats` its PATs
 * (admin, limited: rules:read and preview, unrelated: campaigns:read, expired),
 * `suite.openPage(…)` opens the page and `suite.explain(…)` fetches a trace.
 */
export function describeInChromium(title, body) {
  test('Chromium is installed (CI_REQUIRE_BROWSER)', { skip: REQUIRED ? false : 'CI_REQUIRE_BROWSER is not set' }, () => {
    assert.ok(HAVE_CHROMIUM, `CI_REQUIRE_BROWSER is set but ${CHROMIUM} is absent: apt-get install chromium (scripts/need.sh chromium:chromium)`);
  });

  let browser;
  const suite = {
    worker: null,
    pats: null,
    /**
     * A page with its console errors, page errors and request URLs collected; with
     * `token`, the gharart handle loaded with it (after its first preview).
     */
    async openPage({ width = 1440, height = 900, permissions = [], token } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US', timezoneId: 'UTC' });
      if (permissions.length) await context.grantPermissions(permissions, { origin: suite.worker.base });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const problems = [];
      const requests = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
      const response = await page.goto(`${suite.worker.base}/preview`);
      await page.waitForSelector('html[data-ready="true"]');
      if (token) await connect(page, token);
      return { context, page, problems, requests, response };
    },
    /** An explain trace fetched here (not by the page) with a CLI-minted preview token. */
    async explain(overrides, { lang = 'en-US' } = {}) {
      const { token } = await suite.worker.previewToken();
      const params = new URLSearchParams({ __preview: token, __at: AT, ...overrides, __explain: '1' });
      const res = await suite.worker.fetch(`/${HANDLE}/festive?${params}`, { lang });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      return res.json();
    },
  };

  describe(title, { skip: SKIP || (!HAVE_CHROMIUM && `${CHROMIUM} is absent (see the failure above)`) }, () => {
    before(async () => {
      const { chromium } = await import('playwright-core');
      suite.worker = await startWorker({
        d1Migrations: 'DB',
        pats: {
          admin: { scopes: 'admin', sub: 'marketer@gharart.com' },
          limited: { scopes: 'rules:read preview', sub: 'previewer@gharart.com' },
          unrelated: { scopes: 'campaigns:read', sub: 'campaigns@gharart.com' },
          expired: { scopes: 'admin', sub: 'old@gharart.com', expiresAt: Math.floor(Date.now() / 1000) - 3600 },
        },
      });
      suite.pats = suite.worker.pats;
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      mkdirSync(ARTIFACTS, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      await suite.worker?.stop();
    });

    body(suite);
  });
}

/** Problems other than the browser's own log of an expected 4xx from the API. */
export function unexpected(problems, allowedStatuses = []) {
  return problems.filter((p) => !allowedStatuses.some((s) => p.includes(`Failed to load resource: the server responded with a status of ${s}`)));
}

/** Submits a form (by clicking `button`) and waits until the preview after it is drawn. */
export async function runPreview(page, button = '#run') {
  const before = Number((await page.getAttribute('#results', 'data-seq')) ?? 0);
  await page.click(button);
  await waitForPreview(page, before);
}

/** Waits until a preview newer than number `before` is drawn. */
export async function waitForPreview(page, before) {
  await page.waitForFunction((n) => Number(document.querySelector('#results').dataset.seq ?? 0) > n
    && document.querySelector('#results').getAttribute('aria-busy') === 'false', before);
}

/** Loads `handle` with `token` through the access form and waits for the first preview. */
export async function connect(page, token, handle = HANDLE) {
  await page.fill('#token', token);
  await page.fill('#handle', handle);
  const before = Number((await page.getAttribute('#results', 'data-seq')) ?? 0);
  await page.click('#connect');
  await waitForPreview(page, before);
}

/** Fills the visitor form (empty: no override; the time defaults to AT_LOCAL). */
export async function setVisitor(page, { country = '', device = '', region = '', lang = '', variant = '', at = AT_LOCAL } = {}) {
  await page.fill('#at', at);
  await page.selectOption('#country', country);
  await page.selectOption('#device', device);
  await page.fill('#region', region);
  await page.fill('#lang', lang);
  await page.fill('#variant', variant);
}

/** The trace table as `[{ id, result, resultText, why }]`. */
export function traceRows(page) {
  return page.$$eval('#trace-body table.rules tbody tr', (rows) => rows.map((tr) => ({
    id: tr.dataset.rule,
    result: tr.dataset.result,
    resultText: tr.querySelector('td.result').textContent.trim(),
    why: tr.querySelector('td.why').textContent.trim(),
  })));
}

/** Host and path of a URL, as the page shortens destinations. */
export function shortUrl(url) {
  const u = new URL(url);
  return u.host + (u.pathname === '/' ? '/' : u.pathname.replace(/\/$/, ''));
}
