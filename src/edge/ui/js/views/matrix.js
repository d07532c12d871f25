// The country × device matrix: one cell per segment with the winning rule and where the
// visitor goes, coloured and numbered by the legend. A cell is a button that previews its
// segment.

import { $, breakable, el, replace, scrollRegion, srOnly } from '../dom.js';
import { countryName, localTime, noVariantText, plural, shortUrl } from '../format.js';

/** Number of colour classes in app.css (`.c0` … `.c11`). */
const PALETTE = 12;

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

/** The colour classes of legend item `i` (stripes once the palette repeats). */
const colour = (i) => `c${i % PALETTE}${i >= PALETTE ? ' alt' : ''}`;

function renderCell(cell, country, device, legend, selected) {
  if (!cell) return el('td', { class: 'cell' }, '—');
  const inner = [
    el('span', { class: 'cell-rule' }, cellRuleText(cell)),
    el('span', { class: 'cell-dest' }, breakable(cellDestText(cell, legend))),
    el('span', { class: 'cell-leg' }, `#${cell.legend + 1}`),
    selected ? el('span', { class: 'cell-sel' }, 'your selection') : null,
  ];
  const content = country === null
    ? el('span', { class: 'cell-inner' }, inner)
    : el('button', { type: 'button', class: 'cell-inner cell-btn', data: { country, device }, 'aria-label': `Preview ${countryName(country)}, ${device}: ${cellRuleText(cell)}, ${cellDestText(cell, legend)}, legend ${cell.legend + 1}` }, inner);
  return el('td', {
    class: `cell ${colour(cell.legend)}${cell.outcome === 'safe_page' ? ' safe' : ''}${selected ? ' sel' : ''}`,
    title: cellTitle(cell),
    data: { country: country === null ? 'unknown' : country, device, rule: cell.rule || '', legend: String(cell.legend), outcome: cell.outcome },
  }, content);
}

/** Draws route-preview `m`, marking the segment the overrides `o` select. */
export function renderMatrix(m, o) {
  const legend = m.legend || [];
  const byKey = new Map((m.cells || []).map((c) => [`${c.country}|${c.device}`, c]));
  const selected = (country, device) => (o.country ? o.country === country : false) && o.device === device;
  const table = el('table', { class: 'data matrix', data: { entry: m.entry }, 'aria-describedby': 'matrix-about' },
    el('caption', { class: 'sr-only' }, `Where ${m.entry} sends each country and device`),
    el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Country'), m.devices.map((d) => el('th', { scope: 'col', data: { device: d } }, d)))),
    el('tbody', null, m.countries.map((country) => el('tr', { data: { country: country === null ? 'unknown' : country } },
      el('th', { scope: 'row' }, countryName(country)),
      m.devices.map((device) => renderCell(byKey.get(`${country}|${device}`), country, device, legend, selected(country, device)))))));
  const legendList = el('ol', { class: 'legend' }, legend.map((item, i) => el('li', { data: { legend: String(i), key: item.key } },
    el('span', { class: `swatch ${colour(i)}`, 'aria-hidden': 'true' }, `#${i + 1}`),
    el('span', { class: 'legend-text' }, srOnly(`Legend ${i + 1}: `), legendLabel(item), ' ', el('span', { class: 'muted' }, `(${plural(item.cells, 'cell')})`),
      item.kind === 'destination' ? el('span', { class: 'legend-url' }, breakable(item.key)) : null))));
  replace($('matrix-body'),
    el('p', { id: 'matrix-about', class: 'muted small' }, `${m.entry} at ${localTime(m.at)}. Each cell shows the winning rule and where the visitor goes; its colour and number match the legend below. Select a cell to preview that segment.`),
    scrollRegion('Country by device matrix (scrolls sideways)', table),
    el('h3', null, 'Legend'),
    legendList,
    m.omitted_countries && m.omitted_countries.length
      ? el('p', { class: 'muted small' }, `Left out to stay within the matrix limit: ${m.omitted_countries.join(', ')}.`) : null);
}

/** Calls `pick({ country, device })` when a cell's button is chosen. */
export function onCellPicked(pick) {
  $('matrix-body').addEventListener('click', (event) => {
    const button = event.target.closest('button.cell-btn');
    if (button) pick({ country: button.dataset.country, device: button.dataset.device });
  });
}
