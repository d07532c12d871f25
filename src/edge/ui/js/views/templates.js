// Tracking templates: every template's parameters and precedence, which one is the
// handle's default, and a form to create or replace one (POST .../tracking-templates,
// templates:write; the same id replaces). Problems come back at their fields.

import { handlePath } from '../api.js';
import { act, failure, formError, showFieldErrors } from '../actions.js';
import { actionButton, applyScopes, can, cannotRead } from '../access.js';
import { $, code, el, idle, noToken, replace, scrollRegion } from '../dom.js';
import { loadInto } from '../panel.js';
import { state } from '../state.js';

const path = () => handlePath(state.handle, '/tracking-templates');

/** `name=value` lines as an object; a line without `=` is a problem at `$.params`. */
function parseParams(text) {
  const params = {};
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf('=');
    if (at < 1) throw formError([{ path: '$.params', message: `line ${i + 1} is not name=value` }]);
    params[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return params;
}

function fill(t) {
  $('tp-id').value = t.id;
  $('tp-params').value = Object.entries(t.params).map(([k, v]) => `${k}=${v}`).join('\n');
  $('tp-precedence').value = (t.precedence || []).join(', ');
  $('tp-form-title').textContent = `Replace template ${t.id}`;
  $('tp-id').focus();
}

function card(t, isDefault) {
  return el('article', { class: 'card template', data: { template: t.id } },
    el('h3', null, code(t.id), isDefault ? el('span', { class: 'tag ok' }, 'default') : null),
    scrollRegion(`Parameters of ${t.id}`, el('table', { class: 'data' },
      el('caption', { class: 'sr-only' }, `Parameters of ${t.id}`),
      el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Parameter'), el('th', { scope: 'col' }, 'Value'))),
      el('tbody', null, Object.entries(t.params).map(([k, v]) => el('tr', { data: { param: k } }, el('th', { scope: 'row' }, code(k)), el('td', null, code(v))))))),
    el('p', { class: 'muted small' }, `Precedence: ${(t.precedence || ['destination', 'template', 'visitor']).join(' → ')}${t.precedence ? '' : ' (default)'}.`),
    el('div', { class: 'actions' }, actionButton('Edit', 'templates:write', () => fill(t), { class: 'secondary', 'aria-label': `Edit template ${t.id}` })));
}

async function load() {
  await loadInto($('tp-list'), path(), 'read the tracking templates', (list) => [
    el('p', { class: 'muted' }, `${list.templates.length} templates, configuration version ${list.version}.`),
    el('div', { class: 'cards' }, list.templates.map((t) => card(t, t.id === list.default_template))),
  ]);
}

async function save(e) {
  e.preventDefault();
  const form = $('tp-form');
  let body;
  try {
    body = { id: $('tp-id').value.trim(), params: parseParams($('tp-params').value) };
  } catch (err) {
    failure($('tp-out'), err, 'save the template', showFieldErrors(form, err));
    return;
  }
  const precedence = $('tp-precedence').value.split(/[\s,;]+/).filter(Boolean);
  if (precedence.length) body.precedence = precedence;
  const done = await act({
    out: $('tp-out'), form, button: form.querySelector('button[type=submit]'), doing: `save template ${body.id}`,
    method: 'POST', path: path(), body,
    message: (r) => [`${r.created ? 'Created' : 'Replaced'} template `, code(body.id), ` (configuration version ${r.version}). Campaigns using it: check their health.`],
  });
  if (done) {
    form.reset();
    $('tp-form-title').textContent = 'Create or replace a template';
    await load();
  }
}

export const templatesView = {
  show() {
    const section = $('view-templates');
    if (!section.dataset.wired) {
      $('tp-form').addEventListener('submit', save);
      $('tp-form').addEventListener('reset', () => {
        $('tp-form-title').textContent = 'Create or replace a template';
      });
      section.dataset.wired = 'true';
    }
    replace($('tp-out'));
    if (!state.who) return idle($('tp-list'), noToken());
    applyScopes(section);
    if (!can('templates:read')) return idle($('tp-list'), cannotRead('templates:read', 'list the tracking templates'));
    return load();
  },
};
