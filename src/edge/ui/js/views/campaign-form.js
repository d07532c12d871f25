// Creating a campaign (POST .../campaigns, campaigns:write): id, name, template, traffic
// tags, dates (as UTC) and variants (rows of key, weight and destination; weights sum to
// 100, the first is the control). It is created as a draft; problems come back at their
// fields, e.g. `$.variants[1].weight`.

import { handlePath } from '../api.js';
import { act } from '../actions.js';
import { $, el, replace } from '../dom.js';
import { state } from '../state.js';

let rows = 0;

function variantRow(key = '', weight = '', destination = '') {
  rows += 1;
  const n = rows;
  const field = (name, label, attrs) => el('div', { class: 'field' }, el('label', { for: `cp-v${n}-${name}` }, label),
    el('input', { id: `cp-v${n}-${name}`, name, autocomplete: 'off', spellcheck: 'false', ...attrs }));
  const remove = el('button', { type: 'button', class: 'secondary small-btn', 'aria-label': `Remove variant ${n}` }, 'Remove');
  const row = el('div', { class: 'variant-row grid', data: { row: String(n) } },
    field('key', 'Key', { type: 'text', value: key, autocapitalize: 'off' }),
    field('weight', 'Weight %', { type: 'number', min: '0', max: '100', inputmode: 'numeric', value: weight }),
    field('destination', 'Destination', { type: 'url', value: destination, placeholder: 'https://…' }),
    el('div', { class: 'field end' }, remove));
  remove.addEventListener('click', () => {
    row.remove();
    renumber();
  });
  return row;
}

/** Gives each row's inputs the JSON path of its variant (`$.variants[i].key`). */
function renumber() {
  [...$('cp-variant-rows').children].forEach((row, i) => {
    for (const input of row.querySelectorAll('input')) input.dataset.path = `$.variants[${i}].${input.name}`;
  });
}

function resetVariants() {
  replace($('cp-variant-rows'), variantRow('control', '50'), variantRow('variant-b', '50'));
  renumber();
}

const utc = (v) => (v ? `${v.length === 16 ? `${v}:00` : v}Z` : undefined);

function body() {
  const b = { name: $('cp-name').value.trim(), variants: [] };
  for (const row of $('cp-variant-rows').children) {
    const get = (name) => row.querySelector(`input[name=${name}]`).value.trim();
    b.variants.push({ key: get('key'), weight: Number(get('weight')), destination: get('destination') });
  }
  const id = $('cp-id').value.trim();
  if (id) b.id = id;
  const template = $('cp-template').value.trim();
  if (template) b.template = template;
  const tags = $('cp-tags').value.split(/[\s,;]+/).filter(Boolean);
  if (tags.length) b.traffic_tags = tags;
  const start = utc($('cp-start').value);
  const end = utc($('cp-end').value);
  if (start) b.start_date = start;
  if (end) b.end_date = end;
  return b;
}

/** Wires the form once; `created(campaign)` runs after a campaign was created. */
export function wireCampaignForm(created) {
  if ($('cp-form').dataset.wired) return;
  $('cp-form').dataset.wired = 'true';
  resetVariants();
  $('cp-add-variant').addEventListener('click', () => {
    $('cp-variant-rows').append(variantRow());
    renumber();
    $('cp-variant-rows').lastElementChild.querySelector('input').focus();
  });
  $('cp-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = $('cp-form');
    const b = body();
    const done = await act({
      out: $('cp-out'), form, button: form.querySelector('button[type=submit]'), doing: 'create the campaign',
      method: 'POST', path: handlePath(state.handle, '/campaigns'), body: b,
      message: (r) => `Created campaign ${r.campaign.id} (${r.campaign.status}, configuration version ${r.version}). Its health is shown on its card.`,
    });
    if (!done) return;
    form.reset();
    resetVariants();
    await created(done.json.campaign);
  });
}

/** Offers the handle's templates in the form. */
export function offerTemplates(ids) {
  replace($('cp-templates'), ids.map((id) => el('option', { value: id })));
}
