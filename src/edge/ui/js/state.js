// What the page holds: the management token and handle (also in this tab's
// sessionStorage, never in localStorage or a URL), who the token is (`whoami`: subject
// and scopes), the loaded handle's entries and rules, and a sequence number that lets
// only the newest preview draw its results.

const TOKEN_KEY = 'edgeRouterPreview.token';
const HANDLE_KEY = 'edgeRouterPreview.handle';

/** A handle as the API names them. */
export const HANDLE_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const state = { token: '', handle: '', who: null, entries: [], rules: [], seq: 0, link: '' };

const SESSION_KEY = 'edgeRouterConsole.session';

/** This tab's session id (for support reports): random, kept in sessionStorage. */
export function sessionId() {
  let id = sessionStorage.getItem(SESSION_KEY);
  if (!id) {
    id = `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    sessionStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

/** The token and handle kept in this tab, if any (a malformed handle is dropped). */
export function savedSession() {
  const handle = sessionStorage.getItem(HANDLE_KEY);
  return { token: sessionStorage.getItem(TOKEN_KEY), handle: handle && HANDLE_RE.test(handle) ? handle : null };
}

/** Keeps a token the API accepted, with its handle, for this tab. */
export function rememberSession(token, handle) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(HANDLE_KEY, handle);
}

/** Drops the token, from memory and from the tab. */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  state.who = null;
}

/** Takes a rules listing: its rules, and its entries (or the slugs the rules name). */
export function setHandleData(list) {
  state.rules = list.rules || [];
  state.entries = Array.isArray(list.entries) && list.entries.length > 0
    ? list.entries
    : [...new Set(state.rules.flatMap((r) => r.entries || []).filter((s) => s !== '*'))].sort().map((slug) => ({ slug }));
}

/** Starts a preview: its sequence number. */
export const nextPreview = () => ++state.seq;

/** Whether `seq` is still the newest preview (none started or cancelled since). */
export const isCurrent = (seq) => seq === state.seq;

/** Makes any preview under way stale: it will not draw its results. */
export function cancelPreviews() {
  state.seq += 1;
}
