// The visitor path end to end: the built worker under wrangler dev (workerd), local KV
// seeded with the snapshot of rules/gharart and the CC0 mmdb, client IPs posed through
// X-Forwarded-For (TRUST_FORWARDED_IP=true, GEO_ORDER=mmdb,cf). Expectations are derived
// from rules/gharart/*.json wherever they can be (destinations, allowlist, weights), so
// the test follows the rule files rather than restating them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { IPS, ROOT, ROUTER, RULES_DIR, UA, allowlist, bucketNumber, isRoutableUrl, mintPreviewToken, ruleFile, startWorker, validateRules, visitorCookie } from './harness.mjs';

const HANDLE = 'gharart';
const FESTIVE = `/${HANDLE}/festive`;
const VID_RE = /^[0-9a-f]{32}$/;
const CTX_TTL_SECONDS = 3600;

let worker;
let list;
let rules;
let campaigns;
let handleDoc;
let token; // a valid preview token for gharart
let expired; // a preview token that has expired by the time it is used

before(async () => {
  [list, { rules }, { campaigns }, handleDoc] = await Promise.all([
    allowlist(),
    ruleFile('rules.json'),
    ruleFile('campaigns.json'),
    ruleFile('handle.json'),
  ]);
  worker = await startWorker({ vars: { CTX_TTL_SECONDS: String(CTX_TTL_SECONDS) } });
  ({ token } = await worker.previewToken());
  expired = await worker.previewToken({ ttl: 1 });
});

after(async () => {
  await worker?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

/** A visit that must never be a 5xx. */
async function visit(path, opts) {
  const res = await worker.fetch(path, opts);
  assert.ok(res.status < 500, `${path} answered ${res.status}: ${res.body.slice(0, 500)}`);
  return res;
}

/** A visit that must be a 302 to a routable https location. */
async function redirect(path, opts) {
  const res = await visit(path, opts);
  assert.equal(res.status, 302, `${path} should redirect, got ${res.status}: ${res.body.slice(0, 300)}`);
  assert.ok(res.location, 'a 302 has a Location');
  assert.ok(isRoutableUrl(list, res.url), `Location ${res.location} is not on the routable allowlist`);
  return res;
}

function withPreview(path, params = {}, previewToken = token) {
  const q = new URLSearchParams({ __preview: previewToken, ...params });
  return `${path}${path.includes('?') ? '&' : '?'}${q}`;
}

function rule(id) {
  const found = rules.find((r) => r.id === id);
  assert.ok(found, `rule ${id} is in rules/gharart/rules.json`);
  return found;
}

function campaign(id) {
  const found = campaigns.find((c) => c.id === id);
  assert.ok(found, `campaign ${id} is in rules/gharart/campaigns.json`);
  return found;
}

function entryDefault(slug) {
  return handleDoc.entries.find((e) => e.slug === slug).default;
}

/** Origin + path of a URL (what a destination is, without the tracking query). */
function page(url) {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function assertNoReserved(res) {
  for (const name of res.url.searchParams.keys()) {
    assert.ok(!name.startsWith('__'), `reserved parameter ${name} leaked into ${res.location}`);
  }
}

function assertVisitorCookie(res) {
  assert.equal(res.setCookies.length, 1, `exactly one Set-Cookie: ${JSON.stringify(res.setCookies)}`);
  const cookie = res.setCookies[0];
  assert.match(cookie, /^gh_vid=[0-9a-f]{32};/);
  for (const attr of ['Max-Age=31536000', 'Path=/', 'Secure', 'HttpOnly', 'SameSite=Lax']) {
    assert.ok(cookie.split(/;\s*/).includes(attr), `cookie ${cookie} lacks ${attr}`);
  }
  return visitorCookie(res);
}

function assertNoStore(res) {
  assert.match(res.headers.get('cache-control') ?? '', /no-store/);
}

/** The variant whose weight range holds a bucket number (0..10000), as laid out by weight. */
function variantFor(c, n) {
  const total = c.variants.reduce((s, v) => s + v.weight, 0);
  let upper = 0;
  for (const v of c.variants) {
    upper += (v.weight / total) * 10000;
    if (n < upper) return v;
  }
  return c.variants.at(-1);
}

function seedOf(c) {
  return c.seed ?? c.hash_seed ?? c.id;
}

function variantByDestination(c, res) {
  return c.variants.find((v) => page(v.destination) === page(res.location));
}

function base64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Verifies a `v1.<payload>.<mac>` token of `kind` as src/token.rs documents it. */
function verifyToken(kind, secret, value) {
  const [version, payload, mac, ...rest] = value.split('.');
  assert.equal(version, 'v1');
  assert.equal(rest.length, 0);
  const key = createHmac('sha256', secret).update(`edge-router/${kind}`).digest();
  const expected = createHmac('sha256', key).update(`v1.${kind}.${payload}`).digest('base64url');
  assert.equal(mac, expected, `${kind} token MAC`);
  return base64urlJson(payload);
}

/** A request that satisfies a rule's conditions through real IPs, UAs and headers. */
function craft(r) {
  const c = r.conditions ?? {};
  const opts = { ua: UA.desktop };
  const query = new URLSearchParams();
  for (const [name, cond] of Object.entries(c)) {
    if (name === 'country') {
      const cc = cond.in.find((x) => IPS[x]);
      assert.ok(cc, `no test IP for any of ${cond.in} (rule ${r.id})`);
      opts.ip = IPS[cc];
    } else if (name === 'continent') {
      assert.ok(cond.in.includes('EU'), `only EU is craftable (rule ${r.id})`);
      opts.ip ??= IPS.DE;
    } else if (name === 'eu') {
      opts.ip ??= cond ? IPS.DE : IPS.US;
    } else if (name === 'device') {
      const ua = { mobile: UA.iphone, desktop: UA.desktop, tablet: UA.ipad, crawler: UA.googlebot }[cond.in[0]];
      assert.ok(ua, `no UA for device ${cond.in[0]} (rule ${r.id})`);
      opts.ua = ua;
    } else if (name === 'language') {
      opts.lang = `${cond.in[0]};q=1`;
    } else if (name === 'query') {
      for (const [k, v] of Object.entries(cond)) query.set(k, v.in[0]);
    } else {
      assert.fail(`cannot craft a request for condition ${name} of rule ${r.id}`);
    }
  }
  return { opts, query: query.toString() };
}

async function pool(count, concurrency, fn) {
  const out = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------
// Redirects by country and device (geo from the mmdb)

describe('redirects by country and device through the mmdb', () => {
  test('IN iPhone gets the Indian mobile storefront with the tracking template', async () => {
    const res = await redirect(FESTIVE, { ip: IPS.IN, ua: UA.iphone });
    const expected = new URL(
      'https://m.gharart.in/festive?gh_rule=in-mobile&utm_campaign=festive-2026&utm_content=IN-mobile&utm_medium=redirect&utm_source=gharart-edge',
    );
    assert.equal(page(res.location), page(expected));
    assert.deepEqual([...res.url.searchParams].sort(), [...expected.searchParams].sort(), res.location);
    assert.equal(res.headers.get('cache-control'), 'private, no-store');
    assert.match(res.headers.get('x-request-id') ?? '', VID_RE);
    assert.equal(res.headers.get('x-snapshot-version'), String(worker.snapshotVersion));
    assert.equal(res.headers.get('x-router-outcome'), 'rule');
    assertVisitorCookie(res);
  });

  const cases = [
    // [name, ip, ua, accept-language, expected rule id, device in utm_content]
    ['IN Android phone', IPS.IN, UA.android, undefined, 'in-mobile', 'mobile'],
    ['IN iPad (tablet)', IPS.IN, UA.ipad, undefined, 'in-tablet', 'tablet'],
    ['IN Android tablet', IPS.IN, UA.androidTablet, undefined, 'in-tablet', 'tablet'],
    ['AE desktop, Arabic', IPS.AE, UA.desktop, 'ar-AE,ar;q=0.9,en;q=0.8', 'ae-arabic', 'desktop'],
    ['AE iPhone, English', IPS.AE, UA.iphone, 'en-US,en;q=0.9', 'gulf-mobile', 'mobile'],
    ['AE desktop, English (rejected reseller rule skipped)', IPS.AE, UA.desktop, 'en-GB', 'gulf', 'desktop'],
    ['SA desktop, Arabic', IPS.SA, UA.desktop, 'ar-SA,ar;q=0.9', 'gulf-arabic', 'desktop'],
    ['GB desktop', IPS.GB, UA.mac, 'en-GB,en;q=0.9', 'uk', 'desktop'],
    ['GB iPhone', IPS.GB, UA.iphone, 'en-GB', 'uk-mobile', 'mobile'],
    ['GB iPad', IPS.GB, UA.ipad, 'en-GB', 'uk-mobile', 'tablet'],
    ['US desktop (failed-verification gift rule skipped)', IPS.US, UA.desktop, 'en-US', 'us', 'desktop'],
    ['US iPhone', IPS.US, UA.iphone, 'en-US', 'us', 'mobile'],
    ['DE desktop (EU; high-risk microsite skipped)', IPS.DE, UA.desktop, 'de-DE,de;q=0.9', 'eu', 'desktop'],
    ['DE iPhone', IPS.DE, UA.iphone, 'de-DE', 'eu', 'mobile'],
  ];
  const country = Object.fromEntries(Object.entries(IPS).map(([cc, ip]) => [ip, cc]));
  for (const [name, ip, ua, lang, ruleId, device] of cases) {
    test(`${name} -> rule ${ruleId}`, async () => {
      const res = await redirect(FESTIVE, { ip, ua, lang });
      assert.equal(page(res.location), page(rule(ruleId).destination), res.location);
      const q = res.url.searchParams;
      assert.equal(q.get('gh_rule'), ruleId);
      assert.equal(q.get('utm_content'), `${country[ip]}-${device}`);
      assert.equal(q.get('utm_source'), 'gharart-edge');
      assert.equal(q.get('gh_ctx'), null, 'no ctx token outside a campaign');
      assert.equal(res.headers.get('x-router-outcome'), 'rule');
      assertNoStore(res);
      assertVisitorCookie(res);
    });
  }

  test('IN desktop enters the Diwali A/B test with a variant destination', async () => {
    const c = campaign(rule('in-desktop-diwali-ab').campaign);
    const res = await redirect(FESTIVE, { ip: IPS.IN, ua: UA.desktop, lang: 'en-IN,hi;q=0.8' });
    const variant = variantByDestination(c, res);
    assert.ok(variant, `${res.location} is one of ${c.id}'s variants`);
    const q = res.url.searchParams;
    assert.equal(q.get('utm_campaign'), c.id);
    assert.equal(q.get('utm_content'), variant.key);
    assert.equal(q.get('gh_rule'), 'in-desktop-diwali-ab');
    assert.ok(q.get('gh_ctx'), 'a campaign redirect carries gh_ctx');
    assertVisitorCookie(res);
  });

  test('Googlebot gets the entry default, with no cookie and no ctx token', async () => {
    for (const ip of [IPS.IN, IPS.US, IPS.AE]) {
      const res = await redirect(FESTIVE, { ip, ua: UA.googlebot });
      assert.equal(page(res.location), page(entryDefault('festive')), `crawler from ${ip}: ${res.location}`);
      assert.equal(res.headers.get('x-router-outcome'), 'entry_default');
      assert.deepEqual(res.setCookies, [], 'no visitor cookie for a crawler');
      assert.equal(res.url.searchParams.get('gh_ctx'), null);
      assert.equal(res.url.searchParams.get('gh_variant'), null);
      assert.equal(res.url.searchParams.get('gh_rule'), null);
    }
    // Explicitly targeted: the crawler rule of diwali-sale.
    const sale = await redirect(`/${HANDLE}/diwali-sale`, { ip: IPS.IN, ua: UA.googlebot });
    assert.equal(page(sale.location), page(rule('crawler-diwali-sale').destination));
    assert.deepEqual(sale.setCookies, []);
  });
});

// ---------------------------------------------------------------------------------------
// Unroutable destinations are never served

describe('unroutable destinations', () => {
  test('the rules pointing at pending/failed/rejected/high-risk domains are skipped', async () => {
    const unroutableRules = rules.filter((r) => r.enabled !== false && r.destination && !list.isRoutableHost(new URL(r.destination).hostname));
    assert.ok(unroutableRules.length >= 4, `rules/gharart has unroutable rules (${unroutableRules.map((r) => r.id)})`);
    // The CLI's validator independently names the same rules.
    const { diagnostics } = await validateRules();
    const flagged = diagnostics.filter((d) => d.code === 'unroutable_destination' && d.file.endsWith('rules.json')).map((d) => d.id);
    assert.deepEqual([...flagged].sort(), unroutableRules.map((r) => r.id).sort());
    const badHosts = new Set(unroutableRules.map((r) => new URL(r.destination).hostname));
    for (const r of unroutableRules) {
      const { opts, query } = craft(r);
      for (const entry of r.entries) {
        const path = `/${HANDLE}/${entry}${query ? `?${query}` : ''}`;
        const res = await redirect(path, opts);
        assert.ok(!badHosts.has(res.url.hostname), `rule ${r.id}: sent to ${res.location}`);
        assert.notEqual(res.url.searchParams.get('gh_rule'), r.id);

        const explained = await visit(withPreview(path, { __explain: '1' }), opts);
        assert.equal(explained.status, 200, explained.body.slice(0, 300));
        const trace = explained.json();
        const step = trace.rules.find((s) => s.id === r.id);
        assert.ok(step, `rule ${r.id} is in the trace of ${entry}`);
        assert.equal(step.result, 'skipped', `rule ${r.id}: ${JSON.stringify(step)}`);
        assert.match(step.reason, /not routable/);
        assert.ok(step.unroutable, `rule ${r.id} says why it is unroutable`);
        assert.notEqual(trace.rule, r.id);
        assert.ok(isRoutableUrl(list, trace.location), `explained location ${trace.location}`);
      }
    }
  });

  test('an entry whose default is unroutable goes to the handle fallback', async () => {
    const entry = handleDoc.entries.find((e) => !list.isRoutableHost(new URL(e.default).hostname));
    assert.ok(entry, 'rules/gharart has an entry with an unroutable default');
    for (const ua of [UA.desktop, UA.iphone, UA.googlebot]) {
      const res = await redirect(`/${HANDLE}/${entry.slug}`, { ip: IPS.IN, ua });
      assert.equal(page(res.location), page(handleDoc.fallback));
      assert.equal(res.headers.get('x-router-outcome'), 'handle_fallback');
    }
    const trace = (await visit(withPreview(`/${HANDLE}/${entry.slug}`, { __explain: '1' }), { ip: IPS.IN })).json();
    assert.equal(trace.outcome, 'handle_fallback');
  });
});

// ---------------------------------------------------------------------------------------
// A/B variants: stickiness, assignment, weights, ctx token

describe('A/B variant assignment (diwali-hero-ab)', () => {
  const IN_DESKTOP = { ip: IPS.IN, ua: UA.desktop };

  test('a new visitor gets a cookie and keeps the same variant across 10 requests', async () => {
    const c = campaign('diwali-hero-ab');
    const first = await redirect(FESTIVE, IN_DESKTOP);
    const vid = assertVisitorCookie(first);
    const variant = variantByDestination(c, first);
    assert.ok(variant);
    assert.equal(variant.key, variantFor(c, bucketNumber(seedOf(c), vid)).key, 'GrowthBook v2 bucketing of the cookie id');
    for (let i = 0; i < 10; i++) {
      const again = await redirect(FESTIVE, { ...IN_DESKTOP, cookie: `theme=dark; gh_vid=${vid}; other=1` });
      assert.equal(page(again.location), page(first.location), `request ${i + 1} with the same gh_vid`);
      assert.equal(again.url.searchParams.get('utm_content'), variant.key);
      assert.deepEqual(again.setCookies, [], 'a known visitor gets no new cookie');
    }
  });

  test('a malformed gh_vid cookie is replaced by a fresh one', async () => {
    const res = await redirect(FESTIVE, { ...IN_DESKTOP, cookie: 'gh_vid=not-a-visitor-id' });
    assertVisitorCookie(res);
  });

  test('~200 fresh visitors: both variants, roughly the configured weights, each matching its cookie', async () => {
    const c = campaign('diwali-hero-ab');
    const n = 200;
    const results = await pool(n, 8, async () => {
      const res = await redirect(FESTIVE, IN_DESKTOP);
      const vid = visitorCookie(res);
      assert.match(vid ?? '', VID_RE);
      const variant = variantByDestination(c, res);
      assert.ok(variant, res.location);
      assert.equal(variant.key, variantFor(c, bucketNumber(seedOf(c), vid)).key, `vid ${vid}`);
      return { vid, key: variant.key };
    });
    assert.equal(new Set(results.map((r) => r.vid)).size, n, 'visitor ids are unique');
    const total = c.variants.reduce((s, v) => s + v.weight, 0);
    for (const v of c.variants) {
      const count = results.filter((r) => r.key === v.key).length;
      const p = v.weight / total;
      const sd = Math.sqrt(n * p * (1 - p));
      // 5 standard deviations: a false alarm about once in 3.5 million runs.
      assert.ok(count > 0, `variant ${v.key} appears`);
      assert.ok(Math.abs(count - n * p) <= 5 * sd, `variant ${v.key}: ${count}/${n}, expected about ${n * p} (sd ${sd.toFixed(1)})`);
    }
  });

  test('the redirect to a variant carries a valid gh_ctx token for this visitor', async () => {
    const c = campaign('diwali-hero-ab');
    const vid = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const res = await redirect(FESTIVE, { ...IN_DESKTOP, cookie: `gh_vid=${vid}` });
    const variant = variantByDestination(c, res);
    const ctx = res.url.searchParams.get('gh_ctx');
    assert.ok(ctx, res.location);
    const claims = verifyToken('ctx', worker.secret, ctx);
    assert.equal(claims.handle, HANDLE);
    assert.equal(claims.campaign, c.id);
    assert.equal(claims.variant, variant.key);
    assert.equal(claims.vid, vid);
    const now = Date.now() / 1000;
    assert.ok(claims.iat <= now + 5 && claims.iat >= now - 60, `iat ${claims.iat}`);
    assert.equal(claims.exp - claims.iat, CTX_TTL_SECONDS, 'lifetime from CTX_TTL_SECONDS');
    // Not a preview token: it must not open previews.
    const asPreview = await redirect(withPreview(FESTIVE, { __country: 'AE' }, ctx), { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(asPreview.location), page(rule('in-mobile').destination));
  });

  test('a visitor cannot plant a gh_ctx', async () => {
    const plain = await redirect(`${FESTIVE}?gh_ctx=forged`, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(plain.url.searchParams.get('gh_ctx'), null, plain.location);
    const ab = await redirect(`${FESTIVE}?gh_ctx=forged`, { ...IN_DESKTOP, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' });
    assert.deepEqual(ab.url.searchParams.getAll('gh_ctx').length, 1, ab.location);
    assert.notEqual(ab.url.searchParams.get('gh_ctx'), 'forged');
  });

  // Issue 10: whatsapp-utm ranks the visitor first and does not use {ctx} itself, but
  // gh_ctx holds {ctx} in the handle's other templates, so it is the router's there too.
  test('a genuine gh_ctx planted beside utm_source=whatsapp (a visitor-first template) is not forwarded', async () => {
    const minted = await redirect(FESTIVE, { ...IN_DESKTOP, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' });
    const genuine = minted.url.searchParams.get('gh_ctx');
    assert.ok(genuine, `a campaign redirect mints a ctx: ${minted.location}`);
    assert.equal(verifyToken('ctx', worker.secret, genuine).handle, HANDLE, 'a genuine token, signed by this worker');
    for (const opts of [{ ip: IPS.GB, ua: UA.iphone }, { ...IN_DESKTOP, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' }]) {
      const res = await redirect(`${FESTIVE}?utm_source=whatsapp&gh_ctx=${encodeURIComponent(genuine)}&ref=friend`, opts);
      assert.equal(page(res.location), page(rule('whatsapp-share').destination), res.location);
      assert.equal(res.url.searchParams.get('utm_source'), 'whatsapp', 'the sharer\'s own tags still win');
      assert.equal(res.url.searchParams.get('ref'), 'friend', 'other visitor parameters are still forwarded');
      assert.deepEqual(res.url.searchParams.getAll('gh_ctx'), [], `no gh_ctx at all: ${res.location}`);
      assert.ok(!res.location.includes(genuine.slice(0, 40)), res.location);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Preview overrides

describe('preview without a valid token', () => {
  const overrides = { __country: 'AE', __device: 'desktop', __lang: 'ar', __variant: 'story', __at: '2026-11-06T12:00:00+05:30', __explain: '1', __region: 'AE-DU', __os: 'windows', __other: 'x' };

  function tampered(valid) {
    const [v, payload, mac] = valid.split('.');
    const claims = base64urlJson(payload);
    claims.exp += 86400;
    const forged = `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
    const flipped = `${v}.${payload}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
    return { forged, flipped };
  }

  const kinds = {
    none: async () => null,
    garbage: async () => 'garbage',
    'garbage v1 shape': async () => 'v1.e30.AAAA',
    expired: async () => {
      const wait = expired.expiresAt * 1000 + 20 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // until its exp has passed
      return expired.token;
    },
    "another handle's": async () => (await worker.previewToken({ handle: 'otherhandle' })).token,
    'tampered payload': async () => tampered(token).forged,
    'tampered MAC': async () => tampered(token).flipped,
    'signed with another secret': async () => (await mintPreviewToken({ secret: 'another-secret-of-enough-length' })).token,
  };

  for (const [kind, make] of Object.entries(kinds)) {
    test(`${kind} token: overrides ignored, __* stripped, cookie set`, async () => {
      const t = await make();
      const params = new URLSearchParams({ ...(t ? { __preview: t } : {}), ...overrides, ref: 'keep' });
      const res = await redirect(`${FESTIVE}?${params}`, { ip: IPS.IN, ua: UA.iphone });
      assert.equal(page(res.location), page(rule('in-mobile').destination), `${kind}: ${res.location}`);
      assert.equal(res.url.searchParams.get('utm_content'), 'IN-mobile');
      assert.equal(res.url.searchParams.get('ref'), 'keep');
      assertNoReserved(res);
      assertVisitorCookie(res);
      assert.equal(res.headers.get('x-router-preview'), null);
    });
  }
});

describe('preview with a valid token', () => {
  async function preview(params, opts) {
    const res = await redirect(withPreview(`${FESTIVE}?ref=abc`, params), opts);
    assertNoReserved(res);
    assertNoStore(res);
    assert.deepEqual(res.setCookies, [], `a preview sets no cookie: ${res.setCookies}`);
    assert.equal(res.url.searchParams.get('gh_ctx'), null, `a preview issues no ctx token: ${res.location}`);
    assert.equal(res.url.searchParams.get('ref'), 'abc');
    return res;
  }

  test('__country and __lang: an Indian phone previews the Emirates Arabic store', async () => {
    const res = await preview({ __country: 'AE', __lang: 'ar', __device: 'desktop' }, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(res.location), page(rule('ae-arabic').destination));
    assert.equal(res.url.searchParams.get('utm_content'), 'AE-desktop');
  });

  test('__country alone', async () => {
    const res = await preview({ __country: 'gb' }, { ip: IPS.IN, ua: UA.desktop });
    assert.equal(page(res.location), page(rule('uk').destination));
  });

  test('__device', async () => {
    const res = await preview({ __device: 'mobile' }, { ip: IPS.IN, ua: UA.desktop });
    assert.equal(page(res.location), page(rule('in-mobile').destination));
    const tablet = await preview({ __device: 'tablet' }, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(tablet.location), page(rule('in-tablet').destination));
  });

  test('__lang with __country: the Hindi storefront keeps its own parameters', async () => {
    const res = await preview({ __country: 'JP', __lang: 'hi' }, { ip: IPS.IN, ua: UA.desktop });
    const dest = new URL(rule('hindi-diaspora').destination);
    assert.equal(page(res.location), page(dest));
    for (const [k, v] of dest.searchParams) assert.equal(res.url.searchParams.get(k), v, `${k} kept from the destination`);
  });

  test('__region (with the country it belongs to)', async () => {
    const mumbai = await preview({ __region: 'IN-MH' }, { ip: IPS.IN, ua: UA.desktop });
    assert.equal(page(mumbai.location), page(rule('in-mh-mumbai').destination));
    const delhi = await preview({ __country: 'IN', __region: 'DL' }, { ip: IPS.GB, ua: UA.desktop });
    assert.equal(page(delhi.location), page(rule('in-dl-delhi').destination));
  });

  test('__variant forces each variant of the active campaign', async () => {
    const c = campaign('diwali-hero-ab');
    for (const v of c.variants) {
      const res = await preview({ __variant: v.key }, { ip: IPS.IN, ua: UA.desktop, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' });
      assert.equal(page(res.location), page(v.destination));
      assert.equal(res.url.searchParams.get('utm_content'), v.key);
    }
  });

  test('__at: the Dhanteras flash sale on 6 November, the campaign not yet started in September', async () => {
    const flash = await preview({ __at: '2026-11-06T12:00:00+05:30' }, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(flash.location), page(rule('dhanteras-flash').destination));
    const early = await preview({ __at: '2026-09-01T00:00:00Z' }, { ip: IPS.IN, ua: UA.desktop });
    assert.equal(page(early.location), page(rule('in-desktop-diwali-ab').destination), 'not started: the rule\'s own page');
    // Without the override the same visitors get today's routes.
    const today = await preview({}, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(today.location), page(rule('in-mobile').destination));
  });

  test('__explain=1 answers the JSON trace with the documented fields', async () => {
    const c = campaign('diwali-hero-ab');
    const vid = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const res = await visit(withPreview(FESTIVE, { __explain: '1' }), { ip: IPS.IN, ua: UA.desktop, lang: 'en-IN', cookie: `gh_vid=${vid}` });
    assert.equal(res.status, 200, res.body.slice(0, 300));
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assertNoStore(res);
    assert.deepEqual(res.setCookies, []);
    const trace = res.json();

    assert.equal(trace.snapshot_version, Number(res.headers.get('x-snapshot-version')));
    assert.equal(trace.snapshot_version, worker.snapshotVersion);
    assert.equal(trace.request_id, res.headers.get('x-request-id'));
    assert.equal(trace.preview, true);

    assert.deepEqual(trace.facts.country, { value: 'IN', source: 'mmdb' });
    assert.deepEqual(trace.facts.device, { value: 'desktop', source: 'user_agent' });
    assert.equal(trace.facts.language.source, 'header');
    assert.equal(trace.facts.time.source, 'clock');

    const festiveRules = rules.filter((r) => r.entries.includes('festive')).map((r) => r.id);
    assert.deepEqual(trace.rules.map((s) => s.id).sort(), [...festiveRules].sort(), 'every rule of the entry is in the trace');
    for (const step of trace.rules) {
      assert.ok(['won', 'no_match', 'skipped', 'not_reached'].includes(step.result), JSON.stringify(step));
      assert.equal(typeof step.reason, 'string');
      assert.ok(step.reason.length > 0);
    }
    assert.equal(trace.rules.filter((s) => s.result === 'won').length, 1);
    assert.equal(trace.rules.find((s) => s.result === 'won').id, 'in-desktop-diwali-ab');
    assert.equal(trace.rule, 'in-desktop-diwali-ab');
    const results = trace.rules.map((s) => s.result);
    assert.ok(results.slice(results.indexOf('won') + 1).every((r) => r === 'not_reached'), 'every rule after the winner is not_reached');
    assert.ok(results.slice(0, results.indexOf('won')).every((r) => r !== 'not_reached'), 'no rule before the winner is not_reached');

    const n = bucketNumber(seedOf(c), vid);
    assert.equal(trace.campaign.id, c.id);
    assert.equal(trace.campaign.status, 'active');
    assert.equal(trace.campaign.variant, variantFor(c, n).key);
    assert.equal(trace.campaign.bucket, n / 10000);
    assert.equal(trace.campaign.forced, false);

    assert.ok(isRoutableUrl(list, trace.location), trace.location);
    const dest = c.variants.find((v) => v.key === trace.campaign.variant).destination;
    assert.equal(page(trace.location), page(dest));
    // The redirect of the same preview (without __explain) goes exactly there.
    const same = await redirect(withPreview(FESTIVE, {}), { ip: IPS.IN, ua: UA.desktop, lang: 'en-IN', cookie: `gh_vid=${vid}` });
    assert.equal(same.location, trace.location);
  });

  // The entry reads request.cf only when the wasm asks (`C`, src/edge/hot.rs): with the
  // mmdb first, for an address the mmdb does not know. wrangler dev's request.cf is a
  // fixed location; whatever it says must reach the facts as the cf source.
  test('an address the mmdb does not know takes its country from request.cf', async () => {
    const res = await visit(withPreview(FESTIVE, { __explain: '1' }), { ip: '10.1.2.3', ua: UA.desktop });
    assert.equal(res.status, 200, res.body.slice(0, 300));
    const { country } = res.json().facts;
    assert.equal(country.source, 'cf', JSON.stringify(country));
    assert.match(country.value, /^[A-Z]{2}$/);
    const known = (await visit(withPreview(FESTIVE, { __explain: '1' }), { ip: IPS.GB, ua: UA.desktop })).json().facts.country;
    assert.deepEqual(known, { value: 'GB', source: 'mmdb' }, 'a known address never falls through to cf');
  });

  test('__explain=1 says why a disabled and an unroutable rule were skipped', async () => {
    const res = await visit(withPreview(FESTIVE, { __explain: '1' }), { ip: IPS.IN, ua: UA.iphone });
    const trace = res.json();
    const step = (id) => trace.rules.find((s) => s.id === id);
    assert.equal(trace.rule, 'in-mobile');
    assert.equal(step('in-mobile').result, 'won');
    assert.equal(step('in-mobile-2025').result, 'skipped');
    assert.match(step('in-mobile-2025').reason, /disabled/);
    assert.equal(step('in-deals-pending').result, 'skipped');
    assert.match(step('in-deals-pending').reason, /not routable/);
    assert.equal(step('dhanteras-flash').result, 'no_match');
    assert.equal(step('dhanteras-flash').mismatch.condition, 'time');
    assert.equal(trace.campaign, null);
    assert.deepEqual(trace.facts.device, { value: 'mobile', source: 'user_agent' });
    assert.deepEqual(trace.facts.os, { value: 'ios', source: 'user_agent' });
  });

  test('the explain trace names who the preview token was minted for (router token preview --sub)', async () => {
    const { token: alice } = await worker.previewToken({ sub: 'alice@gharart.com' });
    const res = await visit(withPreview(FESTIVE, { __explain: '1' }, alice), { ip: IPS.IN });
    assert.equal(res.json().preview_sub, 'alice@gharart.com', Object.keys(res.json()).join(', '));
  });

  test('__explain=1 names the override source and refused overrides', async () => {
    const res = await visit(withPreview(FESTIVE, { __explain: '1', __country: 'AE', __lang: 'ar', __device: 'tablet', __variant: 'story', __at: 'yesterday' }), {
      ip: IPS.IN,
      ua: UA.iphone,
    });
    assert.equal(res.status, 200);
    const trace = res.json();
    assert.deepEqual(trace.facts.country, { value: 'AE', source: 'override' });
    assert.deepEqual(trace.facts.device, { value: 'tablet', source: 'override' });
    assert.deepEqual(trace.facts.language, { value: 'ar', source: 'override' });
    assert.equal(trace.rule, 'ae-arabic');
    assert.ok(trace.rejected_overrides.some(([name]) => name === '__at'), JSON.stringify(trace.rejected_overrides));
    assert.equal(trace.facts.time.source, 'clock');
  });
});

// ---------------------------------------------------------------------------------------
// Query forwarding and header injection

describe('visitor query parameters', () => {
  test('non-template parameters are forwarded, reserved ones are not, template tags win', async () => {
    const res = await redirect(`${FESTIVE}?ref=abc&q=diya%20lamp&__foo=1&__country=AE&utm_source=newsletter`, { ip: IPS.IN, ua: UA.iphone });
    assert.equal(page(res.location), page(rule('in-mobile').destination));
    assert.equal(res.url.searchParams.get('ref'), 'abc');
    assert.equal(res.url.searchParams.get('q'), 'diya lamp');
    assert.equal(res.url.searchParams.get('utm_source'), 'gharart-edge', 'the template\'s tag wins over the visitor\'s');
    assert.equal(res.url.searchParams.getAll('utm_source').length, 1);
    assertNoReserved(res);
  });

  test('the WhatsApp share rule keeps the sharer\'s utm tags (visitor precedence)', async () => {
    const res = await redirect(`${FESTIVE}?utm_source=whatsapp&utm_campaign=diwali-share&ref=friend`, { ip: IPS.GB, ua: UA.iphone });
    assert.equal(page(res.location), page(rule('whatsapp-share').destination));
    assert.equal(res.url.searchParams.get('utm_source'), 'whatsapp');
    assert.equal(res.url.searchParams.get('utm_campaign'), 'diwali-share');
    assert.equal(res.url.searchParams.get('ref'), 'friend');
    assert.equal(res.url.searchParams.get('gh_rule'), 'whatsapp-share');
  });

  // Regression: a template parameter left out because its placeholder had no value
  // (gh_variant outside a variant, gh_rule on an entry default) was filled from the
  // visitor's query, so a visitor could plant router-owned attribution tags.
  test('router-owned tracking tags cannot be planted by the visitor', async () => {
    const assigned = await redirect(`${FESTIVE}?gh_variant=planted`, { ip: IPS.IN, ua: UA.desktop, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' });
    assert.ok(['control', 'story'].includes(assigned.url.searchParams.get('utm_content')));
    assert.notEqual(assigned.url.searchParams.get('gh_variant'), 'planted', assigned.location);
    const plain = await redirect(`${FESTIVE}?gh_variant=planted`, { ip: IPS.IN, ua: UA.iphone });
    assert.notEqual(plain.url.searchParams.get('gh_variant'), 'planted', plain.location);
    const crawler = await redirect(`${FESTIVE}?gh_rule=planted`, { ip: IPS.US, ua: UA.googlebot });
    assert.notEqual(crawler.url.searchParams.get('gh_rule'), 'planted', crawler.location);
  });

  /** The raw response head, as bytes on the wire: no client-side header parsing. */
  function rawHead(path, headers) {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${worker.base}${path}`, { headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, raw: res.rawHeaders }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  for (const payload of ['%0d%0aSet-Cookie:%20evil=1', '%0aSet-Cookie:%20evil=1', '%0d%0a%0d%0a<script>x</script>', '%E5%98%8A%E5%98%8DSet-Cookie:%20evil=1']) {
    test(`header injection ?x=${payload} yields no second Set-Cookie and no CR/LF in Location`, async () => {
      const path = `${FESTIVE}?x=${payload}`;
      const res = await redirect(path, { ip: IPS.IN, ua: UA.iphone });
      assert.ok(!/[\r\n]/.test(res.location), JSON.stringify(res.location));
      assert.equal(res.setCookies.length, 1, JSON.stringify(res.setCookies));
      assert.ok(!res.setCookies.some((c) => c.includes('evil')));
      const known = await redirect(path, { ip: IPS.IN, ua: UA.iphone, cookie: 'gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00' });
      assert.deepEqual(known.setCookies, []);

      const { status, raw } = await rawHead(path, { 'X-Forwarded-For': IPS.IN, 'User-Agent': UA.iphone });
      assert.equal(status, 302);
      const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      const values = raw.filter((_, i) => i % 2 === 1);
      assert.equal(names.filter((n) => n === 'set-cookie').length, 1, JSON.stringify(raw));
      assert.equal(names.filter((n) => n === 'location').length, 1);
      assert.ok(!values.some((v) => /evil=1/.test(v) && !/^https:/.test(v)), JSON.stringify(raw));
      assert.ok(!names.some((n) => n.includes('script')));
    });
  }
});

// ---------------------------------------------------------------------------------------
// Paths that are not an entry, and entries retyped

/** The worker's 404 page: HTML with the request id for support, no redirect, no cookie. */
function assertNotFoundPage(res) {
  assert.equal(res.status, 404, `${res.path}: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(res.body, /<html/i);
  assert.equal(res.location, null);
  assert.deepEqual(res.setCookies, []);
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
  assert.ok(res.body.includes(res.headers.get('x-request-id')), 'the page shows the request id for support');
}

describe('unknown paths and retyped links', () => {
  test('an unknown handle (no snapshot in KV) answers the 404 page, not a 5xx, also once cached', async () => {
    for (let i = 0; i < 2; i++) assertNotFoundPage(await visit('/nohandle/festive'));
  });

  test('an unknown entry of a known handle answers 404 with the snapshot version', async () => {
    for (const path of [`/${HANDLE}/does-not-exist`, `${FESTIVE}/extra`]) {
      const res = await visit(path);
      assertNotFoundPage(res);
    }
    assert.equal(Number((await visit(`/${HANDLE}/does-not-exist`)).headers.get('x-snapshot-version')), worker.snapshotVersion);
    assert.equal((await visit('/healthz')).status, 200);
  });

  test('a trailing slash and upper case still reach the entry (links get retyped in print)', async () => {
    for (const path of [`${FESTIVE}/`, '/Gharart/FESTIVE']) {
      const res = await redirect(path, { ip: IPS.IN, ua: UA.iphone });
      assert.equal(res.status, 302, path);
      assert.equal(Number(res.headers.get('x-snapshot-version')), worker.snapshotVersion);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Over the whole file

describe('over every response of this file', () => {
  test('every Location is on the routable allowlist and nothing answered 5xx', () => {
    const located = worker.history.filter((h) => h.location);
    assert.ok(located.length >= 250, `enough redirects seen (${located.length})`);
    for (const h of worker.history) assert.ok(h.status < 500, `${h.path} answered ${h.status}`);
    const hosts = new Set();
    for (const h of located) {
      assert.ok(isRoutableUrl(list, h.location), `${h.path} -> ${h.location} is not routable`);
      hosts.add(new URL(h.location).hostname);
    }
    for (const bad of list.unroutable) assert.ok(!hosts.has(bad.replace(/^\*\./, '')), `never sent to ${bad}`);
    assert.ok(list.unroutable.length > 0 && list.routable.length > 0, 'domains.json has both kinds');
  });
});

// ---------------------------------------------------------------------------------------
// The worker and the native CLI classify user agents with the same `woothee` crate. Its own
// test set (the Rust test files the crate ships, found through `cargo metadata`) runs
// through the worker: the device category must be what woothee's expected category means
// in the router's terms, and device, OS and browser must equal the native CLI's.

/** `[name, ua, expected woothee category]` of every case in the woothee crate's tests. */
async function wootheeTestsetAgents() {
  const { stdout } = await promisify(execFile)('cargo', ['metadata', '--format-version', '1', '--locked'], { cwd: ROOT, maxBuffer: 64 << 20 });
  const pkg = JSON.parse(stdout).packages.find((p) => p.name === 'woothee');
  assert.ok(pkg, 'woothee is a dependency');
  const dir = join(dirname(pkg.manifest_path), 'tests');
  const agents = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.rs')).sort()) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const chunk of text.split(/parser\.parse\(\s*r#"/).slice(1)) {
      const ua = chunk.slice(0, chunk.indexOf('"#'));
      const category = /assert_eq!\(result\.category, "([^"]*)"\)/.exec(chunk)?.[1];
      assert.ok(category, `${file}: a category is expected for ${ua}`);
      agents.push([`${file}: ${agents.length}`, ua, category]);
    }
  }
  return agents;
}

/** The router's device category for woothee's category (see src/visit/user_agent.rs). */
const WOOTHEE_CATEGORY = { crawler: ['crawler'], pc: ['desktop'], smartphone: ['mobile', 'tablet'], mobilephone: ['mobile', 'tablet'], appliance: ['other'], misc: ['other'], UNKNOWN: ['other'] };

describe('user agents: woothee\'s own test set through the worker, the same classifier as the CLI', () => {
  const current = {
    ...UA,
    androidFirefox: 'Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0',
    edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
    firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    opera: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/112.0.0.0',
    samsung: 'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    samsungTablet: 'Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36',
    adsbotMobile: 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_7_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Mobile/15E148 Safari/604.1 (compatible; AdsBot-Google-Mobile; +http://www.google.com/mobile/adsbot.html)',
    bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
    whatsapp: 'WhatsApp/2.23.20.0',
    curl: 'curl/8.5.0',
    garbage: 'not a browser ((( ;;; )))',
  };

  test('for each user agent the explain trace and `router preview --user-agent` agree on device, os and browser', async (t) => {
    const testset = await wootheeTestsetAgents();
    assert.ok(testset.length >= 240, `woothee's test set was read (${testset.length} cases)`);
    const agents = [...Object.entries(current).map(([name, ua]) => [name, ua, null]), ...testset]
      .filter(([, ua]) => ua.trim() !== '' && ua.length <= 512 && /^[\t\x20-\x7e]*$/.test(ua)); // what an HTTP header can carry as is
    const mismatches = [];
    const categories = new Set();
    await pool(agents.length, 4, async (i) => {
      const [name, ua, wootheeCategory] = agents[i];
      const res = await visit(withPreview(FESTIVE, { __explain: '1' }), { ip: IPS.IN, ua });
      assert.equal(res.status, 200, `${name}: ${res.body.slice(0, 200)}`);
      const edge = res.json().facts;
      const { stdout } = await promisify(execFile)(ROUTER, ['preview', RULES_DIR, '--entry', 'festive', '--user-agent', ua, '--explain', '--json']);
      const native = JSON.parse(stdout).facts;
      for (const fact of ['device', 'os', 'browser']) {
        const [a, b] = [edge[fact]?.value ?? null, native[fact]?.value ?? null];
        if (a !== b) mismatches.push(`${name} ${JSON.stringify(ua)}: ${fact} edge ${a}, native ${b}`);
      }
      if (wootheeCategory !== null && !WOOTHEE_CATEGORY[wootheeCategory]?.includes(edge.device.value)) {
        mismatches.push(`${name} ${JSON.stringify(ua)}: woothee expects ${wootheeCategory}, the worker says ${edge.device.value}`);
      }
      categories.add(edge.device.value);
    });
    assert.deepEqual(mismatches, []);
    assert.deepEqual([...categories].sort(), ['crawler', 'desktop', 'mobile', 'other', 'tablet'], 'every device category is covered');
    t.diagnostic(`${agents.length} user agents agree`);
  });
});
