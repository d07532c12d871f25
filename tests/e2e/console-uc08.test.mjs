// UC-08 in the console, end to end in Chromium at 390 px: a personalization specialist
// adds a destination domain, publishes its TXT record (the suite's DNS-over-HTTPS server)
// and verifies it; a trust admin approves it (and rejects a lookalike, a reason required);
// the specialist routes a rule to it (a validation problem shown at its field first),
// previews it in the matrix, finds the priority collision it made in the audit and fixes
// it by reordering; disables and enables the rule; reorders with the arrows and by
// dragging, then discards; an edit that lost a race explains the conflict. Each step is
// checked in the page and against the API, and the visitor gets the new route.
//
// Screenshots: console-domains.png and console-rules.png (see console.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { unexpected } from './browser.mjs';
import { IPS, UA } from './harness.mjs';
import { V2, assertOk, describeConsole, openView, outcome, screenshot, settled, signIn, visitorGets } from './console.mjs';

const DOMAIN = 'shop.gharart.ae';
const RULE = 'ae-shop';
const DEST = `https://${DOMAIN}/festive`;
const LOOKALIKE = 'festive-gharart.net'; // seeded verified, risk 85, undecided

describeConsole('console UC-08: a new destination domain, a rule to it, a collision fixed by reordering', {
  doh: true,
  pats: {
    marketer: { scopes: 'domains:read domains:write rules:read rules:write templates:read campaigns:read preview', sub: 'priya@gharart.com' },
    trust: { scopes: 'domains:read domains:admin', sub: 'trust@gharart.com' },
  },
}, (suite) => {
  let main; // the specialist's page, shared in file order
  let token; // the TXT value the console showed

  test('the specialist adds the domain and is shown the TXT record to publish', async () => {
    main = await suite.open({ token: suite.pats.marketer, view: 'domains', permissions: ['clipboard-read', 'clipboard-write'] });
    const { page, problems } = main;
    assert.match(await page.textContent('#whoami'), /priya@gharart\.com.*domains:write/);
    const listed = (await suite.api('GET', `${V2}/destination-domains`, suite.pats.marketer)).json;
    assert.equal(await page.locator('#dm-list article.domain').count(), listed.domains.length);
    await page.fill('#dm-domain', DOMAIN);
    const added = await outcome(page, '#dm-out', () => page.press('#dm-domain', 'Enter'));
    assertOk(added, new RegExp(`Added ${DOMAIN} \\(pending\\)`));
    assert.equal(await page.inputValue('#dm-new-name'), `_gharart-verify.${DOMAIN}`);
    token = await page.inputValue('#dm-new-value');
    // The copy button puts it on the clipboard.
    const copy = page.locator('#dm-out .copy-field', { has: page.locator('#dm-new-value') });
    await copy.locator('button').click();
    await page.waitForFunction(() => document.querySelector('#dm-new-value').closest('.copy-field').querySelector('.copy-status').textContent !== '');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    // API: pending, not routable, with that token; the card says why not.
    const d = (await suite.api('GET', `${V2}/destination-domains`, suite.pats.marketer)).json.domains.find((x) => x.domain === DOMAIN);
    assert.equal(d.verification, 'pending');
    assert.equal(d.routable, false);
    assert.equal(d.token, token);
    const card = page.locator(`article[data-domain="${DOMAIN}"]`);
    assert.equal(await card.getAttribute('data-routable'), 'false');
    assert.match(await card.locator('.why').textContent(), /Not routable: .*Publish the TXT record/);
    // The decision is the trust admin's: disabled here, naming the scope.
    assert.equal(await card.locator('form.decide button[type=submit]').isDisabled(), true);
    assert.match(await card.locator('form.decide .needs').textContent(), /domains:admin/);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('verify: refused while the record is missing, verified once it is published', async () => {
    const { page, problems } = main;
    const card = () => page.locator(`article[data-domain="${DOMAIN}"]`);
    let result = await outcome(page, '#dm-out', () => card().locator('button', { hasText: 'Verify now' }).click());
    assertOk(result, new RegExp(`${DOMAIN} is not verified: _gharart-verify\\.${DOMAIN.replace(/\./g, '\\.')} holds no TXT record`));
    assert.equal((await suite.api('GET', `${V2}/destination-domains`, suite.pats.marketer)).json.domains.find((x) => x.domain === DOMAIN).verification, 'failed');
    suite.doh.answer(`_gharart-verify.${DOMAIN}`, { txt: [token] });
    result = await outcome(page, '#dm-out', () => card().locator('button', { hasText: 'Verify now' }).click());
    assertOk(result, new RegExp(`${DOMAIN} is verified`));
    const d = (await suite.api('GET', `${V2}/destination-domains`, suite.pats.marketer)).json.domains.find((x) => x.domain === DOMAIN);
    assert.equal(d.verification, 'verified');
    assert.equal(d.routable, false, 'verified but unscored: still needs a decision');
    assert.equal(await card().getAttribute('data-verification'), 'verified');
    assert.match(await card().locator('.why').textContent(), /needs|approve/i);
    await screenshot(page, 'domains', 1500);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('the trust admin approves it with a reason: routable; rejects a lookalike, a reason required', async () => {
    const { page, context, problems } = await suite.open({ token: suite.pats.trust, view: 'domains' });
    const card = page.locator(`article[data-domain="${DOMAIN}"]`);
    await card.locator('select').selectOption('approved');
    await card.locator('form.decide input[type=text]').fill('Our Gulf storefront, checked by trust');
    const result = await outcome(page, '#dm-out', () => card.locator('form.decide input[type=text]').press('Enter'));
    assertOk(result, new RegExp(`${DOMAIN} approved; it is routable now`));
    const d = (await suite.api('GET', `${V2}/destination-domains`, suite.pats.trust)).json.domains.find((x) => x.domain === DOMAIN);
    assert.equal(d.routable, true);
    assert.deepEqual([d.decision.value, d.decision.by, d.decision.reason], ['approved', 'trust@gharart.com', 'Our Gulf storefront, checked by trust']);
    assert.equal(await card.getAttribute('data-routable'), 'true');
    assert.match(await card.locator('.why').textContent(), /Routable: verified, and approved by trust@gharart\.com/);
    // A lookalike is rejected: a decision without a reason is refused at the reason field.
    const lookalike = page.locator(`article[data-domain="${LOOKALIKE}"]`);
    const reason = lookalike.locator('form.decide input[type=text]');
    await lookalike.locator('select').selectOption('rejected');
    let refused = await outcome(page, '#dm-out', () => lookalike.locator('form.decide button[type=submit]').click());
    assert.equal(refused.state, 'error');
    assert.ok(refused.requestId && refused.text.includes(refused.requestId), refused.text);
    assert.equal(await reason.getAttribute('aria-invalid'), 'true');
    assert.match(await lookalike.locator('form.decide .field-error').textContent(), /reason of 1 to 500 characters/);
    assert.equal((await suite.api('GET', `${V2}/destination-domains`, suite.pats.trust)).json.domains.find((x) => x.domain === LOOKALIKE).decision ?? null, null, 'undecided still');
    await reason.fill('Not ours: a lookalike of the festive storefront');
    refused = await outcome(page, '#dm-out', () => reason.press('Enter'));
    assertOk(refused, new RegExp(`${LOOKALIKE} rejected; it is not routable now`));
    const l = (await suite.api('GET', `${V2}/destination-domains`, suite.pats.trust)).json.domains.find((x) => x.domain === LOOKALIKE);
    assert.deepEqual([l.routable, l.decision.value, l.decision.by, l.decision.reason], [false, 'rejected', 'trust@gharart.com', 'Not ours: a lookalike of the festive storefront']);
    assert.match(await page.locator(`article[data-domain="${LOOKALIKE}"] .why`).textContent(), /Not routable: .*A person rejected it/);
    // The trust admin may not touch rules: the view says which scope it lacks.
    await openView(page, 'rules');
    assert.match(await page.textContent('#rl-list'), /needs the scope rules:read/);
    assert.deepEqual(unexpected(problems, [400, 422]), []);
    await context.close();
  });

  test('a rule to it: a bad country is shown at its field, then the rule is created', async () => {
    const { page, problems } = main;
    await openView(page, 'rules');
    await page.click('#rl-new');
    await page.fill('#re-id', RULE);
    await page.fill('#re-priority', '50');
    await page.fill('#re-destination', DEST);
    await page.selectOption('#re-country-mode', 'in');
    await page.fill('#re-country', 'UAE');
    await page.selectOption('#re-device-mode', 'in');
    await page.fill('#re-device', 'mobile');
    await page.press('#re-destination', 'Enter'); // Enter reviews
    await page.waitForSelector('#re-save');
    const diffPaths = await page.$$eval('#re-review-box table.diff tbody tr', (trs) => trs.map((tr) => tr.dataset.path));
    assert.deepEqual(diffPaths.sort(), ['$.conditions', '$.destination', '$.enabled', '$.entries', '$.priority'].sort());
    // It would share priority 50 with gulf-mobile (and others) in festive: said before saving.
    assert.match(await page.getAttribute('#re-review-box [data-ties]', 'data-ties'), /gulf-mobile/);
    let result = await outcome(page, '#rl-out', () => page.click('#re-save'));
    assert.equal(result.state, 'error');
    assert.equal(result.code, 'validation_failed');
    assert.ok(result.requestId && result.text.includes(result.requestId), result.text);
    assert.equal(await page.getAttribute('#re-country', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#re-country-err'), /in\[0\]/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 're-country', 'focus on the field');
    assert.equal((await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules.some((r) => r.id === RULE), false);
    await page.fill('#re-country', 'AE');
    await page.press('#re-country', 'Enter');
    await page.waitForSelector('#re-save:not([disabled])');
    result = await outcome(page, '#rl-out', () => page.click('#re-save'));
    assertOk(result, new RegExp(`Created rule ${RULE}`));
    const rule = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules.find((r) => r.id === RULE);
    assert.deepEqual([rule.priority, rule.destination, rule.routable], [50, DEST, true]);
    assert.deepEqual(rule.conditions, { country: { in: ['AE'] }, device: { in: ['mobile'] } });
    assert.equal(await page.locator(`#rl-list li[data-rule="${RULE}"]`).count(), 1);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('the preview matrix sends AE phones to it, as the API and a visitor do', async () => {
    const { page, problems } = main;
    await openView(page, 'preview');
    await page.waitForSelector('#results[data-seq]');
    await page.selectOption('#entry', 'festive');
    await page.fill('#at', '2026-11-20T12:00');
    await page.selectOption('#country', 'AE');
    await page.selectOption('#device', 'mobile');
    const before = Number(await page.getAttribute('#results', 'data-seq'));
    await page.click('#run');
    await page.waitForFunction((n) => Number(document.querySelector('#results').dataset.seq) > n && document.querySelector('#results').getAttribute('aria-busy') === 'false', before);
    assert.equal(await page.getAttribute('#result-body', 'data-rule'), RULE);
    assert.equal(await page.getAttribute('#matrix-body td.cell[data-country="AE"][data-device="mobile"]', 'data-rule'), RULE);
    const api = (await suite.api('GET', `${V2}/route-preview?entry=festive&countries=AE&devices=mobile`, suite.pats.marketer)).json;
    assert.equal(api.cells[0].rule, RULE);
    await visitorGets(suite.worker, '/gharart/festive', { ip: IPS.AE, ua: UA.iphone }, DEST, 'an AE iPhone');
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('the audit finds the collision it made; reordering fixes it', async () => {
    const { page, problems } = main;
    await openView(page, 'rules');
    const audit = (await suite.api('GET', `${V2}/rule-audit`, suite.pats.marketer)).json;
    const ours = audit.priority_collisions.filter((c) => c.rules.includes(RULE));
    assert.ok(ours.length >= 1, JSON.stringify(audit.priority_collisions));
    assert.deepEqual(ours.map((c) => c.rules), [[RULE, 'gulf-mobile']]);
    const block = page.locator(`#rl-list [data-finding="collision"][data-rules="${RULE} gulf-mobile"]`);
    assert.match(await block.textContent(), /share priority 50 in festive/);
    await block.locator('button', { hasText: `Put ${RULE} first` }).click();
    await page.waitForSelector('#rl-review');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'rl-review');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#rl-save-order');
    const changes = await page.$$eval('#rl-order tbody tr', (trs) => trs.map((tr) => [tr.dataset.rule, tr.children[1].textContent, tr.children[2].textContent]));
    // No room between 49 and 50: gulf-mobile goes down one instead (the other rules at 50
    // do not collide with it, so their order never mattered and none of them moves).
    assert.deepEqual(changes, [['gulf-mobile', '50', '51']]);
    assert.match(await page.textContent('#rl-order'), /gulf-mobile collides with ae-shop at priority 50/);
    await screenshot(page, 'rules', 1600);
    const result = await outcome(page, '#rl-out', () => page.click('#rl-save-order'));
    assertOk(result, /gulf-mobile now has priority 51/);
    const after = (await suite.api('GET', `${V2}/rule-audit`, suite.pats.marketer)).json;
    assert.equal(after.priority_collisions.filter((c) => c.rules.includes(RULE)).length, 0);
    assert.equal(after.priority_collisions.length, audit.priority_collisions.length - 1, 'the festive seed collision stays');
    const rules = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules;
    assert.equal(rules.find((r) => r.id === RULE).priority, 50);
    assert.equal(rules.find((r) => r.id === 'gulf-mobile').priority, 51);
    assert.deepEqual(rules.filter((r) => r.priority === 50).map((r) => r.id).sort(), [RULE, 'in-diwali-sale', 'in-mobile', 'in-tablet', 'uk-diwali-sale', 'uk-mobile'], 'nothing else moved');
    assert.equal(await page.locator(`#rl-list [data-finding="collision"][data-rules~="${RULE}"]`).count(), 0);
    assert.equal(await page.getAttribute('#rl-list li[data-rule="gulf-mobile"]', 'data-priority'), '51');
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('disable the rule: AE phones go elsewhere; enable it: they come back', async () => {
    const { page, problems } = main;
    const li = () => page.locator(`#rl-list li[data-rule="${RULE}"]`);
    const AE_IPHONE = ['/gharart/festive', { ip: IPS.AE, ua: UA.iphone }];
    let result = await outcome(page, '#rl-out', () => li().locator(`button[aria-label="Disable ${RULE}"]`).click());
    assertOk(result, new RegExp(`${RULE} is disabled \\(configuration version \\d+\\)`));
    const stored = () => suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer).then((r) => r.json.rules.find((x) => x.id === RULE));
    assert.equal((await stored()).enabled, false);
    assert.match(await li().getAttribute('class'), /\boff\b/);
    assert.match(await li().textContent(), /disabled/);
    assert.equal(await li().locator(`button[aria-label="Enable ${RULE}"]`).count(), 1);
    await visitorGets(suite.worker, ...AE_IPHONE, (dest) => dest !== DEST, 'an AE iPhone, the rule disabled');
    result = await outcome(page, '#rl-out', () => li().locator(`button[aria-label="Enable ${RULE}"]`).click());
    assertOk(result, new RegExp(`${RULE} is enabled`));
    assert.notEqual((await stored()).enabled, false, 'enabled (the API leaves `enabled: true` out)');
    assert.doesNotMatch(await li().getAttribute('class'), /\boff\b/);
    await visitorGets(suite.worker, ...AE_IPHONE, DEST, 'an AE iPhone, the rule enabled again');
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('the arrows or a drag reorder locally until reviewed; Discard puts the order back', async () => {
    const { page, problems } = main;
    const order = () => page.$$eval('#rl-list li[data-rule]', (lis) => lis.map((li) => li.dataset.rule));
    const before = await order();
    const i = before.indexOf('gulf-arabic');
    await page.click('#rl-list li[data-rule="gulf-arabic"] button[aria-label="Move gulf-arabic up"]');
    const moved = await order();
    assert.deepEqual([moved[i - 1], moved[i]], ['gulf-arabic', before[i - 1]]);
    assert.match(await page.textContent('#rl-order'), /new priorities for 1 rule\./);
    await page.click('#rl-discard');
    assert.deepEqual(await order(), before);
    assert.equal(await page.textContent('#rl-order'), '');
    // Dragging it onto the rule above does the same.
    await page.locator('#rl-list li[data-rule="gulf-arabic"]').dragTo(page.locator(`#rl-list li[data-rule="${before[i - 1]}"]`));
    assert.deepEqual(await order(), moved);
    assert.match(await page.textContent('#rl-order'), /new priorities for 1 rule\./);
    await page.click('#rl-discard');
    assert.deepEqual(await order(), before);
    assert.deepEqual(unexpected(problems, [422]), []);
  });

  test('an edit that lost a race is explained, and nothing is overwritten', async () => {
    const { page, problems } = main;
    await page.click(`#rl-list li[data-rule="${RULE}"] button[aria-label="Edit ${RULE}"]`);
    await page.fill('#re-destination', `${DEST}/mobile`);
    await page.press('#re-destination', 'Enter');
    await page.waitForSelector('#re-save');
    // Someone else changes the rule meanwhile.
    const current = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules.find((r) => r.id === RULE);
    const theirs = await suite.api('PUT', `${V2}/personalization-rules/${RULE}`, suite.pats.marketer, {
      priority: current.priority, entries: current.entries, conditions: current.conditions, destination: `${DEST}/theirs`,
    });
    assert.equal(theirs.status, 200);
    await page.$eval('#rl-out', (e) => { e.dataset.state = 'waiting'; });
    await page.click('#re-save');
    await page.waitForFunction(() => document.querySelector('#rl-out').dataset.state === 'error');
    const text = await page.textContent('#rl-out');
    assert.match(text, new RegExp(`Conflict\\. Someone changed ${RULE} since you opened it`));
    assert.match(text, /\$\.destination/);
    assert.match(text, /theirs/);
    const stored = (await suite.api('GET', `${V2}/personalization-rules`, suite.pats.marketer)).json.rules.find((r) => r.id === RULE);
    assert.equal(stored.destination, `${DEST}/theirs`, 'their change stays');
    await page.click('#rl-out button');
    await settled(page);
    assert.match(await page.textContent(`#rl-list li[data-rule="${RULE}"]`), /shop\.gharart\.ae\/festive\/theirs/);
    assert.deepEqual(unexpected(problems, [422]), []);
    await signIn(page, suite.pats.marketer);
  });
});
