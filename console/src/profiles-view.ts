// What each profile promises (README, "Profiles and what they promise"), beside the traffic it
// explains. The levels and switches come from the node (the code's PROFILES); the sentences
// say what they mean for a client during a partition.

import { h } from './dom.js';
import type { ClusterView } from './wire.js';

const PROMISES: Readonly<Record<string, string>> = {
  cp: 'Linearizable reads and writes. A minority side answers 503 at once and writes nothing: no stale reads, no lost acknowledged writes.',
  quorum:
    "Dynamo's default, R+W>N: a read at the default levels sees the latest acknowledged write. A minority side answers 503.",
  ap: 'Every live node accepts reads and writes, so no 503s, but reads can be stale; replicas converge after heal (lww keeps one of concurrent writes).',
};

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function profilesView(view: ClusterView): HTMLTableElement {
  const names = Object.keys(view.profiles);
  return h(
    'table',
    { class: 'table profiles', id: 'profiles-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'profile'),
        h('th', {}, 'r / w'),
        h('th', {}, 'linear­izable'),
        h('th', {}, 'sloppy quorum'),
        h('th', {}, 'read repair'),
        h('th', {}, 'what it promises'),
      ),
    ),
    h(
      'tbody',
      {},
      ...names.map((name) => {
        const p = view.profiles[name];
        if (p === undefined) return null;
        const current = name === view.profile;
        return h(
          'tr',
          { class: current ? 'current' : '', 'data-profile': name },
          h(
            'td',
            {},
            h('strong', {}, name),
            current ? h('span', { class: 'tag' }, 'this cluster') : null,
          ),
          h('td', {}, `${p.r} / ${p.w}`),
          h('td', {}, yesNo(p.linearizable)),
          h('td', {}, yesNo(p.sloppyQuorum)),
          h('td', {}, `${p.readRepair} answering`),
          h('td', { class: 'promise' }, PROMISES[name] ?? ''),
        );
      }),
    ),
  );
}
