// Words and short forms for values from the API: country names, short URLs, local times,
// counts, outcomes and why a campaign assigned no variant.

let regionNames = null;
try {
  regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
} catch {
  regionNames = null;
}

/** What each decision outcome means, in a sentence fragment. */
export const OUTCOME_WORDS = {
  rule: 'a rule won',
  entry_default: "the entry's default destination",
  handle_fallback: "the handle's fallback page (the entry default is not routable)",
  safe_page: "the worker's own safe page (nothing routable)",
  unknown_entry: 'no such entry',
};

/** `India (IN)` for `IN`; `Unknown country` for null. */
export function countryName(cc) {
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
export function shortUrl(url) {
  try {
    const u = new URL(url);
    const path = u.pathname === '/' ? '/' : u.pathname.replace(/\/$/, '');
    return u.host + path;
  } catch {
    return String(url);
  }
}

/** A time (ISO text or milliseconds) in the browser's locale and time zone. */
export function localTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** `1 rule`, `2 rules`, `3 entries`. */
export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || `${one}s`}`;
}

/** Why a campaign assigned no variant (the trace's and the matrix's `no_variant`). */
export function noVariantText(nv) {
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
