// Exposures end to end (issue 13) against workerd under `wrangler dev`, with the real local
// queue (producer and consumer in this worker) and local D1:
//
// 0. The formulas of tests/e2e/stats.mjs reproduce the SciPy/statsmodels reference vectors
//    (tests/vectors/stats, written by scripts/stats-vectors.py), so the figures below are
//    checked against an independent computation that is itself checked.
// 1. 2,000 distinct visitors (deterministic gh_vid cookies) through the diwali-hero-ab A/B
//    rule (Indian desktop visitors of /gharart/festive) give exposed visitors per variant
//    equal to the GrowthBook-v2 assignment of their ids, computed here (tests/e2e/stats.mjs,
//    pinned to GrowthBook's golden cases), once the queue has drained; repeat visits add
//    visits, not visitors; previews, forced variants, HEAD requests, link-preview fetchers,
//    crawlers and visitors outside the test add nothing. The worker runs with
//    FAULTS=exposure_redeliver=2,exposure_send_error=2: the first two sends of the visitor
//    path fail and are tried again, the consumer's first two written batches are not
//    acknowledged and the queue delivers them again, and the counts are still exact.
// 2. Conversions for a known subset of them (ctx from each redirect's Location) give the
//    converting visitors, rates, Wilson intervals, uplift, p-value and chance to beat
//    control computed here with independent formulas (tolerances: 1e-9 relative on rates,
//    intervals and uplift; 1e-9 relative on the p-value; 1e-6 absolute on the chance to
//    beat control, an integral in the Rust core); a visitor converting twice is one
//    converting visitor; test conversions never count. `router results` prints the same.
// 3. A campaign fed 300 visitors in one variant and 200 in the other (ids chosen by their
//    bucket) at 50/50 weights is flagged for sample-ratio mismatch in results, in health
//    and by `router results` (exit 1).
// 4. The queue itself, through one programmatic Miniflare instance (workerd, the router's
//    release bundle as producer and consumer with wrangler.toml's queue settings, plus a
//    probe worker consuming the dead-letter queue), messages sent straight to the queue:
//    poison (not JSON, another version, missing or invalid fields, too long) goes to the
//    dead-letter queue once each, intact, never retried, while the valid messages of the
//    same batch are written; a batch delivered again (acknowledgements withheld) and a
//    replay of the same messages count nothing twice.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Log, LogLevel, Miniflare } from 'miniflare';

import { COMPAT, EXPOSURE_DLQ, QUEUES, migrate, ourWorkerOptions } from '../../bench/bench.mjs';
import { IPS, ROOT, ROUTER, UA, checkPrerequisites, startWorker, waitFor } from './harness.mjs';
import { bucketOf, chanceToBeat, chooseVariant, srm, uplift, wilson, zTestP } from './stats.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const FESTIVE = `/${HANDLE}/festive`;
const CAMPAIGN = 'diwali-hero-ab';
const VARIANTS = ['control', 'story'];
const WEIGHTS = [50, 50];
const IN_DESKTOP = { ip: IPS.IN, ua: UA.desktop };
const VISITORS = 2000;
const REPEATS = 200;

/** Link-preview fetchers (src/visit/exposure.rs); the first two look like desktop Chrome to woothee. */
const FETCHERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0 Safari/537.36 MicrosoftPreview/2.0 +https://aka.ms/MicrosoftPreview',
  'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0 Safari/537.36 kakaotalk-scrap/1.0',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'WhatsApp/2.23.20.0 A',
  'Twitterbot/1.0',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0',
  'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
  'TelegramBot (like TwitterBot)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com',
  'Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)',
];
const CRAWLERS = [UA.googlebot, 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)'];

let worker;
let T;
const started = Date.now();

/** A deterministic visitor id (32 hex digits) per label. */
const vid = (label) => createHash('sha256').update(`exposures-e2e/${label}`).digest('hex').slice(0, 32);
let noise = 0;
/** A fresh visitor cookie that, if it were exposed, would add an exposed visitor. */
const freshCookie = () => `gh_vid=${vid(`noise-${noise++}`)}`;

before(async () => {
  const big = '100000';
  worker = await startWorker({
    d1Migrations: 'DB',
    vars: { API_READS_PER_MINUTE: big, API_WRITES_PER_MINUTE: big, API_PUBLIC_PER_MINUTE: big, DAILY_WRITE_LIMIT: big, FAULTS: 'exposure_redeliver=2,exposure_send_error=2' },
    pats: { read: { scopes: 'campaigns:read', sub: 'analyst@e2e' }, admin: { scopes: 'admin', sub: 'admin@e2e' } },
  });
  T = worker.pats;
});

after(async () => {
  await worker?.stop();
});

/** Runs `task(item)` over `items`, `width` at a time, in order of completion. */
async function pool(items, width, task) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i], i);
      }
    }),
  );
  return out;
}

async function api(method, path, opts = {}) {
  const res = await worker.api(method, path, opts);
  assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return res;
}

async function results(campaign = CAMPAIGN, query = '') {
  const res = await api('GET', `${V2}/campaigns/${campaign}/results${query}`, { token: T.read });
  assert.equal(res.status, 200, res.body.slice(0, 500));
  return res.json;
}

/** Polls the results until the exposed visitors reach `expected` and stop changing for longer than a queue batch takes (max_batch_timeout 5 s). */
async function drained(campaign, expected, what) {
  let last = null;
  let stableSince = 0;
  return waitFor(
    async () => {
      const r = await results(campaign);
      const key = JSON.stringify(r.variants.map((v) => [v.exposed_visitors, v.visits]));
      const exposed = r.variants.reduce((n, v) => n + v.exposed_visitors, 0);
      if (key !== last) [last, stableSince] = [key, Date.now()];
      return exposed >= expected && Date.now() - stableSince > 7_000 ? r : null;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, what },
  );
}

const variantOf = (res) => {
  const m = /\/festive\/diwali-hero-(a|b)$/.exec(res.url?.pathname ?? '');
  return m ? { a: 'control', b: 'story' }[m[1]] : null;
};

/** `got` within `tolerance` of `want`, relatively (within 1e-15 of an exact 0). */
const close = (got, want, tolerance, what) =>
  assert.ok(Math.abs(got - want) <= (want === 0 ? 1e-15 : tolerance * Math.abs(want)), `${what}: ${got} vs ${want}`);

function router(args) {
  return new Promise((resolvePromise) => {
    execFile(ROUTER, args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => resolvePromise({ code: error?.code ?? 0, stdout, stderr }));
  });
}

/** Per visitor label: id, expected variant, ctx of its first visit. */
const visitors = Array.from({ length: VISITORS }, (_, i) => {
  const id = vid(`visitor-${i}`);
  return { i, id, variant: VARIANTS[chooseVariant(bucketOf(CAMPAIGN, id), WEIGHTS)], ctx: null };
});
const expected = { control: { exposed: 0, visits: 0 }, story: { exposed: 0, visits: 0 } };

describe('0. the formulas used here reproduce the reference vectors', () => {
  test('Wilson intervals, p-values, uplift, chance to beat control and the split check of tests/vectors/stats', async () => {
    const dir = join(ROOT, 'tests', 'vectors', 'stats');
    let checked = 0;
    for (const name of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
      const v = JSON.parse(await readFile(join(dir, name), 'utf8'));
      const [control] = v.arms;
      for (const arm of v.arms) {
        const [x, n] = [arm.converting_visitors, arm.exposed_visitors];
        if (arm.interval) {
          const [lo, hi] = wilson(x, n);
          close(lo, arm.interval[0], 1e-9, `${name} ${arm.key} interval lo`);
          close(hi, arm.interval[1], 1e-9, `${name} ${arm.key} interval hi`);
          checked += 1;
        }
        if (arm === control) continue;
        const args = [control.converting_visitors, control.exposed_visitors, x, n];
        if (arm.p_value !== null) close(zTestP(...args), arm.p_value, 1e-9, `${name} ${arm.key} p-value`);
        if (arm.uplift !== null) {
          const u = uplift(...args);
          close(u.estimate, arm.uplift.estimate, 1e-9, `${name} ${arm.key} uplift`);
          // No interval where a rate has no variance (0% or 100%).
          if (arm.uplift.interval) {
            close(u.interval[0], arm.uplift.interval[0], 1e-9, `${name} ${arm.key} uplift lo`);
            close(u.interval[1], arm.uplift.interval[1], 1e-9, `${name} ${arm.key} uplift hi`);
          }
        }
        if (arm.chance_to_beat_control !== null) {
          const chance = chanceToBeat(...args);
          assert.ok(Math.abs(chance - arm.chance_to_beat_control) < 1e-6, `${name} ${arm.key} chance ${chance} vs ${arm.chance_to_beat_control}`);
        }
        checked += 1;
      }
      // Two arms, both weighted: one degree of freedom, which is what srm() computes.
      if (v.arms.length === 2 && v.arms.every((a) => a.weight > 0) && v.srm.p_value !== null) {
        const { chiSquare, p } = srm(v.arms.map((a) => a.exposed_visitors), v.arms.map((a) => a.weight));
        close(chiSquare, v.srm.chi_square, 1e-9, `${name} chi-square`);
        close(p, v.srm.p_value, 1e-9, `${name} split p-value`);
        checked += 1;
      }
    }
    assert.ok(checked >= 40, `only ${checked} figures checked`);
  });
});

describe('1. exposed visitors are the GrowthBook assignment of the visitors sent, exactly', () => {
  test('the JavaScript hash reproduces GrowthBook\'s own golden buckets', async () => {
    const golden = JSON.parse(await readFile(join(ROOT, 'tests', 'vectors', 'bucketing.json'), 'utf8'));
    for (const c of golden.cases) {
      const n = bucketOf(c.seed, c.visitor_id);
      assert.equal(n, Math.round(c.bucket * 10000), `${c.seed}/${c.visitor_id}`);
      assert.equal(chooseVariant(n, [50, 50]), c.weights_50_50);
      assert.equal(chooseVariant(n, [20, 30, 50]), c.weights_20_30_50);
    }
  });

  test('previews, forced variants, HEAD requests, link previews, crawlers and phones first: assigned or not, none is exposed', async () => {
    const { token } = await worker.previewToken();
    const sent = [];
    for (let k = 0; k < 10; k++) {
      sent.push(['preview', await worker.fetch(`${FESTIVE}?__preview=${token}`, { ...IN_DESKTOP, cookie: freshCookie() })]);
      sent.push(['forced', await worker.fetch(`${FESTIVE}?__preview=${token}&__variant=story`, { ...IN_DESKTOP, cookie: freshCookie() })]);
      sent.push(['head', await worker.fetch(FESTIVE, { ...IN_DESKTOP, cookie: freshCookie(), method: 'HEAD' })]);
      sent.push(['phone', await worker.fetch(FESTIVE, { ip: IPS.IN, ua: UA.iphone, cookie: freshCookie() })]);
    }
    for (const ua of [...FETCHERS, ...CRAWLERS]) sent.push([ua, await worker.fetch(FESTIVE, { ip: IPS.IN, ua, cookie: freshCookie() })]);
    for (const [what, res] of sent) assert.equal(res.status, 302, `${what}: ${res.status}`);
    // The router assigned a variant to these (they would have been exposed if the rule let them).
    for (const [what, res] of sent.filter(([w]) => ['preview', 'forced', 'head', FETCHERS[0], FETCHERS[1]].includes(w))) {
      assert.ok(variantOf(res), `${what.slice(0, 40)} is assigned a variant: ${res.location}`);
    }
    for (const [what, res] of sent.filter(([w]) => [...CRAWLERS, 'phone'].includes(w))) assert.equal(variantOf(res), null, what);
  });

  test(`${VISITORS} distinct visitors, then ${REPEATS} of them again`, async () => {
    const answers = await pool(visitors, 16, async (v) => {
      const res = await worker.fetch(FESTIVE, { ...IN_DESKTOP, cookie: `gh_vid=${v.id}` });
      assert.equal(res.status, 302);
      assert.deepEqual(res.setCookies, [], 'a returning visitor keeps its cookie');
      v.ctx = res.url.searchParams.get('gh_ctx');
      return variantOf(res);
    });
    for (const [i, v] of visitors.entries()) {
      assert.equal(answers[i], v.variant, `visitor ${i} (${v.id}) was routed to its bucket`);
      assert.ok(v.ctx, `visitor ${i} has a ctx`);
      expected[v.variant].exposed += 1;
      expected[v.variant].visits += 1;
    }
    await pool(visitors.slice(0, REPEATS), 8, async (v) => {
      const res = await worker.fetch(FESTIVE, { ...IN_DESKTOP, cookie: `gh_vid=${v.id}` });
      assert.equal(variantOf(res), v.variant, 'sticky');
      expected[v.variant].visits += 1;
    });
    assert.ok(expected.control.exposed > 900 && expected.story.exposed > 900, JSON.stringify(expected));
  });

  test('once the queue drains: exposed visitors and visits per variant exactly as sent; as_of is when the last batch landed', async () => {
    const r = await drained(CAMPAIGN, VISITORS, 'the exposures of 2,000 visitors');
    for (const key of VARIANTS) {
      const v = r.variants.find((x) => x.key === key);
      assert.equal(v.exposed_visitors, expected[key].exposed, `${key}: exposed visitors`);
      assert.equal(v.visits, expected[key].visits, `${key}: visits`);
    }
    assert.equal(r.computed_from.exposed_visitors, VISITORS, 'no preview, HEAD, link preview or crawler among them');
    assert.equal(r.computed_from.visits, VISITORS + REPEATS);
    const asOf = Date.parse(r.as_of);
    assert.ok(asOf >= started - 1000 && asOf <= Date.now() + 1000, `as_of ${r.as_of}`);
    assert.match(worker.log(), /exposures: batch of \d+: \d+ written/);
    // The redelivery happened (FAULTS=exposure_redeliver=2), and the counts above are exact all the same.
    assert.equal(worker.log().match(/FAULTS: exposure_redeliver: a written batch of \d+ is not acknowledged/g)?.length, 2, 'two batches delivered twice');
    // The failed sends were tried again (FAULTS=exposure_send_error=2), and nothing was lost.
    assert.equal(worker.log().match(/exposures: sending \d+ failed \(injected queue send failure\); trying again/g)?.length, 2, 'two failed sends, each tried again');
    assert.doesNotMatch(worker.log(), /exposures: \d+ lost/);
    assert.doesNotMatch(worker.log(), /is poison|dead-lettering failed/);
    const { chiSquare, p } = srm(VARIANTS.map((k) => expected[k].exposed), WEIGHTS);
    close(r.srm.chi_square, chiSquare, 1e-9, 'srm chi-square');
    close(r.srm.p_value, p, 1e-9, 'srm p-value');
    assert.equal(r.srm.flagged, p < 0.001);
  });
});

describe('2. conversions of a known subset: converting visitors, rates, intervals, p-value', () => {
  const converters = { control: new Set(), story: new Set() };
  const converts = (v) => v.i % (v.variant === 'control' ? 10 : 8) === 0;

  test('purchases by every 10th control and every 8th story visitor (some twice), signups, test conversions', async () => {
    const buyers = visitors.filter(converts);
    const sends = [
      ...buyers.map((v) => ({ v, event: 'purchase', key: `buy-${v.i}` })),
      ...buyers.slice(0, 6).map((v) => ({ v, event: 'purchase', key: `buy-again-${v.i}` })),
      ...visitors.filter((v) => v.i % 50 === 1).map((v) => ({ v, event: 'signup', key: `signup-${v.i}` })),
    ];
    await pool(sends, 8, async ({ v, event, key }) => {
      const res = await api('POST', '/v2/public/conversions', { body: { ctx: v.ctx, event }, idempotencyKey: key });
      assert.equal(res.status, 201, res.body.slice(0, 300));
      if (event === 'purchase') converters[v.variant].add(v.id);
    });
    for (const variant of VARIANTS) {
      const res = await api('POST', `${V2}/campaigns/${CAMPAIGN}/test-conversion`, { token: T.admin, body: { variant, event: 'purchase' } });
      assert.equal(res.status, 201, res.body.slice(0, 300));
    }
  });

  test('the results match the formulas, computed here from what was sent', async () => {
    const r = await results();
    assert.deepEqual(r.primary_event, { name: 'purchase', chosen_by: 'default' });
    assert.deepEqual(r.events, ['purchase', 'signup']);
    const [nc, nv] = VARIANTS.map((k) => expected[k].exposed);
    const [xc, xv] = VARIANTS.map((k) => converters[k].size);
    for (const [k, n, x] of [['control', nc, xc], ['story', nv, xv]]) {
      const got = r.variants.find((v) => v.key === k).events.purchase;
      assert.equal(got.converting_visitors, x, `${k}: converting visitors`);
      assert.equal(got.events, x + visitors.filter(converts).slice(0, 6).filter((v) => v.variant === k).length, `${k}: events, repeat purchases included`);
      close(got.rate, x / n, 1e-12, `${k} rate`);
      const [lo, hi] = wilson(x, n);
      close(got.interval[0], lo, 1e-9, `${k} interval lo`);
      close(got.interval[1], hi, 1e-9, `${k} interval hi`);
    }
    const story = r.variants.find((v) => v.key === 'story').events.purchase;
    close(story.p_value, zTestP(xc, nc, xv, nv), 1e-9, 'p-value');
    const u = uplift(xc, nc, xv, nv);
    close(story.uplift.estimate, u.estimate, 1e-9, 'uplift');
    close(story.uplift.interval[0], u.interval[0], 1e-9, 'uplift lo');
    close(story.uplift.interval[1], u.interval[1], 1e-9, 'uplift hi');
    assert.ok(Math.abs(story.chance_to_beat_control - chanceToBeat(xc, nc, xv, nv)) < 1e-6, `chance ${story.chance_to_beat_control}`);
    const control = r.variants.find((v) => v.key === 'control').events.purchase;
    assert.equal(control.p_value, null, 'the control is not compared with itself');
    assert.equal(control.reasons.p_value, 'is_control');
    assert.equal(r.computed_from.events, r.variants.reduce((n, v) => n + v.events.purchase.events + v.events.signup.events, 0), 'test conversions are not among them');
  });

  test('router results prints the same figures and exits 0', async () => {
    const out = await router(['--json', 'results', '--api', worker.base, '--token', T.read, '--campaign', CAMPAIGN]);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    const printed = JSON.parse(out.stdout);
    assert.equal(printed.ok, true);
    delete printed.ok;
    assert.deepEqual(printed, await results());
    const table = await router(['results', '--api', worker.base, '--token', T.read, '--campaign', CAMPAIGN, '--event', 'signup']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /event signup \(requested\)/);
    assert.match(table.stdout, /sample ratio: (matches the weights|MISMATCH)/);
  });
});

describe('3. a forced 300/200 split at 50/50 weights is a sample-ratio mismatch', () => {
  const ID = 'srm-probe';
  const GB_DESKTOP = { ip: IPS.GB, ua: UA.desktop };

  test('a 50/50 campaign for British desktop visitors, fed ids chosen by bucket: 300 in one variant, 200 in the other', async () => {
    const variants = [
      { key: 'left', weight: 50, destination: 'https://www.gharart.com/festive/srm-left' },
      { key: 'right', weight: 50, destination: 'https://www.gharart.com/festive/srm-right' },
    ];
    assert.equal((await api('POST', `${V2}/campaigns`, { token: T.admin, body: { id: ID, name: 'SRM probe', status: 'active', variants } })).status, 201);
    const rule = await api('PUT', `${V2}/personalization-rules/srm-gb-desktop`, {
      token: T.admin,
      body: { priority: 5, entries: ['festive'], conditions: { country: { in: ['GB'] }, device: { in: ['desktop'] } }, campaign: ID },
    });
    assert.equal(rule.status, 201, rule.body);
    // HEAD probes: the router follows the rule without recording an exposure.
    // (The Location carries the handle's default tracking parameters after the path.)
    const probeSide = (res) => /\/festive\/srm-(left|right)$/.exec(res.url?.pathname ?? '')?.[1] ?? null;
    await waitFor(async () => probeSide(await worker.fetch(FESTIVE, { ...GB_DESKTOP, method: 'HEAD', cookie: freshCookie() })), {
      timeoutMs: 15_000,
      intervalMs: 250,
      what: 'the router assigns the probe campaign',
    });
    const picked = { left: [], right: [] };
    for (let k = 0; picked.left.length < 300 || picked.right.length < 200; k++) {
      const id = vid(`srm-${k}`);
      const side = chooseVariant(bucketOf(ID, id), [50, 50]) === 0 ? 'left' : 'right';
      if (picked[side].length < (side === 'left' ? 300 : 200)) picked[side].push(id);
    }
    await pool([...picked.left, ...picked.right], 16, async (id) => {
      const res = await worker.fetch(FESTIVE, { ...GB_DESKTOP, cookie: `gh_vid=${id}` });
      assert.equal(probeSide(res), picked.left.includes(id) ? 'left' : 'right', `${id}: ${res.location}`);
    });
    const r = await drained(ID, 500, 'the probe exposures');
    assert.deepEqual(r.srm.observed, { left: 300, right: 200 });
    assert.equal(r.srm.flagged, true);
    close(r.srm.chi_square, 20, 1e-12, 'chi-square');
    close(r.srm.p_value, srm([300, 200], [50, 50]).p, 1e-9, 'srm p-value');
    assert.ok(r.srm.p_value < 0.001);
  });

  test('health fails sample_ratio; router results exits 1', async () => {
    const health = (await api('GET', `${V2}/campaigns/${ID}/health`, { token: T.read })).json;
    const check = health.checks.find((c) => c.id === 'sample_ratio');
    assert.equal(check.status, 'fail', JSON.stringify(check));
    assert.match(check.reason, /sample-ratio mismatch/);
    assert.equal(health.status, 'fail');
    const diwali = (await api('GET', `${V2}/campaigns/${CAMPAIGN}/health`, { token: T.read })).json;
    const fair = diwali.checks.find((c) => c.id === 'sample_ratio');
    assert.equal(fair.status, (await results()).srm.flagged ? 'fail' : 'pass', JSON.stringify(fair));
    const out = await router(['--json', 'results', '--api', worker.base, '--token', T.read, '--campaign', ID]);
    assert.equal(out.code, 1, out.stderr + out.stdout);
    assert.equal(JSON.parse(out.stdout).ok, false);
  });
});

describe('4. the queue itself: poison to the dead-letter queue, redeliveries and replays counted once', () => {
  // A worker that consumes the dead-letter queue and lists what it received.
  const PROBE = `const seen = [];
export default {
  async queue(batch) {
    for (const m of batch.messages) {
      seen.push({ queue: batch.queue, body: m.body, attempts: m.attempts });
      m.ack();
    }
  },
  async fetch() {
    return Response.json(seen);
  },
};`;
  let mf;
  let db;
  let producer;
  let probe;
  let output = '';
  const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
  const DAY = '2026-11-22';

  /** A version-1 exposure message (src/visit/exposure.rs), written here independently. */
  const message = (id, visitor, variant, at = t0, extra = {}) => JSON.stringify({ v: 1, id, handle: HANDLE, campaign: CAMPAIGN, variant, visitor, at, ...extra });
  const visitId = (label) => createHash('sha256').update(`visit/${label}`).digest('hex').slice(0, 32);
  // 12 visitors in control, 8 in story; visitors 0-4 visit twice more; visitor 19 is seen in
  // story first and in control 1 s later (weights changed between): one exposed visitor, in story.
  const valid = [];
  for (let k = 0; k < 20; k++) valid.push(message(visitId(`first-${k}`), vid(`queue-${k}`), k < 12 ? 'control' : 'story', t0 + k));
  for (let k = 0; k < 5; k++) for (const again of [1, 2]) valid.push(message(visitId(`again-${k}-${again}`), vid(`queue-${k}`), 'control', t0 + 1000 * again + k));
  valid.push(message(visitId('switch'), vid('queue-19'), 'control', t0 + 1000));
  const want = { control: { exposed_visitors: 12, visits: 12 + 10 + 1 }, story: { exposed_visitors: 8, visits: 8 } };
  const poison = [
    'not json at all',
    JSON.stringify([1, 2, 3]),
    message(visitId('v2'), vid('queue-v2'), 'control', t0, { v: 2 }),
    JSON.stringify({ v: 1, id: visitId('no-visitor'), handle: HANDLE, campaign: CAMPAIGN, variant: 'control', at: t0 }),
    message(visitId('bad-visitor'), 'NOT-A-VISITOR-ID', 'control'),
    message(visitId('long'), vid('queue-long'), 'control', t0, { pad: 'x'.repeat(3000) }),
  ];

  async function counts() {
    const { results } = await db
      .prepare('SELECT variant, day, SUM(exposed_visitors) AS exposed_visitors, SUM(visits) AS visits FROM exposure_daily WHERE handle = ?1 AND campaign = ?2 GROUP BY variant, day ORDER BY variant')
      .bind(HANDLE, CAMPAIGN)
      .all();
    const firsts = (await db.prepare('SELECT COUNT(*) AS n FROM exposures WHERE handle = ?1 AND campaign = ?2').bind(HANDLE, CAMPAIGN).first()).n;
    return { rows: results, firsts };
  }
  const expectedRows = () => Object.entries(want).map(([variant, c]) => ({ variant, day: DAY, ...c }));
  const batchLines = () => output.match(/exposures: batch of \d+: .*/g) ?? [];
  const deadLetters = async () => (await probe.fetch('http://probe/')).json();

  before(async () => {
    checkPrerequisites();
    const { host, port, ...router } = ourWorkerOptions({ bindings: { TOKEN_SECRET: 'queue-test', FAULTS: 'exposure_redeliver=1' } });
    mf = new Miniflare({
      host,
      port,
      log: new Log(LogLevel.WARN),
      handleRuntimeStdio(stdout, stderr) {
        stdout.on('data', (chunk) => (output += chunk));
        stderr.on('data', (chunk) => (output += chunk));
      },
      workers: [
        { name: 'router', ...router },
        { name: 'dlq-probe', modules: true, script: PROBE, compatibilityDate: COMPAT, queueConsumers: { [EXPOSURE_DLQ]: { maxBatchTimeout: 1 } } },
      ],
    });
    await mf.ready;
    db = await migrate(mf, 'router');
    producer = await mf.getQueueProducer('EXPOSURES', 'router');
    probe = await mf.getWorker('dlq-probe');
  });

  after(async () => {
    await mf?.dispose();
  });

  test('the queues are set up as wrangler.toml declares them', async () => {
    const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
    const tables = (name) =>
      [...toml.matchAll(new RegExp(`\\[\\[${name.replace('.', '\\.')}\\]\\]\\n((?:[a-z_]+ = .*\\n)+)`, 'g'))].map((m) =>
        Object.fromEntries([...m[1].matchAll(/^([a-z_]+) = "?([^"\n]*)"?$/gm)].map(([, k, v]) => [k, v])),
      );
    const producers = Object.fromEntries(tables('queues.producers').map((p) => [p.binding, { queueName: p.queue }]));
    const consumers = Object.fromEntries(
      tables('queues.consumers').map((c) => [
        c.queue,
        { maxBatchSize: Number(c.max_batch_size), maxBatchTimeout: Number(c.max_batch_timeout), maxRetries: Number(c.max_retries), deadLetterQueue: c.dead_letter_queue },
      ]),
    );
    assert.deepEqual({ queueProducers: producers, queueConsumers: consumers }, QUEUES);
  });

  test('one batch of valid and poison messages: the valid ones are written; the batch is delivered again and counts nothing twice', async () => {
    const sent = [...valid, ...poison].map((body) => ({ body, contentType: 'text' }));
    await producer.sendBatch(sent);
    await waitFor(async () => /exposure_redeliver: a written batch/.test(output) && batchLines().length >= 2, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `the batch and its redelivery\n${output.slice(-3000)}`,
    });
    const { rows, firsts } = await counts();
    assert.deepEqual(rows, expectedRows());
    assert.equal(firsts, 20);
    const first = await db.prepare('SELECT variant, first_at FROM exposures WHERE visitor_id = ?1').bind(vid('queue-19')).first();
    assert.deepEqual(first, { variant: 'story', first_at: t0 + 19 }, 'the earliest exposure of a visitor is its first');
    const [delivered, again] = batchLines();
    assert.match(delivered, new RegExp(`^exposures: batch of ${sent.length}: ${valid.length} written \\(${valid.length} new visits, 20 new visitors\\), 0 to retry, ${poison.length} dead-lettered`));
    assert.match(again, new RegExp(`^exposures: batch of ${valid.length}: ${valid.length} written \\(0 new visits, 0 new visitors\\), 0 to retry, 0 dead-lettered`));
  });

  test('each poison message is in the dead-letter queue once, as it was sent, and was never retried', async () => {
    const got = await waitFor(async () => {
      const list = await deadLetters();
      return list.length >= poison.length ? list : null;
    }, { timeoutMs: 20_000, intervalMs: 250, what: 'the dead letters' });
    assert.deepEqual(got.map((m) => m.body).sort(), [...poison].sort());
    assert.ok(got.every((m) => m.queue === EXPOSURE_DLQ && m.attempts === 1), JSON.stringify(got.map((m) => [m.queue, m.attempts])));
    assert.equal(output.match(/exposures: message \S+ is poison/g)?.length, poison.length, 'logged once each: not redelivered');
    for (const why of ['not a JSON object', 'format version 2, not 1', 'missing field `visitor`', 'visitor "NOT-A-VISITOR-ID" is not valid', 'bytes, over 2048']) {
      assert.ok(output.includes(why), `the log says why: ${why}`);
    }
  });

  test('a replay of the same messages (from the dead-letter queue or a producer retry) counts nothing', async () => {
    const before = batchLines().length;
    // As JSON this time: the consumer reads an object body as its JSON text.
    await producer.sendBatch(valid.map((body) => ({ body: JSON.parse(body), contentType: 'json' })));
    await waitFor(async () => batchLines().length > before, { timeoutMs: 30_000, intervalMs: 250, what: 'the replayed batch' });
    assert.match(batchLines()[before], new RegExp(`^exposures: batch of ${valid.length}: ${valid.length} written \\(0 new visits, 0 new visitors\\)`));
    const { rows, firsts } = await counts();
    assert.deepEqual(rows, expectedRows());
    assert.equal(firsts, 20);
    assert.equal((await deadLetters()).length, poison.length, 'nothing more dead-lettered');
  });
});
