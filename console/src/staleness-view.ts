// Staleness as reads met it, per node and read level: stale replies (a replica that lacked a
// version another asked replica held) over the node's window and since it started, and how far
// behind they were. The same reports as kvorum_stale_replies_total and
// kvorum_read_staleness_seconds, so the page and /metrics agree.

import { h } from './dom.js';
import { ms, rate } from './format.js';
import type { ClusterView } from './wire.js';

export function stalenessView(view: ClusterView): HTMLTableElement {
  const rows: HTMLTableRowElement[] = [];
  let windowMs: number | undefined;
  for (const entry of view.nodes) {
    const levels = entry.view?.staleness.levels ?? [];
    windowMs ??= entry.view?.staleness.windowMs;
    if (levels.length === 0) {
      rows.push(
        h(
          'tr',
          { 'data-node': entry.id, class: 'quiet' },
          h('td', {}, entry.id),
          h(
            'td',
            { colspan: 6, class: 'muted' },
            entry.view === undefined
              ? `no figures: ${entry.error ?? 'did not answer'}`
              : 'no stale replies met since it started',
          ),
        ),
      );
      continue;
    }
    levels.forEach((f, i) => {
      rows.push(
        h(
          'tr',
          { 'data-node': entry.id, 'data-level': f.level, 'data-replies': f.replies },
          h('td', {}, i === 0 ? entry.id : ''),
          h('td', {}, `read ${f.level}`),
          h('td', { class: 'num' }, rate(f.perSecond)),
          h('td', { class: 'num' }, f.replies),
          h('td', { class: 'num' }, f.total),
          h('td', { class: 'num', 'data-lag': 'p50' }, ms(f.lagP50Ms)),
          h('td', { class: 'num', 'data-lag': 'p99' }, ms(f.lagP99Ms)),
        ),
      );
    });
  }
  const windowLabel = windowMs === undefined ? 'window' : `last ${windowMs / 1000} s`;
  return h(
    'table',
    { class: 'table', id: 'staleness-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'node'),
        h('th', {}, 'level'),
        h('th', { class: 'num' }, 'stale/s'),
        h('th', { class: 'num' }, windowLabel),
        h('th', { class: 'num' }, 'since start'),
        h('th', { class: 'num', title: 'how far behind (HLC wall time), p50' }, 'behind p50'),
        h('th', { class: 'num', title: 'how far behind (HLC wall time), p99' }, 'p99'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}
