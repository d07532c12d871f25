// The client of this origin's API. Management calls carry the token as a bearer header
// (never in a URL, never with cookies), and every failure becomes an ApiError with the
// API's stable code, request id and details: from the error envelope
// `{"error": {"code", "message", "request_id", "details"}}` when there is one, else from
// the HTTP status and the X-Request-Id header. A network failure is status 0, code
// `network`. Every call, good or bad, is noted in `calls` (the support form lists them).

/** A failed call: HTTP status (0: none), stable code, message, request id, Retry-After, details. */
export class ApiError extends Error {
  constructor(status, code, message, requestId, retryAfter, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.details = details;
  }
}

/** The last calls of this tab, newest first: `{ at, method, path, status, code, requestId }`. */
export const calls = [];

function note(method, path, status, code, requestId) {
  calls.unshift({ at: Date.now(), method, path: path.split('?')[0], status, code, requestId });
  calls.length = Math.min(calls.length, 30);
}

const networkError = (e) => new ApiError(0, 'network', e.message || 'network error', null, null, null);

/** `/v2/handles/{handle}{rest}`. */
export const handlePath = (handle, rest) => `/v2/handles/${encodeURIComponent(handle)}${rest}`;

/** A fresh Idempotency-Key. */
export const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `k-${Date.now()}-${Math.random().toString(36).slice(2)}`);

/**
 * Calls the API: `token` (omitted for public routes), a JSON `body`, an Idempotency-Key
 * `key`. Resolves to `{ json, status, requestId, replayed }`; rejects with an ApiError.
 */
export async function apiCall(method, path, { token, body, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers['Idempotency-Key'] = key;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    note(method, path, 0, 'network', null);
    throw networkError(e);
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  const requestId = res.headers.get('X-Request-Id');
  if (!res.ok) {
    const e = json && json.error ? json.error : {};
    const error = new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText || 'request failed',
      e.request_id || requestId, res.headers.get('Retry-After'), e.details);
    note(method, path, res.status, error.code, error.requestId);
    throw error;
  }
  note(method, path, res.status, null, requestId);
  return { json, status: res.status, requestId, replayed: res.headers.get('Idempotent-Replayed') === 'true' };
}

/** Calls the management API with `token`; resolves to the JSON body, rejects with an ApiError. */
export async function apiRequest(method, path, token) {
  return (await apiCall(method, path, { token })).json;
}

/**
 * The explain trace of a visitor route (`url` has `__preview` and `__explain=1`): no
 * management token, no redirect followed. A redirect means the preview token was refused.
 */
export async function fetchTrace(url, { handle, entry }) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-store', credentials: 'omit', redirect: 'manual' });
  } catch (e) {
    throw networkError(e);
  }
  if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
    throw new ApiError(res.status, 'preview_ignored', 'the route answered with a redirect: the preview token was not accepted, so the overrides were ignored', null, null, null);
  }
  const requestId = res.headers.get('X-Request-Id');
  if (res.status === 404) throw new ApiError(404, 'entry_not_found', `no entry “${entry}” on ${handle}`, requestId, null, null);
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('json')) {
    throw new ApiError(res.status, `http_${res.status}`, 'the route did not answer with a trace', requestId, null, null);
  }
  return res.json();
}
