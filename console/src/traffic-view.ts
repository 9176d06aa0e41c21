// Traffic as clients see it, per node and consistency level, over the node's sliding window:
// requests per second, p50/p99, and how the answers split into 2xx / 503 / 504 / other.

import { h } from './dom.js';
import { ms, percent, rate } from './format.js';
import type { ClusterView, StatusClass, TrafficFigures } from './wire.js';

const CLASSES: readonly StatusClass[] = ['2xx', '503', '504', 'other'];

/** The share bar: one segment per status class, widths set through the CSSOM (CSP). */
function shareBar(f: TrafficFigures): HTMLDivElement {
  const bar = h('div', { class: 'share-bar' });
  for (const c of CLASSES) {
    const n = f.statuses[c];
    if (n === 0) continue;
    const seg = h('span', { class: `seg s${c}`, title: `${c}: ${n} of ${f.requests}` });
    seg.style.width = percent(n / f.requests, 2);
    bar.appendChild(seg);
  }
  return bar;
}

function shareWords(f: TrafficFigures): HTMLSpanElement[] {
  return CLASSES.filter((c) => f.statuses[c] > 0).map((c) =>
    h(
      'span',
      {
        class: `share s${c}`,
        'data-status': c,
        'data-share': (f.statuses[c] / f.requests).toFixed(4),
      },
      `${c} ${percent(f.statuses[c] / f.requests)}`,
    ),
  );
}

export function trafficView(view: ClusterView): HTMLTableElement {
  const rows: HTMLTableRowElement[] = [];
  for (const entry of view.nodes) {
    const levels = entry.view?.traffic.levels ?? [];
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
              : `no requests in the last ${entry.view.traffic.windowMs / 1000} s`,
          ),
        ),
      );
      continue;
    }
    levels.forEach((f, i) => {
      rows.push(
        h(
          'tr',
          { 'data-node': entry.id, 'data-level': f.level },
          h('td', {}, i === 0 ? entry.id : ''),
          h('td', {}, f.level),
          h('td', { class: 'num' }, rate(f.perSecond)),
          h('td', { class: 'num' }, ms(f.p50Ms)),
          h('td', { class: 'num' }, ms(f.p99Ms)),
          h('td', {}, shareBar(f)),
          h('td', { class: 'shares' }, ...shareWords(f)),
        ),
      );
    });
  }
  return h(
    'table',
    { class: 'table', id: 'traffic-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'node'),
        h('th', {}, 'level'),
        h('th', { class: 'num' }, 'req/s'),
        h('th', { class: 'num' }, 'p50'),
        h('th', { class: 'num' }, 'p99'),
        h('th', {}, 'answers'),
        h('th', {}, ''),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}
