// The client of this origin's API. Management calls carry the token as a bearer header
// (never in a URL, never with cookies), and every failure becomes an ApiError with the
// API's stable code and request id: from the error envelope
// `{"error": {"code", "message", "request_id"}}` when there is one, else from the HTTP
// status and the X-Request-Id header. A network failure is status 0, code `network`.

/** A failed call: HTTP status (0: none), stable code, message, request id, Retry-After. */
export class ApiError extends Error {
  constructor(status, code, message, requestId, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

const networkError = (e) => new ApiError(0, 'network', e.message || 'network error', null, null);

/** `/v2/handles/{handle}{rest}`. */
export const handlePath = (handle, rest) => `/v2/handles/${encodeURIComponent(handle)}${rest}`;

/** Calls the management API with `token`; resolves to the JSON body, rejects with an ApiError. */
export async function apiRequest(method, path, token) {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  let res;
  try {
    res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw networkError(e);
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
    throw new ApiError(res.status, 'preview_ignored', 'the route answered with a redirect: the preview token was not accepted, so the overrides were ignored', null, null);
  }
  const requestId = res.headers.get('X-Request-Id');
  if (res.status === 404) throw new ApiError(404, 'entry_not_found', `no entry “${entry}” on ${handle}`, requestId, null);
  const type = res.headers.get('Content-Type') || '';
  if (!type.includes('json')) {
    throw new ApiError(res.status, `http_${res.status}`, 'the route did not answer with a trace', requestId, null);
  }
  return res.json();
}
