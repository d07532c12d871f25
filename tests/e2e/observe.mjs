// Response invariants shared by hostile.test.mjs, the *-faults.test.mjs files (through
// faults.mjs) and security.test.mjs:
// a raw HTTP client that shows every header as sent (node:http, large header limit, the
// raw header list), the routable allowlist computed from the API's destination-domains
// listing (independently of the worker's own `routable` flag), and one checker that
// records every violation of the invariants every response must satisfy:
//
// - never a 5xx (unless the caller marks it deliberate);
// - a Location is an https URL with no credentials, no port, whose host is on the
//   allowlist (exact host, or the most specific `*.` wildcard), written literally as
//   `https://<host>/...` (no parser differential) and all printable ASCII;
// - at most one Set-Cookie, and only the visitor cookie with its flags;
// - no CR, LF or NUL in any header value, and no header names outside the known set
//   (an injected `X-Injected` or second `Location` would show up here);
// - no internal error text in any body (panics, wasm traps, D1/SQLite errors, stack
//   frames, source paths).

import http from 'node:http';

/** The visitor cookie as the router sets it (src/client.rs). */
export const COOKIE_RE = /^gh_vid=[0-9a-f]{32}; Max-Age=31536000; Path=\/; Secure; HttpOnly; SameSite=Lax$/;

/** Text that must never reach a client: panics, traps, storage errors, stack frames, paths. */
export const INTERNAL_TEXT_RE =
  /panicked|RuntimeError|unreachable executed|wasm-function|wasm:\/\/|D1_ERROR|D1_EXEC|SQLITE|no such table|sqlite_|stack backtrace|\bat [\w$.<>]+ \(|src\/[\w/]+\.rs|\.rs:\d+|node_modules|worker::Error|JsValue\(|Error: [A-Z]/;

/** Every response header name the worker (or the local runtime) may send. */
export const KNOWN_HEADERS = new Set([
  'location', 'cache-control', 'x-request-id', 'x-content-type-options', 'referrer-policy', 'x-snapshot-version',
  'x-snapshot-stale', 'x-router-outcome', 'x-router-preview', 'x-robots-tag', 'x-kv-reads', 'set-cookie', 'content-type',
  'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'vary', 'content-encoding', 'server',
  'retry-after', 'www-authenticate', 'allow', 'idempotent-replayed', 'access-control-allow-origin',
  'access-control-expose-headers', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age',
]);

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The routable allowlist from `GET /v2/handles/{h}/destination-domains`: verified AND
 * (approved OR (no decision AND risk_score < risk_threshold)); exact host beats wildcard,
 * the longest wildcard wins.
 */
export function allowlistFromListing(listing) {
  const threshold = listing.risk_threshold;
  const routable = (d) =>
    d.verification === 'verified' && (d.decision ? d.decision.value === 'approved' : typeof d.risk_score === 'number' && d.risk_score < threshold);
  const domains = listing.domains;
  const isRoutableHost = (host) => {
    const exact = domains.find((d) => d.domain === host);
    if (exact) return routable(exact);
    const wildcard = domains
      .filter((d) => d.domain.startsWith('*.') && host.length > d.domain.length - 1 && host.endsWith(d.domain.slice(1)))
      .sort((a, b) => b.domain.length - a.domain.length)[0];
    return wildcard ? routable(wildcard) : false;
  };
  return {
    isRoutableHost,
    routable: domains.filter(routable).map((d) => d.domain),
    unroutable: domains.filter((d) => !routable(d)).map((d) => d.domain),
  };
}

/** Whether a host name is a DNS host name: labels of 1-63 letters, digits and inner hyphens. */
export function isDnsHostname(host) {
  return host.length <= 253 && host.split('.').every((l) => LDH_LABEL.test(l));
}

/**
 * Checks a Location value. `ok`: https, no credentials or port, host on the allowlist,
 * written literally, printable ASCII. `strict`: also a DNS host name (see isDnsHostname).
 */
export function checkLocation(list, location) {
  let url;
  try {
    url = new URL(location);
  } catch {
    return { ok: false, strict: false, why: 'not an absolute URL' };
  }
  const problems = [];
  if (url.protocol !== 'https:') problems.push(`scheme ${url.protocol}`);
  if (url.username || url.password) problems.push('credentials');
  if (url.port) problems.push(`port ${url.port}`);
  if (!list.isRoutableHost(url.hostname)) problems.push(`host ${url.hostname} not on the allowlist`);
  if (!location.startsWith(`https://${url.host}/`)) problems.push('authority not written literally');
  if (/[^\x21-\x7e]/.test(location)) problems.push('non-printable or non-ASCII characters');
  const ok = problems.length === 0;
  return { ok, strict: ok && isDnsHostname(url.hostname), host: url.hostname, url, why: problems.join(', ') };
}

/** Sets `res.json` (the parsed body, or null) and `res.error` (its `error`, or null). */
export function withJson(res) {
  try {
    res.json = JSON.parse(res.body);
  } catch {
    res.json = null;
  }
  res.error = res.json?.error ?? null;
  return res;
}

/** UTF-8 bytes of a string as a latin1 string (what node:http sends byte for byte). */
export function utf8AsLatin1(text) {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * A raw HTTP request with node:http: `{ status, rawHeaders: [[name, value]], header(name),
 * headerAll(name), location, setCookies, body, json() }`. `path` is sent as given (it must
 * be a valid request target); header values may hold any byte but CR, LF and NUL.
 */
export function rawRequest(base, path, { method = 'GET', headers = {}, body, timeoutMs = 20_000 } = {}) {
  const target = new URL(base);
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers,
        maxHeaderSize: 4 << 20,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const pairs = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
          const all = (name) => pairs.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
          const text = Buffer.concat(chunks).toString('utf8');
          resolvePromise({
            method,
            path,
            status: res.statusCode,
            rawHeaders: pairs,
            header: (name) => all(name.toLowerCase())[0] ?? null,
            headerAll: (name) => all(name.toLowerCase()),
            location: all('location')[0] ?? null,
            setCookies: all('set-cookie'),
            body: text,
            json: () => JSON.parse(text),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path.slice(0, 200)}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Records responses and every invariant they break. `observe(res, { what, allow5xx,
 * fallbackUrl })` returns the Location check (or null). `violations` lists
 * `{ what, problem }`; `malformedHosts` lists Locations that are on the allowlist but
 * whose host is not a DNS host name.
 */
export function makeObserver(getList) {
  const violations = [];
  const malformedHosts = [];
  const locations = new Map(); // host -> count
  let responses = 0;
  let redirects = 0;
  let longest = 0;
  function observe(res, { what = `${res.method ?? 'GET'} ${res.path}`, allow5xx = false, fallbackUrl = null } = {}) {
    responses += 1;
    const label = what.length > 300 ? `${what.slice(0, 300)}…` : what;
    const fail = (problem) => violations.push({ what: label, status: res.status, problem });
    if (res.status >= 500 && !allow5xx) fail(`status ${res.status}: ${res.body.slice(0, 200)}`);
    for (const [name, value] of res.rawHeaders) {
      if (/[\r\n\0]/.test(value)) fail(`raw CR/LF/NUL in header ${name}`);
      if (!KNOWN_HEADERS.has(name.toLowerCase())) fail(`unexpected header ${name}: ${value.slice(0, 100)}`);
    }
    if (res.headerAll('location').length > 1) fail('more than one Location');
    if (res.setCookies.length > 1) fail(`${res.setCookies.length} Set-Cookie headers`);
    for (const c of res.setCookies) if (!COOKIE_RE.test(c)) fail(`unexpected Set-Cookie ${c.slice(0, 200)}`);
    if (INTERNAL_TEXT_RE.test(res.body)) fail(`internal text in body: ${res.body.match(INTERNAL_TEXT_RE)[0]}`);
    if (res.status >= 300 && res.status < 400) {
      redirects += 1;
      longest = Math.max(longest, res.location?.length ?? 0);
      if (!res.location) {
        fail('redirect without Location');
        return null;
      }
      if (fallbackUrl && res.location === fallbackUrl) return { ok: true, strict: true, host: new URL(fallbackUrl).hostname };
      const check = checkLocation(getList(), res.location);
      if (!check.ok) fail(`Location off the allowlist (${check.why}): ${res.location.slice(0, 300)}`);
      else if (!check.strict) malformedHosts.push({ what: label, location: res.location.slice(0, 200) });
      if (check.host) locations.set(check.host, (locations.get(check.host) ?? 0) + 1);
      return check;
    }
    if (res.location) fail(`Location on a ${res.status}`);
    return null;
  }
  return {
    observe,
    violations,
    malformedHosts,
    locations,
    longestLocation: () => longest,
    stats: () => ({ responses, redirects, hosts: Object.fromEntries(locations) }),
  };
}

/** Runs `fn` over `items` with at most `limit` at a time; resolves to the results in order. */
export async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}
