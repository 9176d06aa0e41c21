// Faults by click, through the admin API the CLI uses: split the nodes into two groups and
// partition (POST /admin/partition), set a delay or a drop rate on a link from this node
// (PUT /admin/faults, which replaces this node's faults, so the others are read first), heal
// (POST /admin/heal). A page can only call its own node: links from another node are set from
// that node's console.

import { api } from './api.js';
import { colorDot, nodeColor } from './colors.js';
import { byId, fill, h } from './dom.js';
import type { ClusterView, FaultResult, LinkFaults } from './wire.js';

type Group = 'A' | 'B';

export interface FaultsPanel {
  update(view: ClusterView): void;
}

export function faultsPanel(
  root: HTMLElement,
  onChange: () => void,
  report: (err: unknown) => void,
): FaultsPanel {
  const groups = new Map<string, Group>();
  let ids: string[] = [];
  let self = '';

  const groupRows = h('div', { class: 'groups' });
  const partitionButton = h(
    'button',
    { type: 'button', id: 'partition-button' },
    'Partition A | B',
  );
  const healButton = h(
    'button',
    { type: 'button', id: 'heal-button', class: 'secondary' },
    'Heal all faults',
  );
  const result = h('p', { id: 'faults-result', class: 'result', role: 'status' });

  const linkTo = h('select', { id: 'link-to' });
  const delayMs = h('input', {
    id: 'link-delay',
    type: 'number',
    min: 0,
    max: 60000,
    step: 1,
    value: 50,
  });
  const jitterMs = h('input', {
    id: 'link-jitter',
    type: 'number',
    min: 0,
    max: 60000,
    step: 1,
    value: 10,
  });
  const dropPercent = h('input', {
    id: 'link-drop',
    type: 'number',
    min: 0,
    max: 100,
    step: 1,
    value: 0,
  });
  const linkFrom = h('strong', { id: 'link-from' });
  const applyLink = h('button', { type: 'button', id: 'link-apply' }, 'Apply to link');
  const clearLink = h(
    'button',
    { type: 'button', id: 'link-clear', class: 'secondary' },
    'Clear link',
  );
  const otherConsoles = h('p', { class: 'muted small' });

  fill(
    root,
    h('h3', {}, 'Partition'),
    h(
      'p',
      { class: 'muted small' },
      'Put each node in group A or B; every node then blocks the nodes of the other group.',
    ),
    groupRows,
    h('div', { class: 'actions' }, partitionButton, healButton),
    h('h3', {}, 'Delay or drop on a link'),
    h(
      'div',
      { class: 'link-form' },
      h('label', {}, 'from ', linkFrom, ' to ', linkTo),
      h('label', {}, 'delay ', delayMs, ' ± ', jitterMs, ' ms'),
      h('label', {}, 'drop ', dropPercent, ' %'),
    ),
    h('div', { class: 'actions' }, applyLink, clearLink),
    otherConsoles,
    result,
  );

  function say(text: string, ok = true): void {
    result.textContent = text;
    result.dataset.ok = String(ok);
  }

  function describe(what: string, r: FaultResult): string {
    const failed = r.failed.map((f) => `${f.id} (${f.error})`).join(', ');
    return `${what}: applied on ${r.applied.join(', ') || 'no node'}${failed ? `; failed on ${failed}` : ''}`;
  }

  async function act(run: () => Promise<string>): Promise<void> {
    for (const b of [partitionButton, healButton, applyLink, clearLink]) b.disabled = true;
    try {
      say(await run());
      onChange();
    } catch (err) {
      say(err instanceof Error ? err.message : String(err), false);
      report(err);
    } finally {
      for (const b of [healButton, applyLink, clearLink]) b.disabled = false;
      renderGroups();
    }
  }

  function members(g: Group): string[] {
    return ids.filter((id) => groups.get(id) === g);
  }

  function renderGroups(): void {
    fill(
      groupRows,
      ...ids.map((id) => {
        const mine = groups.get(id);
        const choice = (g: Group) => {
          const b = h(
            'button',
            {
              type: 'button',
              class: `group-choice${mine === g ? ' chosen' : ''}`,
              'data-testid': `group-${id}-${g}`,
              'aria-pressed': String(mine === g),
            },
            g,
          );
          b.addEventListener('click', () => {
            groups.set(id, g);
            renderGroups();
          });
          return b;
        };
        return h(
          'div',
          { class: 'group-row', 'data-node': id },
          colorDot(nodeColor(ids, id)),
          h('span', { class: 'group-node' }, id),
          choice('A'),
          choice('B'),
        );
      }),
    );
    const a = members('A');
    const b = members('B');
    partitionButton.textContent = `Partition {${a.join(',')}} | {${b.join(',')}}`;
    partitionButton.disabled = a.length === 0 || b.length === 0;
  }

  partitionButton.addEventListener(
    'click',
    () =>
      void act(async () =>
        describe('partitioned', await api.partition([members('A'), members('B')])),
      ),
  );
  healButton.addEventListener(
    'click',
    () => void act(async () => describe('healed', await api.heal())),
  );

  /** This node's faults with the link to `to` replaced by `next` (or removed). */
  async function withLink(
    to: string,
    next: { delayMs: number; jitterMs: number; drop: number } | undefined,
  ): Promise<LinkFaults> {
    const current = await api.faults();
    const delay = { ...current.delay };
    const drop = { ...current.drop };
    delete delay[to];
    delete drop[to];
    if (next !== undefined && next.delayMs > 0)
      delay[to] = { ms: next.delayMs, jitterMs: next.jitterMs };
    if (next !== undefined && next.drop > 0) drop[to] = next.drop;
    return { block: current.block, delay, drop };
  }

  applyLink.addEventListener(
    'click',
    () =>
      void act(async () => {
        const to = linkTo.value;
        const spec = await withLink(to, {
          delayMs: Number(delayMs.value),
          jitterMs: Number(jitterMs.value),
          drop: Number(dropPercent.value) / 100,
        });
        await api.setFaults(spec);
        return `link ${self}→${to}: ${spec.delay[to] ? `delay ${spec.delay[to]?.ms}±${spec.delay[to]?.jitterMs} ms` : 'no delay'}, ${spec.drop[to] ? `drop ${Math.round((spec.drop[to] ?? 0) * 100)}%` : 'no drop'}`;
      }),
  );
  clearLink.addEventListener(
    'click',
    () =>
      void act(async () => {
        const to = linkTo.value;
        await api.setFaults(await withLink(to, undefined));
        return `link ${self}→${to}: delay and drop cleared`;
      }),
  );

  return {
    update(view: ClusterView): void {
      const next = view.layout.nodes.map((n) => n.id);
      self = view.self;
      linkFrom.textContent = self;
      if (next.join(',') !== ids.join(',')) {
        ids = next;
        for (const id of [...groups.keys()]) if (!ids.includes(id)) groups.delete(id);
        // A first split to start from: the last node alone.
        ids.forEach((id, i) => {
          if (!groups.has(id)) groups.set(id, i === ids.length - 1 ? 'B' : 'A');
        });
        renderGroups();
        const chosen = linkTo.value;
        fill(
          linkTo,
          ...ids.filter((id) => id !== self).map((id) => h('option', { value: id }, id)),
        );
        if (ids.includes(chosen) && chosen !== self) linkTo.value = chosen;
        const others = view.layout.nodes.filter((n) => n.id !== self);
        fill(
          otherConsoles,
          'Links from another node are set on its own console: ',
          ...others.flatMap((n, i) => [i > 0 ? ', ' : '', h('a', { href: `${n.http}/` }, n.id)]),
          '.',
        );
      }
    },
  };
}

/** The panel for the element with id `faults`. */
export function mountFaultsPanel(
  onChange: () => void,
  report: (err: unknown) => void,
): FaultsPanel {
  return faultsPanel(byId('faults'), onChange, report);
}
