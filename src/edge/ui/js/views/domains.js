// The destination domains and their trust state: verification, manual decision, risk
// score, and whether visitors may be sent there (and why not).

import { $, code, el, replace, scrollRegion } from '../dom.js';

function routableCell(x) {
  return x.routable
    ? el('span', { class: 'tag ok' }, 'yes')
    : [el('span', { class: 'tag no' }, 'no'), ' ', x.reason || (x.not_routable && x.not_routable.code) || ''];
}

/** Draws destination-domains listing `d`. */
export function renderDomains(d) {
  const rows = d.domains || [];
  replace($('domains-body'),
    el('p', { class: 'muted' }, `Routable = verified AND approved. A manual decision always wins; without one, a risk score under ${d.risk_threshold} counts as approved.`),
    scrollRegion('Destination domains (scrolls sideways)',
      el('table', { class: 'data domains' },
        el('caption', { class: 'sr-only' }, 'Destination domains and their trust state'),
        el('thead', null, el('tr', null, ['Domain', 'Verification', 'Decision', 'Risk score', 'Routable'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', null, rows.map((x) => el('tr', { data: { domain: x.domain, routable: String(Boolean(x.routable)) } },
          el('th', { scope: 'row' }, code(x.domain)),
          el('td', null, el('span', { class: `tag v-${x.verification}` }, x.verification)),
          el('td', null, x.decision
            ? [el('span', { class: `tag d-${x.decision.value}` }, x.decision.value), ` by ${x.decision.by}: ${x.decision.reason}`]
            : el('span', { class: 'muted' }, 'none')),
          el('td', { class: 'num' }, typeof x.risk_score === 'number' ? String(x.risk_score) : el('span', { class: 'muted' }, 'unscored')),
          el('td', null, routableCell(x))))))));
  $('domains').hidden = false;
}
