// The links table: every pair of nodes, each direction's measured round trip, loss and faults.

import { h } from './dom.js';
import { ms } from './format.js';
import { faultWords, type Direction, type Link } from './links.js';

function directionCell(d: Direction): HTMLTableCellElement {
  const lost = d.pingsLost > 0 ? ` · ${d.pingsLost} of ${d.pingsSent} pings lost` : '';
  const faults = faultWords(d);
  return h(
    'td',
    {},
    h('span', { class: 'dir' }, `${d.from}→${d.to} `),
    ms(d.rttMs),
    lost,
    faults === '' ? null : h('span', { class: 'tag faulty' }, faults),
  );
}

export function linksView(links: readonly Link[]): HTMLTableElement {
  return h(
    'table',
    { class: 'table', id: 'links-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'link'),
        h('th', {}, 'state'),
        h('th', {}, 'one way'),
        h('th', {}, 'other way'),
      ),
    ),
    h(
      'tbody',
      {},
      ...links.map((l) =>
        h(
          'tr',
          { 'data-link': `${l.a}-${l.b}`, 'data-state': l.state },
          h('td', {}, `${l.a} ⇄ ${l.b}`),
          h('td', { class: `state ${l.state}` }, l.state),
          directionCell(l.ab),
          directionCell(l.ba),
        ),
      ),
    ),
  );
}
