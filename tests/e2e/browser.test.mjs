// The preview page (`/preview`) in a real browser: Debian's Chromium driven by
// playwright-core against the built worker under wrangler dev (local KV with the gharart
// snapshot, local D1 with PATs). The page is checked against the API it renders: the trace
// against an explain fetched here, the matrix cell by cell against route-preview, the
// audit and the domains against their routes.
//
// Skipped (not failed) only when /usr/bin/chromium is absent and CI_REQUIRE_BROWSER is
// not set; `make test` installs chromium and sets it. Playwright's own browser download
// does not work here: the executable is always Debian's.
//
// Artifacts: tests/e2e/artifacts/preview-page.png (full page, desktop) and
// preview-page-mobile.png, always; tests/e2e/screenshots/preview-page.png (the README's
// picture) only with UPDATE_SCREENSHOT=1.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, sep } from 'node:path';

import { ROOT, startWorker } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REQUIRED = Boolean(process.env.CI_REQUIRE_BROWSER);
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP = !HAVE_CHROMIUM && !REQUIRED
  ? `${CHROMIUM} is absent: install Debian's chromium (make test does, and sets CI_REQUIRE_BROWSER=1 so that a missing browser fails)`
  : false;
/** The flags this machine's Chromium needs (no sandbox as root, no network of its own). */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const ARTIFACTS = join(ROOT, 'tests', 'e2e', 'artifacts');
const SCREENSHOTS = join(ROOT, 'tests', 'e2e', 'screenshots');
const UI_JS = join(ROOT, 'src', 'edge', 'ui', 'js');
const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const CSP_DIRECTIVES = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
  "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
];
const WAIT_MS = 30_000;
/**
 * The time the visitor form decides at (the browser runs in UTC): fixed, so that the
 * Dhanteras flash window (6 November 2026, India time) and the campaign dates never move
 * what the tests expect, whatever day they run on.
 */
const AT_LOCAL = '2026-11-20T12:00';
const AT = '2026-11-20T12:00:00.000Z';

let worker;
let browser;
let T; // PATs by name

/** A page with its console errors, page errors and request URLs collected. */
async function openPage({ width = 1440, height = 900, permissions = [] } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US', timezoneId: 'UTC' });
  if (permissions.length) await context.grantPermissions(permissions, { origin: worker.base });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  const requests = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
  const response = await page.goto(`${worker.base}/preview`);
  await page.waitForSelector('html[data-ready="true"]');
  return { context, page, problems, requests, response };
}

/** Problems other than the browser's own log of an expected 4xx from the API. */
function unexpected(problems, allowedStatuses = []) {
  return problems.filter((p) => !allowedStatuses.some((s) => p.includes(`Failed to load resource: the server responded with a status of ${s}`)));
}

/** Submits a form (by clicking `button`) and waits until the preview after it is drawn. */
async function runPreview(page, button = '#run') {
  const before = Number((await page.getAttribute('#results', 'data-seq')) ?? 0);
  await page.click(button);
  await waitForPreview(page, before);
}

async function waitForPreview(page, before) {
  await page.waitForFunction((n) => Number(document.querySelector('#results').dataset.seq ?? 0) > n
    && document.querySelector('#results').getAttribute('aria-busy') === 'false', before);
}

async function connect(page, token, handle = HANDLE) {
  await page.fill('#token', token);
  await page.fill('#handle', handle);
  const before = Number((await page.getAttribute('#results', 'data-seq')) ?? 0);
  await page.click('#connect');
  await waitForPreview(page, before);
}

async function setVisitor(page, { country = '', device = '', region = '', lang = '', variant = '', at = AT_LOCAL } = {}) {
  await page.fill('#at', at);
  await page.selectOption('#country', country);
  await page.selectOption('#device', device);
  await page.fill('#region', region);
  await page.fill('#lang', lang);
  await page.fill('#variant', variant);
}

/** The trace table as `[{ id, result, why, text }]`. */
function traceRows(page) {
  return page.$$eval('#trace-body table.rules tbody tr', (rows) => rows.map((tr) => ({
    id: tr.dataset.rule,
    result: tr.dataset.result,
    resultText: tr.querySelector('td.result').textContent.trim(),
    why: tr.querySelector('td.why').textContent.trim(),
  })));
}

/** An explain trace fetched here (not by the page) with a CLI-minted preview token. */
async function explain(overrides, { lang = 'en-US' } = {}) {
  const { token } = await worker.previewToken();
  const params = new URLSearchParams({ __preview: token, __at: AT, ...overrides, __explain: '1' });
  const res = await worker.fetch(`/${HANDLE}/festive?${params}`, { lang });
  assert.equal(res.status, 200, res.body.slice(0, 300));
  return res.json();
}

function shortUrl(url) {
  const u = new URL(url);
  return u.host + (u.pathname === '/' ? '/' : u.pathname.replace(/\/$/, ''));
}

test('Chromium is installed (CI_REQUIRE_BROWSER)', { skip: REQUIRED ? false : 'CI_REQUIRE_BROWSER is not set' }, () => {
  assert.ok(HAVE_CHROMIUM, `CI_REQUIRE_BROWSER is set but ${CHROMIUM} is absent: apt-get install chromium (scripts/need.sh chromium:chromium)`);
});

describe('preview page in Chromium', { skip: SKIP || (!HAVE_CHROMIUM && `${CHROMIUM} is absent (see the failure above)`) }, () => {
  let main; // the page most tests share, in file order

  before(async () => {
    const { chromium } = await import('playwright-core');
    worker = await startWorker({
      d1Migrations: 'DB',
      pats: {
        admin: { scopes: 'admin', sub: 'marketer@gharart.com' },
        limited: { scopes: 'rules:read preview', sub: 'previewer@gharart.com' },
        unrelated: { scopes: 'campaigns:read', sub: 'campaigns@gharart.com' },
        expired: { scopes: 'admin', sub: 'old@gharart.com', expiresAt: Math.floor(Date.now() / 1000) - 3600 },
      },
    });
    T = worker.pats;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await worker?.stop();
  });

  test('the page and its assets: CSP, no-store, no inline code, small', async () => {
    const page = await worker.fetch('/preview');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of CSP_DIRECTIVES) assert.ok(csp.split(/;\s*/).includes(directive), `CSP has ${directive}: ${csp}`);
    assert.match(page.headers.get('cache-control'), /no-store/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.setCookies.length, 0);
    // Nothing inline that the CSP would block, nothing from elsewhere.
    assert.doesNotMatch(page.body, /<script(?![^>]*\ssrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(page.body, /\sstyle=|<style/i, 'no inline style');
    assert.doesNotMatch(page.body, /\son[a-z]+=/i, 'no inline event handler');
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//i, 'no external resource');
    // The stylesheet, and every module the page's module script imports, transitively.
    const styles = [...page.body.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]);
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>/gi)].map((m) => m[1]);
    assert.deepEqual(styles, ['/preview/app.css']);
    assert.deepEqual(scripts, [' type="module" src="/preview/js/main.js"'], 'one module script');
    let total = Buffer.byteLength(page.body);
    const modules = [];
    const queue = [[styles[0], /^text\/css/], ['/preview/js/main.js', /^text\/javascript/]];
    while (queue.length) {
      const [path, type] = queue.shift();
      const asset = await worker.fetch(path);
      assert.equal(asset.status, 200, path);
      assert.match(asset.headers.get('content-type'), type, path);
      assert.ok(asset.headers.get('content-security-policy'), path);
      assert.match(asset.headers.get('cache-control'), /no-store/, path);
      assert.equal(asset.headers.get('x-content-type-options'), 'nosniff', path);
      total += Buffer.byteLength(asset.body);
      if (!path.endsWith('.js')) continue;
      modules.push(path);
      assert.doesNotMatch(asset.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, `${path}: text only, no code from strings`);
      for (const m of asset.body.matchAll(/^(?:import|export)\b[^'"]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
        const spec = m[1] ?? m[2];
        assert.match(spec, /^\.\.?\//, `${path} imports ${spec}: relative imports only`);
        const target = new URL(spec, `${worker.base}${path}`).pathname;
        if (!modules.includes(target) && !queue.some(([p]) => p === target)) queue.push([target, /^text\/javascript/]);
      }
    }
    assert.ok(total < 80_000, `page + JS + CSS is ${total} bytes`);
    // Every module in the source tree is served and reached from main.js: none forgotten
    // in ui.rs, none left over.
    const onDisk = readdirSync(UI_JS, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => `/preview/js/${f.split(sep).join('/')}`);
    assert.deepEqual([...modules].sort(), onDisk.sort());
    assert.equal((await worker.fetch('/preview/')).status, 200, 'trailing slash');
    assert.equal((await worker.fetch('/preview', { method: 'HEAD' })).status, 200, 'HEAD');
    assert.equal((await worker.fetch('/preview/nope.js')).status, 404);
    for (const path of ['/preview/app.js', '/preview/js/nope.js', '/preview/js', '/preview/js/views']) assert.equal((await worker.fetch(path)).status, 404, path);
    // The visitor route is untouched: two-segment entry paths still route.
    assert.equal((await worker.fetch(`/${HANDLE}/festive`)).status, 302);
  });

  test('loads in Chromium under its CSP with no console errors, asks for a token', async () => {
    main = await openPage();
    const { page, response, problems } = main;
    assert.equal(response.status(), 200);
    assert.ok(response.headers()['content-security-policy']);
    assert.equal(await page.isVisible('#token'), true);
    assert.equal(await page.isVisible('#visitor'), false, 'nothing but the token form before a token');
    assert.equal(await page.inputValue('#handle'), HANDLE, 'handle defaults to gharart');
    // Every control has a label.
    const unlabelled = await page.$$eval('input, select, textarea', (els) => els
      .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
      .map((e) => e.id || e.outerHTML));
    assert.deepEqual(unlabelled, []);
    assert.deepEqual(problems, []);
  });

  test('entering the PAT shows the entries (token in sessionStorage only, never in a URL)', async () => {
    const { page, problems, requests } = main;
    await connect(page, T.admin);
    assert.equal(await page.isVisible('#visitor'), true);
    const listed = (await worker.api('GET', `${V2}/personalization-rules`, { token: T.admin })).json;
    const options = await page.$$eval('#entry option', (os) => os.map((o) => o.value));
    const expected = Array.isArray(listed.entries)
      ? listed.entries.map((e) => e.slug)
      : [...new Set(listed.rules.flatMap((r) => r.entries))].filter((s) => s !== '*').sort();
    assert.deepEqual(options, expected);
    assert.ok(options.includes('festive'));
    assert.match(await page.textContent('#status'), /Preview of festive/);
    const storage = await page.evaluate(() => ({
      session: sessionStorage.getItem('edgeRouterPreview.token'),
      local: localStorage.length,
      url: location.href,
    }));
    assert.equal(storage.session, T.admin);
    assert.equal(storage.local, 0, 'nothing in localStorage');
    assert.equal(storage.url, `${worker.base}/preview`);
    for (const r of requests) {
      assert.ok(!r.url.includes(T.admin), `PAT in a URL: ${r.url}`);
      if (r.headers.authorization) assert.ok(new URL(r.url).pathname.startsWith('/v2/'), `Authorization only to the API: ${r.url}`);
    }
    assert.deepEqual(problems, []);
  });

  test('India + mobile: in-mobile and the Indian mobile storefront; the trace equals the API trace', async () => {
    const { page, problems } = main;
    await page.selectOption('#entry', 'festive');
    await setVisitor(page, { country: 'IN', device: 'mobile' });
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'in-mobile');
    const location = new URL(await page.getAttribute('#result-body', 'data-location'));
    assert.equal(location.origin + location.pathname, 'https://m.gharart.in/festive');
    assert.equal((await page.textContent('#result-body .dest-short')).trim(), 'm.gharart.in/festive');
    assert.match(await page.textContent('#status'), /in-mobile/);

    // Each rule of the trace, in order, shows matched/skipped and why: as the API says.
    const api = await explain({ __country: 'IN', __device: 'mobile' });
    assert.equal(location.href, api.location);
    const rows = await traceRows(page);
    assert.deepEqual(rows.map((r) => r.id), api.rules.map((r) => r.id));
    const words = { won: 'Won', no_match: 'No match', skipped: 'Skipped', not_reached: 'Not reached' };
    for (const [i, r] of api.rules.entries()) {
      assert.equal(rows[i].result, r.result, r.id);
      assert.ok(rows[i].resultText.endsWith(words[r.result]), `${r.id}: ${rows[i].resultText}`);
      assert.ok(rows[i].why.length > 0, `${r.id} says why`);
      // The reason of a time condition names the current time, which moves between the two requests.
      if (!/^time /.test(r.reason)) assert.equal(rows[i].why, r.reason, r.id);
    }
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    assert.equal(byId['in-mobile'].result, 'won');
    assert.equal(byId['in-deals-pending'].result, 'skipped');
    assert.match(byId['in-deals-pending'].why, /not routable/);
    assert.equal(byId['in-mobile-2025'].result, 'skipped');
    assert.match(byId['in-mobile-2025'].why, /disabled/);
    assert.equal(byId['gulf-mobile'].result, 'no_match');
    assert.match(byId['gulf-mobile'].why, /country IN does not satisfy/);
    assert.equal(byId['rest-of-world'].result, 'not_reached');
    // The facts say the overrides were used.
    const facts = await page.$$eval('#trace-body table.facts tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [
      tr.dataset.fact, [tr.children[1].textContent.trim(), tr.children[2].textContent.trim()]])));
    assert.deepEqual(facts.country, ['IN', 'override']);
    assert.deepEqual(facts.device, ['mobile', 'override']);
    assert.deepEqual(problems, []);
  });

  test('the matrix equals the API route-preview for the same entry, cell by cell', async () => {
    const { page, problems } = main;
    const api = (await worker.api('GET', `${V2}/route-preview?${new URLSearchParams({ entry: 'festive', at: AT })}`, { token: T.admin })).json;
    assert.equal(Date.parse(api.at), Date.parse(AT));
    const headers = await page.$$eval('#matrix-body table.matrix thead th[data-device]', (ths) => ths.map((t) => t.dataset.device));
    assert.deepEqual(headers, api.devices);
    const rowKeys = await page.$$eval('#matrix-body table.matrix tbody tr', (trs) => trs.map((tr) => tr.dataset.country));
    assert.deepEqual(rowKeys, api.countries.map((c) => c ?? 'unknown'));
    const cells = await page.$$eval('#matrix-body td.cell', (tds) => tds.map((td) => ({
      country: td.dataset.country,
      device: td.dataset.device,
      rule: td.dataset.rule,
      legend: Number(td.dataset.legend),
      outcome: td.dataset.outcome,
      ruleText: td.querySelector('.cell-rule').textContent,
      destText: td.querySelector('.cell-dest').textContent,
      legendText: td.querySelector('.cell-leg').textContent,
      colour: getComputedStyle(td).backgroundColor,
      selected: td.classList.contains('sel'),
    })));
    assert.equal(cells.length, api.cells.length);
    for (const [i, want] of api.cells.entries()) {
      const got = cells[i];
      const what = `${want.country}/${want.device}`;
      assert.equal(got.country, want.country ?? 'unknown', what);
      assert.equal(got.device, want.device, what);
      assert.equal(got.rule, want.rule ?? '', what);
      assert.equal(got.outcome, want.outcome, what);
      assert.equal(got.legend, want.legend, what);
      assert.equal(got.legendText, `#${want.legend + 1}`, what);
      if (want.rule) assert.equal(got.ruleText, want.rule, what);
      const variants = want.campaign?.variants;
      const dest = variants ? variants.map((v) => `${v.key} ${v.weight}%`).join(' · ') : want.destination ? shortUrl(want.destination) : null;
      if (dest) assert.equal(got.destText, dest, what);
      assert.equal(got.selected, want.country === 'IN' && want.device === 'mobile', `${what} marked as the selection`);
    }
    // Colours follow the legend: one colour per legend item (the palette has 12).
    const colourOf = new Map();
    for (const c of cells) {
      if (colourOf.has(c.legend)) assert.equal(c.colour, colourOf.get(c.legend), `legend ${c.legend} has one colour`);
      else colourOf.set(c.legend, c.colour);
    }
    const firstTwelve = [...colourOf.entries()].filter(([i]) => i < 12).map(([, colour]) => colour);
    assert.equal(new Set(firstTwelve).size, firstTwelve.length, 'distinct legend items, distinct colours');
    const legend = await page.$$eval('#matrix-body ol.legend li', (lis) => lis.map((li) => li.dataset.key));
    assert.deepEqual(legend, api.legend.map((l) => l.key));
    assert.deepEqual(problems, []);
  });

  test('the audit lists the festive findings: one priority collision, five unroutable destinations', async () => {
    const { page, problems } = main;
    await page.waitForSelector('#audit[data-loaded="true"]');
    const api = (await worker.api('GET', `${V2}/rule-audit`, { token: T.admin })).json;
    const collisions = await page.$$eval('#audit-body [data-finding="collision"]', (els) => els.map((e) => ({ rules: e.dataset.rules, text: e.textContent })));
    assert.equal(collisions.length, 1);
    assert.equal(collisions[0].rules, 'ae-arabic gulf-arabic');
    assert.match(collisions[0].text, /share priority 30/);
    assert.match(collisions[0].text, /ae-arabic wins/);
    const unroutable = await page.$$eval('#audit-body tr[data-finding="unroutable"]', (trs) => trs.map((tr) => ({
      kind: tr.dataset.kind, rules: tr.dataset.rules, text: tr.textContent,
    })));
    assert.equal(unroutable.length, 5);
    assert.equal(unroutable.length, api.unroutable.length);
    assert.deepEqual(unroutable.filter((u) => u.kind === 'rule_destination').map((u) => u.rules).sort(),
      ['eu-festive-net', 'gulf-sale-shop', 'in-deals-pending', 'us-gifts']);
    const partner = unroutable.find((u) => u.kind === 'entry_default');
    assert.match(partner.text, /partner-offers/);
    assert.match(partner.text, /offers\.gharart-deals\.com is not verified/);
    for (const [i, u] of api.unroutable.entries()) assert.ok(unroutable[i].text.includes(u.message), u.message);
    const summary = await page.textContent('#audit-body .lead');
    assert.match(summary, /1 priority collision\b/);
    assert.match(summary, /5 unroutable destinations/);
    assert.match(summary, /0 shadowed rules/);
    assert.deepEqual(problems, []);
  });

  test('domain trust states are listed as the API has them', async () => {
    const { page, problems } = main;
    await page.waitForSelector('#domains[data-loaded="true"]');
    const api = (await worker.api('GET', `${V2}/destination-domains`, { token: T.admin })).json;
    const rows = await page.$$eval('#domains-body tbody tr', (trs) => trs.map((tr) => ({
      domain: tr.dataset.domain,
      routable: tr.dataset.routable,
      cells: [...tr.children].map((c) => c.textContent.trim()),
    })));
    assert.deepEqual(rows.map((r) => r.domain), api.domains.map((d) => d.domain));
    for (const [i, d] of api.domains.entries()) {
      const [domain, verification, decision, risk, routable] = rows[i].cells;
      assert.equal(domain, d.domain);
      assert.equal(verification, d.verification);
      assert.equal(rows[i].routable, String(d.routable), d.domain);
      assert.ok(routable.startsWith(d.routable ? 'yes' : 'no'), `${d.domain}: ${routable}`);
      if (!d.routable) assert.ok(routable.includes(d.reason), `${d.domain} says why: ${routable}`);
      assert.equal(risk, typeof d.risk_score === 'number' ? String(d.risk_score) : 'unscored');
      if (d.decision) assert.ok(decision.startsWith(d.decision.value) && decision.includes(d.decision.by), decision);
    }
    const states = Object.fromEntries(rows.map((r) => [r.domain, r.cells[1]]));
    assert.equal(states['offers.gharart-deals.com'], 'pending');
    assert.equal(states['gharart-gifts.co'], 'failed');
    assert.match(rows.find((r) => r.domain === 'gharart-sale.shop').cells[2], /^rejected/);
    assert.match(rows.find((r) => r.domain === 'm.gharart.in').cells[2], /^approved/);
    assert.deepEqual(problems, []);
  });

  test('screenshot of the page (artifact; the README copy with UPDATE_SCREENSHOT=1)', async () => {
    const { page } = main;
    const file = join(ARTIFACTS, 'preview-page.png');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'preview-page.png'), fullPage: true });
    }
    assert.ok(readFileSync(file).subarray(1, 4).toString() === 'PNG');
  });

  test('switching to AE/desktop updates the result and the trace; a device change alone too', async () => {
    const { page, problems } = main;
    await setVisitor(page, { country: 'AE', device: 'desktop' });
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'gulf');
    const location = new URL(await page.getAttribute('#result-body', 'data-location'));
    assert.equal(location.origin + location.pathname, 'https://ae.gharart.com/festive');
    let rows = Object.fromEntries((await traceRows(page)).map((r) => [r.id, r]));
    assert.equal(rows.gulf.result, 'won');
    assert.equal(rows['in-mobile'].result, 'no_match');
    assert.match(rows['in-mobile'].why, /country AE does not satisfy/);
    assert.equal(rows['gulf-sale-shop'].result, 'skipped', 'the rejected reseller page is skipped');
    assert.match(rows['gulf-sale-shop'].why, /rejected/);
    assert.equal(rows['ae-arabic'].result, 'no_match', 'the browser language is not Arabic');
    // The matrix marks the new selection.
    assert.deepEqual(await page.$$eval('#matrix-body td.sel', (tds) => tds.map((td) => `${td.dataset.country}/${td.dataset.device}`)), ['AE/desktop']);

    await page.selectOption('#device', 'mobile');
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'gulf-mobile');
    rows = Object.fromEntries((await traceRows(page)).map((r) => [r.id, r]));
    assert.equal(rows['gulf-mobile'].result, 'won');
    assert.equal(rows.gulf.result, 'not_reached');

    // Language and region overrides reach the trace too.
    await setVisitor(page, { country: 'AE', device: 'desktop', lang: 'ar' });
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'ae-arabic');
    assert.deepEqual(problems, []);
  });

  test('time and variant overrides: the Dhanteras flash sale on its day, a forced A/B variant', async () => {
    const { page, problems } = main;
    await setVisitor(page, { country: 'IN', device: 'mobile', at: '2026-11-06T12:00' }); // UTC: 17:30 in India
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'dhanteras-flash');
    assert.equal(new URL(await page.getAttribute('#result-body', 'data-location')).host, 'gharart.in');
    const link = new URL(await page.inputValue('#link'));
    assert.equal(Date.parse(link.searchParams.get('__at')), Date.parse('2026-11-06T12:00:00Z'));
    // The matrix is decided at the same time.
    assert.equal(await page.getAttribute('#matrix-body td.cell[data-country="IN"][data-device="mobile"]', 'data-rule'), 'dhanteras-flash');

    await setVisitor(page, { country: 'IN', device: 'desktop', variant: 'story' });
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'in-desktop-diwali-ab');
    const location = new URL(await page.getAttribute('#result-body', 'data-location'));
    assert.equal(location.origin + location.pathname, 'https://www.gharart.com/festive/diwali-hero-b');
    assert.match(await page.textContent('#result-body'), /diwali-hero-ab \(active\), variant story \(forced by the preview\)/);
    // A variant of no campaign of the winning rule is refused, and the page says so.
    await setVisitor(page, { country: 'AE', device: 'desktop', variant: 'story' });
    await runPreview(page);
    assert.match(await page.textContent('#result-body .msg-warn'), /__variant was ignored/);
    await setVisitor(page, {});
    assert.deepEqual(problems, []);
  });

  test('a matrix cell previews its segment', async () => {
    const { page, problems } = main;
    await setVisitor(page, {});
    await runPreview(page, '#matrix-body td.cell[data-country="GB"][data-device="tablet"] button');
    assert.equal(await page.inputValue('#country'), 'GB');
    assert.equal(await page.inputValue('#device'), 'tablet');
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'uk-mobile');
    // A country the default rows lack gets a row of its own, marked as the selection.
    await setVisitor(page, { country: 'FR', device: 'desktop' });
    await runPreview(page);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'eu');
    const rows = await page.$$eval('#matrix-body table.matrix tbody tr', (trs) => trs.map((tr) => tr.dataset.country));
    assert.deepEqual(rows.slice(-2), ['FR', 'unknown']);
    assert.deepEqual(await page.$$eval('#matrix-body td.sel', (tds) => tds.map((td) => `${td.dataset.country}/${td.dataset.device}/${td.dataset.rule}`)), ['FR/desktop/eu']);
    assert.deepEqual(problems, []);
  });

  test('the preview link: same origin, a fresh __preview token and the overrides, no __explain; it 302s to the store', async () => {
    const { page, context, problems } = main;
    await setVisitor(page, { country: 'AE', device: 'desktop' });
    await runPreview(page);
    const first = await page.inputValue('#link');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: worker.base });
    await page.click('#copy');
    await page.waitForFunction(() => document.querySelector('#copy-status').textContent !== '');
    const status = await page.textContent('#copy-status');
    if (status === 'Link copied.') assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first);
    else assert.match(status, /selected/); // the fallback: the text is selected for Ctrl+C
    const link = new URL(first);
    assert.equal(link.origin, worker.base);
    assert.equal(link.pathname, `/${HANDLE}/festive`);
    assert.ok(link.searchParams.get('__preview'), 'a preview token');
    assert.equal(link.searchParams.get('__country'), 'AE');
    assert.equal(link.searchParams.get('__device'), 'desktop');
    assert.equal(link.searchParams.has('__explain'), false);
    assert.ok(!first.includes(T.admin), 'never the management token');
    // Fresh: each preview mints its own token (issued now, for this handle, expiring later).
    const minted = () => main.requests.filter((r) => r.url.endsWith(`${V2}/preview-tokens`)).length;
    const mintedBefore = minted();
    const clicked = Math.floor(Date.now() / 1000);
    await runPreview(page);
    assert.equal(minted(), mintedBefore + 1, 'one preview token minted per preview');
    const second = new URL(await page.inputValue('#link'));
    const claims = JSON.parse(Buffer.from(second.searchParams.get('__preview').split('.')[1], 'base64url').toString());
    assert.equal(claims.handle, HANDLE);
    assert.ok(claims.iat >= clicked - 1, `issued at the preview: ${JSON.stringify(claims)}`);
    assert.ok(claims.exp > Date.now() / 1000, 'not expired');
    // Opening it gives the real route: a 302 to the Gulf store, as a preview (no cookie, no-store).
    const res = await worker.fetch(link.pathname + link.search);
    assert.equal(res.status, 302);
    assert.equal(res.url.origin + res.url.pathname, 'https://ae.gharart.com/festive');
    assert.equal(res.setCookies.length, 0, 'a preview sets no cookie');
    assert.match(res.headers.get('cache-control'), /no-store/);
    assert.deepEqual(problems, []);
  });

  test('keyboard: tab through the form in order, choose with the keys, submit with Enter', async () => {
    const { page, context, problems } = await openPage({ width: 800 });
    const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'token', 'the token first');
    // The focused field shows a visible focus ring.
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
    await page.keyboard.type(T.admin);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'handle');
    const before = Number((await page.getAttribute('#results', 'data-seq')) ?? 0);
    await page.keyboard.press('Enter');
    await waitForPreview(page, before);
    assert.equal(await page.isVisible('#visitor'), true);
    // A reload picks the token up from sessionStorage and previews again; with results on
    // the page, a skip link leads to them (the first stop from the top).
    await page.reload();
    await page.waitForSelector('#results[data-seq]');
    assert.equal(await page.inputValue('#token'), T.admin);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'skip');
    await page.keyboard.press('Enter');
    assert.equal(await focused(), 'results');
    // From the handle on, Tab walks the controls in reading order (a date field has
    // several stops inside it: consecutive repeats are one control).
    await page.focus('#handle');
    const order = [];
    for (let i = 0; i < 30 && order.at(-1) !== 'run'; i++) {
      await page.keyboard.press('Tab');
      const id = await focused();
      if (order.at(-1) !== id) order.push(id);
    }
    assert.deepEqual(order, ['connect', 'forget', 'entry', 'country', 'region', 'device', 'lang', 'at', 'variant', 'mcountries', 'run']);
    // Choose India and a phone with the arrow keys, a region by typing; Enter submits.
    // (The time is pinned without the keyboard: see AT.)
    await page.fill('#at', AT_LOCAL);
    await page.focus('#country');
    await page.keyboard.press('ArrowDown'); // the first country: India (IN)
    assert.equal(await page.inputValue('#country'), 'IN');
    await page.keyboard.press('Tab');
    await page.keyboard.type('MH');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.inputValue('#device'), 'mobile');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'lang');
    const seq = Number(await page.getAttribute('#results', 'data-seq'));
    await page.keyboard.press('Enter');
    await waitForPreview(page, seq);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), 'in-mh-mumbai');
    assert.equal(new URL(await page.getAttribute('#result-body', 'data-location')).host, 'mumbai.gharart.in');
    // The copy button works from the keyboard too.
    await page.focus('#copy');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#copy-status').textContent !== '');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('an invalid, expired or unauthorised token shows a clear message and the form stays usable', async () => {
    const { page, context, problems } = await openPage({ width: 390, height: 800 });
    const attempt = async (token, handle = HANDLE) => {
      await page.fill('#token', token);
      await page.fill('#handle', handle);
      await page.click('#connect');
      await page.waitForSelector('#error:not([hidden])');
      return { code: await page.getAttribute('#error', 'data-code'), text: await page.textContent('#error') };
    };
    let shown = await attempt('gr_pat_not-a-real-token-0000000000000000000000000');
    assert.equal(shown.code, 'invalid_token');
    assert.match(shown.text, /Not signed in\./);
    assert.match(shown.text, /This token was not accepted/);
    assert.match(shown.text, /HTTP 401 invalid_token/);
    assert.equal(await page.getAttribute('#token', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'focus back on the token');
    assert.equal(await page.isVisible('#visitor'), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('edgeRouterPreview.token')), null, 'a refused token is not kept');

    shown = await attempt(T.expired);
    assert.equal(shown.code, 'token_expired');
    assert.match(shown.text, /has expired/);

    shown = await attempt(T.admin, 'other-shop');
    assert.equal(shown.code, 'wrong_handle');
    assert.match(shown.text, /Not allowed\..*not valid for the handle “other-shop”/);

    shown = await attempt(T.unrelated);
    assert.equal(shown.code, 'insufficient_scope');
    assert.match(shown.text, /may not read the rules/);

    await page.fill('#token', '');
    await page.click('#connect');
    assert.match(await page.textContent('#error'), /Paste a management token/);

    // Still usable: a token with rules:read and preview (no domains:read) previews, and the
    // domains section says what it may not do.
    await connect(page, T.limited);
    assert.equal(await page.isHidden('#error'), true, 'the error is cleared');
    assert.equal(await page.getAttribute('#token', 'aria-invalid'), null);
    assert.ok(await page.getAttribute('#result-body', 'data-rule') !== null);
    await page.waitForSelector('#domains[data-loaded="true"]');
    assert.match(await page.textContent('#domains-body'), /may not read the destination domains/);
    await page.waitForSelector('#audit[data-loaded="true"]');
    assert.equal(await page.locator('#audit-body [data-finding="collision"]').count(), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'preview-page-mobile.png'), fullPage: true });
    assert.deepEqual(unexpected(problems, [401, 403]), []);
    await context.close();
  });

  test('forgetting the token clears it and the data', async () => {
    const { page, problems } = main;
    await page.click('#forget');
    assert.equal(await page.inputValue('#token'), '');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('edgeRouterPreview.token')), null);
    assert.equal(await page.isVisible('#results'), false);
    assert.equal(await page.isVisible('#audit'), false);
    assert.deepEqual(problems, []);
    await main.context.close();
  });
});
