// Campaign pages: pick a campaign, edit its page document as JSON (the schema from the
// public `.../schema` route is shown beside it, with a skeleton of each block type to
// insert), save the draft (PUT, pages:write) and publish it with an access level (POST
// .../publish). The draft and published revisions are shown with who wrote them and
// when; validation problems come back at the document (`$.document.blocks[1].src`).

import { apiCall, apiRequest, handlePath } from '../api.js';
import { act, failure, formError, showFieldErrors } from '../actions.js';
import { applyScopes, can, cannotRead } from '../access.js';
import { $, code, el, idle, noToken, replace } from '../dom.js';
import { localTime } from '../format.js';
import { state } from '../state.js';
import { errorMessage } from './messages.js';

const view = { campaign: null, page: null, schema: null };
const pagePath = (rest = '') => handlePath(state.handle, `/site-structure/campaigns/${encodeURIComponent(view.campaign)}${rest}`);

/** A value of schema `s` with only its required parts, for a skeleton. */
function skeleton(s, defs) {
  if (s.$ref) return skeleton(defs[s.$ref.split('/').pop()] || {}, defs);
  if (s.const !== undefined) return s.const;
  if (s.type === 'object') return Object.fromEntries((s.required || []).map((k) => [k, skeleton(s.properties[k] || {}, defs)]));
  if (s.type === 'array') return [];
  if (s.type === 'integer' || s.type === 'number') return 0;
  if (s.format === 'date-time') return new Date(Date.now() + 7 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  return s.pattern === '^https://' ? 'https://' : '';
}

function revisionText(label, r) {
  if (!r) return el('p', { data: { revision: label } }, `${label}: none.`);
  return el('p', { data: { revision: label, access: r.access_level } }, el('strong', null, `${label}: `),
    `revision ${r.revision}, `, code(r.access_level), `, written by ${r.updated_by} ${localTime(r.updated_at)}`,
    r.published_at ? `, published by ${r.published_by} ${localTime(r.published_at)}` : '', '.');
}

function drawState(p) {
  view.page = p;
  replace($('pg-state'), el('div', { class: 'panel', data: { campaign: view.campaign, unpublished: String(Boolean(p && p.unpublished_changes)) } },
    p ? [revisionText('Draft', p.draft), revisionText('Published', p.published),
      p.unpublished_changes ? el('p', { class: 'msg msg-warn' }, 'The draft has changes that are not published.') : null]
      : el('p', null, `No page for ${view.campaign} yet: write one below and publish it.`)));
  const rev = p && (p.draft || p.published);
  $('pg-access').value = rev ? rev.access_level : 'FREE_WITH_LOGIN';
  $('pg-doc').value = JSON.stringify(rev ? rev.document : skeleton(view.schema || { type: 'object' }, (view.schema || {}).$defs || {}), null, 2);
}

function drawSchema(s) {
  const defs = s.$defs || {};
  const insert = el('select', { id: 'pg-block', 'aria-label': 'Block type' }, Object.keys(defs).map((k) => el('option', { value: k }, k)));
  const button = el('button', { type: 'button', class: 'secondary' }, 'Insert block');
  button.addEventListener('click', () => {
    try {
      const doc = JSON.parse($('pg-doc').value || '{}');
      doc.blocks = [...(doc.blocks || []), skeleton(defs[insert.value], defs)];
      $('pg-doc').value = JSON.stringify(doc, null, 2);
      $('pg-doc').focus();
    } catch (e) {
      const err = formError([{ path: '$.document', message: `not JSON: ${e.message}` }]);
      failure($('pg-out'), err, 'insert a block', showFieldErrors($('pg-form'), err));
    }
  });
  const props = (x) => el('ul', null, Object.entries(x.properties || {}).map(([k, p]) => el('li', null, code(k),
    (x.required || []).includes(k) ? ' (required)' : '', p.description ? `: ${p.description}` : p.type ? `: ${[].concat(p.type).join(' or ')}` : '')));
  replace($('pg-schema'), el('p', null, s.description || ''), props(s),
    el('h4', null, 'Blocks'), el('ul', null, Object.entries(defs).map(([k, d]) => el('li', null, code(k), ': ', (d.required || []).filter((f) => f !== 'type').join(', ') || 'no required field'))),
    el('div', { class: 'actions' }, insert, button));
}

async function loadPage() {
  replace($('pg-out'));
  $('pg-state').dataset.loaded = 'false';
  await loadPage0();
  $('pg-state').dataset.loaded = 'true';
}

async function loadPage0() {
  if (!view.campaign) {
    replace($('pg-state'), el('p', { class: 'muted' }, 'No campaign yet: create one first.'));
    return;
  }
  try {
    const schema = `/v2/public/handles/${encodeURIComponent(state.handle)}/site-structure/campaigns/${encodeURIComponent(view.campaign)}/schema`;
    view.schema = (await apiCall('GET', schema)).json;
    drawSchema(view.schema);
  } catch (err) {
    replace($('pg-schema'), errorMessage(err, 'read the page schema'));
  }
  try {
    drawState(await apiRequest('GET', pagePath(), state.token));
  } catch (err) {
    if (err.code === 'page_not_found') drawState(null);
    else replace($('pg-state'), errorMessage(err, 'read the page'));
  }
}

function readForm() {
  try {
    return { access_level: $('pg-access').value, document: JSON.parse($('pg-doc').value) };
  } catch (e) {
    const err = formError([{ path: '$.document', message: `not JSON: ${e.message}` }]);
    failure($('pg-out'), err, 'save the page', showFieldErrors($('pg-form'), err));
    return null;
  }
}

async function save(publish) {
  const body = readForm();
  if (!body) return;
  const form = $('pg-form');
  const draft = view.page && view.page.draft;
  const same = draft && draft.access_level === body.access_level && JSON.stringify(draft.document) === JSON.stringify(body.document);
  if (!same) {
    const done = await act({
      out: $('pg-out'), form, button: $('pg-save'), doing: 'save the page', method: 'PUT', path: pagePath(), body,
      message: (p) => `Saved the draft of ${view.campaign} (revision ${p.draft.revision}, ${p.draft.access_level}).`,
    });
    if (!done) return;
    drawState(done.json);
  }
  if (!publish) return;
  const done = await act({
    out: $('pg-out'), form, button: $('pg-publish'), doing: 'publish the page', method: 'POST', path: pagePath('/publish'),
    message: (p) => `Published ${view.campaign}: revision ${p.published.revision}, ${p.published.access_level}.`,
  });
  if (done) drawState(done.json);
}

async function fillCampaigns(arg) {
  const list = await apiRequest('GET', handlePath(state.handle, '/campaigns'), state.token);
  const select = $('pg-campaign');
  replace(select, list.campaigns.map((c) => el('option', { value: c.id }, `${c.name} (${c.id}, ${c.status})`)));
  view.campaign = list.campaigns.some((c) => c.id === arg) ? arg : view.campaign && list.campaigns.some((c) => c.id === view.campaign) ? view.campaign : (list.campaigns[0] || {}).id || null;
  if (view.campaign) select.value = view.campaign;
}

export const pagesView = {
  async show(arg) {
    const section = $('view-pages');
    if (!section.dataset.wired) {
      $('pg-form').addEventListener('submit', (e) => {
        e.preventDefault();
        save(false);
      });
      $('pg-publish').addEventListener('click', () => save(true));
      $('pg-campaign').addEventListener('change', () => {
        view.campaign = $('pg-campaign').value;
        loadPage();
      });
      section.dataset.wired = 'true';
    }
    replace($('pg-out'));
    $('pg-form').hidden = !state.who;
    if (!state.who) return idle($('pg-state'), noToken());
    applyScopes(section);
    if (!can('campaigns:read')) {
      $('pg-form').hidden = true;
      return idle($('pg-state'), cannotRead('campaigns:read', 'read the campaigns and their pages'));
    }
    try {
      $('pg-state').dataset.loaded = 'false';
      await fillCampaigns(arg);
    } catch (err) {
      return idle($('pg-state'), errorMessage(err, 'list the campaigns'));
    }
    return loadPage();
  },
};
