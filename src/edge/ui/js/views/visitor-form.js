// The visitor form: reading the overrides from it, and filling its entry, country and
// variant choices from the loaded handle.

import { $, code, el, replace } from '../dom.js';
import { countryName, shortUrl } from '../format.js';

/** Countries offered besides those the rules name (majors first, in this order). */
const MAJORS = ['IN', 'AE', 'GB', 'US', 'DE'];
const MORE = ['SA', 'QA', 'KW', 'OM', 'BH', 'FR', 'IT', 'ES', 'NL', 'BE', 'AT', 'IE', 'PT', 'SE',
  'DK', 'FI', 'PL', 'CZ', 'GR', 'RO', 'HU', 'CH', 'NO', 'CA', 'AU', 'NZ', 'SG', 'MY', 'ID', 'TH',
  'JP', 'CN', 'HK', 'KR', 'NP', 'BD', 'LK', 'PK', 'ZA', 'NG', 'KE', 'EG', 'TR', 'BR', 'MX', 'AR'];

/** The form as overrides: `{ entry, country, region, device, lang, at (ISO), variant, matrixCountries }`. */
export function readForm() {
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

/** Selects a segment (a matrix cell): its country and device, no region. */
export function selectSegment({ country, device }) {
  $('country').value = country;
  $('device').value = device;
  $('region').value = '';
}

/** Offers `entries`, keeping the selected one when it is still there. */
export function fillEntries(entries) {
  const select = $('entry');
  const previous = select.value;
  replace(select, entries.map((e) => el('option', { value: e.slug }, e.slug)));
  if (entries.some((e) => e.slug === previous)) select.value = previous;
  describeEntry(entries);
}

/** The hint under the entry: its description and default destination. */
export function describeEntry(entries) {
  const entry = entries.find((e) => e.slug === $('entry').value);
  const hint = $('entry-hint');
  if (!entry) {
    hint.textContent = '';
    return;
  }
  replace(hint, entry.description ? `${entry.description}. ` : '', entry.default ? ['Default: ', code(shortUrl(entry.default))] : '');
}

function ruleCountries(rules) {
  const found = new Set();
  for (const rule of rules) {
    const test = rule.conditions && rule.conditions.country;
    if (!test) continue;
    for (const list of [test.in, test.not_in]) for (const cc of list || []) found.add(String(cc).toUpperCase());
  }
  return found;
}

/** Offers the main markets, then every other country the list or the `rules` name. */
export function fillCountries(rules) {
  const select = $('country');
  const previous = select.value;
  const others = new Set([...MORE, ...ruleCountries(rules)]);
  for (const cc of MAJORS) others.delete(cc);
  const sorted = [...others].sort((a, b) => countryName(a).localeCompare(countryName(b)));
  replace(select,
    el('option', { value: '' }, 'As looked up (no override)'),
    el('optgroup', { label: 'Main markets' }, MAJORS.map((cc) => el('option', { value: cc }, countryName(cc)))),
    el('optgroup', { label: 'More countries' }, sorted.map((cc) => el('option', { value: cc }, countryName(cc)))));
  select.value = previous;
}

/** Adds the variant keys of the matrix's campaigns to those already suggested. */
export function fillVariants(matrix) {
  const keys = new Set();
  for (const cell of (matrix && matrix.cells) || []) {
    for (const v of (cell.campaign && cell.campaign.variants) || []) keys.add(v.key);
  }
  const list = $('variants');
  for (const option of list.querySelectorAll('option')) keys.add(option.value);
  replace(list, [...keys].sort().map((k) => el('option', { value: k })));
}

/** Forgets the suggested variant keys (another handle or token). */
export function clearVariants() {
  $('variants').replaceChildren();
}
