// UC-07 end to end: the campaign lifecycle and conversion tests of the seed, against one
// worker under wrangler dev (workerd) with local KV (the gharart snapshot) and local D1
// (migrations applied by the harness, PATs stored as SHA-256).
//
// The scenario runs in file order and builds on itself: a two-variant campaign created in
// draft on gharart, failing its health for missing traffic tags; the template fixed; its
// page published with FREE_WITH_LOGIN; activated; visitors routed to it by a rule (GB
// desktop on /gharart/festive), both variants assigned by weight and sticky; a test
// conversion per variant; public conversions with a fresh ctx from the real redirect (and
// with a stale, a tampered and a reused-key one, and ten concurrent retries); paused
// (visitors get the rule's own destination), resumed, canceled (resume is then 409); and
// a campaign whose end_date passes reading as completed. Around it: campaign pages with
// site tokens, CORS on the public routes only, support reports, health at every step.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { IPS, ROOT, UA, bucketNumber, startWorker, visitorCookie, waitFor } from './harness.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const FESTIVE = `/${HANDLE}/festive`;
const ENTRY_DEFAULT = 'https://www.gharart.com/festive';
const REQUEST_ID_RE = /^[0-9a-f]{32}$/;
const CONVERSIONS = '/v2/public/conversions';
const CTX_TTL_SECONDS = 3600;

/** The campaign of the scenario. */
const CAMPAIGN = 'new-buyer-funnel';
const SEED = 'nbf-2026';
const VARIANTS = [
  { key: 'control', weight: 60, destination: 'https://www.gharart.com/festive/new-buyer-a' },
  { key: 'story', weight: 40, destination: 'https://www.gharart.com/festive/new-buyer-b' },
];
const TEMPLATE = 'nbf-utm';
/** The rule that routes GB desktop visitors of the festive entry to the campaign. */
const RULE = 'nbf-gb-desktop';
const RULE_DESTINATION = 'https://uk.gharart.com/festive/new-buyers';
const GB_DESKTOP = { ip: IPS.GB, ua: UA.desktop };
const CHECK_IDS = ['status', 'dates', 'weights', 'variant_destinations', 'routing', 'traffic_tags', 'ctx_token', 'campaign_page', 'test_conversions', 'sample_ratio'];

const campaignPath = (id = CAMPAIGN) => `${V2}/campaigns/${id}`;
const pagePath = (id = CAMPAIGN) => `${V2}/site-structure/campaigns/${id}`;
const publicPagePath = (id = CAMPAIGN, handle = HANDLE) => `/v2/public/handles/${handle}/site-structure/campaigns/${id}`;

let worker;
let T; // PATs by name
let MEMBER; // an entitlement to FREE_WITH_LOGIN pages
let openapi;
const responses = [];

before(async () => {
  openapi = JSON.parse(await readFile(join(ROOT, 'src', 'api', 'openapi.json'), 'utf8'));
  worker = await startWorker({
    d1Migrations: 'DB',
    // Generous per-minute limits: the scenario sends a few hundred requests from one address.
    vars: { CTX_TTL_SECONDS: String(CTX_TTL_SECONDS), API_WRITES_PER_MINUTE: '1000', API_READS_PER_MINUTE: '5000' },
    pats: {
      admin: { scopes: 'admin', sub: 'admin@e2e' },
      marketer: { scopes: 'campaigns:read campaigns:write templates:write rules:write', sub: 'lifecycle@gharart.com' },
      campaignsRead: { scopes: 'campaigns:read', sub: 'campaign-reader@e2e' },
      campaignsWrite: { scopes: 'campaigns:write', sub: 'campaign-writer@e2e' },
      pages: { scopes: 'pages:write campaigns:read', sub: 'pages@gharart.com' },
      storefront: { scopes: 'entitlements', sub: 'storefront@gharart.com' },
    },
  });
  T = worker.pats;
  // A signed-in member's entitlement, as the storefront's server mints it (issue 10):
  // FREE_WITH_LOGIN pages are served only with one.
  const minted = await worker.api('POST', '/v2/handles/gharart/entitlements', { token: T.storefront, body: { access_level: 'FREE_WITH_LOGIN', subject: 'member-1' } });
  assert.equal(minted.status, 201, minted.body);
  MEMBER = minted.json.token;
});

after(async () => {
  await worker?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

const CORS_HEADERS = ['access-control-allow-origin', 'access-control-expose-headers', 'access-control-allow-methods', 'access-control-allow-headers'];

/**
 * Calls the API and checks what every response must satisfy: X-Request-Id, JSON, the
 * error envelope naming the same request id, no 5xx, CORS headers exactly on the public
 * routes, and X-Snapshot-Version equal to the body's version when it has one.
 */
async function call(method, path, opts = {}) {
  const res = await worker.api(method, path, opts);
  responses.push(res);
  const what = `${method} ${path} -> ${res.status} ${res.body.slice(0, 400)}`;
  assert.match(res.requestId ?? '', REQUEST_ID_RE, `X-Request-Id on ${what}`);
  assert.ok(res.status < 500, `no 5xx: ${what}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, what);
  if (res.status >= 400) {
    assert.ok(res.error, `error envelope: ${what}`);
    assert.equal(res.error.request_id, res.requestId, `error.request_id: ${what}`);
  }
  const cors = path.startsWith('/v2/public/') || path.split('?')[0] === '/v2/support/report';
  if (cors) {
    assert.equal(res.headers.get('access-control-allow-origin'), '*', `CORS on ${what}`);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/, what);
  } else {
    for (const name of CORS_HEADERS) assert.equal(res.headers.get(name), null, `no ${name} on a management route: ${what}`);
  }
  if (res.status < 300 && typeof res.json?.version === 'number') {
    assert.equal(res.headers.get('x-snapshot-version'), String(res.json.version), `X-Snapshot-Version: ${what}`);
  }
  return res;
}

function expectError(res, status, code) {
  assert.equal(res.status, status, `${res.method} ${res.path}: want ${status} ${code}, got ${res.status} ${res.body.slice(0, 500)}`);
  assert.equal(res.error?.code, code, `${res.method} ${res.path}: ${res.body.slice(0, 500)}`);
  if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
  return res.error;
}

function expectOk(res, status = 200) {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.body.slice(0, 800)}`);
  return res.json;
}

const getCampaign = async (id = CAMPAIGN) => expectOk(await call('GET', campaignPath(id), { token: T.campaignsRead })).campaign;
const stats = async (id = CAMPAIGN) => (await getCampaign(id)).stats;
const variantStats = (s, key) => s.variants.find((v) => v.key === key);

/** The health report, with `by` mapping each check id to its check. */
async function health(id = CAMPAIGN) {
  const out = expectOk(await call('GET', `${campaignPath(id)}/health`, { token: T.campaignsRead }));
  assert.deepEqual(out.checks.map((c) => c.id), CHECK_IDS, 'every check, in the documented order');
  for (const c of out.checks) {
    assert.ok(['pass', 'warn', 'fail'].includes(c.status), `${c.id}: ${c.status}`);
    assert.ok(c.reason.length > 0, `${c.id} gives a reason`);
  }
  const worst = out.checks.some((c) => c.status === 'fail') ? 'fail' : out.checks.some((c) => c.status === 'warn') ? 'warn' : 'pass';
  assert.equal(out.status, worst, 'the overall status is the worst check');
  assert.equal(out.campaign, id);
  out.by = Object.fromEntries(out.checks.map((c) => [c.id, c]));
  return out;
}

/** Asserts the statuses of some checks: `{ id: 'pass' | 'warn' | 'fail' }`. */
function expectChecks(h, expected) {
  for (const [id, status] of Object.entries(expected)) {
    assert.equal(h.by[id].status, status, `health check ${id}: want ${status}, got ${h.by[id].status} (${h.by[id].reason})`);
  }
}

/** A visit that is never a 5xx. */
async function visit(path, opts = {}) {
  const res = await worker.fetch(path, opts);
  assert.ok(res.status < 500, `${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return res;
}

/** Origin + path of a URL. */
const page = (url) => {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
};

const variantOf = (res) => VARIANTS.find((v) => page(v.destination) === page(res.location));

/** The variant GrowthBook v2 bucketing gives a visitor id, laid out by weight. */
function expectedVariant(vid, variants = VARIANTS, seed = SEED) {
  const n = bucketNumber(seed, vid);
  let upper = 0;
  for (const v of variants) {
    upper += v.weight * 100;
    if (n < upper) return v;
  }
  return variants.at(-1);
}

/** Polls a visit until `check(res)` holds (the router follows a write within its TTL). */
async function routerFollows(path, opts, check, what) {
  return waitFor(
    async () => {
      const r = await visit(path, opts);
      return check(r) ? r : null;
    },
    { timeoutMs: 10_000, intervalMs: 150, what },
  );
}

/** The explain trace of the festive entry for a visitor (a preview without overrides). */
async function explain(opts = GB_DESKTOP, path = FESTIVE) {
  const { token } = await worker.previewToken();
  const res = await visit(`${path}?${new URLSearchParams({ __preview: token, __explain: '1' })}`, opts);
  assert.equal(res.status, 200, res.body.slice(0, 300));
  return res.json();
}

// Tokens as src/token.rs makes them: `v1.<b64url payload>.<b64url mac>`, the MAC an
// HMAC-SHA256 over `v1.<kind>.<payload>` with the key HMAC-SHA256(secret, "edge-router/<kind>").
function signToken(kind, secret, payload) {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const key = createHmac('sha256', secret).update(`edge-router/${kind}`).digest();
  const mac = createHmac('sha256', key).update(`v1.${kind}.${body}`).digest('base64url');
  return `v1.${body}.${mac}`;
}

function tokenClaims(kind, secret, token) {
  const [version, body, mac, ...rest] = token.split('.');
  assert.equal(version, 'v1');
  assert.equal(rest.length, 0);
  const key = createHmac('sha256', secret).update(`edge-router/${kind}`).digest();
  assert.equal(mac, createHmac('sha256', key).update(`v1.${kind}.${body}`).digest('base64url'), `a ${kind} token signed with TOKEN_SECRET`);
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
}

const nowS = () => Math.floor(Date.now() / 1000);

const PAGE_V1 = {
  title: 'Welcome, new buyers',
  summary: 'Handmade festive décor from Indian artisans',
  locale: 'en-IN',
  blocks: [
    { type: 'hero', heading: 'Your first diya set, on us', cta: { label: 'Sign in free', url: 'https://www.gharart.com/login' } },
    { type: 'login_gate', message: 'Sign in with a free account to see the offer' },
    { type: 'product_grid', title: 'Bestsellers', products: ['diya-set-12', 'rangoli-kit'] },
  ],
};
const PAGE_V2 = { ...PAGE_V1, title: 'Welcome, new buyers (v2)', blocks: [...PAGE_V1.blocks, { type: 'countdown', until: '2026-12-31T23:59:59+05:30', label: 'Offer ends' }] };
const PAGE_V3 = { ...PAGE_V2, title: 'Welcome, new buyers (edited on the storefront)' };

// ---------------------------------------------------------------------------------------
// The scenario

/** Visitors and ctx tokens of the routing step, used by the conversion steps. */
const seen = { byVariant: {}, cookies: {} };

describe('1. create a two-variant campaign in draft; its health fails for missing traffic tags', () => {
  test('a template without the traffic tags, then the campaign (draft by default) using it', async () => {
    const tpl = await call('POST', `${V2}/tracking-templates`, {
      token: T.marketer,
      body: { id: TEMPLATE, params: { utm_source: 'gharart-edge', gh_variant: '{variant}' } },
    });
    expectOk(tpl, 201);
    const created = await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: CAMPAIGN, name: 'New buyer funnel A/B', start_date: '2026-11-01T00:00:00Z', end_date: '2027-01-31T00:00:00+05:30', variants: VARIANTS, seed: SEED, template: TEMPLATE },
    });
    const out = expectOk(created, 201);
    assert.equal(out.version, tpl.json.version + 1, 'the write bumped the snapshot version');
    const c = out.campaign;
    assert.equal(c.id, CAMPAIGN);
    assert.equal(c.status, 'draft', 'draft by default');
    assert.equal(c.stored_status, 'draft');
    assert.equal(c.scheduled, false);
    assert.deepEqual(c.variants, VARIANTS);
    assert.deepEqual(c.required_tags, ['utm_source', 'utm_medium', 'utm_campaign'], 'the default traffic tags');
    assert.deepEqual(c.allowed_transitions, ['activate', 'cancel']);
    assert.deepEqual(c.routed_by, []);
    assert.equal(c.seed, SEED);
    const listed = expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead }));
    assert.equal(listed.handle, HANDLE);
    assert.deepEqual(listed.campaigns.map((x) => x.id), ['diwali-hero-ab', 'gulf-eid-teaser', CAMPAIGN]);
    assert.equal(listed.campaigns.find((x) => x.id === 'gulf-eid-teaser').status, 'paused', 'the seeded campaigns as the rule files say');
    const one = await getCampaign();
    assert.deepEqual(one.stats, {
      variants: VARIANTS.map((v) => ({ key: v.key, conversions: 0, test_conversions: 0, by_event: {} })),
      total: { conversions: 0, test_conversions: 0 },
    });
  });

  test('the same id again is 409 campaign_exists; a bad campaign is refused with every problem; nothing stored', async () => {
    const v0 = expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead })).version;
    expectError(await call('POST', `${V2}/campaigns`, { token: T.marketer, body: { id: CAMPAIGN, name: 'again', variants: VARIANTS } }), 409, 'campaign_exists');
    const bad = await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: {
        id: 'nbf-bad',
        name: '  ',
        end_date: '2026-01-01T00:00:00Z',
        variants: [
          { key: 'a', weight: 50, destination: 'https://www.gharart.com/a' },
          { key: 'b', weight: 40, destination: 'http://www.gharart.com/b' },
        ],
        template: 'no-such-template',
      },
    });
    expectError(bad, 422, 'validation_failed');
    const found = bad.error.details.map((d) => `${d.code} ${d.path}`);
    for (const want of ['invalid_name $.name', 'end_date_passed $.end_date', 'invalid_weights $.variants', 'invalid_url $.variants[1].destination']) {
      assert.ok(found.includes(want), `${want} among ${found.join(', ')}`);
    }
    assert.ok(bad.error.details.some((d) => d.path === '$.template'), `the unknown template: ${found.join(', ')}`);
    for (const [body, path] of [
      [{ name: 'x', variants: VARIANTS, owner: 'me' }, '$.owner'],
      [{ name: 'x' }, '$'],
      [[{ name: 'x', variants: VARIANTS }], '$'],
    ]) {
      const res = await call('POST', `${V2}/campaigns`, { token: T.marketer, body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, path, JSON.stringify(body));
    }
    // A state no campaign is created in is well formed but refused by meaning (422).
    for (const status of ['paused', 'completed']) {
      const res = await call('POST', `${V2}/campaigns`, { token: T.marketer, body: { name: 'x', status, variants: VARIANTS } });
      expectError(res, 422, 'validation_failed');
      assert.deepEqual(res.error.details.map((d) => [d.code, d.path]), [['invalid_status', '$.status']], status);
    }
    expectError(await call('POST', `${V2}/campaigns`, { token: T.campaignsRead, body: { name: 'x', variants: VARIANTS } }), 403, 'insufficient_scope');
    expectError(await call('GET', `${V2}/campaigns/no-such-campaign`, { token: T.campaignsRead }), 404, 'campaign_not_found');
    expectError(await call('GET', `${V2}/campaigns`, { token: T.campaignsWrite }), 403, 'insufficient_scope');
    assert.equal(expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead })).version, v0, 'nothing was stored');
  });

  test('without an id a UUID v4 is generated', async () => {
    const out = expectOk(await call('POST', `${V2}/campaigns`, { token: T.marketer, body: { name: 'Generated id', variants: [{ key: 'only', weight: 100, destination: 'https://www.gharart.com/only' }] } }), 201);
    assert.match(out.campaign.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const h = await health(out.campaign.id);
    expectChecks(h, { weights: 'warn', dates: 'warn' });
    assert.match(h.by.weights.reason, /one variant/);
    assert.match(h.by.dates.reason, /no end_date/);
  });

  test('health: traffic_tags fails naming the missing tags; no ctx, no rule, no page, no test conversion', async () => {
    const h = await health();
    assert.equal(h.status, 'fail');
    assert.equal(h.campaign_status, 'draft');
    expectChecks(h, {
      status: 'warn',
      dates: 'pass',
      weights: 'pass',
      variant_destinations: 'pass',
      routing: 'warn',
      traffic_tags: 'fail',
      ctx_token: 'fail',
      campaign_page: 'fail',
      test_conversions: 'warn',
    });
    assert.match(h.by.traffic_tags.reason, /utm_medium/);
    assert.match(h.by.traffic_tags.reason, /utm_campaign/);
    assert.doesNotMatch(h.by.traffic_tags.reason, /utm_source/, 'utm_source is set');
    assert.deepEqual(h.by.traffic_tags.details.templates[0].missing, ['utm_medium', 'utm_campaign']);
    assert.deepEqual(h.by.test_conversions.details.missing, ['control', 'story']);
    assert.equal(h.version, expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead })).version);
  });

  test('health follows the campaign\'s own traffic tags, warns on a country-dependent tag, fails an unroutable variant', async () => {
    const own = expectOk(await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: 'nbf-own-tags', name: 'Own tags', variants: VARIANTS, traffic_tags: ['utm_source', 'utm_term'], template: TEMPLATE },
    }), 201);
    assert.deepEqual(own.campaign.required_tags, ['utm_source', 'utm_term']);
    const h = await health('nbf-own-tags');
    expectChecks(h, { traffic_tags: 'fail' });
    assert.deepEqual(h.by.traffic_tags.details.templates[0].missing, ['utm_term']);

    expectOk(await call('POST', `${V2}/tracking-templates`, {
      token: T.marketer,
      body: { id: 'nbf-geo', params: { utm_source: 'gharart-edge', utm_medium: 'redirect', utm_campaign: 'nbf-{country}', gh_ctx: '{ctx}' } },
    }), 201);
    expectOk(await call('POST', `${V2}/campaigns`, { token: T.marketer, body: { id: 'nbf-geo', name: 'Geo tags', variants: VARIANTS, template: 'nbf-geo' } }), 201);
    const geo = await health('nbf-geo');
    expectChecks(geo, { traffic_tags: 'warn', ctx_token: 'pass' });
    assert.match(geo.by.traffic_tags.reason, /utm_campaign/);

    expectOk(await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: 'nbf-unroutable', name: 'Reseller variant', variants: [VARIANTS[0], { key: 'reseller', weight: 40, destination: 'https://gharart-sale.shop/new-buyers' }] },
    }), 201);
    const bad = await health('nbf-unroutable');
    expectChecks(bad, { variant_destinations: 'fail' });
    assert.match(bad.by.variant_destinations.reason, /reseller/);
  });
});

describe('2. route to it, fix the template, publish its page with FREE_WITH_LOGIN', () => {
  test('a rule sends GB desktop visitors to the campaign; while draft they get the rule\'s own destination and the trace says inactive/draft', async () => {
    const put = await call('PUT', `${V2}/personalization-rules/${RULE}`, {
      token: T.marketer,
      body: {
        priority: 5,
        entries: ['festive'],
        conditions: { country: { in: ['GB'] }, device: { in: ['desktop'] } },
        campaign: CAMPAIGN,
        destination: RULE_DESTINATION,
        description: 'New buyer funnel A/B for British desktop visitors',
      },
    });
    expectOk(put, 201);
    assert.deepEqual((await getCampaign()).routed_by, [RULE]);
    const res = await routerFollows(FESTIVE, GB_DESKTOP, (r) => r.status === 302 && page(r.location) === RULE_DESTINATION, 'the router follows the new rule');
    assert.equal(res.url.searchParams.get('gh_ctx'), null, 'no ctx without a variant');
    const trace = await explain();
    assert.equal(trace.rule, RULE);
    assert.equal(trace.outcome, 'rule');
    assert.equal(trace.campaign.id, CAMPAIGN);
    assert.equal(trace.campaign.status, 'draft');
    assert.equal(trace.campaign.variant, null);
    assert.deepEqual(trace.campaign.no_variant, { code: 'inactive', status: 'draft' });
    assert.equal(page(trace.location), RULE_DESTINATION);
    expectChecks(await health(), { routing: 'pass' });
  });

  test('fixing the template (the three UTM tags and {ctx}) makes traffic_tags and ctx_token pass', async () => {
    const fixed = await call('POST', `${V2}/tracking-templates`, {
      token: T.marketer,
      body: { id: TEMPLATE, params: { utm_source: 'gharart-edge', utm_medium: 'redirect', utm_campaign: '{campaign}', utm_content: '{variant}', gh_ctx: '{ctx}' } },
    });
    assert.equal(expectOk(fixed).created, false, 'replaced');
    const h = await health();
    expectChecks(h, { traffic_tags: 'pass', ctx_token: 'pass', campaign_page: 'fail', status: 'warn' });
    assert.match(h.by.ctx_token.reason, /gh_ctx/);
  });

  test('the page: never public before publish; published PUBLIC fails health; FREE_WITH_LOGIN published passes', async () => {
    expectError(await call('GET', pagePath(), { token: T.pages }), 404, 'page_not_found');
    expectError(await call('GET', publicPagePath()), 404, 'page_not_found');
    expectChecks(await health(), { campaign_page: 'fail' });

    const d1 = expectOk(await call('PUT', pagePath(), { token: T.pages, body: { access_level: 'PUBLIC', document: PAGE_V1 } }));
    assert.equal(d1.campaign, CAMPAIGN);
    assert.equal(d1.draft.revision, 1);
    assert.equal(d1.draft.access_level, 'PUBLIC');
    assert.deepEqual(d1.draft.document, PAGE_V1);
    assert.equal(d1.draft.updated_by, 'pages@gharart.com');
    assert.equal(d1.published, null);
    assert.equal(d1.unpublished_changes, true);
    expectError(await call('GET', publicPagePath()), 404, 'page_not_found');
    let h = await health();
    expectChecks(h, { campaign_page: 'fail' });
    assert.match(h.by.campaign_page.reason, /never published/);

    const p1 = expectOk(await call('POST', `${pagePath()}/publish`, { token: T.pages }));
    assert.equal(p1.published.revision, 1);
    assert.equal(p1.published.published_by, 'pages@gharart.com');
    assert.equal(p1.unpublished_changes, false);
    const pub1 = expectOk(await call('GET', publicPagePath()));
    assert.deepEqual(pub1.document, PAGE_V1);
    assert.equal(pub1.access_level, 'PUBLIC');
    h = await health();
    expectChecks(h, { campaign_page: 'fail' });
    assert.match(h.by.campaign_page.reason, /PUBLIC, not FREE_WITH_LOGIN/);

    const d2 = expectOk(await call('PUT', pagePath(), { token: T.pages, body: { access_level: 'FREE_WITH_LOGIN', document: PAGE_V2 } }));
    assert.equal(d2.draft.revision, 2);
    assert.equal(d2.published.revision, 1);
    assert.equal(d2.unpublished_changes, true);
    const stillV1 = expectOk(await call('GET', publicPagePath()));
    assert.equal(stillV1.revision, 1, 'the public read never serves the draft');
    assert.deepEqual(stillV1.document, PAGE_V1);
    h = await health();
    expectChecks(h, { campaign_page: 'fail' });
    assert.match(h.by.campaign_page.reason, /publish the draft/);

    const p2 = expectOk(await call('POST', `${pagePath()}/publish`, { token: T.pages }));
    assert.equal(p2.published.revision, 2);
    assert.equal(p2.published.access_level, 'FREE_WITH_LOGIN');
    expectError(await call('GET', publicPagePath()), 401, 'entitlement_required');
    const pub2 = expectOk(await call('GET', publicPagePath(), { token: MEMBER }));
    assert.equal(pub2.campaign, CAMPAIGN);
    assert.equal(pub2.revision, 2);
    assert.equal(pub2.access_level, 'FREE_WITH_LOGIN');
    assert.deepEqual(pub2.document, PAGE_V2);
    assert.ok(Math.abs(Date.parse(pub2.published_at) / 1000 - nowS()) < 120, pub2.published_at);
    assert.equal(pub2.schema, `${publicPagePath()}/schema`);
    assert.equal(pub2.draft, undefined);
    h = await health();
    expectChecks(h, { campaign_page: 'pass' });
    assert.match(h.by.campaign_page.reason, /FREE_WITH_LOGIN/);

    // Publishing again changes nothing.
    const again = expectOk(await call('POST', `${pagePath()}/publish`, { token: T.pages }));
    assert.deepEqual(again, p2);
    const mgmt = expectOk(await call('GET', pagePath(), { token: T.campaignsRead }));
    assert.deepEqual(mgmt, p2);
  });

  test('the schema fetch succeeds publicly and is the documented page schema; bad documents are refused with every path', async () => {
    const schema = expectOk(await call('GET', `${publicPagePath()}/schema`));
    // The document embeds it with its `#/$defs/...` references made absolute.
    const embedded = JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/CampaignPageDocument/$defs/');
    assert.deepEqual(JSON.parse(embedded), openapi.components.schemas.CampaignPageDocument);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    expectError(await call('GET', `${publicPagePath('any-campaign')}/schema`), 404, 'campaign_not_found');
    const bad = await call('PUT', pagePath(), {
      token: T.pages,
      body: { access_level: 'FREE_WITH_LOGIN', document: { title: '', blocks: [{ type: 'marquee' }, { type: 'image', src: 'http://x.example/a.png', alt: 'a' }], theme: 'dark' } },
    });
    expectError(bad, 422, 'validation_failed');
    const paths = bad.error.details.map((d) => d.path);
    for (const p of ['$.document.title', '$.document.blocks[0].type', '$.document.blocks[1].src', '$.document.theme']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    for (const [body, path] of [
      [{ access_level: 'MEMBERS_ONLY', document: PAGE_V1 }, '$.access_level'],
      [{ access_level: 'PUBLIC' }, '$'],
      [{ access_level: 'PUBLIC', document: PAGE_V1, publish: true }, '$.publish'],
    ]) {
      const res = await call('PUT', pagePath(), { token: T.pages, body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, path, JSON.stringify(body).slice(0, 80));
    }
    expectError(await call('PUT', pagePath(), { token: T.campaignsWrite, body: { access_level: 'PUBLIC', document: PAGE_V1 } }), 403, 'insufficient_scope');
    expectError(await call('PUT', pagePath('no-such-campaign'), { token: T.pages, body: { access_level: 'PUBLIC', document: PAGE_V1 } }), 404, 'campaign_not_found');
    expectError(await call('POST', `${pagePath('diwali-hero-ab')}/publish`, { token: T.pages }), 409, 'nothing_to_publish');
    assert.equal(expectOk(await call('GET', publicPagePath(), { token: MEMBER })).revision, 2, 'nothing changed the published page');
  });
});

describe('campaign pages through the public routes with a campaign-scoped site token', () => {
  let site;

  test('minting needs pages:write and a campaign; the lifetime is 1 s to 24 h', async () => {
    const minted = await call('POST', `${campaignPath()}/site-tokens`, { token: T.pages, body: { ttl_seconds: 600 } });
    site = expectOk(minted, 201);
    assert.equal(site.handle, HANDLE);
    assert.equal(site.campaign, CAMPAIGN);
    assert.ok(Math.abs(site.expires_at - (nowS() + 600)) <= 5, `${site.expires_at}`);
    const claims = tokenClaims('site', worker.secret, site.token);
    assert.equal(claims.handle, HANDLE);
    assert.equal(claims.campaign, CAMPAIGN);
    assert.equal(claims.exp - claims.iat, 600);
    const plain = expectOk(await call('POST', `${campaignPath()}/site-tokens`, { token: T.pages }), 201);
    assert.ok(Math.abs(plain.expires_at - (nowS() + 3600)) <= 5, 'default lifetime 1 h');
    for (const body of [{ ttl_seconds: 0 }, { ttl_seconds: 86_401 }, { ttl_seconds: 60, campaign: 'other' }]) {
      expectError(await call('POST', `${campaignPath()}/site-tokens`, { token: T.pages, body }), 400, 'invalid_body');
    }
    expectError(await call('POST', `${campaignPath()}/site-tokens`, { token: T.campaignsWrite }), 403, 'insufficient_scope');
    expectError(await call('POST', `${campaignPath('no-such-campaign')}/site-tokens`, { token: T.pages }), 404, 'campaign_not_found');
  });

  test('without, with a wrong or with an expired token: 401/403, nothing written', async () => {
    const body = { access_level: 'FREE_WITH_LOGIN', document: PAGE_V3 };
    const other = expectOk(await call('POST', `${campaignPath('diwali-hero-ab')}/site-tokens`, { token: T.pages }), 201).token;
    const short = expectOk(await call('POST', `${campaignPath()}/site-tokens`, { token: T.pages, body: { ttl_seconds: 1 } }), 201).token;
    const { token: preview } = await worker.previewToken();
    const forged = signToken('site', `${worker.secret}-not`, { iat: nowS(), exp: nowS() + 600, handle: HANDLE, campaign: CAMPAIGN });
    const otherHandle = signToken('site', worker.secret, { iat: nowS(), exp: nowS() + 600, handle: 'other-shop', campaign: CAMPAIGN });
    const cases = [
      ['no Authorization', {}, 401, 'missing_token'],
      ['a garbage token', { token: 'not-a-token' }, 401, 'invalid_token'],
      ['another scheme', { authorization: `Token ${site.token}` }, 401, 'invalid_token'],
      ['an admin PAT', { token: T.admin }, 401, 'invalid_token'],
      ['an admin JWT', { token: worker.jwt({ scopes: ['admin'] }) }, 401, 'invalid_token'],
      ['a preview token', { token: preview }, 401, 'invalid_token'],
      ['a site token signed with another secret', { token: forged }, 401, 'invalid_token'],
      ['a site token for another handle', { token: otherHandle }, 403, 'wrong_handle'],
      ['a site token for another campaign', { token: other }, 403, 'wrong_campaign'],
    ];
    await sleep(2100);
    cases.push(['an expired site token', { token: short }, 401, 'token_expired']);
    for (const [what, auth, status, code] of cases) {
      for (const res of [await call('PUT', publicPagePath(), { ...auth, body }), await call('POST', `${publicPagePath()}/publish`, auth)]) {
        assert.deepEqual([res.status, res.error?.code], [status, code], `${what}: ${res.method} ${res.path} ${res.body.slice(0, 200)}`);
        if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer', what);
      }
    }
    // A site token opens no management route.
    expectError(await call('GET', pagePath(), { token: site.token }), 401, 'invalid_token');
    expectError(await call('PUT', pagePath(), { token: site.token, body }), 401, 'invalid_token');
    const state = expectOk(await call('GET', pagePath(), { token: T.pages }));
    assert.equal(state.draft.revision, 2, 'nothing was written');
  });

  test('with the site token: PUT a draft (not public until published), publish it; health warns while unpublished', async () => {
    const auth = { token: site.token };
    const put = expectOk(await call('PUT', publicPagePath(), { ...auth, body: { access_level: 'FREE_WITH_LOGIN', document: PAGE_V3 } }));
    assert.equal(put.draft.revision, 3);
    assert.equal(put.draft.updated_by, `site:${CAMPAIGN}`);
    assert.equal(put.published.revision, 2);
    assert.equal(expectOk(await call('GET', publicPagePath(), { token: MEMBER })).revision, 2, 'members still read revision 2');
    const h = await health();
    expectChecks(h, { campaign_page: 'warn' });
    assert.match(h.by.campaign_page.reason, /unpublished changes/);
    const bad = await call('PUT', publicPagePath(), { ...auth, body: { access_level: 'FREE_WITH_LOGIN', document: { title: 'x' } } });
    expectError(bad, 422, 'validation_failed');
    const published = expectOk(await call('POST', `${publicPagePath()}/publish`, auth));
    assert.equal(published.published.revision, 3);
    assert.equal(published.published.published_by, `site:${CAMPAIGN}`);
    const pub = expectOk(await call('GET', publicPagePath(), { token: MEMBER }));
    assert.equal(pub.revision, 3);
    assert.deepEqual(pub.document, PAGE_V3);
    expectChecks(await health(), { campaign_page: 'pass' });
    // Nothing to publish for a campaign without a page, through the public route too.
    const other = expectOk(await call('POST', `${campaignPath('diwali-hero-ab')}/site-tokens`, { token: T.pages }), 201).token;
    expectError(await call('POST', `${publicPagePath('diwali-hero-ab')}/publish`, { token: other }), 409, 'nothing_to_publish');
    expectError(await call('GET', publicPagePath('diwali-hero-ab')), 404, 'page_not_found');
  });

  test('regression: a publish racing a draft PUT is never lost (the save counter is bumped by every save)', async () => {
    const path = pagePath('gulf-eid-teaser');
    const doc = (n) => ({ title: `Race ${n}`, blocks: [{ type: 'text', body: `draft ${n}` }] });
    const lost = [];
    for (let i = 0; i < 15 && lost.length === 0; i++) {
      expectOk(await call('PUT', path, { token: T.pages, body: { access_level: 'FREE_WITH_LOGIN', document: doc(`${i}a`) } }));
      const [published] = await Promise.all([
        call('POST', `${path}/publish`, { token: T.pages }),
        call('PUT', path, { token: T.pages, body: { access_level: 'FREE_WITH_LOGIN', document: doc(`${i}b`) } }),
      ]);
      const acknowledged = expectOk(published).published.revision;
      const now = expectOk(await call('GET', path, { token: T.pages })).published?.revision ?? 0;
      if (now < acknowledged) lost.push(`round ${i}: publish answered revision ${acknowledged}, the page now has ${now}`);
    }
    assert.deepEqual(lost, [], 'an acknowledged publish stays published');
  });

  test('a PRIVATE page is never served publicly', async () => {
    expectOk(await call('PUT', pagePath('nbf-geo'), { token: T.pages, body: { access_level: 'PRIVATE', document: PAGE_V1 } }));
    expectOk(await call('POST', `${pagePath('nbf-geo')}/publish`, { token: T.pages }));
    expectError(await call('GET', publicPagePath('nbf-geo')), 404, 'page_not_found');
  });
});

describe('3. activate, route visitors: both variants by weight, sticky, each with a fresh ctx', () => {
  test('activate: draft -> active; activating again is 409 naming active', async () => {
    const out = expectOk(await call('POST', `${campaignPath()}/activate`, { token: T.campaignsWrite }));
    assert.equal(out.from, 'draft');
    assert.equal(out.status, 'active');
    assert.equal(out.campaign.status, 'active');
    assert.deepEqual(out.campaign.allowed_transitions, ['pause', 'cancel']);
    const again = expectError(await call('POST', `${campaignPath()}/activate`, { token: T.campaignsWrite }), 409, 'invalid_transition');
    assert.match(again.message, /active/);
    expectChecks(await health(), { status: 'pass' });
    expectError(await call('POST', `${campaignPath()}/pause`, { token: T.campaignsRead }), 403, 'insufficient_scope');
    expectError(await call('POST', `${campaignPath('no-such-campaign')}/pause`, { token: T.campaignsWrite }), 404, 'campaign_not_found');
  });

  test('120 fresh GB desktop visitors: both variants, each the GrowthBook v2 bucket of its cookie, roughly 60/40', async () => {
    await routerFollows(FESTIVE, GB_DESKTOP, (r) => r.status === 302 && variantOf(r) !== undefined, 'the router assigns variants once active');
    const n = 120;
    const results = [];
    for (let batch = 0; batch < n / 12; batch++) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: 12 }, async () => {
            const res = await visit(FESTIVE, GB_DESKTOP);
            assert.equal(res.status, 302, res.body.slice(0, 200));
            const vid = visitorCookie(res);
            assert.match(vid ?? '', /^[0-9a-f]{32}$/);
            const variant = variantOf(res);
            assert.ok(variant, `a variant destination: ${res.location}`);
            assert.equal(variant.key, expectedVariant(vid).key, `bucketing of ${vid}`);
            const q = res.url.searchParams;
            assert.equal(q.get('utm_source'), 'gharart-edge');
            assert.equal(q.get('utm_medium'), 'redirect');
            assert.equal(q.get('utm_campaign'), CAMPAIGN);
            assert.equal(q.get('utm_content'), variant.key);
            const ctx = q.get('gh_ctx');
            const claims = tokenClaims('ctx', worker.secret, ctx);
            assert.deepEqual({ handle: claims.handle, campaign: claims.campaign, variant: claims.variant, vid: claims.vid }, { handle: HANDLE, campaign: CAMPAIGN, variant: variant.key, vid });
            assert.equal(claims.exp - claims.iat, CTX_TTL_SECONDS);
            return { vid, key: variant.key, ctx };
          }),
        )),
      );
    }
    for (const v of VARIANTS) {
      const count = results.filter((r) => r.key === v.key).length;
      const p = v.weight / 100;
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(count > 0, `${v.key} is assigned`);
      assert.ok(Math.abs(count - n * p) <= 5 * sd, `${v.key}: ${count}/${n}, expected about ${n * p}`);
      const one = results.find((r) => r.key === v.key);
      seen.byVariant[v.key] = one;
      seen.cookies[v.key] = `gh_vid=${one.vid}`;
    }
  });

  test('sticky: the same visitor keeps its variant (and gets no new cookie); the trace shows the bucket', async () => {
    for (const v of VARIANTS) {
      const { vid } = seen.byVariant[v.key];
      for (let i = 0; i < 4; i++) {
        const res = await visit(FESTIVE, { ...GB_DESKTOP, cookie: seen.cookies[v.key] });
        assert.equal(variantOf(res)?.key, v.key, `request ${i + 1} of ${vid}`);
        assert.deepEqual(res.setCookies, []);
      }
      const trace = await explain({ ...GB_DESKTOP, cookie: seen.cookies[v.key] });
      assert.equal(trace.campaign.status, 'active');
      assert.equal(trace.campaign.variant, v.key);
      assert.equal(trace.campaign.bucket, bucketNumber(SEED, vid) / 10000);
      assert.equal(trace.campaign.no_variant, undefined);
    }
    // Visitors the rule does not match never reach the campaign.
    const mobile = await visit(FESTIVE, { ip: IPS.GB, ua: UA.iphone });
    assert.ok(!variantOf(mobile), mobile.location);
  });
});

describe('4. a test conversion per variant: flagged, kept out of the real figures', () => {
  test('one per variant (ctx minted), one with the real redirect\'s ctx; health test_conversions passes', async () => {
    for (const v of VARIANTS) {
      const out = expectOk(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: v.key } }), 201);
      assert.equal(out.recorded, true);
      assert.equal(out.conversion.is_test, true);
      assert.equal(out.conversion.campaign, CAMPAIGN);
      assert.equal(out.conversion.variant, v.key);
      assert.equal(out.conversion.event, 'test_conversion');
      assert.match(out.conversion.visitor_id, /^test-/);
      // A test ctx is a token of its own kind (issue 10), which the public route refuses.
      const claims = tokenClaims('test-ctx', worker.secret, out.ctx);
      assert.equal(claims.variant, v.key);
      assert.equal(claims.vid, out.conversion.visitor_id);
      const refused = await call('POST', CONVERSIONS, { body: { ctx: out.ctx, event: 'purchase' }, idempotencyKey: `test-ctx-${v.key}-${Math.random()}` });
      expectError(refused, 400, 'invalid_ctx');
    }
    const real = seen.byVariant.control;
    const withCtx = expectOk(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'control', ctx: real.ctx, event: 'checkout.test' } }), 201);
    assert.equal(withCtx.conversion.visitor_id, real.vid, 'tied to the redirect\'s visitor');
    assert.equal(withCtx.ctx, real.ctx);
    const s = await stats();
    assert.deepEqual(s.total, { conversions: 0, test_conversions: 3 });
    assert.deepEqual(variantStats(s, 'control'), { key: 'control', conversions: 0, test_conversions: 2, by_event: {} });
    assert.deepEqual(variantStats(s, 'story'), { key: 'story', conversions: 0, test_conversions: 1, by_event: {} });
    const h = await health();
    expectChecks(h, { test_conversions: 'pass' });
    assert.deepEqual(h.by.test_conversions.details.per_variant, { control: 2, story: 1 });
    assert.equal(h.status, 'pass', `every check passes now: ${JSON.stringify(h.checks.filter((c) => c.status !== 'pass'))}`);
  });

  test('a bad ctx is 400 invalid_ctx (the seed\'s "test-conversion endpoint returns invalid_ctx"); nothing recorded', async () => {
    const before = await stats();
    const control = seen.byVariant.control;
    const stale = signToken('ctx', worker.secret, { iat: nowS() - 7200, exp: nowS() - 3600, handle: HANDLE, campaign: CAMPAIGN, variant: 'control', vid: control.vid });
    const otherCampaign = signToken('ctx', worker.secret, { iat: nowS(), exp: nowS() + 600, handle: HANDLE, campaign: 'diwali-hero-ab', variant: 'control', vid: control.vid });
    for (const [what, ctx, message] of [
      ['garbage', 'not-a-ctx', /malformed/],
      ['a ctx for the other variant', seen.byVariant.story.ctx, /another variant/],
      ['a ctx for another campaign', otherCampaign, /another campaign/],
      ['an expired ctx', stale, /expired/],
      ['a ctx signed with another secret', signToken('ctx', 'another-secret', { iat: nowS(), exp: nowS() + 600, handle: HANDLE, campaign: CAMPAIGN, variant: 'control', vid: 'x' }), /signature/],
    ]) {
      const err = expectError(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'control', ctx } }), 400, 'invalid_ctx');
      assert.match(err.message, message, what);
    }
    const unknown = await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'nope' } });
    // A variant the campaign does not have is a missing thing, as a missing campaign is.
    expectError(unknown, 404, 'variant_not_found');
    expectError(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'control', event: 'Bad Event' } }), 400, 'invalid_body');
    expectError(await call('POST', `${campaignPath('no-such-campaign')}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'control' } }), 404, 'campaign_not_found');
    expectError(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsRead, body: { variant: 'control' } }), 403, 'insufficient_scope');
    assert.deepEqual(await stats(), before);
  });

  test('a retried test conversion under one Idempotency-Key is recorded once', async () => {
    const before = variantStats(await stats(), 'story').test_conversions;
    const key = `tc-${Date.now()}`;
    const first = expectOk(await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'story' }, idempotencyKey: key }), 201);
    const retry = await call('POST', `${campaignPath()}/test-conversion`, { token: T.campaignsWrite, body: { variant: 'story' }, idempotencyKey: key });
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.json, first);
    assert.equal(variantStats(await stats(), 'story').test_conversions, before + 1);
  });
});

describe('5. public conversions with the ctx of the redirect', () => {
  const convert = (body, idempotencyKey, opts = {}) => call('POST', CONVERSIONS, { body, idempotencyKey, ...opts });

  test('a fresh ctx is recorded (201) for its variant; retries count once; the same key with another payload is 409', async () => {
    const { ctx } = seen.byVariant.control;
    const key = `conv-${Date.now()}-a`;
    const body = { ctx, event: 'signup', metadata: { source: 'e2e', step: 1 } };
    const first = await convert(body, key);
    assert.deepEqual(expectOk(first, 201), { recorded: true, duplicate: false, conversion: { campaign: CAMPAIGN, variant: 'control', event: 'signup' } });
    assert.equal(first.headers.get('idempotent-replayed'), null);
    for (let i = 0; i < 2; i++) {
      const retry = await convert(body, key);
      assert.deepEqual(expectOk(retry), { recorded: false, duplicate: true, conversion: { campaign: CAMPAIGN, variant: 'control', event: 'signup' } });
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    }
    // The same payload written differently (key order, whitespace) is the same conversion.
    const reordered = await call('POST', CONVERSIONS, { raw: true, body: `{ "metadata": {"step": 1.0, "source": "e2e"},\n  "event": "signup", "ctx": "${ctx}" }`, idempotencyKey: key });
    assert.equal(expectOk(reordered).duplicate, true);
    // The seed's "conversion dedupe confusion from reused idempotency key": another payload is refused.
    for (const other of [{ ...body, event: 'purchase' }, { ...body, metadata: { source: 'e2e', step: 2 } }]) {
      expectError(await convert(other, key), 409, 'idempotency_key_reuse');
    }
    // A key is scoped to the ctx it comes with (issue 10): the same key with another
    // visitor's ctx is that visitor's own conversion, so whoever uses a key first cannot
    // have someone else's conversion refused.
    const elsewhere = await convert({ ctx: seen.byVariant.story.ctx, event: 'signup', metadata: body.metadata }, key);
    assert.deepEqual(expectOk(elsewhere, 201), { recorded: true, duplicate: false, conversion: { campaign: CAMPAIGN, variant: 'story', event: 'signup' } });
    const s = await stats();
    assert.deepEqual(variantStats(s, 'control'), { key: 'control', conversions: 1, test_conversions: 2, by_event: { signup: 1 } });
    assert.deepEqual(variantStats(s, 'story').by_event, { signup: 1 });
    assert.deepEqual(s.total, { conversions: 2, test_conversions: 4 }, 'test conversions stay apart');
    // Stored under the key scoped to each ctx (a hash of the ctx, then the key).
    const rows = await worker.d1(`SELECT handle, campaign, variant, visitor_id, event, is_test FROM conversions WHERE idempotency_key LIKE '%:${key}' ORDER BY variant`);
    assert.deepEqual(rows[0].results, [
      { handle: HANDLE, campaign: CAMPAIGN, variant: 'control', visitor_id: seen.byVariant.control.vid, event: 'signup', is_test: 0 },
      { handle: HANDLE, campaign: CAMPAIGN, variant: 'story', visitor_id: seen.byVariant.story.vid, event: 'signup', is_test: 0 },
    ]);
  });

  test('10 concurrent identical requests under one key: exactly one 201, the rest duplicates; counted once', async () => {
    const { ctx } = seen.byVariant.story;
    const key = `conv-${Date.now()}-race`;
    const body = { ctx, event: 'purchase', value: 2499, currency: 'INR' };
    const all = await Promise.all(Array.from({ length: 10 }, () => convert(body, key)));
    const statuses = all.map((r) => `${r.status} ${r.error?.code ?? ''}`).join(', ');
    assert.equal(all.filter((r) => r.status === 201).length, 1, statuses);
    assert.equal(all.filter((r) => r.status === 200 && r.json.duplicate === true).length, 9, statuses);
    const s = await stats();
    assert.deepEqual(variantStats(s, 'story'), { key: 'story', conversions: 2, test_conversions: 2, by_event: { signup: 1, purchase: 1 } });
    assert.deepEqual(s.total, { conversions: 3, test_conversions: 4 });
  });

  test('stale, tampered, forged, missing or foreign ctx: 400 invalid_ctx, nothing counted', async () => {
    const before = await stats();
    const { ctx, vid } = seen.byVariant.control;
    const claims = tokenClaims('ctx', worker.secret, ctx);
    const stale = signToken('ctx', worker.secret, { ...claims, iat: nowS() - 2 * CTX_TTL_SECONDS, exp: nowS() - CTX_TTL_SECONDS });
    const [v, payload, mac] = ctx.split('.');
    const bytes = Buffer.from(payload, 'base64url');
    const at = bytes.indexOf(Buffer.from(vid)) + 3;
    bytes[at] ^= 0x01; // one bit of the visitor id
    const tampered = `${v}.${bytes.toString('base64url')}.${mac}`;
    const swapped = `${v}.${Buffer.from(JSON.stringify({ ...claims, variant: 'story' })).toString('base64url')}.${mac}`;
    const { token: preview } = await worker.previewToken();
    const unknownCampaign = signToken('ctx', worker.secret, { ...claims, campaign: 'no-such-campaign' });
    const unknownVariant = signToken('ctx', worker.secret, { ...claims, variant: 'no-such-variant' });
    const future = signToken('ctx', worker.secret, { ...claims, iat: nowS() + 3600, exp: nowS() + 7200 });
    const cases = [
      ['stale (exp passed)', stale, /expired/],
      ['tampered (one payload bit)', tampered, /signature/],
      ['tampered (variant swapped)', swapped, /signature/],
      ['signed with another secret', signToken('ctx', 'not-the-secret', claims), /signature/],
      ['a preview token', preview, /signature/],
      ['issued in the future', future, /future/],
      ['for a campaign the handle lacks', unknownCampaign, /campaign/],
      ['for a variant the campaign lacks', unknownVariant, /variant/],
      ['garbage', 'v1.x.y', /malformed|signature/],
      ['empty', '', /missing/],
    ];
    for (const [what, bad, message] of cases) {
      const err = expectError(await convert({ ctx: bad, event: 'signup' }, `conv-bad-${Math.random()}`), 400, 'invalid_ctx');
      assert.match(err.message, message, what);
    }
    expectError(await convert({ event: 'signup' }, `conv-bad-${Math.random()}`), 400, 'invalid_ctx');
    // The ctx is checked first; then the key and the fields.
    const nokey = await call('POST', CONVERSIONS, { body: { ctx, event: 'signup' } });
    expectError(nokey, 400, 'invalid_parameter');
    assert.match(nokey.error.message, /Idempotency-Key/);
    for (const [body, path] of [
      [{ ctx, event: 'Sign Up' }, '$.event'],
      [{ ctx, event: 'purchase', value: -1 }, '$.value'],
      [{ ctx, event: 'purchase', value: 1, currency: 'rupees' }, '$.currency'],
      [{ ctx, event: 'purchase', campaign: 'diwali-hero-ab' }, '$.campaign'],
    ]) {
      const res = await convert(body, `conv-bad-${Math.random()}`);
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, path, JSON.stringify(body).slice(0, 60));
    }
    expectError(await convert([{ ctx, event: 'signup' }], `conv-bad-${Math.random()}`), 400, 'invalid_body');
    assert.deepEqual(await stats(), before);
  });

  test('a CORS preflight on the public routes is answered; management routes have none', async () => {
    for (const path of [CONVERSIONS, publicPagePath(), '/v2/support/report']) {
      const res = await worker.api('OPTIONS', path, { headers: { Origin: 'https://www.gharart.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, idempotency-key' } });
      assert.equal(res.status, 204, `${path}: ${res.body}`);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      for (const m of ['GET', 'POST', 'PUT']) assert.match(res.headers.get('access-control-allow-methods') ?? '', new RegExp(`\\b${m}\\b`), path);
      for (const h of ['Content-Type', 'Authorization', 'Idempotency-Key']) assert.match(res.headers.get('access-control-allow-headers') ?? '', new RegExp(h, 'i'), path);
      assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
      assert.match(res.requestId ?? '', REQUEST_ID_RE);
    }
    const mgmt = await worker.api('OPTIONS', `${V2}/campaigns`, { headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(mgmt.status, 405);
    for (const name of CORS_HEADERS) assert.equal(mgmt.headers.get(name), null, `${name} on a management preflight`);
    // The credentialed management answers carry no CORS headers either (checked by call() on every one).
  });
});

describe('6. pause (visitors get the fallback), resume, cancel (resume is then 409)', () => {
  test('pause: visitors get the rule\'s own destination, no ctx; the trace says inactive/paused; conversions with a fresh ctx still count', async () => {
    const key = `pause-${Date.now()}`;
    const out = expectOk(await call('POST', `${campaignPath()}/pause`, { token: T.campaignsWrite, idempotencyKey: key }));
    assert.equal(out.from, 'active');
    assert.equal(out.status, 'paused');
    assert.deepEqual(out.campaign.allowed_transitions, ['resume', 'cancel']);
    const replay = await call('POST', `${campaignPath()}/pause`, { token: T.campaignsWrite, idempotencyKey: key });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true', 'a retried pause replays instead of 409');
    assert.deepEqual(replay.json, out);
    const again = expectError(await call('POST', `${campaignPath()}/pause`, { token: T.campaignsWrite }), 409, 'invalid_transition');
    assert.match(again.message, /paused/);
    const res = await routerFollows(FESTIVE, { ...GB_DESKTOP, cookie: seen.cookies.control }, (r) => r.status === 302 && page(r.location) === RULE_DESTINATION, 'paused: the rule\'s own destination');
    assert.equal(res.url.searchParams.get('gh_ctx'), null);
    assert.equal(res.url.searchParams.get('utm_content'), 'GB-desktop', 'the entry\'s (default) template, not the campaign\'s');
    const fresh = await visit(FESTIVE, GB_DESKTOP);
    assert.equal(page(fresh.location), RULE_DESTINATION, 'new visitors too');
    const trace = await explain({ ...GB_DESKTOP, cookie: seen.cookies.story });
    assert.equal(trace.campaign.status, 'paused');
    assert.equal(trace.campaign.variant, null);
    assert.deepEqual(trace.campaign.no_variant, { code: 'inactive', status: 'paused' });
    const h = await health();
    expectChecks(h, { status: 'warn' });
    assert.equal(h.campaign_status, 'paused');
    const c = await getCampaign();
    assert.equal(c.status, 'paused');
    const conv = await call('POST', CONVERSIONS, { body: { ctx: seen.byVariant.story.ctx, event: 'late-purchase' }, idempotencyKey: `conv-${Date.now()}-paused` });
    expectOk(conv, 201);
    assert.deepEqual(variantStats(await stats(), 'story').by_event, { signup: 1, purchase: 1, 'late-purchase': 1 });
  });

  test('resume: active again, every visitor back on the same variant', async () => {
    const out = expectOk(await call('POST', `${campaignPath()}/resume`, { token: T.campaignsWrite }));
    assert.equal(out.from, 'paused');
    assert.equal(out.status, 'active');
    for (const v of VARIANTS) {
      const res = await routerFollows(FESTIVE, { ...GB_DESKTOP, cookie: seen.cookies[v.key] }, (r) => variantOf(r) !== undefined, 'resumed: variants again');
      assert.equal(variantOf(res).key, v.key, 'sticky across the pause');
      assert.ok(res.url.searchParams.get('gh_ctx'));
    }
    expectChecks(await health(), { status: 'pass' });
  });

  test('cancel: terminal; resume is 409 naming canceled, and so is every other transition', async () => {
    const out = expectOk(await call('POST', `${campaignPath()}/cancel`, { token: T.campaignsWrite }));
    assert.equal(out.from, 'active');
    assert.equal(out.status, 'canceled');
    assert.deepEqual(out.campaign.allowed_transitions, []);
    for (const t of ['resume', 'pause', 'activate', 'cancel']) {
      const err = expectError(await call('POST', `${campaignPath()}/${t}`, { token: T.campaignsWrite }), 409, 'invalid_transition');
      assert.match(err.message, /canceled/, `${t}: ${err.message}`);
    }
    const res = await routerFollows(FESTIVE, { ...GB_DESKTOP, cookie: seen.cookies.control }, (r) => r.status === 302 && page(r.location) === RULE_DESTINATION, 'canceled: the rule\'s own destination');
    assert.equal(res.url.searchParams.get('gh_ctx'), null);
    const trace = await explain();
    assert.deepEqual(trace.campaign.no_variant, { code: 'inactive', status: 'canceled' });
    const h = await health();
    expectChecks(h, { status: 'fail' });
    assert.match(h.by.status.reason, /canceled/);
    const c = await getCampaign();
    assert.equal(c.status, 'canceled');
    assert.equal(c.stats.total.conversions, 4, 'the figures are kept');
    const listed = expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead }));
    assert.equal(listed.campaigns.find((x) => x.id === CAMPAIGN).status, 'canceled');
  });
});

describe('7. a campaign whose end_date passes reads as completed', () => {
  test('created with an end_date already passed: 400 end_date_passed', async () => {
    const res = await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: 'nbf-past', name: 'Already over', status: 'active', end_date: new Date(Date.now() - 60_000).toISOString(), variants: VARIANTS },
    });
    expectError(res, 422, 'validation_failed');
    assert.deepEqual(res.error.details.map((d) => `${d.code} ${d.path}`), ['end_date_passed $.end_date']);
    expectError(await call('GET', campaignPath('nbf-past'), { token: T.campaignsRead }), 404, 'campaign_not_found');
  });

  test('active at creation with an end_date seconds ahead: assigns, then completes on its own; the router stops; pause is 409', async () => {
    const ID = 'nbf-flash';
    const FLASH = [
      { key: 'flash-a', weight: 50, destination: 'https://www.gharart.com/festive/flash-a' },
      { key: 'flash-b', weight: 50, destination: 'https://www.gharart.com/festive/flash-b' },
    ];
    const US_DESKTOP = { ip: IPS.US, ua: UA.desktop };
    const end = new Date(Date.now() + 9_000);
    // Two more that reach the same end_date while not active: a draft and a paused one.
    for (const [id, status] of [['nbf-flash-draft', 'draft'], ['nbf-flash-paused', 'active']]) {
      expectOk(await call('POST', `${V2}/campaigns`, { token: T.marketer, body: { id, name: id, status, end_date: end.toISOString(), variants: FLASH } }), 201);
    }
    expectOk(await call('POST', `${campaignPath('nbf-flash-paused')}/pause`, { token: T.campaignsWrite }));
    // The campaign before its rule: a rule may only name a campaign that exists.
    const created = expectOk(await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: ID, name: 'Flash funnel', status: 'active', end_date: end.toISOString(), variants: FLASH, template: TEMPLATE },
    }), 201);
    assert.equal(created.campaign.status, 'active', 'active at creation');
    assert.deepEqual(created.campaign.allowed_transitions, ['pause', 'cancel']);
    expectOk(await call('PUT', `${V2}/personalization-rules/flash-us-desktop`, {
      token: T.marketer,
      body: { priority: 5, entries: ['festive'], conditions: { country: { in: ['US'] }, device: { in: ['desktop'] } }, campaign: ID },
    }), 201);
    const assigned = await routerFollows(FESTIVE, US_DESKTOP, (r) => r.status === 302 && FLASH.some((v) => page(v.destination) === page(r.location)), 'the flash campaign assigns');
    assert.ok(Date.now() < end.getTime(), 'assigned before the end_date');
    const vid = visitorCookie(assigned);
    assert.equal(page(assigned.location), page(expectedVariant(vid, FLASH, ID).destination), 'the seed defaults to the id');

    await sleep(Math.max(0, end.getTime() - Date.now()) + 250);
    const c = await getCampaign(ID);
    assert.equal(c.status, 'completed');
    assert.equal(c.stored_status, 'active', 'computed from the clock, not stored');
    assert.deepEqual(c.allowed_transitions, []);
    const res = await routerFollows(FESTIVE, { ...US_DESKTOP, cookie: `gh_vid=${vid}` }, (r) => r.status === 302 && page(r.location) === ENTRY_DEFAULT, 'completed: the entry default (the rule has no destination of its own)');
    assert.equal(res.url.searchParams.get('gh_ctx'), null);
    const trace = await explain(US_DESKTOP);
    assert.equal(trace.rule, 'flash-us-desktop');
    assert.equal(trace.outcome, 'entry_default', 'the campaign rule has no destination of its own');
    assert.equal(trace.location.split('?')[0], ENTRY_DEFAULT);
    assert.deepEqual(trace.campaign.no_variant, { code: 'inactive', status: 'completed' });
    for (const t of ['pause', 'resume', 'activate', 'cancel']) {
      const err = expectError(await call('POST', `${campaignPath(ID)}/${t}`, { token: T.campaignsWrite }), 409, 'invalid_transition');
      assert.match(err.message, /completed/, `${t}: ${err.message}`);
    }
    const h = await health(ID);
    expectChecks(h, { status: 'fail', dates: 'warn' });
    assert.equal(h.campaign_status, 'completed');
    const listed = expectOk(await call('GET', `${V2}/campaigns`, { token: T.campaignsRead }));
    assert.equal(listed.campaigns.find((x) => x.id === ID).status, 'completed');

    // Only an active campaign completes on its own (src/campaign.rs). A draft or paused one
    // past its end_date keeps its state, can no longer be activated or resumed (it would
    // complete at once), and can still be canceled.
    const draft = await getCampaign('nbf-flash-draft');
    assert.equal(draft.status, 'draft');
    assert.deepEqual(draft.allowed_transitions, ['cancel']);
    assert.match(expectError(await call('POST', `${campaignPath('nbf-flash-draft')}/activate`, { token: T.campaignsWrite }), 409, 'invalid_transition').message, /end_date/);
    const paused = await getCampaign('nbf-flash-paused');
    assert.equal(paused.status, 'paused');
    assert.deepEqual(paused.allowed_transitions, ['cancel']);
    assert.match(expectError(await call('POST', `${campaignPath('nbf-flash-paused')}/resume`, { token: T.campaignsWrite }), 409, 'invalid_transition').message, /end_date/);
    assert.equal(expectOk(await call('POST', `${campaignPath('nbf-flash-paused')}/cancel`, { token: T.campaignsWrite })).status, 'canceled');
  });

  test('active with a start_date ahead is scheduled: no variant yet (not_started), health warns', async () => {
    const start = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const out = expectOk(await call('POST', `${V2}/campaigns`, {
      token: T.marketer,
      body: { id: 'nbf-later', name: 'Later', status: 'active', start_date: start, variants: VARIANTS, template: TEMPLATE },
    }), 201);
    assert.equal(out.campaign.status, 'active');
    assert.equal(out.campaign.scheduled, true);
    expectOk(await call('PUT', `${V2}/personalization-rules/later-de-desktop`, {
      token: T.marketer,
      body: { priority: 5, entries: ['festive'], conditions: { country: { in: ['DE'] }, device: { in: ['desktop'] } }, campaign: 'nbf-later', destination: 'https://eu.gharart.com/festive/new-buyers' },
    }), 201);
    const DE_DESKTOP = { ip: IPS.DE, ua: UA.desktop };
    await routerFollows(FESTIVE, DE_DESKTOP, (r) => r.status === 302 && page(r.location) === 'https://eu.gharart.com/festive/new-buyers', 'the scheduled campaign\'s rule');
    const trace = await explain(DE_DESKTOP);
    assert.equal(trace.rule, 'later-de-desktop', JSON.stringify(trace.rules).slice(0, 600));
    assert.equal(trace.campaign.status, 'active');
    assert.deepEqual(trace.campaign.no_variant, { code: 'not_started' });
    const h = await health('nbf-later');
    expectChecks(h, { status: 'pass', dates: 'warn' });
    assert.match(h.by.dates.reason, /not started/);
  });
});

describe('escalation: POST /v2/support/report', () => {
  const REPORT = '/v2/support/report';

  test('a report with every field is stored in D1 and answered 201 with a report id', async () => {
    const failing = responses.find((r) => r.status === 409);
    const body = {
      summary: 'Resume refused after cancel',
      details: 'Canceled new-buyer-funnel by mistake; resume answers 409 invalid_transition.',
      handle: HANDLE,
      sessionId: 'sess-e2e-1',
      requestId: failing.requestId,
      reproArtifact: `curl -X POST ${worker.base}${campaignPath()}/resume -H 'Authorization: Bearer …'`,
    };
    const res = await call('POST', REPORT, { body, headers: { 'X-Forwarded-For': '203.0.113.7' } });
    const out = expectOk(res, 201);
    assert.match(out.report_id, /^rep_[0-9a-f]{24}$/);
    assert.ok(Math.abs(Date.parse(out.received_at) / 1000 - nowS()) < 120);
    const rows = await worker.d1(`SELECT * FROM support_reports WHERE id = '${out.report_id}'`);
    const row = rows[0].results[0];
    assert.deepEqual(
      { summary: row.summary, details: row.details, handle: row.handle, session_id: row.session_id, request_id: row.request_id, repro_artifact: row.repro_artifact },
      { summary: body.summary, details: body.details, handle: HANDLE, session_id: body.sessionId, request_id: body.requestId, repro_artifact: body.reproArtifact },
    );
    assert.match(row.client_ip_hash ?? '', /^[0-9a-f]{16}$/, 'a hash of the address, not the address');
    assert.ok(!JSON.stringify(row).includes('203.0.113.7'));
    const minimal = expectOk(await call('POST', REPORT, { body: { summary: 'Page not loading', details: 'The campaign page is blank.' } }), 201);
    assert.notEqual(minimal.report_id, out.report_id);
  });

  test('a retried report under one Idempotency-Key is stored once', async () => {
    const key = `report-${Date.now()}`;
    const body = { summary: 'Retry me', details: 'Sent twice by a flaky client.' };
    const first = expectOk(await call('POST', REPORT, { body, idempotencyKey: key }), 201);
    const retry = await call('POST', REPORT, { body, idempotencyKey: key });
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(retry.json.report_id, first.report_id);
    const rows = await worker.d1(`SELECT COUNT(*) AS n FROM support_reports WHERE summary = 'Retry me'`);
    assert.equal(rows[0].results[0].n, 1);
  });

  test('a bad body is 400 with the field\'s path (and CORS headers)', async () => {
    const n0 = (await worker.d1('SELECT COUNT(*) AS n FROM support_reports'))[0].results[0].n;
    for (const [body, path] of [
      [{ summary: 'x' }, '$'],
      [{ details: 'x' }, '$'],
      [{ summary: '', details: 'x' }, '$.summary'],
      [{ summary: '   ', details: 'x' }, '$.summary'],
      [{ summary: 'x'.repeat(201), details: 'x' }, '$.summary'],
      [{ summary: 'x', details: '' }, '$.details'],
      [{ summary: 'x\u0000', details: 'y' }, '$.summary'],
      [{ summary: 'x', details: 'y', handle: 'Not A Handle' }, '$.handle'],
      [{ summary: 'x', details: 'y', session_id: 's' }, '$.session_id'],
      [{ summary: 'x', details: 'y', operator: true }, '$.operator'],
      [['x', 'y'], '$'],
    ]) {
      const res = await call('POST', REPORT, { body });
      expectError(res, 400, 'invalid_body');
      assert.equal(res.error.details.path, path, JSON.stringify(body).slice(0, 60));
    }
    expectError(await call('POST', REPORT, { raw: true, body: '{"summary": ' }), 400, 'invalid_json');
    expectError(await call('GET', REPORT), 405, 'method_not_allowed');
    assert.equal((await worker.d1('SELECT COUNT(*) AS n FROM support_reports'))[0].results[0].n, n0);
  });
});

describe('over every API response of this file', () => {
  test('X-Request-Id present and unique; never a 5xx', () => {
    assert.ok(responses.length > 150, `${responses.length} responses`);
    const ids = responses.map((r) => r.requestId);
    assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    assert.ok(responses.every((r) => r.status < 500));
  });
});
