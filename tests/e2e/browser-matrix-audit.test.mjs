// The preview page (`/preview`) in Chromium, part 3: the panels drawn from API reads,
// each checked against the route it renders: the country × device matrix cell by cell
// against route-preview, the rule audit against rule-audit, the domains against
// destination-domains; then the picture of the whole page. Set-up in browser.mjs.
//
// Artifacts: tests/e2e/artifacts/preview-page.png (full page, desktop), always;
// tests/e2e/screenshots/preview-page.png (the README's picture) only with
// UPDATE_SCREENSHOT=1 (`make screenshot`).

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ARTIFACTS, AT, SCREENSHOTS, V2, describeInChromium, runPreview, setVisitor, shortUrl } from './browser.mjs';

describeInChromium('preview page in Chromium: matrix, audit and domains', (suite) => {
  let main; // the page every test shares, in file order

  // The page as a marketer leaves it: festive previewed for an Indian phone.
  before(async () => {
    main = await suite.openPage({ token: suite.pats.admin });
    await main.page.selectOption('#entry', 'festive');
    await setVisitor(main.page, { country: 'IN', device: 'mobile' });
    await runPreview(main.page);
  });

  test('the matrix equals the API route-preview for the same entry, cell by cell', async () => {
    const { page, problems } = main;
    const api = (await suite.worker.api('GET', `${V2}/route-preview?${new URLSearchParams({ entry: 'festive', at: AT })}`, { token: suite.pats.admin })).json;
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
    const api = (await suite.worker.api('GET', `${V2}/rule-audit`, { token: suite.pats.admin })).json;
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
    const api = (await suite.worker.api('GET', `${V2}/destination-domains`, { token: suite.pats.admin })).json;
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
});
