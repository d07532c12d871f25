// UC-07 in the console, end to end in Chromium at 390 px: a lifecycle marketer creates a
// tracking template and a campaign on it, whose health fails on the missing traffic tags;
// fixes the template; routes a rule to the campaign (its query condition in the JSON
// editor); writes and publishes the campaign page (a routability problem shown at the
// document first); activates it; records a test conversion per variant; pauses it; and
// an admin restores the configuration from before all this from the change history,
// after which a visitor gets the earlier routing again. Each step is checked in the page
// and against the API.
//
// Screenshots: console-campaigns.png, console-history.png (see console.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { unexpected } from './browser.mjs';
import { IPS, UA } from './harness.mjs';
import { V2, assertOk, describeConsole, openView, outcome, screenshot, signIn, visitorGets } from './console.mjs';

const TEMPLATE = 'nb-utm';
const CAMPAIGN = 'nb-funnel';
const RULE = 'nb-funnel-rule';
const OWN = 'https://www.gharart.com/festive/new-buyers';
const VARIANTS = { control: 'https://www.gharart.com/festive/new-a', story: 'https://www.gharart.com/festive/new-b' };
const PAGE = {
  title: 'Welcome, new buyers',
  locale: 'en-IN',
  blocks: [
    { type: 'hero', heading: 'Your first diya set, on us', cta: { label: 'Sign in free', url: 'https://www.gharart.com/login' } },
    { type: 'login_gate', message: 'Sign in with a free account to see the offer' },
  ],
};

/**
 * Where a British desktop visitor who came from the new-buyers campaign link is sent once
 * the router has followed the last write (`expected`: a destination or a predicate; see
 * visitorGets).
 */
const visitor = (worker, expected, what) => visitorGets(worker, '/gharart/festive?utm_campaign=new-buyers', { ip: IPS.GB, ua: UA.desktop }, expected, what);

describeConsole('console UC-07: a campaign from template to test conversions, paused, then rolled back', {
  pats: {
    marketer: { scopes: 'campaigns:read campaigns:write templates:read templates:write pages:write rules:read rules:write domains:read preview history:read', sub: 'meera@gharart.com' },
    admin: { scopes: 'admin', sub: 'ops@gharart.com' },
  },
}, (suite) => {
  let main;
  let before; // the configuration version before the flow
  const health = async () => (await suite.api('GET', `${V2}/campaigns/${CAMPAIGN}/health`, suite.pats.marketer)).json;
  const uiHealth = (page) => page.$$eval(`#camp-${CAMPAIGN} .health li[data-check]`, (lis) => Object.fromEntries(lis.map((li) => [li.dataset.check, li.dataset.status])));
  const card = (page) => page.locator(`#camp-${CAMPAIGN}`);

  test('a tracking template without the traffic tags (a malformed line is refused at its field first)', async () => {
    before = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.version;
    await visitor(suite.worker, 'https://uk.gharart.com/festive', 'before: the British storefront');
    main = await suite.open({ token: suite.pats.marketer, view: 'templates' });
    const { page, problems } = main;
    await page.fill('#tp-id', TEMPLATE);
    await page.fill('#tp-params', 'utm_source=gharart-edge\ngh_variant');
    let result = await outcome(page, '#tp-out', () => page.press('#tp-id', 'Enter'));
    assert.equal(result.state, 'error');
    assert.equal(await page.getAttribute('#tp-params', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#tp-params-err'), /line 2 is not name=value/);
    await page.fill('#tp-params', 'utm_source=gharart-edge\ngh_variant={variant}');
    result = await outcome(page, '#tp-out', () => page.press('#tp-id', 'Enter'));
    assertOk(result, new RegExp(`Created template ${TEMPLATE}`));
    const t = (await suite.api('GET', `${V2}/tracking-templates`, suite.pats.marketer)).json.templates.find((x) => x.id === TEMPLATE);
    assert.deepEqual(t.params, { utm_source: 'gharart-edge', gh_variant: '{variant}' });
    assert.equal(await page.locator(`#tp-list article[data-template="${TEMPLATE}"] tr[data-param]`).count(), 2);
    assert.deepEqual(problems, []);
  });

  test('the campaign: weights that do not sum to 100 are refused, then it is created and its health fails on traffic tags', async () => {
    const { page, problems } = main;
    await openView(page, 'campaigns');
    await page.click('#cp-create summary');
    await page.fill('#cp-id', CAMPAIGN);
    await page.fill('#cp-name', 'New buyer funnel A/B');
    await page.fill('#cp-template', TEMPLATE);
    await page.fill('#cp-start', '2026-11-01T00:00');
    await page.fill('#cp-end', '2027-01-31T00:00');
    const rows = page.locator('#cp-variant-rows .variant-row');
    await rows.nth(0).locator('input[name=destination]').fill(VARIANTS.control);
    await rows.nth(1).locator('input[name=key]').fill('story');
    await rows.nth(1).locator('input[name=weight]').fill('40');
    await rows.nth(1).locator('input[name=destination]').fill(VARIANTS.story);
    let result = await outcome(page, '#cp-out', () => page.click('#cp-form button[type=submit]'));
    assert.equal(result.state, 'error');
    assert.equal(result.code, 'validation_failed');
    assert.match(await page.textContent('#cp-variants .field-error'), /sum to 90/);
    assert.equal((await suite.api('GET', `${V2}/campaigns`, suite.pats.marketer)).json.campaigns.some((c) => c.id === CAMPAIGN), false);
    await rows.nth(1).locator('input[name=weight]').fill('50');
    result = await outcome(page, '#cp-out', () => page.click('#cp-form button[type=submit]'));
    assertOk(result, new RegExp(`Created campaign ${CAMPAIGN} \\(draft`));
    await page.waitForSelector(`#camp-${CAMPAIGN} .health-box[data-loaded="true"]`);
    const api = await health();
    assert.equal(api.status, 'fail');
    const checks = Object.fromEntries(api.checks.map((c) => [c.id, c.status]));
    assert.equal(checks.traffic_tags, 'fail');
    assert.deepEqual(await uiHealth(page), checks);
    assert.equal(await card(page).locator('.health').getAttribute('data-status'), 'fail');
    assert.match(await card(page).locator('li[data-check="traffic_tags"]').textContent(), /does not set utm_medium, utm_campaign/);
    const c = (await suite.api('GET', `${V2}/campaigns/${CAMPAIGN}`, suite.pats.marketer)).json.campaign;
    assert.deepEqual([c.status, c.template, c.variants.map((v) => `${v.key} ${v.weight} ${v.destination}`)],
      ['draft', TEMPLATE, [`control 50 ${VARIANTS.control}`, `story 50 ${VARIANTS.story}`]]);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('fixing the template makes the traffic tags and the ctx token pass', async () => {
    const { page, problems } = main;
    await openView(page, 'templates');
    await page.click(`button[aria-label="Edit template ${TEMPLATE}"]`);
    assert.equal(await page.inputValue('#tp-id'), TEMPLATE);
    await page.fill('#tp-params', `${await page.inputValue('#tp-params')}\nutm_medium=redirect\nutm_campaign={campaign}\ngh_ctx={ctx}`);
    assertOk(await outcome(page, '#tp-out', () => page.click('#tp-form button[type=submit]')), new RegExp(`Replaced template ${TEMPLATE}`));
    await openView(page, 'campaigns');
    await card(page).locator('button', { hasText: 'Check health' }).click();
    await page.waitForSelector(`#camp-${CAMPAIGN} .health-box[data-loaded="true"]`);
    const checks = Object.fromEntries((await health()).checks.map((c) => [c.id, c.status]));
    assert.equal(checks.traffic_tags, 'pass');
    assert.equal(checks.ctx_token, 'pass');
    assert.deepEqual(await uiHealth(page), checks);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('a rule routes the campaign link to it (a query condition in the JSON editor)', async () => {
    const { page, problems } = main;
    await openView(page, 'rules');
    await page.click('#rl-new');
    await page.fill('#re-id', RULE);
    await page.fill('#re-priority', '5');
    await page.fill('#re-destination', OWN);
    await page.fill('#re-campaign', CAMPAIGN);
    await page.fill('#re-more', JSON.stringify({ query: { utm_campaign: { in: ['new-buyers'] } } }));
    await page.press('#re-campaign', 'Enter');
    await page.waitForSelector('#re-save:not([disabled])');
    assertOk(await outcome(page, '#rl-out', () => page.click('#re-save')), new RegExp(`Created rule ${RULE}`));
    const rule = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules.find((r) => r.id === RULE);
    assert.deepEqual([rule.priority, rule.campaign, rule.destination, rule.conditions], [5, CAMPAIGN, OWN, { query: { utm_campaign: { in: ['new-buyers'] } } }]);
    assert.equal((await health()).checks.find((c) => c.id === 'routing').status, 'pass');
    await visitor(suite.worker, OWN, 'a draft campaign: the rule’s own destination');
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('the page: an unroutable link is shown at the document, then it is published FREE_WITH_LOGIN', async () => {
    const { page, problems } = main;
    await openView(page, 'campaigns');
    await card(page).locator('a', { hasText: 'Edit its page' }).click();
    await page.waitForSelector('#view-pages:not([hidden])');
    await page.waitForSelector('#pg-state[data-loaded="true"]');
    assert.equal(await page.inputValue('#pg-campaign'), CAMPAIGN);
    assert.match(await page.textContent('#pg-state'), /No page for nb-funnel yet/);
    assert.match(await page.textContent('#pg-schema'), /login_gate/);
    const bad = structuredClone(PAGE);
    bad.blocks[0].cta.url = 'https://evil.example/login';
    await page.fill('#pg-doc', JSON.stringify(bad, null, 2));
    await page.selectOption('#pg-access', 'FREE_WITH_LOGIN');
    let result = await outcome(page, '#pg-out', () => page.click('#pg-publish'));
    assert.equal(result.state, 'error');
    assert.equal(await page.getAttribute('#pg-doc', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#pg-doc-err'), /blocks\[0\]\.cta\.url/);
    await page.fill('#pg-doc', JSON.stringify(PAGE, null, 2));
    result = await outcome(page, '#pg-out', () => page.click('#pg-publish'));
    assertOk(result, new RegExp(`Published ${CAMPAIGN}: revision 1, FREE_WITH_LOGIN`));
    const stored = (await suite.api('GET', `${V2}/site-structure/campaigns/${CAMPAIGN}`, suite.pats.marketer)).json;
    assert.deepEqual([stored.published.revision, stored.published.access_level, stored.unpublished_changes], [1, 'FREE_WITH_LOGIN', false]);
    assert.deepEqual(stored.published.document, PAGE);
    assert.equal(await page.getAttribute('#pg-state [data-revision="Published"]', 'data-access'), 'FREE_WITH_LOGIN');
    assert.deepEqual(unexpected(problems, [404, 422]), []);
  });

  test('activate, a test conversion per variant, pause: each in the page and in the API', async () => {
    const { page, problems } = main;
    await openView(page, 'campaigns');
    let result = await outcome(page, `#camp-${CAMPAIGN} .outcome`, () => card(page).locator('button[data-transition="activate"]').click());
    await page.waitForSelector(`#camp-${CAMPAIGN} .health-box[data-loaded="true"]`);
    assertOk(result, new RegExp(`${CAMPAIGN}: draft → active`));
    assert.equal((await suite.api('GET', `${V2}/campaigns/${CAMPAIGN}`, suite.pats.marketer)).json.campaign.status, 'active');
    assert.equal(await card(page).getAttribute('data-status'), 'active');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('outcome')), true, 'focus stays on the card');
    assert.equal((await uiHealth(page)).campaign_page, 'pass');
    await visitor(suite.worker, (dest) => Object.values(VARIANTS).includes(dest), 'active: a variant');
    for (const key of Object.keys(VARIANTS)) {
      result = await outcome(page, `#camp-${CAMPAIGN} .outcome`, () => card(page).locator(`button[data-variant="${key}"]`).click());
      assertOk(result, new RegExp(`Test conversion recorded for ${key}`));
    }
    const stats = (await suite.api('GET', `${V2}/campaigns/${CAMPAIGN}`, suite.pats.marketer)).json.campaign.stats;
    assert.deepEqual(stats.variants.map((v) => [v.key, v.test_conversions, v.conversions]), [['control', 1, 0], ['story', 1, 0]]);
    await card(page).locator('button', { hasText: 'Check health' }).click();
    await page.waitForFunction((id) => document.querySelector(`#camp-${id} li[data-check="test_conversions"]`)?.dataset.status === 'pass', CAMPAIGN);
    result = await outcome(page, `#camp-${CAMPAIGN} .outcome`, () => card(page).locator('button[data-transition="pause"]').click());
    await page.waitForSelector(`#camp-${CAMPAIGN} .health-box[data-loaded="true"]`);
    assertOk(result, new RegExp(`${CAMPAIGN}: active → paused`));
    assert.equal((await suite.api('GET', `${V2}/campaigns/${CAMPAIGN}`, suite.pats.marketer)).json.campaign.status, 'paused');
    assert.deepEqual(await card(page).locator('button[data-transition]').evaluateAll((bs) => bs.map((b) => b.dataset.transition)), ['resume', 'cancel']);
    await visitor(suite.worker, OWN, 'paused: the rule’s own destination');
    await card(page).scrollIntoViewIfNeeded();
    await screenshot(page, 'campaigns', 1800);
    assert.deepEqual(unexpected(problems, [404, 422]), []);
  });

  test('an admin restores the configuration from before; a visitor gets the earlier routing', async (t) => {
    const { page, problems } = main;
    await openView(page, 'history');
    const listed = await suite.api('GET', `${V2}/changes?limit=100`, suite.pats.admin);
    if (listed.status === 404 && listed.error?.code === 'route_not_found') {
      // Without the history routes the worker knows no `history:read` scope either.
      assert.match(await page.textContent('#hs-list'), /needs the scope history:read/);
      await signIn(page, suite.pats.admin);
      await openView(page, 'history');
      assert.match(await page.textContent('#hs-list'), /change history is not available on this worker yet/);
      t.skip('the change history routes are not on this branch yet');
      return;
    }
    // The marketer reads the history, with what each version changed, but may not restore.
    const paused = listed.json.changes[0];
    assert.match(paused.route, /pause$/);
    assert.equal(paused.subject, 'meera@gharart.com');
    const entry = page.locator(`#hs-list li[data-version="${paused.version}"]`);
    assert.match(await entry.textContent(), new RegExp(`meera@gharart\.com.*${paused.request_id}.*campaigns changed: ${CAMPAIGN}`));
    await entry.locator('button', { hasText: 'What changed' }).click();
    await page.waitForSelector(`#hs-detail [data-version="${paused.version}"]`);
    const detail = (await suite.api('GET', `${V2}/changes/${paused.version}`, suite.pats.marketer)).json.change.diff;
    const shown = await page.$$eval('#hs-detail [data-collection="campaigns"] tbody tr', (trs) => trs.map((tr) => [tr.dataset.path, tr.children[1].textContent, tr.children[2].textContent]));
    const fields = detail.campaigns.changed.find((i) => i.id === CAMPAIGN).fields;
    assert.deepEqual(shown, fields.map((f) => [f.path, JSON.stringify(f.before), JSON.stringify(f.after)]));
    assert.ok(shown.some(([p, b, a]) => p === '$.status' && b === '"active"' && a === '"paused"'), JSON.stringify(shown));
    const restore = page.locator(`#hs-list li[data-version="${before}"] button[data-restore]`);
    assert.equal(await restore.isDisabled(), true);
    assert.match(await page.textContent(`#hs-list li[data-version="${before}"]`), /needs admin/);
    await signIn(page, suite.pats.admin);
    await openView(page, 'history');
    const versions = await page.$$eval('#hs-list li[data-version]', (lis) => lis.map((li) => Number(li.dataset.version)));
    assert.deepEqual(versions, listed.json.changes.slice(0, versions.length).map((c) => c.version));
    await page.click(`#hs-list li[data-version="${before}"] button[data-restore="${before}"]`);
    assert.match(await page.textContent(`#hs-list li[data-version="${before}"] button[data-restore]`), /Confirm/);
    const result = await outcome(page, '#hs-out', () => page.click(`#hs-list li[data-version="${before}"] button[data-restore="${before}"]`));
    assertOk(result, new RegExp(`Restored version ${before} as version \\d+`));
    const rules = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.admin)).json;
    assert.equal(rules.rules.some((r) => r.id === RULE), false);
    assert.equal((await suite.api('GET', `${V2}/campaigns`, suite.pats.admin)).json.campaigns.some((c) => c.id === CAMPAIGN), false);
    await visitor(suite.worker, 'https://uk.gharart.com/festive', 'restored: the British storefront again');
    const newest = page.locator('#hs-list li[data-version]').first();
    assert.equal(await newest.getAttribute('data-kind'), 'restore');
    await screenshot(page, 'history', 1600);
    assert.deepEqual(unexpected(problems, [404, 422]), []);
  });
});
