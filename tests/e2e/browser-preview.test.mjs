// The preview page (`/preview`) in Chromium, part 2: previews. A visitor chosen in the
// form (country, device, language, time, variant) or by a matrix cell gives the result and
// the trace the API gives; the preview link opens the real route. Set-up in browser.mjs.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HANDLE, V2, describeInChromium, runPreview, setVisitor, traceRows } from './browser.mjs';

describeInChromium('preview page in Chromium: previews', (suite) => {
  let main; // the page every test shares, in file order

  before(async () => {
    main = await suite.openPage({ token: suite.pats.admin });
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
    const api = await suite.explain({ __country: 'IN', __device: 'mobile' });
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
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.worker.base });
    await page.click('#copy');
    await page.waitForFunction(() => document.querySelector('#copy-status').textContent !== '');
    const status = await page.textContent('#copy-status');
    if (status === 'Link copied.') assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first);
    else assert.match(status, /selected/); // the fallback: the text is selected for Ctrl+C
    const link = new URL(first);
    assert.equal(link.origin, suite.worker.base);
    assert.equal(link.pathname, `/${HANDLE}/festive`);
    assert.ok(link.searchParams.get('__preview'), 'a preview token');
    assert.equal(link.searchParams.get('__country'), 'AE');
    assert.equal(link.searchParams.get('__device'), 'desktop');
    assert.equal(link.searchParams.has('__explain'), false);
    assert.ok(!first.includes(suite.pats.admin), 'never the management token');
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
    const res = await suite.worker.fetch(link.pathname + link.search);
    assert.equal(res.status, 302);
    assert.equal(res.url.origin + res.url.pathname, 'https://ae.gharart.com/festive');
    assert.equal(res.setCookies.length, 0, 'a preview sets no cookie');
    assert.match(res.headers.get('cache-control'), /no-store/);
    assert.deepEqual(problems, []);
  });
});
