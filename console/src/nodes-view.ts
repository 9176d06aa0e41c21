// The nodes table: each node's state in the layout and to this console, its keys, the ranges
// of the ring it owns, and what its process uses.

import { colorDot, nodeColor } from './colors.js';
import { h } from './dom.js';
import { bytes, percent } from './format.js';
import type { ClusterView } from './wire.js';

export function nodesView(view: ClusterView): HTMLTableElement {
  const ids = view.layout.nodes.map((n) => n.id);
  const entries = new Map(view.nodes.map((e) => [e.id, e]));
  const rows = view.layout.nodes.map((node) => {
    const entry = entries.get(node.id);
    const v = entry?.view;
    const share = view.ring.shares[node.id];
    const state = v === undefined ? 'down' : 'up';
    return h(
      'tr',
      { 'data-node': node.id, 'data-state': state },
      h(
        'td',
        {},
        colorDot(nodeColor(ids, node.id)),
        node.id === view.self
          ? h('strong', {}, node.id)
          : h('a', { href: `${node.http}/`, title: `open ${node.id}'s console` }, node.id),
        node.id === view.self ? h('span', { class: 'muted small' }, ' this page') : null,
      ),
      h(
        'td',
        { class: `state ${state}`, title: entry?.error ?? '' },
        state,
        node.state === 'member' ? null : h('span', { class: 'tag' }, node.state),
      ),
      h('td', { class: 'num' }, v?.keys ?? '–'),
      h('td', { class: 'num' }, share?.ranges ?? '–'),
      h('td', { class: 'num' }, share === undefined ? '–' : percent(share.primary)),
      h('td', { class: 'num' }, share === undefined ? '–' : percent(share.replica)),
      h('td', { class: 'num' }, v === undefined ? '–' : bytes(v.rssBytes)),
      h('td', { class: 'num' }, v === undefined ? '–' : `${v.cpuPercent.toFixed(0)}%`),
      h('td', { class: 'num' }, v?.hintsPending ?? '–'),
    );
  });
  return h(
    'table',
    { class: 'table', id: 'nodes-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'node'),
        h('th', {}, 'state'),
        h('th', { class: 'num' }, 'keys'),
        h(
          'th',
          { class: 'num', title: 'stretches of the ring whose keys have this node first' },
          'ranges',
        ),
        h('th', { class: 'num', title: 'share of keys this node is first replica of' }, 'primary'),
        h('th', { class: 'num', title: 'share of keys this node holds a replica of' }, 'holds'),
        h('th', { class: 'num' }, 'RSS'),
        h('th', { class: 'num' }, 'CPU'),
        h('th', { class: 'num' }, 'hints'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
}
