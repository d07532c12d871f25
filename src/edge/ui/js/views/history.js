// The change history (history:read): every configuration version, newest first, with who
// wrote it, when, through which route, its request id and an outline of what changed;
// one version's whole diff (per collection: ids added and removed, each changed item's
// fields before and after); and restoring a version (admin): it is written again as a
// new version through the trust rules (domains keep their trust state now), and visitors
// get it within the snapshot TTL. A worker without the history routes says so.

import { apiCall, handlePath } from '../api.js';
import { act } from '../actions.js';
import { actionButton, can, cannotRead } from '../access.js';
import { $, code, el, idle, noToken, replace } from '../dom.js';
import { diffTable } from '../diff.js';
import { localTime } from '../format.js';
import { state } from '../state.js';
import { errorMessage } from './messages.js';

const COLLECTIONS = ['rules', 'domains', 'templates', 'campaigns', 'entries'];
const path = (rest = '') => handlePath(state.handle, `/changes${rest}`);
const view = { current: null, pages: [] };

function outline(summary) {
  const parts = [];
  for (const c of COLLECTIONS) {
    const s = (summary || {})[c];
    if (!s) continue;
    for (const what of ['added', 'changed', 'removed']) if (s[what] && s[what].length) parts.push(`${c} ${what}: ${s[what].join(', ')}`);
  }
  if (summary && summary.settings && summary.settings.length) parts.push(`settings: ${summary.settings.join(', ')}`);
  return parts.length ? parts.join(' · ') : 'no change to the configuration';
}

const unavailable = (err) => el('p', { class: 'msg msg-warn', data: { state: 'unavailable' } },
  'The change history is not available on this worker yet. ', el('span', { class: 'ref' }, 'Request id ', code(err.requestId || '?'), '.'));

/** A restore's warnings: what the trust rules kept, then the configuration's own. */
function warnings(list) {
  if (!list.length) return null;
  const kept = list.filter((w) => w.code === 'ignored_trust_field');
  const item = (w) => el('li', null, code(w.path), `: ${w.message}`);
  return [
    kept.length ? el('p', null, `Domains keep their trust state now: ${kept.length} trust field${kept.length === 1 ? '' : 's'} of that version ignored.`) : null,
    el('details', null, el('summary', null, `${list.length} warning${list.length === 1 ? '' : 's'}`), el('ul', { class: 'problems' }, list.map(item))),
  ];
}

function restoreButton(version, label) {
  return actionButton(label, 'admin', async (e) => {
    const button = e.currentTarget;
    if (version === view.current) return;
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = `Confirm: restore version ${version}`;
      return;
    }
    const done = await act({
      out: $('hs-out'), button, doing: `restore version ${version}`, method: 'POST', path: path(`/${version}/restore`),
      message: (r) => [`Restored version ${r.restored_from} as version ${r.version}: visitors get it within the snapshot TTL.`, warnings(r.warnings || [])],
    });
    if (done) {
      replace($('hs-detail'));
      await load();
      $('hs-out').focus();
    }
  }, { class: 'secondary', data: { restore: String(version) }, disabled: version === view.current });
}

/** The restore button, or a note on the current version (nothing to restore). */
function restoreOrCurrent(version, label) {
  return version === view.current ? el('span', { class: 'muted small' }, 'This is the current configuration.') : restoreButton(version, label);
}

function entry(c) {
  const show = el('button', { type: 'button', class: 'secondary', 'aria-label': `What changed in version ${c.version}` }, 'What changed');
  show.addEventListener('click', () => detail(c.version));
  return el('li', { class: 'card change', data: { version: String(c.version), kind: c.kind } },
    el('p', null, el('strong', null, `Version ${c.version}`), ' ', el('span', { class: `tag k-${c.kind}` }, c.kind),
      c.version === view.current ? el('span', { class: 'tag ok' }, 'current') : null,
      c.restored_from ? ` (restores version ${c.restored_from})` : ''),
    el('p', { class: 'muted small' }, `${localTime(c.at)} by ${c.subject}`, c.route ? [', ', code(c.route)] : '',
      c.request_id ? [', request id ', code(c.request_id)] : ''),
    el('p', { class: 'change-outline' }, outline(c.summary)),
    el('div', { class: 'actions' }, show, restoreOrCurrent(c.version, `Restore version ${c.version}`)));
}

async function detail(version) {
  const box = $('hs-detail');
  replace(box, el('p', { class: 'muted' }, 'Loading…'));
  try {
    const { json, requestId } = await apiCall('GET', path(`/${version}`), { token: state.token });
    const c = json.change;
    const d = c.diff || {};
    const sections = COLLECTIONS.filter((k) => d[k]).map((k) => el('section', { class: 'diff-part', data: { collection: k } },
      el('h4', null, k),
      d[k].added && d[k].added.length ? el('p', null, 'Added: ', d[k].added.map((id, i) => [i ? ', ' : '', code(id)])) : null,
      d[k].removed && d[k].removed.length ? el('p', null, 'Removed: ', d[k].removed.map((id, i) => [i ? ', ' : '', code(id)])) : null,
      (d[k].changed || []).map((item) => diffTable(item.fields, `${k}: ${item.id}`))));
    replace(box, el('div', { class: 'panel', role: 'region', 'aria-label': `Version ${version}`, data: { version: String(version) } },
      el('h3', { tabindex: '-1', id: 'hs-detail-title' }, `What version ${version} changed`),
      el('p', { class: 'muted small' }, `${c.kind} ${localTime(c.at)} by ${c.subject}; request id `, code(c.request_id || requestId || '?'), '.'),
      sections.length ? sections : el('p', null, c.kind === 'baseline' ? 'A baseline: the configuration as first recorded; nothing to compare with.' : 'No collection changed.'),
      d.settings && d.settings.length ? diffTable(d.settings, 'Handle settings') : null,
      d.truncated ? el('p', { class: 'msg msg-warn' }, 'The diff is long: part of it is left out.') : null,
      el('div', { class: 'actions' }, restoreOrCurrent(version, `Restore version ${version}`),
        c.version_before ? restoreOrCurrent(c.version_before, `Undo: restore version ${c.version_before}`) : null)));
    $('hs-detail-title').focus();
  } catch (err) {
    replace(box, err.code === 'route_not_found' ? unavailable(err) : errorMessage(err, 'read that version'));
  }
}

async function load(before) {
  const list = $('hs-list');
  list.dataset.loaded = 'false';
  try {
    const { json, requestId } = await apiCall('GET', path(`?limit=20${before ? `&before=${before}` : ''}`), { token: state.token });
    view.current = json.version;
    const more = el('button', { type: 'button', class: 'secondary' }, 'Older changes');
    more.addEventListener('click', () => load(json.next_before));
    replace(list, el('p', { class: 'muted' }, `Current version ${json.version}. Read with request id `, code(requestId || '?'), '.'),
      el('ol', { class: 'changes', 'aria-label': 'Changes, newest first' }, json.changes.map(entry)),
      json.next_before ? el('div', { class: 'actions' }, more) : null,
      can('admin') ? null : el('p', { class: 'muted small' }, 'Restoring needs the scope ', code('admin'), '.'));
  } catch (err) {
    replace(list, err.code === 'route_not_found' ? unavailable(err) : errorMessage(err, 'read the change history'));
  }
  list.dataset.loaded = 'true';
}

export const historyView = {
  show() {
    replace($('hs-out'));
    replace($('hs-detail'));
    if (!state.who) return idle($('hs-list'), noToken());
    if (!can('history:read')) return idle($('hs-list'), cannotRead('history:read', 'read the change history'));
    return load();
  },
};
