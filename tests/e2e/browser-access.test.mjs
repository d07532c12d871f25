// The preview page (`/preview`) in Chromium, part 1: the page itself (headers, CSP, its
// modules, labels, keyboard use) and access by management token (entering one, refused
// ones, forgetting it). The shared set-up is in browser.mjs; the previews are in
// browser-preview.test.mjs, the matrix, audit and domains in browser-matrix-audit.test.mjs.
//
// Artifact: tests/e2e/artifacts/preview-page-mobile.png (the page at 390 px, always).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, sep } from 'node:path';

import { ARTIFACTS, AT_LOCAL, HANDLE, V2, connect, describeInChromium, unexpected, waitForPreview } from './browser.mjs';
import { ROOT } from './harness.mjs';

const UI_JS = join(ROOT, 'src', 'edge', 'ui', 'js');
const CSP_DIRECTIVES = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
  "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
];

describeInChromium('preview page in Chromium: the page and access by token', (suite) => {
  let main; // the page most tests share, in file order

  test('the page and its assets: CSP, no-store, no inline code, small', async () => {
    const page = await suite.worker.fetch('/preview');
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
      const asset = await suite.worker.fetch(path);
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
        const target = new URL(spec, `${suite.worker.base}${path}`).pathname;
        if (!modules.includes(target) && !queue.some(([p]) => p === target)) queue.push([target, /^text\/javascript/]);
      }
    }
    // The page is the whole console opened on its preview view (issue 14): every view's
    // module is part of it. 200 kB raw, about 50 kB gzipped, all embedded in the wasm.
    assert.ok(total < 200_000, `page + JS + CSS is ${total} bytes`);
    // Every module in the source tree is served and reached from main.js: none forgotten
    // in ui.rs, none left over.
    const onDisk = readdirSync(UI_JS, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => `/preview/js/${f.split(sep).join('/')}`);
    assert.deepEqual([...modules].sort(), onDisk.sort());
    assert.equal((await suite.worker.fetch('/preview/')).status, 200, 'trailing slash');
    assert.equal((await suite.worker.fetch('/preview', { method: 'HEAD' })).status, 200, 'HEAD');
    assert.equal((await suite.worker.fetch('/preview/nope.js')).status, 404);
    for (const path of ['/preview/app.js', '/preview/js/nope.js', '/preview/js', '/preview/js/views']) assert.equal((await suite.worker.fetch(path)).status, 404, path);
    // The visitor route is untouched: two-segment entry paths still route.
    assert.equal((await suite.worker.fetch(`/${HANDLE}/festive`)).status, 302);
  });

  test('loads in Chromium under its CSP with no console errors, asks for a token', async () => {
    main = await suite.openPage();
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
    await connect(page, suite.pats.admin);
    assert.equal(await page.isVisible('#visitor'), true);
    const listed = (await suite.worker.api('GET', `${V2}/personalization-rules`, { token: suite.pats.admin })).json;
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
    assert.equal(storage.session, suite.pats.admin);
    assert.equal(storage.local, 0, 'nothing in localStorage');
    assert.equal(storage.url, `${suite.worker.base}/preview`);
    for (const r of requests) {
      assert.ok(!r.url.includes(suite.pats.admin), `PAT in a URL: ${r.url}`);
      if (r.headers.authorization) assert.ok(new URL(r.url).pathname.startsWith('/v2/'), `Authorization only to the API: ${r.url}`);
    }
    assert.deepEqual(problems, []);
  });

  test('keyboard: tab through the form in order, choose with the keys, submit with Enter', async () => {
    const { page, context, problems } = await suite.openPage({ width: 800 });
    const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'token', 'the token first');
    // The focused field shows a visible focus ring.
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
    await page.keyboard.type(suite.pats.admin);
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
    assert.equal(await page.inputValue('#token'), suite.pats.admin);
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
    const { page, context, problems } = await suite.openPage({ width: 390, height: 800 });
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

    shown = await attempt(suite.pats.expired);
    assert.equal(shown.code, 'token_expired');
    assert.match(shown.text, /has expired/);

    shown = await attempt(suite.pats.admin, 'other-shop');
    assert.equal(shown.code, 'wrong_handle');
    assert.match(shown.text, /Not allowed\..*not valid for the handle “other-shop”/);

    shown = await attempt(suite.pats.unrelated);
    assert.equal(shown.code, 'insufficient_scope');
    assert.match(shown.text, /may not read the rules/);

    await page.fill('#token', '');
    await page.click('#connect');
    assert.match(await page.textContent('#error'), /Paste a management token/);

    // Still usable: a token with rules:read and preview (no domains:read) previews, and the
    // domains section says what it may not do.
    await connect(page, suite.pats.limited);
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
    // What there is to forget: the data of the handle loaded above.
    await page.waitForSelector('#audit[data-loaded="true"]');
    assert.equal(await page.isVisible('#results'), true);
    assert.equal(await page.isVisible('#audit'), true);
    await page.click('#forget');
    assert.equal(await page.inputValue('#token'), '');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('edgeRouterPreview.token')), null);
    assert.equal(await page.isVisible('#results'), false);
    assert.equal(await page.isVisible('#audit'), false);
    assert.deepEqual(problems, []);
    await main.context.close();
  });
});
