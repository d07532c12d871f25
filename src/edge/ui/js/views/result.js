// The result panel: where the visitor goes and why in short, and the copyable preview link.

import { $, code, el, replace } from '../dom.js';
import { OUTCOME_WORDS, localTime, noVariantText, shortUrl } from '../format.js';

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

/** Draws the result of trace `t` for the overrides `o`. */
export function renderResult(t, o) {
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

/** Shows the preview link and when its preview token expires (Unix seconds). */
export function showLink(url, expiresAt) {
  $('link').value = url;
  $('link-exp').textContent = localTime(expiresAt * 1000);
  $('link-box').hidden = false;
  $('copy-status').textContent = '';
}

export function hideLink() {
  $('link-box').hidden = true;
}

/** Copies the link; without a clipboard, selects it for Ctrl+C. */
export async function copyLink() {
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
