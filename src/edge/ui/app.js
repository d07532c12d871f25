// The preview page. Plain JS, no dependencies, no build step. It holds no data of its own:
// everything comes from this origin's management API, called with the token the person
// pastes (kept in sessionStorage only, never in localStorage or a URL):
//   GET  /v2/handles/{h}/personalization-rules   entries and rules
//   POST /v2/handles/{h}/preview-tokens          a fresh preview token per preview
//   GET  /{h}/{entry}?__preview=…&__explain=1    the explain trace
//   GET  /v2/handles/{h}/route-preview           the country x device matrix
//   GET  /v2/handles/{h}/rule-audit              collisions, shadowed, unroutable
//   GET  /v2/handles/{h}/destination-domains     domain trust states
// Every string from the API is put in the page as text (textContent), never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'edgeRouterPreview.token';
  const HANDLE_KEY = 'edgeRouterPreview.handle';
  /** Number of colour classes in app.css (`.c0` … `.c11`). */
  const PALETTE = 12;
  const HANDLE_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
  /** Countries offered besides those the rules name (majors first, in this order). */
  const MAJORS = ['IN', 'AE', 'GB', 'US', 'DE'];
  const MORE = ['SA', 'QA', 'KW', 'OM', 'BH', 'FR', 'IT', 'ES', 'NL', 'BE', 'AT', 'IE', 'PT', 'SE',
    'DK', 'FI', 'PL', 'CZ', 'GR', 'RO', 'HU', 'CH', 'NO', 'CA', 'AU', 'NZ', 'SG', 'MY', 'ID', 'TH',
    'JP', 'CN', 'HK', 'KR', 'NP', 'BD', 'LK', 'PK', 'ZA', 'NG', 'KE', 'EG', 'TR', 'BR', 'MX', 'AR'];
  const RESULT_WORDS = { won: 'Won', no_match: 'No match', skipped: 'Skipped', not_reached: 'Not reached' };
  const RESULT_MARKS = { won: '✓', no_match: '✗', skipped: '↷', not_reached: '·' };
  const OUTCOME_WORDS = {
    rule: 'a rule won',
    entry_default: "the entry's default destination",
    handle_fallback: "the handle's fallback page (the entry default is not routable)",
    safe_page: "the worker's own safe page (nothing routable)",
    unknown_entry: 'no such entry',
  };

  const $ = (id) => document.getElementById(id);
  const state = { token: '', handle: '', entries: [], rules: [], seq: 0, link: '' };
  let regionNames = null;
  try {
    regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
  } catch {
    regionNames = null;
  }

  // ------------------------------------------------------------------------------------
  // DOM helpers: text only.

  /** `el('p', {class: 'x', data: {rule: 'a'}}, 'text', node, …)`. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'data') for (const [k, v] of Object.entries(value)) node.dataset[k] = v;
      else if (key === 'text') node.textContent = value;
      else if (key === 'hidden') node.hidden = true;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const code = (text) => el('code', null, text);
  /** Text with line-break opportunities after `/`, `?` and `&` (URLs in narrow cells). */
  const breakable = (text) => String(text).split(/(?<=[/?&])/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));
  const srOnly = (text) => el('span', { class: 'sr-only' }, text);

  function replace(container, ...children) {
    container.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
  }

  function countryName(cc) {
    if (cc === null || cc === undefined) return 'Unknown country';
    let name = cc;
    try {
      name = (regionNames && regionNames.of(cc)) || cc;
    } catch {
      name = cc;
    }
    return name === cc ? cc : `${name} (${cc})`;
  }

  /** `m.gharart.in/festive` for `https://m.gharart.in/festive?x=1`. */
  function shortUrl(url) {
    try {
      const u = new URL(url);
      const path = u.pathname === '/' ? '/' : u.pathname.replace(/\/$/, '');
      return u.host + path;
    } catch {
      return String(url);
    }
  }

  function localTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || `${one}s`}`;
  }

  // ------------------------------------------------------------------------------------
  // Messages.

  class ApiError extends Error {
    constructor(status, code, message, requestId, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.requestId = requestId;
      this.retryAfter = retryAfter;
    }
  }

  /** A sentence a person can act on, from the API's stable error code. */
  function describe(err, doing) {
    const h = state.handle;
    switch (err.code) {
      case 'missing_token':
        return 'Paste a management token first.';
      case 'invalid_token':
        return 'This token was not accepted: it is unknown, revoked or malformed. Check that you pasted the whole token, or create a new one.';
      case 'token_expired':
        return 'This token has expired. Create a new one and paste it here.';
      case 'wrong_handle':
        return `This token is not valid for the handle “${h}”. Use a token made for ${h}, or change the handle.`;
      case 'insufficient_scope':
        return `This token may not ${doing}: ${err.message}.`;
      case 'rate_limited':
      case 'daily_write_limit':
        return `Too many requests; try again in ${err.retryAfter || 'a few'} seconds.`;
      case 'handle_not_found':
        return `There is no handle “${h}”. Check the handle.`;
      case 'entry_not_found':
        return `This entry does not exist (any more): ${err.message}. Load the handle again.`;
      case 'previews_disabled':
        return `Previews are switched off on this worker: ${err.message}.`;
      case 'network':
        return `Could not reach the worker (${err.message}). Check your connection and try again.`;
      default:
        return `Could not ${doing}: ${err.message}`;
    }
  }

  function heading(err) {
    if (err.status === 401) return 'Not signed in.';
    if (err.status === 403) return 'Not allowed.';
    if (err.status === 429) return 'Slow down.';
    if (err.status === 0) return 'Offline?';
    return 'Something went wrong.';
  }

  /** A message block for an error: heading, sentence, code and request id. */
  function errorBlock(err, doing) {
    return [
      el('strong', null, heading(err)), ' ',
      describe(err, doing), ' ',
      el('span', { class: 'ref' }, `(${err.status ? `HTTP ${err.status} ` : ''}${err.code}${err.requestId ? `, request ${err.requestId}` : ''})`),
    ];
  }

  function showError(err, doing) {
    const box = $('error');
    replace(box, errorBlock(err, doing));
    box.dataset.code = err.code;
    box.hidden = false;
  }

  function clearError() {
    const box = $('error');
    box.hidden = true;
    delete box.dataset.code;
    box.replaceChildren();
  }

  function status(text) {
    $('status').textContent = text;
  }

  // ------------------------------------------------------------------------------------
  // The API.

  async function api(method, path) {
    const headers = { Authorization: `Bearer ${state.token}`, Accept: 'application/json' };
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, 'network', e.message || 'network error', null, null);
    }
    let json = null;
    try {
      json = await res.json();
    } catch {
      json = null;
    }
    if (!res.ok) {
      const e = json && json.error ? json.error : {};
      throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText || 'request failed',
        e.request_id || res.headers.get('X-Request-Id'), res.headers.get('Retry-After'));
    }
    return json;
  }

  const handlePath = (rest) => `/v2/handles/${encodeURIComponent(state.handle)}${rest}`;

  // ------------------------------------------------------------------------------------
  // The form.

  function readForm() {
    const at = $('at').value;
    let atIso = '';
    if (at) {
      const d = new Date(at);
      if (!Number.isNaN(d.getTime())) atIso = d.toISOString();
    }
    return {
      entry: $('entry').value,
      country: $('country').value,
      region: $('region').value.trim(),
      device: $('device').value,
      lang: $('lang').value.trim(),
      at: atIso,
      variant: $('variant').value.trim(),
      matrixCountries: $('mcountries').value.split(/[\s,;]+/).filter(Boolean).join(','),
    };
  }

  /** The overrides of a form reading as reserved query parameters (without the token). */
  function overrideParams(o) {
    const p = [];
    if (o.country) p.push(['__country', o.country]);
    if (o.region) p.push(['__region', o.region]);
    if (o.device) p.push(['__device', o.device]);
    if (o.lang) p.push(['__lang', o.lang]);
    if (o.at) p.push(['__at', o.at]);
    if (o.variant) p.push(['__variant', o.variant]);
    return p;
  }

  function routeUrl(o, token, explain) {
    const params = new URLSearchParams([['__preview', token], ...overrideParams(o)]);
    if (explain) params.set('__explain', '1');
    return `${location.origin}/${encodeURIComponent(state.handle)}/${encodeURIComponent(o.entry)}?${params}`;
  }

  function fillEntries() {
    const select = $('entry');
    const previous = select.value;
    replace(select, state.entries.map((e) => el('option', { value: e.slug }, e.slug)));
    if (state.entries.some((e) => e.slug === previous)) select.value = previous;
    describeEntry();
  }

  function describeEntry() {
    const entry = state.entries.find((e) => e.slug === $('entry').value);
    const hint = $('entry-hint');
    if (!entry) {
      hint.textContent = '';
      return;
    }
    replace(hint, entry.description ? `${entry.description}. ` : '', entry.default ? ['Default: ', code(shortUrl(entry.default))] : '');
  }

  function ruleCountries() {
    const found = new Set();
    for (const rule of state.rules) {
      const test = rule.conditions && rule.conditions.country;
      if (!test) continue;
      for (const list of [test.in, test.not_in]) for (const cc of list || []) found.add(String(cc).toUpperCase());
    }
    return found;
  }

  function fillCountries() {
    const select = $('country');
    const previous = select.value;
    const others = new Set([...MORE, ...ruleCountries()]);
    for (const cc of MAJORS) others.delete(cc);
    const sorted = [...others].sort((a, b) => countryName(a).localeCompare(countryName(b)));
    replace(select,
      el('option', { value: '' }, 'As looked up (no override)'),
      el('optgroup', { label: 'Main markets' }, MAJORS.map((cc) => el('option', { value: cc }, countryName(cc)))),
      el('optgroup', { label: 'More countries' }, sorted.map((cc) => el('option', { value: cc }, countryName(cc)))));
    select.value = previous;
  }

  function fillVariants(matrix) {
    const keys = new Set();
    for (const cell of (matrix && matrix.cells) || []) {
      for (const v of (cell.campaign && cell.campaign.variants) || []) keys.add(v.key);
    }
    const list = $('variants');
    for (const option of list.querySelectorAll('option')) keys.add(option.value);
    replace(list, [...keys].sort().map((k) => el('option', { value: k })));
  }

  function hideData() {
    for (const id of ['visitor', 'results', 'audit', 'domains', 'skip']) $(id).hidden = true;
    $('link-box').hidden = true;
    state.link = '';
  }

  // ------------------------------------------------------------------------------------
  // Load a handle: entries and rules, then the audit, the domains and a first preview.

  async function connect(event) {
    if (event) event.preventDefault();
    clearError();
    const tokenInput = $('token');
    const handleInput = $('handle');
    const token = tokenInput.value.trim();
    const handle = handleInput.value.trim().toLowerCase();
    tokenInput.removeAttribute('aria-invalid');
    handleInput.removeAttribute('aria-invalid');
    if (!token) {
      showError(new ApiError(0, 'missing_token', 'no token given', null, null), 'load the handle');
      tokenInput.setAttribute('aria-invalid', 'true');
      tokenInput.focus();
      return;
    }
    if (!HANDLE_RE.test(handle)) {
      replace($('error'), el('strong', null, 'Check the handle.'), ' A handle is lower-case letters, digits and “-”, such as gharart.');
      $('error').hidden = false;
      handleInput.setAttribute('aria-invalid', 'true');
      handleInput.focus();
      return;
    }
    handleInput.value = handle;
    const changed = handle !== state.handle || token !== state.token;
    state.token = token;
    state.handle = handle;
    $('connect').disabled = true;
    status(`Loading ${handle}…`);
    let list;
    try {
      list = await api('GET', handlePath('/personalization-rules'));
    } catch (err) {
      showError(err, 'read the rules of this handle');
      status('');
      if (err.status === 401 || err.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = '';
        hideData();
        tokenInput.setAttribute('aria-invalid', 'true');
        tokenInput.setAttribute('aria-describedby', 'error token-hint');
        tokenInput.focus();
      }
      return;
    } finally {
      $('connect').disabled = false;
    }
    tokenInput.setAttribute('aria-describedby', 'token-hint');
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(HANDLE_KEY, handle);
    state.rules = list.rules || [];
    state.entries = Array.isArray(list.entries) && list.entries.length > 0
      ? list.entries
      : [...new Set(state.rules.flatMap((r) => r.entries || []).filter((s) => s !== '*'))].sort().map((slug) => ({ slug }));
    if (changed) $('variants').replaceChildren();
    fillEntries();
    fillCountries();
    $('visitor').hidden = false;
    status(`Loaded ${handle}: ${plural(state.entries.length, 'entry', 'entries')}, ${plural(state.rules.length, 'rule')} (configuration version ${list.version}).`);
    loadAudit();
    loadDomains();
    if (state.entries.length > 0) await preview();
  }

  function forget() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    state.seq += 1;
    $('run').disabled = false;
    $('results').setAttribute('aria-busy', 'false');
    $('token').value = '';
    clearError();
    hideData();
    status('Token forgotten. Paste a token to load a handle again.');
    $('token').focus();
  }

  // ------------------------------------------------------------------------------------
  // Preview: a fresh preview token, then the explain trace and the matrix together.

  async function explainRoute(o, token) {
    let res;
    try {
      res = await fetch(routeUrl(o, token, true), { cache: 'no-store', credentials: 'omit', redirect: 'manual' });
    } catch (e) {
      throw new ApiError(0, 'network', e.message || 'network error', null, null);
    }
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
      throw new ApiError(res.status, 'preview_ignored', 'the route answered with a redirect: the preview token was not accepted, so the overrides were ignored', null, null);
    }
    const requestId = res.headers.get('X-Request-Id');
    if (res.status === 404) throw new ApiError(404, 'entry_not_found', `no entry “${o.entry}” on ${state.handle}`, requestId, null);
    const type = res.headers.get('Content-Type') || '';
    if (!type.includes('json')) {
      throw new ApiError(res.status, `http_${res.status}`, 'the route did not answer with a trace', requestId, null);
    }
    return res.json();
  }

  function matrixPath(o) {
    const params = new URLSearchParams({ entry: o.entry });
    if (o.matrixCountries) params.set('countries', o.matrixCountries);
    if (o.at) params.set('at', o.at);
    return handlePath(`/route-preview?${params}`);
  }

  /** The matrix; the selected country is added as a row when the default rows lack it. */
  async function loadMatrix(o) {
    const m = await api('GET', matrixPath(o));
    if (o.matrixCountries || !o.country || m.countries.includes(o.country) || m.countries.length >= 60) return m;
    const rows = m.countries.filter((c) => c !== null).concat(o.country, m.countries.includes(null) ? ['unknown'] : []);
    return api('GET', matrixPath({ ...o, matrixCountries: rows.join(',') }));
  }

  async function preview(event) {
    if (event) event.preventDefault();
    if (!state.token) {
      showError(new ApiError(0, 'missing_token', 'no token', null, null), 'preview');
      $('token').focus();
      return;
    }
    const o = readForm();
    if (!o.entry) return;
    const seq = ++state.seq;
    const results = $('results');
    results.setAttribute('aria-busy', 'true');
    $('run').disabled = true;
    status(`Previewing ${o.entry}…`);
    try {
      let minted;
      try {
        minted = await api('POST', handlePath('/preview-tokens'));
      } catch (err) {
        if (seq !== state.seq) return;
        showError(err, 'mint a preview token');
        status('');
        return;
      }
      const [trace, matrix] = await Promise.allSettled([explainRoute(o, minted.token), loadMatrix(o)]);
      if (seq !== state.seq) return;
      clearError();
      results.hidden = false;
      $('skip').hidden = false;
      if (trace.status === 'fulfilled') {
        renderResult(trace.value, o);
        renderTrace(trace.value);
        state.link = routeUrl(o, minted.token, false);
        $('link').value = state.link;
        $('link-exp').textContent = localTime(minted.expires_at * 1000);
        $('link-box').hidden = false;
        $('copy-status').textContent = '';
      } else {
        replace($('result-body'), el('p', { class: 'msg msg-error' }, errorBlock(trace.reason, 'explain this route')));
        replace($('trace-body'));
        $('link-box').hidden = true;
      }
      if (matrix.status === 'fulfilled') {
        renderMatrix(matrix.value, o);
        fillVariants(matrix.value);
      } else {
        replace($('matrix-body'), el('p', { class: 'msg msg-error' }, errorBlock(matrix.reason, 'build the matrix')));
      }
      if (trace.status === 'fulfilled') {
        const t = trace.value;
        status(`Preview of ${o.entry}: ${t.rule ? `rule ${t.rule}` : OUTCOME_WORDS[t.outcome] || t.outcome}, ${t.location ? shortUrl(t.location) : 'no destination'}.`);
      } else {
        status('');
        showError(trace.reason, 'explain this route');
      }
    } finally {
      if (seq === state.seq) {
        results.dataset.seq = String(seq);
        results.setAttribute('aria-busy', 'false');
        $('run').disabled = false;
      }
    }
  }

  // ------------------------------------------------------------------------------------
  // Rendering: result, trace, matrix, audit, domains.

  function dl(rows) {
    return el('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  function campaignText(c) {
    if (!c) return null;
    const parts = [`${c.id} (${c.status})`];
    if (c.variant) {
      parts.push(`variant ${c.variant}${c.forced ? ' (forced by the preview)' : ''}`);
      if (typeof c.bucket === 'number') parts.push(`bucket ${c.bucket.toFixed(4)}`);
    } else if (c.no_variant) {
      parts.push(`no variant: ${noVariantText(c.no_variant)}`);
    }
    return parts.join(', ');
  }

  function noVariantText(nv) {
    if (!nv) return '';
    switch (nv.code) {
      case 'inactive':
        return `the campaign is ${nv.status}`;
      case 'not_started':
        return 'the campaign has not started yet';
      case 'crawler':
        return 'crawlers never get a variant';
      case 'variant_unroutable':
        return `variant ${nv.variant} is not routable (${nv.reason && nv.reason.code})`;
      default:
        return String(nv.code || 'unknown').replace(/_/g, ' ');
    }
  }

  function renderResult(t, o) {
    const body = $('result-body');
    const dest = t.location
      ? el('div', { class: 'dest', data: { location: t.location } },
        el('p', { class: 'dest-short' }, shortUrl(t.location)),
        el('p', { class: 'dest-full' }, code(t.location)))
      : el('div', { class: 'dest dest-none' }, el('p', { class: 'dest-short' }, 'No redirect: the safe page'));
    const warnings = [];
    if (!t.preview) warnings.push('The preview token was not accepted, so the overrides were ignored: this is what an ordinary visitor gets.');
    for (const [name, why] of t.rejected_overrides || []) warnings.push(`${name} was ignored: ${why}.`);
    const facts = t.facts || {};
    const who = ['country', 'region', 'device', 'language']
      .map((k) => (facts[k] && facts[k].value ? `${k} ${facts[k].value}` : null)).filter(Boolean).join(', ');
    replace(body,
      el('p', { class: 'lead' }, `${t.entry} for ${who || 'this visitor'}${o.at ? ` at ${localTime(o.at)}` : ''}:`),
      dest,
      warnings.length ? el('ul', { class: 'msg msg-warn' }, warnings.map((w) => el('li', null, w))) : null,
      dl([
        ['Outcome', OUTCOME_WORDS[t.outcome] || t.outcome],
        ['Winning rule', t.rule ? code(t.rule) : 'none'],
        t.campaign ? ['Campaign', campaignText(t.campaign)] : null,
        ['Tracking template', t.template || 'none'],
        ['Snapshot version', String(t.snapshot_version)],
        ['Request id', code(t.request_id)],
      ]));
    body.dataset.rule = t.rule || '';
    body.dataset.location = t.location || '';
  }

  function renderTrace(t) {
    const facts = Object.entries(t.facts || {});
    const factTable = el('table', { class: 'data facts' },
      el('caption', null, 'Facts used, and where each came from'),
      el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Fact'), el('th', { scope: 'col' }, 'Value'), el('th', { scope: 'col' }, 'Source'))),
      el('tbody', null, facts.map(([name, f]) => el('tr', { data: { fact: name } },
        el('th', { scope: 'row' }, name),
        el('td', null, f.value === null || f.value === undefined ? el('span', { class: 'muted' }, 'unknown') : f.value),
        el('td', { class: f.source === 'override' ? 'src-override' : null }, f.source)))));
    const rules = t.rules || [];
    const ruleTable = el('table', { class: 'data rules' },
      el('caption', null, `${plural(rules.length, 'rule')} of ${t.entry}, in evaluation order (priority, then id)`),
      el('thead', null, el('tr', null,
        el('th', { scope: 'col' }, 'Rule'), el('th', { scope: 'col' }, 'Result'), el('th', { scope: 'col' }, 'Why'))),
      el('tbody', null, rules.map((r) => el('tr', { class: `r-${r.result}`, data: { rule: r.id, result: r.result } },
        el('th', { scope: 'row' }, code(r.id), el('span', { class: 'prio' }, `priority ${r.priority}`)),
        el('td', { class: 'result' }, el('span', { class: `res res-${r.result}` }, el('span', { 'aria-hidden': 'true' }, RESULT_MARKS[r.result] || ''), ' ', RESULT_WORDS[r.result] || r.result)),
        el('td', { class: 'why' }, r.reason)))));
    const scroll = (label, table) => el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': label }, table);
    replace($('trace-body'),
      rules.length ? scroll('Rules considered', ruleTable) : el('p', null, 'This entry has no rules: every visitor gets its default destination.'),
      scroll('Facts used', factTable),
      el('p', { class: 'muted small' }, `Handle ${t.handle}, snapshot version ${t.snapshot_version}${t.preview_sub ? `, preview token for ${t.preview_sub}` : ''}.`));
  }

  function legendLabel(item) {
    if (item.kind === 'campaign') return `A/B test ${item.key.replace(/^campaign:/, '')}`;
    if (item.kind === 'safe_page') return 'safe page (nothing routable)';
    return shortUrl(item.key);
  }

  function cellRuleText(cell) {
    if (cell.rule) return cell.rule;
    if (cell.outcome === 'entry_default') return 'entry default';
    if (cell.outcome === 'handle_fallback') return 'handle fallback';
    return cell.outcome.replace(/_/g, ' ');
  }

  function cellDestText(cell, legend) {
    const variants = cell.campaign && cell.campaign.variants;
    if (variants) return variants.map((v) => `${v.key} ${v.weight}%`).join(' · ');
    if (cell.destination) return shortUrl(cell.destination);
    return legendLabel(legend[cell.legend] || { kind: 'safe_page', key: '' });
  }

  function cellTitle(cell) {
    const variants = cell.campaign && cell.campaign.variants;
    if (variants) return variants.map((v) => `${v.key} (${v.weight}%): ${v.location || 'safe page'}`).join('\n');
    const extra = cell.campaign && cell.campaign.no_variant ? ` (campaign ${cell.campaign.id}: ${noVariantText(cell.campaign.no_variant)})` : '';
    return (cell.location || 'safe page') + extra;
  }

  function renderMatrix(m, o) {
    const legend = m.legend || [];
    const byKey = new Map((m.cells || []).map((c) => [`${c.country}|${c.device}`, c]));
    const selected = (country, device) => (o.country ? o.country === country : false) && o.device === device;
    const table = el('table', { class: 'data matrix', data: { entry: m.entry }, 'aria-describedby': 'matrix-about' },
      el('caption', { class: 'sr-only' }, `Where ${m.entry} sends each country and device`),
      el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Country'), m.devices.map((d) => el('th', { scope: 'col', data: { device: d } }, d)))),
      el('tbody', null, m.countries.map((country) => el('tr', { data: { country: country === null ? 'unknown' : country } },
        el('th', { scope: 'row' }, countryName(country)),
        m.devices.map((device) => {
          const cell = byKey.get(`${country}|${device}`);
          if (!cell) return el('td', { class: 'cell' }, '—');
          const sel = selected(country, device);
          const inner = [
            el('span', { class: 'cell-rule' }, cellRuleText(cell)),
            el('span', { class: 'cell-dest' }, breakable(cellDestText(cell, legend))),
            el('span', { class: 'cell-leg' }, `#${cell.legend + 1}`),
            sel ? el('span', { class: 'cell-sel' }, 'your selection') : null,
          ];
          const content = country === null
            ? el('span', { class: 'cell-inner' }, inner)
            : el('button', { type: 'button', class: 'cell-inner cell-btn', data: { country, device }, 'aria-label': `Preview ${countryName(country)}, ${device}: ${cellRuleText(cell)}, ${cellDestText(cell, legend)}, legend ${cell.legend + 1}` }, inner);
          return el('td', {
            class: `cell c${cell.legend % PALETTE}${cell.legend >= PALETTE ? ' alt' : ''}${cell.outcome === 'safe_page' ? ' safe' : ''}${sel ? ' sel' : ''}`,
            title: cellTitle(cell),
            data: { country: country === null ? 'unknown' : country, device, rule: cell.rule || '', legend: String(cell.legend), outcome: cell.outcome },
          }, content);
        })))));
    const legendList = el('ol', { class: 'legend' }, legend.map((item, i) => el('li', { data: { legend: String(i), key: item.key } },
      el('span', { class: `swatch c${i % PALETTE}${i >= PALETTE ? ' alt' : ''}`, 'aria-hidden': 'true' }, `#${i + 1}`),
      el('span', { class: 'legend-text' }, srOnly(`Legend ${i + 1}: `), legendLabel(item), ' ', el('span', { class: 'muted' }, `(${plural(item.cells, 'cell')})`),
        item.kind === 'destination' ? el('span', { class: 'legend-url' }, breakable(item.key)) : null))));
    replace($('matrix-body'),
      el('p', { id: 'matrix-about', class: 'muted small' }, `${m.entry} at ${localTime(m.at)}. Each cell shows the winning rule and where the visitor goes; its colour and number match the legend below. Select a cell to preview that segment.`),
      el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Country by device matrix (scrolls sideways)' }, table),
      el('h3', null, 'Legend'),
      legendList,
      m.omitted_countries && m.omitted_countries.length
        ? el('p', { class: 'muted small' }, `Left out to stay within the matrix limit: ${m.omitted_countries.join(', ')}.`) : null);
  }

  function section(title, count, content, emptyText) {
    return [
      el('h3', null, `${title} (${count})`),
      count ? content : el('p', { class: 'muted' }, emptyText),
    ];
  }

  function renderAudit(a) {
    const s = a.summary || {};
    const collisions = a.priority_collisions || [];
    const shadowed = a.shadowed || [];
    const unroutable = a.unroutable || [];
    const empty = a.empty_condition_sets || [];
    replace($('audit-body'),
      el('p', { class: 'lead' }, [
        plural(s.priority_collisions ?? collisions.length, 'priority collision'), ' · ',
        plural(s.shadowed ?? shadowed.length, 'shadowed rule'), ' · ',
        plural(s.unroutable ?? unroutable.length, 'unroutable destination'), ' · ',
        plural(s.empty_condition_sets ?? empty.length, 'empty condition set'),
      ].join('')),
      section('Priority collisions', collisions.length, el('ul', { class: 'findings' }, collisions.map((c) => el('li', { data: { finding: 'collision', rules: c.rules.join(' ') } },
        el('p', null, el('strong', null, `${c.rules[0]} and ${c.rules[1]}`), ` share priority ${c.priority} in ${c.entries.join(', ')}; `,
          c.wins ? [code(c.wins), ' wins.'] : 'both are skipped.'),
        el('p', { class: 'muted' }, c.why)))), 'No two same-priority rules can hold for one visitor.'),
      section('Shadowed rules', shadowed.length, el('ul', { class: 'findings' }, shadowed.map((r) => el('li', { data: { finding: 'shadowed', rule: r.rule } },
        el('p', null, el('strong', null, r.rule), ` (priority ${r.priority}) can never win ${r.scope === 'everywhere' ? 'anywhere' : `in ${r.shadowed_in.map((x) => x.entry).join(', ')}`}.`),
        el('ul', null, r.shadowed_in.map((x) => el('li', { class: 'muted' }, `${x.entry}: ${x.why}`)))))), 'Every rule can win for some visitor.'),
      section('Unroutable destinations', unroutable.length, el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Unroutable destinations (scrolls sideways)' },
        el('table', { class: 'data' },
          el('caption', { class: 'sr-only' }, 'Destinations visitors cannot be sent to, with why and what happens instead'),
          el('thead', null, el('tr', null, ['Destination', 'Used by', 'Why not routable', 'Effect'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', null, unroutable.map((u) => el('tr', { data: { finding: 'unroutable', kind: u.kind, rules: (u.rules || []).join(' ') } },
            el('th', { scope: 'row' }, code(u.destination)),
            el('td', null, usedBy(u)),
            el('td', null, u.message, ' ', el('span', { class: 'muted' }, `(${u.reason && u.reason.code})`)),
            el('td', null, u.effect)))))), 'Every destination is routable.'),
      section('Empty condition sets', empty.length, el('ul', { class: 'findings' }, empty.map((e) => el('li', null,
        el('strong', null, e.rule), ' ', code(e.path), `: ${e.effect}`))), 'None.'));
    $('audit').hidden = false;
  }

  function usedBy(u) {
    const rules = (u.rules || []).join(', ');
    const entries = (u.entries || []).join(', ');
    switch (u.kind) {
      case 'rule_destination':
        return `rule ${rules}, in ${entries}`;
      case 'campaign_rule_destination':
        return `fallback of campaign rule ${rules}, in ${entries}`;
      case 'variant':
        return `variant ${u.variant} of campaign ${u.campaign}${rules ? ` (rule ${rules})` : ''}, in ${entries}`;
      case 'entry_default':
        return `default of entry ${entries}`;
      case 'handle_fallback':
        return 'the handle fallback';
      default:
        return [u.kind, rules, entries].filter(Boolean).join(', ');
    }
  }

  function renderDomains(d) {
    const rows = d.domains || [];
    replace($('domains-body'),
      el('p', { class: 'muted' }, `Routable = verified AND approved. A manual decision always wins; without one, a risk score under ${d.risk_threshold} counts as approved.`),
      el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Destination domains (scrolls sideways)' },
        el('table', { class: 'data domains' },
          el('caption', { class: 'sr-only' }, 'Destination domains and their trust state'),
          el('thead', null, el('tr', null, ['Domain', 'Verification', 'Decision', 'Risk score', 'Routable'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', null, rows.map((x) => el('tr', { data: { domain: x.domain, routable: String(Boolean(x.routable)) } },
            el('th', { scope: 'row' }, code(x.domain)),
            el('td', null, el('span', { class: `tag v-${x.verification}` }, x.verification)),
            el('td', null, x.decision
              ? [el('span', { class: `tag d-${x.decision.value}` }, x.decision.value), ` by ${x.decision.by}: ${x.decision.reason}`]
              : el('span', { class: 'muted' }, 'none')),
            el('td', { class: 'num' }, typeof x.risk_score === 'number' ? String(x.risk_score) : el('span', { class: 'muted' }, 'unscored')),
            el('td', null, x.routable
              ? el('span', { class: 'tag ok' }, 'yes')
              : [el('span', { class: 'tag no' }, 'no'), ' ', x.reason || (x.not_routable && x.not_routable.code) || ''])))))));
    $('domains').hidden = false;
  }

  async function loadSection(id, path, render, doing) {
    const body = $(`${id}-body`);
    const handle = state.handle;
    replace(body, el('p', { class: 'muted' }, 'Loading…'));
    $(id).hidden = false;
    $(id).dataset.loaded = 'false';
    try {
      const data = await api('GET', path);
      if (state.handle !== handle || !state.token) return;
      render(data);
    } catch (err) {
      if (state.handle !== handle) return;
      replace(body, el('p', { class: 'msg msg-error' }, errorBlock(err, doing)));
      if (err.status === 401) showError(err, doing);
    }
    $(id).dataset.loaded = 'true';
  }

  const loadAudit = () => loadSection('audit', handlePath('/rule-audit'), renderAudit, 'read the rule audit');
  const loadDomains = () => loadSection('domains', handlePath('/destination-domains'), renderDomains, 'read the destination domains');

  // ------------------------------------------------------------------------------------
  // Copying the preview link.

  async function copyLink() {
    const input = $('link');
    const out = $('copy-status');
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
      await navigator.clipboard.writeText(input.value);
      out.textContent = 'Link copied.';
    } catch {
      input.focus();
      input.select();
      out.textContent = 'The link is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
    }
  }

  function pickCell(event) {
    const button = event.target.closest('button.cell-btn');
    if (!button) return;
    $('country').value = button.dataset.country;
    $('device').value = button.dataset.device;
    $('region').value = '';
    preview();
  }

  // ------------------------------------------------------------------------------------

  function init() {
    $('access').addEventListener('submit', connect);
    $('visitor').addEventListener('submit', preview);
    $('forget').addEventListener('click', forget);
    $('copy').addEventListener('click', copyLink);
    $('entry').addEventListener('change', describeEntry);
    $('matrix-body').addEventListener('click', pickCell);
    $('link').addEventListener('focus', (e) => e.target.select());
    fillCountries();
    const saved = sessionStorage.getItem(TOKEN_KEY);
    const savedHandle = sessionStorage.getItem(HANDLE_KEY);
    if (savedHandle && HANDLE_RE.test(savedHandle)) $('handle').value = savedHandle;
    if (saved) {
      $('token').value = saved;
      connect();
    }
    document.documentElement.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
