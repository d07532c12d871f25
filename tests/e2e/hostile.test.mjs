// Open-redirect and injection corpus, end to end: every string of tests/hostile/corpus.json
// (scheme tricks, userinfo, backslashes, protocol-relative, encoded and double-encoded
// forms, unicode dots, IDN look-alikes, malformed hosts, CR/LF, control characters,
// ports and IP hosts, overlong values, data: and javascript: URLs, placeholder tricks,
// and a few legitimately routable controls) is pushed through every way a location can
// be influenced:
//
//   A. PUT .../personalization-rules/{id}: the rule destination (every string, one by one);
//   B. PUT .../configuration: entry defaults (all at once, then a subset one by one);
//   C. PUT .../configuration: the handle fallback (every string, one by one);
//   D. campaign variant destinations: PUT .../configuration with a campaign per string,
//      and POST .../campaigns for a subset;
//   E. tracking templates: every string as a parameter value and as a parameter name;
//   F. the visitor query (names and values, forwarded to the destination);
//   G. the preview overrides (__country __region __variant __lang __at __device __os, and
//      __preview itself) with and without a valid preview token, and with __explain=1;
//   H. the request headers User-Agent, Accept-Language, X-Forwarded-For and Cookie;
//   I. trust claims (issue 10): PUT .../configuration claiming every accepted host is
//      verified, risk 0 and approved (stored pending, never visited), and every string as
//      a link in a campaign page (refused at its path unless routable).
//
// Writes: a hostile URL is refused with 422 and a stable code (validation_failed with
// invalid_url at the field's path; invalid_json for strings JSON cannot carry, i.e. lone
// surrogates) or accepted because it is a well-formed https URL with a domain host; an
// accepted one that is not routable is flagged and never used. Every channel refuses
// exactly the same strings. Every accepted string is then visited.
//
// Over every response of the file (observe.mjs): no 5xx, no Location off the allowlist
// (computed from the API's domain listing, not from the worker's routable flag), at most
// one Set-Cookie, no CR/LF/NUL in a header value, no unknown header, no internal error
// text. One worker for the file; SNAPSHOT_TTL_SECONDS=0 so every visit reads the
// snapshot the last write published; limits raised so the corpus is not throttled.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

import { IPS, ROOT, UA, startWorker } from './harness.mjs';
import { allowlistFromListing, isDnsHostname, makeObserver, pool, rawRequest, utf8AsLatin1, withJson } from './observe.mjs';

const HANDLE = 'gharart';
const V2 = `/v2/handles/${HANDLE}`;
const MAX_URL_LEN = 2048; // src/compile.rs
const PLACEHOLDERS = ['handle', 'entry', 'rule', 'campaign', 'variant', 'country', 'device', 'ctx'];
const MAX_TEMPLATE_PARAMS = 20; // src/compile.rs
const MAX_TEMPLATE_VALUE_LEN = 256; // src/compile.rs
const VISITOR = { 'User-Agent': UA.iphone, 'X-Forwarded-For': IPS.IN };
const CONCURRENCY = 6;

const corpus = JSON.parse(await readFile(join(ROOT, 'tests', 'hostile', 'corpus.json'), 'utf8')).entries;
const byId = new Map(corpus.map((e) => [e.id, e]));
/** Strings JSON cannot carry to a Rust service (lone surrogates): refused as invalid_json. */
const jsonSafe = corpus.filter((e) => e.raw.isWellFormed());

let worker;
let token; // admin PAT
let preview; // a valid preview token for gharart
let base; // the configuration the worker started with
let list; // the allowlist computed from the API's listing
let baseline; // origin + path of the IN iPhone visitor's route on the base configuration
const observer = makeObserver(() => list);
const { observe } = observer;
/** Per corpus id: what each write channel did with it. */
const verdicts = new Map(corpus.map((e) => [e.id, {}]));
const counts = { writes: 0, visits: 0 };

before(async () => {
  const big = '1000000';
  worker = await startWorker({
    d1Migrations: 'DB',
    pats: { admin: { scopes: 'admin', sub: 'hostile@e2e' } },
    vars: {
      SNAPSHOT_TTL_SECONDS: '0',
      API_MAX_BODY_BYTES: String(4 << 20),
      API_WRITES_PER_MINUTE: big,
      API_READS_PER_MINUTE: big,
      DAILY_WRITE_LIMIT: big,
      API_PUBLIC_PER_MINUTE: big,
      API_AUTH_FAILURES_PER_MINUTE: big,
    },
  });
  token = worker.pats.admin;
  base = (await api('GET', `${V2}/configuration`)).json.configuration;
  list = allowlistFromListing((await api('GET', `${V2}/destination-domains`)).json);
  preview = (await api('POST', `${V2}/preview-tokens`, {})).json.token;
  const { res } = await visit('/gharart/festive');
  baseline = route(res.location);
});

after(async () => {
  await worker?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

/** A management API call through the raw client; every response is observed. */
async function api(method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { Authorization: `Bearer ${token}` };
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(payload);
  }
  const res = await rawRequest(worker.base, path, { method, headers, body: payload });
  if (method !== 'GET') counts.writes += 1;
  observe(res, { what: `${method} ${path}` });
  withJson(res);
  return res;
}

async function putConfiguration(config) {
  return api('PUT', `${V2}/configuration`, config);
}

async function resetConfiguration() {
  const res = await putConfiguration(base);
  assert.equal(res.status, 200, res.body.slice(0, 500));
}

/** A visit (IN iPhone unless `headers` say otherwise); every response is observed. */
async function visit(path, { headers = {}, what } = {}) {
  const res = await rawRequest(worker.base, path, { headers: { ...VISITOR, ...headers } });
  counts.visits += 1;
  const check = observe(res, { what: what ?? `GET ${path}` });
  return { res, check };
}

/** origin + pathname of a Location. */
function route(location) {
  const u = new URL(location);
  return `${u.origin}${u.pathname}`;
}

const enc = (text) => encodeURIComponent(text);
/** Percent-encodes only what a request target cannot carry (controls, space, non-ASCII, #). */
const loose = (text) => [...Buffer.from(text, 'utf8')].map((b) => (b <= 0x20 || b >= 0x7f || b === 0x23 ? `%${b.toString(16).padStart(2, '0').toUpperCase()}` : String.fromCharCode(b))).join('');
const short = (text) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);

/** Rust's `str::trim` (Unicode White_Space), which compile applies before parsing. */
const rustTrim = (text) => text.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');

/**
 * A domain the allowlist can hold: a DNS host name (observe.mjs isDnsHostname; WHATWG
 * parsing keeps empty labels, '_', '*' and a trailing dot, which DNS cannot carry) with two
 * labels or more and a top level that is not all digits.
 */
const isDomainName = (host) => isDnsHostname(host) && host.includes('.') && !/^\d+$/.test(host.split('.').at(-1));

/**
 * What a destination field should do with a string, decided here independently of the
 * worker: accepted when it is at most 2048 bytes and parses (WHATWG, as Node does) as an
 * https URL without credentials or port with a DNS host name (isDomainName); then `routable` by the
 * allowlist computed from the listing.
 */
function expectedUrlVerdict(raw) {
  if (!raw.isWellFormed()) return { accept: false, why: 'a lone surrogate: not JSON a Rust service can read' };
  if (Buffer.byteLength(raw) > MAX_URL_LEN) return { accept: false, why: 'too long' };
  let u;
  try {
    u = new URL(rustTrim(raw));
  } catch {
    return { accept: false, why: 'not an absolute URL' };
  }
  if (u.protocol !== 'https:') return { accept: false, why: u.protocol };
  if (u.username || u.password) return { accept: false, why: 'credentials' };
  if (u.port) return { accept: false, why: 'port' };
  if (u.hostname.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) || !u.hostname) return { accept: false, why: 'not a domain' };
  if (!isDomainName(u.hostname)) return { accept: false, why: 'not a DNS host name' };
  return { accept: true, url: u, routable: list.isRoutableHost(u.hostname) };
}

/**
 * Classifies the answer to a write of `raw` at `field` (a `$`-path): `accepted`, or
 * `refused` after checking the refusal is a 400 with a stable code naming the field.
 */
function classifyWrite(entry, res, field, codes = ['invalid_url']) {
  const what = `${entry.id} (${entry.category}) ${short(entry.raw)} at ${field}: ${res.status} ${res.body.slice(0, 400)}`;
  if (res.status === 200 || res.status === 201) return 'accepted';
  if (!entry.raw.isWellFormed()) {
    assert.equal(res.status, 400, what);
    assert.equal(res.error?.code, 'invalid_json', `a lone surrogate cannot be carried in JSON: ${what}`);
    return 'refused';
  }
  assert.equal(res.status, 422, what);
  assert.equal(res.error?.code, 'validation_failed', what);
  const errors = res.error.details.filter((d) => d.severity === 'error');
  assert.ok(errors.length > 0, what);
  for (const d of errors) {
    assert.equal(d.path, field, `only the hostile field is in error: ${what}`);
    assert.ok(codes.includes(d.code), `stable code (${codes}) for ${what}`);
  }
  return 'refused';
}

/** Diagnostics of a batch write, by path: `{ path: [codes] }` (errors only). */
function errorsByPath(res) {
  assert.equal(res.status, 422, res.body.slice(0, 400));
  assert.equal(res.error.code, 'validation_failed');
  const out = new Map();
  for (const d of res.error.details.filter((x) => x.severity === 'error')) out.set(d.path, [...(out.get(d.path) ?? []), d.code]);
  return out;
}

/** One refused entry per category, and every accepted one: the subset re-checked one by one. */
function representative(refusedIds) {
  const picked = new Map();
  for (const id of refusedIds) {
    const { category } = byId.get(id);
    if (!picked.has(category)) picked.set(category, id);
  }
  return [...picked.values()];
}

/** Renders a template value for a visit the way src/template.rs does; null when a hole has no value. */
function renderValue(value, values) {
  return value.replace(/\{([a-z]+)\}/g, (_, name) => values[name] ?? '\u0000MISSING').includes('\u0000MISSING')
    ? null
    : value.replace(/\{([a-z]+)\}/g, (_, name) => values[name]);
}

/** Whether a template value parses (src/template.rs parse_value). */
function templateValueOk(value) {
  let rest = value;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const close = rest.indexOf('}');
    if (open < 0 && close < 0) return true;
    if (open < 0 || close < 0 || close < open) return false;
    if (!PLACEHOLDERS.includes(rest.slice(open + 1, close))) return false;
    rest = rest.slice(close + 1);
  }
  return true;
}

const paramNameOk = (name) => name.length > 0 && !name.startsWith('__') && Buffer.byteLength(name) <= 64;

/**
 * Splits entries into chunks whose strings add up to at most `budget` bytes and that hold
 * at most `most` entries (one at least).
 */
function chunks(entries, budget, size = (e) => Buffer.byteLength(e.raw), most = Infinity) {
  const out = [];
  let current = [];
  let used = 0;
  for (const e of entries) {
    if (current.length > 0 && (used + size(e) > budget || current.length >= most)) {
      out.push(current);
      current = [];
      used = 0;
    }
    current.push(e);
    used += size(e);
  }
  if (current.length > 0) out.push(current);
  return out;
}

// ---------------------------------------------------------------------------------------
// A. Rule destinations

describe('A. rule destinations: PUT .../personalization-rules/{id}, every string', () => {
  const accepted = [];

  test('each is refused (422 validation_failed, invalid_url at $.destination) or accepted as a well-formed https URL', async (t) => {
    const mismatches = [];
    for (const e of corpus) {
      const rule = { priority: 0, entries: ['festive'], conditions: { query: { probe: { in: [e.id] } } }, destination: e.raw };
      const res = await api('PUT', `${V2}/personalization-rules/${e.id}`, rule);
      const verdict = classifyWrite(e, res, '$.destination');
      const expected = expectedUrlVerdict(e.raw);
      verdicts.get(e.id).rule = verdict;
      if ((verdict === 'accepted') !== expected.accept) mismatches.push(`${e.id} ${short(e.raw)}: the worker ${verdict} it; expected ${expected.accept ? 'accepted' : `refused (${expected.why})`}`);
      if (verdict === 'accepted') {
        const view = res.json.rule;
        assert.equal(view.destination, e.raw, 'stored as sent');
        if (view.routable !== expected.routable) mismatches.push(`${e.id} ${short(e.raw)}: routable per the worker ${view.routable}, per the listing ${expected.routable}`);
        if (!view.routable) assert.ok(view.warnings.some((w) => w.code === 'unroutable_destination' && w.path.endsWith('.destination')), `flagged: ${res.body.slice(0, 300)}`);
        accepted.push({ e, url: expected.url, routable: view.routable });
      }
    }
    const routable = accepted.filter((a) => a.routable).length;
    assert.deepEqual(mismatches, [], 'the worker and an independent WHATWG parse agree on every string');
    t.diagnostic(`${corpus.length} strings: ${corpus.length - accepted.length} refused, ${accepted.length} accepted (${routable} routable, ${accepted.length - routable} flagged unroutable)`);
  });

  test('each accepted one routes exactly there when routable, and never there when not', async () => {
    await pool(accepted, CONCURRENCY, async ({ e, url, routable }) => {
      const { res } = await visit(`/gharart/festive?probe=${e.id}`, { what: `A ${e.id} ${short(e.raw)}` });
      assert.equal(res.status, 302, `${e.id}: ${res.status}`);
      if (routable) {
        assert.equal(route(res.location), `${url.origin}${url.pathname}`, `${e.id} ${short(e.raw)} -> ${res.location}`);
        assert.equal(res.header('x-router-outcome'), 'rule');
        assert.equal(new URL(res.location).hash, url.hash, `${e.id}: the fragment is the destination's`);
      } else {
        assert.equal(route(res.location), baseline, `${e.id} ${short(e.raw)} is skipped: the visitor gets the usual route`);
      }
    });
  });

  test('reset to the configuration the worker started with', resetConfiguration);
});

// ---------------------------------------------------------------------------------------
// B. Entry defaults

describe('B. entry defaults: PUT .../configuration', () => {
  const accepted = [];

  test('all at once: 400 naming exactly the strings the rule channel refused, each at $.entries[i].default with invalid_url', async () => {
    const config = structuredClone(base);
    const at = config.entries.length;
    config.entries.push(...jsonSafe.map((e) => ({ slug: e.id, default: e.raw })));
    const errors = errorsByPath(await putConfiguration(config));
    const refused = [];
    jsonSafe.forEach((e, k) => {
      const codes = errors.get(`$.entries[${at + k}].default`);
      errors.delete(`$.entries[${at + k}].default`);
      if (codes) {
        assert.deepEqual(codes, ['invalid_url'], e.id);
        refused.push(e.id);
        verdicts.get(e.id).entryDefault = 'refused';
      } else {
        verdicts.get(e.id).entryDefault = 'accepted';
        accepted.push(e);
      }
    });
    assert.deepEqual([...errors.keys()], [], 'no other errors');
    const ruleRefused = jsonSafe.filter((e) => verdicts.get(e.id).rule === 'refused').map((e) => e.id);
    assert.deepEqual(refused, ruleRefused, 'entry defaults refuse exactly what rule destinations refuse');
    assert.equal((await api('GET', `${V2}/configuration`)).json.configuration.entries.length, base.entries.length, 'nothing stored');
  });

  test('one by one, a refused string of each category is refused on its own', async () => {
    const ids = representative(jsonSafe.filter((e) => verdicts.get(e.id).entryDefault === 'refused').map((e) => e.id));
    assert.ok(ids.length >= 10, `${ids.length} categories`);
    for (const id of ids) {
      const config = structuredClone(base);
      config.entries.push({ slug: id, default: byId.get(id).raw });
      const res = await putConfiguration(config);
      assert.equal(classifyWrite(byId.get(id), res, `$.entries[${config.entries.length - 1}].default`), 'refused');
    }
  });

  test('the accepted ones are stored; each entry routes to its default when routable, else to the handle fallback', async () => {
    const config = structuredClone(base);
    config.entries.push(...accepted.map((e) => ({ slug: e.id, default: e.raw })));
    const res = await putConfiguration(config);
    assert.equal(res.status, 200, res.body.slice(0, 400));
    const fallback = new URL(base.fallback);
    await pool(accepted, CONCURRENCY, async (e) => {
      const expected = expectedUrlVerdict(e.raw);
      const { res: r } = await visit(`/gharart/${e.id}`, { what: `B ${e.id} ${short(e.raw)}` });
      assert.equal(r.status, 302, `${e.id}: ${r.status}`);
      if (expected.routable) {
        assert.equal(route(r.location), `${expected.url.origin}${expected.url.pathname}`, `${e.id} -> ${r.location}`);
        assert.equal(r.header('x-router-outcome'), 'entry_default');
      } else {
        assert.equal(route(r.location), `${fallback.origin}${fallback.pathname}`, `${e.id} ${short(e.raw)} -> ${r.location}`);
        assert.equal(r.header('x-router-outcome'), 'handle_fallback');
      }
    });
  });

  test('reset', resetConfiguration);
});

// ---------------------------------------------------------------------------------------
// C. The handle fallback

describe('C. the handle fallback: PUT .../configuration, every string', () => {
  test('refused exactly like a rule destination; when accepted, visitors of an entry with an unroutable default get it only if routable, else the safe page', async (t) => {
    let accepted = 0;
    for (const e of corpus) {
      const config = structuredClone(base);
      config.fallback = e.raw;
      config.entries.push({ slug: 'fb', default: 'https://offers.gharart-deals.com/fb' }); // pending: never routable
      const res = await putConfiguration(config);
      const verdict = classifyWrite(e, res, '$.fallback');
      verdicts.get(e.id).fallback = verdict;
      assert.equal(verdict, verdicts.get(e.id).rule, `${e.id} ${short(e.raw)}: fallback ${verdict}, rule destination ${verdicts.get(e.id).rule}`);
      if (verdict !== 'accepted') continue;
      accepted += 1;
      const expected = expectedUrlVerdict(e.raw);
      const { res: r } = await visit('/gharart/fb', { what: `C ${e.id} ${short(e.raw)}` });
      if (expected.routable) {
        assert.equal(r.status, 302, `${e.id}: ${r.status}`);
        assert.equal(route(r.location), `${expected.url.origin}${expected.url.pathname}`);
        assert.equal(r.header('x-router-outcome'), 'handle_fallback');
      } else {
        assert.equal(r.status, 200, `${e.id} ${short(e.raw)}: the safe page, got ${r.status} ${r.location}`);
        assert.equal(r.header('x-router-outcome'), 'safe_page');
        assert.match(r.header('content-type') ?? '', /text\/html/);
      }
    }
    t.diagnostic(`fallback: ${accepted} accepted, ${corpus.length - accepted} refused`);
  });

  test('reset', resetConfiguration);
});

// ---------------------------------------------------------------------------------------
// D. Campaign variant destinations

describe('D. campaign variant destinations', () => {
  const accepted = [];
  const campaign = (e) => ({ id: `c-${e.id}`, name: `hostile ${e.id}`, status: 'active', variants: [{ key: 'only', weight: 100, destination: e.raw }] });

  test('all at once through PUT .../configuration: refused exactly like rule destinations, at $.campaigns[i].variants[0].destination', async () => {
    const config = structuredClone(base);
    const at = config.campaigns.length;
    config.campaigns.push(...jsonSafe.map(campaign));
    const errors = errorsByPath(await putConfiguration(config));
    jsonSafe.forEach((e, k) => {
      const path = `$.campaigns[${at + k}].variants[0].destination`;
      const codes = errors.get(path);
      errors.delete(path);
      verdicts.get(e.id).variant = codes ? 'refused' : 'accepted';
      if (codes) assert.deepEqual(codes, ['invalid_url'], e.id);
      else accepted.push(e);
      assert.equal(verdicts.get(e.id).variant, verdicts.get(e.id).rule, `${e.id} ${short(e.raw)}`);
    });
    assert.deepEqual([...errors.keys()], [], 'no other errors');
  });

  test('POST .../campaigns, one by one for a refused string of each category and a sample of accepted ones', async () => {
    const refused = representative(jsonSafe.filter((e) => verdicts.get(e.id).variant === 'refused').map((e) => e.id));
    for (const id of refused) {
      const e = byId.get(id);
      const res = await api('POST', `${V2}/campaigns`, { ...campaign(e), id: `post-${e.id}` });
      assert.equal(classifyWrite(e, res, '$.variants[0].destination'), 'refused');
    }
    for (const e of corpus.filter((x) => !x.raw.isWellFormed())) {
      const res = await api('POST', `${V2}/campaigns`, { ...campaign(e), id: `post-${e.id}` });
      assert.equal(classifyWrite(e, res, '$.variants[0].destination'), 'refused');
    }
    for (const e of accepted.filter((_, i) => i % 5 === 0)) {
      const res = await api('POST', `${V2}/campaigns`, { ...campaign(e), id: `post-${e.id}` });
      assert.equal(res.status, 201, `${e.id} ${short(e.raw)}: ${res.body.slice(0, 300)}`);
    }
  });

  test('a rule per accepted campaign: a visitor gets the variant only when routable, else the entry default', async () => {
    const config = structuredClone(base);
    config.campaigns.push(...accepted.map(campaign));
    config.rules.push(...accepted.map((e) => ({ id: `rc-${e.id}`, priority: 0, entries: ['festive'], conditions: { query: { probe: { in: [`c-${e.id}`] } } }, campaign: `c-${e.id}` })));
    const res = await putConfiguration(config);
    assert.equal(res.status, 200, res.body.slice(0, 400));
    const entryDefault = base.entries.find((x) => x.slug === 'festive').default;
    await pool(accepted, CONCURRENCY, async (e) => {
      const expected = expectedUrlVerdict(e.raw);
      const { res: r } = await visit(`/gharart/festive?probe=c-${e.id}`, { headers: { Cookie: 'gh_vid=0123456789abcdef0123456789abcdef' }, what: `D ${e.id} ${short(e.raw)}` });
      assert.equal(r.status, 302);
      assert.equal(route(r.location), expected.routable ? `${expected.url.origin}${expected.url.pathname}` : entryDefault, `${e.id} ${short(e.raw)} -> ${r.location}`);
      assert.equal(new URL(r.location).searchParams.has('gh_ctx'), expected.routable, 'a ctx only with an assigned variant');
    });
  });

  test('reset', resetConfiguration);
});

// ---------------------------------------------------------------------------------------
// E. Tracking templates

describe('E. tracking templates: every string as a parameter value and as a name', () => {
  const values = { handle: HANDLE, entry: 'festive', country: 'IN', device: 'mobile' };
  let goodValues;
  let goodNames;

  /** POSTs one template per chunk of at most MAX_TEMPLATE_PARAMS; returns `{ path: [codes] }` over all. */
  async function postInChunks(prefix, entries, param) {
    const all = new Map();
    for (const [i, group] of chunks(entries, Infinity, () => 0, MAX_TEMPLATE_PARAMS).entries()) {
      const res = await api('POST', `${V2}/tracking-templates`, { id: `${prefix}-${i}`, params: Object.fromEntries(group.map(param)) });
      if (res.status === 201) continue;
      for (const [path, codes] of errorsByPath(res)) all.set(path, codes);
    }
    return all;
  }

  test('values: POST .../tracking-templates refuses exactly the bad placeholders (invalid_placeholder) and the values over 256 bytes (invalid_param_value), at $.params.<name>', async () => {
    const errors = await postInChunks('hostile-values', jsonSafe, (e) => [`p_${e.id}`, e.raw]);
    goodValues = [];
    for (const e of jsonSafe) {
      const codes = errors.get(`$.params.p_${e.id}`) ?? [];
      errors.delete(`$.params.p_${e.id}`);
      const want = [];
      if (!templateValueOk(e.raw)) want.push('invalid_placeholder');
      if (Buffer.byteLength(e.raw) > MAX_TEMPLATE_VALUE_LEN) want.push('invalid_param_value');
      assert.deepEqual(codes.toSorted(), want, `${e.id} ${short(e.raw)}`);
      if (want.length === 0) goodValues.push(e);
    }
    assert.deepEqual([...errors.keys()], [], 'no other field is in error');
    assert.ok(goodValues.length > 0 && goodValues.length < jsonSafe.length, 'the corpus has both kinds');
    // One by one for a sample of the refused ones.
    for (const e of jsonSafe.filter((x) => !templateValueOk(x.raw)).slice(0, 8)) {
      const res = await api('POST', `${V2}/tracking-templates`, { id: 'hostile-one', params: { x: e.raw } });
      assert.equal(classifyWrite(e, res, '$.params.x', ['invalid_placeholder', 'invalid_param_value']), 'refused');
    }
    for (const e of corpus.filter((x) => !x.raw.isWellFormed())) {
      const res = await api('POST', `${V2}/tracking-templates`, { id: 'hostile-one', params: { x: e.raw } });
      assert.equal(classifyWrite(e, res, '$.params.x'), 'refused');
    }
  });

  test('names: the bad names are refused ($.params.<name>, invalid_param_name); more than 20 at once is too_many_params at $.params', async () => {
    const errors = await postInChunks('hostile-names', jsonSafe, (e) => [e.raw, 'v']);
    goodNames = [];
    for (const e of jsonSafe) {
      const codes = errors.get(`$.params.${e.raw}`);
      errors.delete(`$.params.${e.raw}`);
      assert.equal(!codes, paramNameOk(e.raw), `${e.id} ${short(e.raw)}: ${codes}`);
      if (codes) assert.deepEqual(codes, ['invalid_param_name']);
      else goodNames.push(e);
    }
    assert.deepEqual([...errors.keys()], [], 'no other field is in error');
    const tooMany = Object.fromEntries(goodNames.slice(0, MAX_TEMPLATE_PARAMS + 1).map((e) => [e.raw, 'v']));
    assert.equal(Object.keys(tooMany).length, MAX_TEMPLATE_PARAMS + 1);
    const errs = errorsByPath(await api('POST', `${V2}/tracking-templates`, { id: 'hostile-too-many', params: tooMany }));
    assert.deepEqual([...errs], [['$.params', ['too_many_params']]]);
  });

  test('the accepted values and names, used by rules: each lands in the query, encoded, and never moves the host', async (t) => {
    const groups = [
      ...chunks(goodValues, 1500, undefined, MAX_TEMPLATE_PARAMS).map((g, i) => ({ id: `tv${i}`, params: Object.fromEntries(g.map((e) => [`p_${e.id}`, e.raw])), entries: g })),
      ...chunks(goodNames, 1500, undefined, MAX_TEMPLATE_PARAMS).map((g, i) => ({ id: `tn${i}`, params: Object.fromEntries(g.map((e) => [e.raw, 'v'])), entries: g })),
      // {ctx} tricks with a campaign, so a ctx is issued.
      { id: 'tctx', params: { gh_ctx: '{ctx}', ctx_at: '{ctx}@evil.example', ctx_url: 'https://evil.example/{ctx}', both: '{ctx}{ctx}', utm_source: 'e', utm_medium: 'e', utm_campaign: '{campaign}' }, entries: [], campaign: true },
    ];
    const config = structuredClone(base);
    for (const g of groups) {
      config.templates.push({ id: g.id, params: g.params });
      if (g.campaign) {
        config.campaigns.push({ id: 'ctx-tricks', name: 'ctx tricks', status: 'active', template: g.id, variants: [{ key: 'a', weight: 100, destination: 'https://www.gharart.com/ctx' }] });
        config.rules.push({ id: `r-${g.id}`, priority: 0, entries: ['festive'], conditions: { query: { probe: { in: [g.id] } } }, campaign: 'ctx-tricks' });
      } else {
        config.rules.push({ id: `r-${g.id}`, priority: 0, entries: ['festive'], conditions: { query: { probe: { in: [g.id] } } }, destination: `https://www.gharart.com/${g.id}`, template: g.id });
      }
    }
    const res = await putConfiguration(config);
    assert.equal(res.status, 200, res.body.slice(0, 600));
    let longest = 0;
    await pool(groups, CONCURRENCY, async (g) => {
      const { res: r } = await visit(`/gharart/festive?probe=${g.id}`, { headers: { Cookie: 'gh_vid=0123456789abcdef0123456789abcdef' }, what: `E ${g.id}` });
      assert.equal(r.status, 302, `${g.id}: ${r.status} ${r.body.slice(0, 200)}`);
      longest = Math.max(longest, r.location.length);
      const u = new URL(r.location);
      assert.equal(u.hostname, 'www.gharart.com', g.id);
      const got = u.searchParams;
      const holes = { ...values, rule: `r-${g.id}`, campaign: g.campaign ? 'ctx-tricks' : undefined, variant: g.campaign ? 'a' : undefined, ctx: g.campaign ? got.get('gh_ctx') : undefined };
      for (const [name, value] of Object.entries(g.params)) {
        const want = renderValue(value, holes);
        assert.equal(got.get(name), want, `${g.id}: ${short(name)} = ${short(value)}`);
      }
      if (g.campaign) {
        const ctx = got.get('gh_ctx');
        assert.match(ctx, /^v1\.[\w-]+\.[\w-]+$/, 'a real ctx token');
        assert.equal(got.get('ctx_at'), `${ctx}@evil.example`);
        assert.equal(got.get('both'), `${ctx}${ctx}`);
      }
    });
    t.diagnostic(`templates: ${goodValues.length} values and ${goodNames.length} names accepted; longest Location ${longest} bytes`);
  });

  test('reset', resetConfiguration);
});

// ---------------------------------------------------------------------------------------
// F. The visitor query

describe('F. the visitor query: names and values are forwarded encoded and never change the route', () => {
  test('every string as a value, as a name, raw in the query, and beside utm_source=whatsapp (a visitor-first template)', async () => {
    const whatsapp = route((await visit('/gharart/festive?utm_source=whatsapp')).res.location);
    await pool(jsonSafe, CONCURRENCY, async (e) => {
      const cases = [
        [`/gharart/festive?q=${enc(e.raw)}`, baseline],
        [`/gharart/festive?${enc(e.raw)}=1`, baseline],
        [`/gharart/festive?${loose(e.raw)}`, baseline],
        [`/gharart/festive?utm_source=whatsapp&utm_medium=${enc(e.raw)}&${enc(e.raw)}=${enc(e.raw)}`, whatsapp],
        [`/gharart/festive?gh_ctx=${enc(e.raw)}&gh_rule=${enc(e.raw)}&gh_variant=${enc(e.raw)}`, baseline],
      ];
      for (const [path, expected] of cases) {
        const { res } = await visit(path, { what: `F ${e.id} ${short(path)}` });
        if (res.status === 431 || res.status === 414) continue; // the local runtime bounds the request target
        assert.equal(res.status, 302, `${e.id} ${short(path)}: ${res.status}`);
        assert.equal(route(res.location), expected, `${e.id} ${short(path)} -> ${res.location.slice(0, 200)}`);
        const sent = new URL(res.location).searchParams;
        assert.ok(!sent.getAll('gh_ctx').includes(e.raw) && !sent.getAll('gh_variant').includes(e.raw), `a visitor cannot plant gh_ctx/gh_variant: ${res.location.slice(0, 300)}`);
      }
    });
  });

  // Issue 10 changed this deliberately: gh_ctx holds {ctx} in the handle's other
  // templates, so it is the router's under whatsapp-utm too (it used to be forwarded).
  test('under a visitor-first template (whatsapp-utm) a visitor cannot pass gh_ctx through; a forged ctx never counts', async () => {
    const forged = 'v1.eyJoYW5kbGUiOiJnaGFyYXJ0In0.AAAA';
    const { res } = await visit(`/gharart/festive?utm_source=whatsapp&gh_ctx=${enc(forged)}&gh_variant=story`);
    const sent = new URL(res.location).searchParams;
    assert.deepEqual(sent.getAll('gh_ctx'), [], `dropped: gh_ctx is the router's in every template of the handle: ${res.location}`);
    assert.equal(sent.get('utm_source'), 'whatsapp', 'the sharer\'s own tags still win under whatsapp-utm');
    const conversion = await rawRequest(worker.base, '/v2/public/conversions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'hostile-forged-ctx' },
      body: JSON.stringify({ ctx: forged, event: 'purchase' }),
    });
    observe(conversion);
    assert.equal(conversion.status, 400);
    assert.equal(conversion.json().error.code, 'invalid_ctx');
  });

  test('a forwarded value round-trips exactly (percent-encoded, never raw)', async () => {
    for (const e of jsonSafe.filter((x) => Buffer.byteLength(x.raw) < 1000)) {
      const { res } = await visit(`/gharart/festive?q=${enc(e.raw)}`);
      assert.equal(new URL(res.location).searchParams.get('q'), e.raw, `${e.id} ${short(e.raw)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------
// G. Preview overrides

describe('G. preview overrides, with and without a valid token', () => {
  const OVERRIDES = ['__country', '__region', '__variant', '__lang', '__at', '__device', '__os'];
  const overrides = (raw) => OVERRIDES.map((name) => `${name}=${enc(raw)}`).join('&');

  test('every string as every override: with a token it is refused or ignored (never a 5xx, never off the allowlist); without one it is ignored', async () => {
    await pool(jsonSafe, CONCURRENCY, async (e) => {
      const q = overrides(e.raw);
      const trace = await visit(`/gharart/festive?__preview=${enc(preview)}&__explain=1&${q}`, { what: `G explain ${e.id}` });
      if (trace.res.status === 431) return; // the local runtime bounds the request target (7 x an overlong value)
      assert.equal(trace.res.status, 200, `${e.id}: ${trace.res.status} ${trace.res.body.slice(0, 200)}`);
      const explained = trace.res.json();
      assert.equal(explained.preview, true);
      const applied = Object.keys(explained.overrides);
      const { res: previewed } = await visit(`/gharart/festive?__preview=${enc(preview)}&${q}`, { what: `G preview ${e.id}` });
      assert.equal(previewed.status, 302, `${e.id}: ${previewed.status}`);
      assert.equal(previewed.header('x-router-preview'), '1');
      assert.deepEqual(previewed.setCookies, [], 'a preview sets no cookie');
      assert.match(previewed.header('cache-control') ?? '', /no-store/);
      assert.equal(route(previewed.location), route(explained.location), `${e.id}: the redirect is the trace's location`);
      if (applied.length === 0) assert.equal(route(previewed.location), baseline, `${e.id}: nothing applied, the usual route`);
      for (const path of [`/gharart/festive?${q}`, `/gharart/festive?__preview=${enc(e.raw)}&${q}`, `/gharart/festive?__preview=${enc(e.raw)}&__explain=1`]) {
        const { res } = await visit(path, { what: `G no token ${e.id}` });
        if (res.status === 431) continue;
        assert.equal(res.status, 302, `${e.id} ${short(path)}: ${res.status}`);
        assert.equal(res.header('x-router-preview'), null);
        assert.equal(route(res.location), baseline, `${e.id}: without a valid token overrides are ignored`);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------
// H. Request headers

describe('H. hostile request headers', () => {
  test('every string as User-Agent, Accept-Language, X-Forwarded-For, Cookie and client hints (UTF-8 bytes on the wire; control characters, which HTTP cannot carry in a header, as spaces)', async () => {
    await pool(corpus, CONCURRENCY, async (e) => {
      const value = utf8AsLatin1(e.raw.toWellFormed().replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' '));
      for (const headers of [
        { 'User-Agent': value, 'Accept-Language': value, 'X-Forwarded-For': value, Cookie: `gh_vid=${value}` },
        { 'User-Agent': UA.iphone, 'X-Forwarded-For': IPS.IN, Cookie: value, 'Accept-Language': `${value},en;q=0.5` },
        { 'X-Forwarded-For': `${value}, ${IPS.IN}`, 'Sec-CH-UA-Mobile': value, 'Sec-CH-UA-Platform': value },
      ]) {
        const { res } = await visit('/gharart/festive', { headers, what: `H ${e.id} ${short(e.raw)}` });
        if (res.status === 431) {
          // Bounded before the worker: the local runtime refuses request headers over its limit.
          assert.ok(Buffer.byteLength(Object.values(headers).join('')) > 32 * 1024, `431 only for oversized headers (${e.id})`);
          continue;
        }
        assert.equal(res.status, 302, `${e.id}: ${res.status}`);
        assert.ok(res.setCookies.length <= 1);
      }
    });
  });
});

describe('H2. bytes HTTP cannot carry, sent raw on a socket', () => {
  /** Sends raw bytes, resolves to the whole answer as latin1 text. */
  function rawSocket(payload) {
    const { hostname, port } = new URL(worker.base);
    return new Promise((resolvePromise, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.end(Buffer.from(payload, 'latin1')));
      const chunks = [];
      socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', (e) => (e.code === 'ECONNRESET' ? resolvePromise(Buffer.concat(chunks).toString('latin1')) : reject(e)));
      socket.on('close', () => resolvePromise(Buffer.concat(chunks).toString('latin1')));
    });
  }

  test('bare CR, LF, NUL in a header value or the request target are refused before the worker (4xx or a closed connection), never injected', async () => {
    const cases = [
      'GET /gharart/festive HTTP/1.1\r\nHost: x\r\nUser-Agent: a\rX-Injected: 1\r\nConnection: close\r\n\r\n',
      'GET /gharart/festive HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u0000b\r\nConnection: close\r\n\r\n',
      'GET /gharart/festive HTTP/1.1\r\nHost: x\r\nAccept-Language: en\nX-Injected: 1\r\nConnection: close\r\n\r\n',
      'GET /gharart/festive?x=a\rb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /gharart/festive?x=a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /gharart/festive HTTP/1.1\r\nHost: x\r\nCookie: gh_vid=0123456789abcdef0123456789abcdef\r\n X-Folded: 1\r\nConnection: close\r\n\r\n',
    ];
    for (const payload of cases) {
      const answer = await rawSocket(payload);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
      const what = JSON.stringify(payload.split('\r\n\r\n')[0]);
      assert.ok(status === 0 || (status >= 200 && status < 500), `${what}: ${answer.slice(0, 120)}`);
      assert.doesNotMatch(answer, /\r\nX-Injected|\r\nX-Folded/i, what);
      if (status >= 300 && status < 400) {
        const location = /\r\nLocation: ([^\r\n]*)/i.exec(answer)?.[1];
        assert.ok(location && list.isRoutableHost(new URL(location).hostname), `${what}: ${location}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// I. Trust claims (issue 10): a whole configuration that claims its own domains are
// verified, scored and approved, and page documents linking to every string.

describe('I. trust claims through PUT .../configuration, and page links', () => {
  test('every accepted host claimed verified, risk 0 and approved is stored pending and undecided; its entry goes to the handle fallback', async () => {
    const hosts = new Map();
    for (const e of jsonSafe) {
      const { accept, url } = expectedUrlVerdict(e.raw);
      if (!accept) continue;
      const known = base.domains.some((d) => d.domain === url.hostname || (d.domain.startsWith('*.') && url.hostname.endsWith(d.domain.slice(1))));
      if (!known && !hosts.has(url.hostname)) hosts.set(url.hostname, e);
    }
    assert.ok(hosts.size >= 5, `${hosts.size} hosts off the list`);
    const config = structuredClone(base);
    const at = config.domains.length;
    for (const host of hosts.keys()) {
      config.domains.push({ domain: host, verification: 'verified', token: 'mine', risk_score: 0, verified_at: '2026-01-01T00:00:00Z', decision: { value: 'approved', by: 'me', reason: 'trust me', at: '2026-01-01T00:00:00Z' } });
    }
    config.entries.push(...[...hosts.values()].map((e) => ({ slug: `claim-${e.id}`, default: e.raw })));
    config.risk_threshold = 100;
    const res = await putConfiguration(config);
    assert.equal(res.status, 200, res.body.slice(0, 400));
    const ignored = new Set(res.json.warnings.filter((w) => w.code === 'ignored_trust_field').map((w) => w.path));
    [...hosts.keys()].forEach((host, k) => {
      for (const field of ['verification', 'token', 'risk_score', 'verified_at', 'decision']) assert.ok(ignored.has(`$.domains[${at + k}].${field}`), `${host}: ${field} ignored`);
    });
    assert.ok(ignored.has('$.risk_threshold'));
    const listing = (await api('GET', `${V2}/destination-domains`)).json;
    assert.equal(listing.risk_threshold, base.risk_threshold);
    for (const host of hosts.keys()) {
      const d = listing.domains.find((x) => x.domain === host);
      assert.ok(d, `${host} listed`);
      assert.deepEqual([d.verification, d.routable, d.risk_score, d.decision], ['pending', false, undefined, undefined], host);
    }
    const fallback = new URL(base.fallback);
    await pool([...hosts.values()], CONCURRENCY, async (e) => {
      const { res: r } = await visit(`/gharart/claim-${e.id}`, { what: `I ${e.id} ${short(e.raw)}` });
      assert.equal(r.status, 302, `${e.id}: ${r.status}`);
      assert.equal(route(r.location), `${fallback.origin}${fallback.pathname}`, `${e.id} ${short(e.raw)} -> ${r.location}`);
    });
  });

  test('reset', resetConfiguration);

  test('a page document linking to each string is refused at that link unless it is a routable https URL', async () => {
    // In documents of up to 50 links (one write per document: the page's draft is one
    // record, so concurrent saves of it would only contend).
    const path = `${V2}/site-structure/campaigns/diwali-hero-ab`;
    let refusedCount = 0;
    for (const batch of chunks(jsonSafe, 28 * 1024, (e) => JSON.stringify(e.raw).length + 40, 50)) {
      const res = await api('PUT', path, { access_level: 'PUBLIC', document: { title: 'Hostile links', blocks: batch.map((e) => ({ type: 'cta', label: 'Go', url: e.raw })) } });
      const refusedAt = res.status === 200 ? new Map() : errorsByPath(res);
      const tooLarge = refusedAt.get('$.document');
      if (tooLarge) {
        // One string longer than a whole page may be: refused as such.
        assert.deepEqual([batch.length, tooLarge], [1, ['page_too_large']], batch[0].id);
        assert.equal(expectedUrlVerdict(batch[0].raw).accept, false);
        refusedCount += 1;
        continue;
      }
      batch.forEach((e, k) => {
        const at = `$.document.blocks[${k}].url`;
        const codes = refusedAt.get(at);
        refusedAt.delete(at);
        const expected = expectedUrlVerdict(e.raw);
        const what = `${e.id} (${e.category}) ${short(e.raw)}: ${JSON.stringify(codes)}`;
        if (codes) refusedCount += 1;
        if (!(expected.accept && expected.routable)) {
          assert.ok(codes && codes.every((c) => ['invalid_url', 'unroutable_url', 'invalid_length'].includes(c)), `refused: ${what}`);
        } else if (e.raw === rustTrim(e.raw)) {
          assert.equal(codes, undefined, `a routable https link is taken: ${what}`);
        }
        // A routable URL padded with Unicode white space is kept as written, which is no
        // URL to Url::parse (it trims only C0 and space): refused or taken, either is safe.
      });
      assert.deepEqual([...refusedAt.keys()], [], 'no error outside the links');
    }
    assert.ok(refusedCount > jsonSafe.length / 2, `${refusedCount} refused`);
  });
});

// ---------------------------------------------------------------------------------------
// Over the whole file

describe('over every response of this file', () => {
  test('the same strings are refused by every destination channel', () => {
    for (const e of jsonSafe) {
      const v = verdicts.get(e.id);
      assert.ok(new Set([v.rule, v.entryDefault, v.fallback, v.variant]).size === 1, `${e.id} ${short(e.raw)}: ${JSON.stringify(v)}`);
    }
  });

  test('no 5xx, no Location off the allowlist, no second Set-Cookie, no CR/LF/NUL or unknown header, no internal text', (t) => {
    const s = observer.stats();
    const refused = corpus.filter((e) => verdicts.get(e.id).rule === 'refused').length;
    t.diagnostic(`corpus ${corpus.length} strings (${[...new Set(corpus.map((e) => e.category))].map((c) => `${c} ${corpus.filter((e) => e.category === c).length}`).join(', ')})`);
    t.diagnostic(`destinations: ${refused} refused, ${corpus.length - refused} accepted; ${counts.writes} writes, ${counts.visits} visits, ${s.responses} responses, ${s.redirects} redirects`);
    t.diagnostic(`Location hosts: ${JSON.stringify(s.hosts)}`);
    assert.ok(s.responses > 3000, `${s.responses} responses`);
    assert.deepEqual(observer.violations.slice(0, 20), [], `${observer.violations.length} violations`);
  });

  test(
    'regression: no Location is longer than 16 KiB (template values and counts are bounded)',
    () => {
      assert.ok(observer.longestLocation() <= 16 * 1024, `longest Location: ${observer.longestLocation()} bytes`);
    },
  );

  test(
    'regression: every Location host is a DNS host name (not `..gharart.in`, `*.gharart.in`, `evil.example;.gharart.in`)',
    () => {
      const hosts = [...new Set(observer.malformedHosts.map((m) => new URL(m.location).hostname))];
      assert.deepEqual(hosts, []);
    },
  );
});
