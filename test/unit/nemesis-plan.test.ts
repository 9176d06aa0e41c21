// The membership part of the nemesis plan: joins and removals drawn from the seed, one at a
// time in the process lane, never below N nodes, and every other fault naming the nodes that
// are members when it starts. Pure, so each property is checked over many seeds.

import { describe, expect, it } from 'vitest';
import {
  describeFault,
  membersAt,
  namedNodes,
  NEMESIS_KINDS,
  planNemesis,
  schedulePlan,
  type Fault,
  type MembershipFault,
  type NemesisKind,
  type PlannedFault,
} from '../../src/verify/nemesis-plan.js';

const NODES = ['n1', 'n2', 'n3'];
const SEEDS = Array.from({ length: 200 }, (_, i) => i);

const changes = (faults: readonly PlannedFault[]) =>
  faults.flatMap((f) => (f.fault.kind === 'membership' ? [f.fault] : []));

/** A plan of `kinds` (membership alone by default) over `nodes`, N=3. */
const plan3 = (
  seed: number,
  durationMs: number,
  kinds: readonly NemesisKind[] = ['membership'],
  nodes: readonly string[] = NODES,
) => planNemesis({ seed, durationMs, kinds, nodes, n: 3 });

describe('membership in the nemesis plan', () => {
  it('alternates a cluster of N between N and N+1: a join first, never below N, new ids', () => {
    for (const seed of SEEDS) {
      const plan = plan3(seed, 60_000);
      const seen = new Set(NODES);
      let members = [...NODES];
      for (const [i, f] of plan.faults.entries()) {
        if (f.fault.kind !== 'membership')
          throw new Error(`seed ${seed}: ${describeFault(f.fault)}`);
        const c = f.fault;
        expect(f.lane).toBe('process');
        expect(c.action === 'join', `seed ${seed} change ${i}: ${c.action}`).toBe(i % 2 === 0);
        if (c.action === 'join') {
          expect(seen.has(c.node), `seed ${seed}: ${c.node} joins twice`).toBe(false);
          expect(c.node).toMatch(/^j[0-9]+$/);
          members = [...members, c.node];
        } else {
          expect(members).toContain(c.node);
          expect(c.via).not.toBe(c.node);
          members = members.filter((m) => m !== c.node);
        }
        expect(members).toEqual(membersAt(NODES, plan.faults, f.startMs));
        expect(members.length).toBeGreaterThanOrEqual(3);
        expect(members.length).toBeLessThanOrEqual(4);
        seen.add(c.node);
      }
    }
  });

  it('asks a member for every change, and removes some nodes alive and some killed', () => {
    const actions = new Set<string>();
    for (const seed of SEEDS) {
      const plan = plan3(seed, 60_000);
      for (const f of plan.faults) {
        const c = f.fault as MembershipFault;
        expect(membersAt(NODES, plan.faults, f.startMs - 1)).toContain(c.via);
        actions.add(c.action);
      }
    }
    expect(actions).toEqual(new Set(['join', 'leave', 'remove-dead']));
  });

  it('fits at least one join and one removal into every 20 s run (what the CI runs rely on)', () => {
    for (const seed of SEEDS) {
      const plan = plan3(seed, 20_000);
      const actions = changes(plan.faults).map((c) => c.action);
      expect(actions, `seed ${seed}`).toContain('join');
      expect(
        actions.some((a) => a !== 'join'),
        `seed ${seed}`,
      ).toBe(true);
    }
  });

  it('names only the members of their time in every other fault, and keeps one fault per lane', () => {
    for (const seed of SEEDS) {
      const plan = plan3(seed, 60_000, NEMESIS_KINDS);
      for (const f of plan.faults) {
        if (f.fault.kind === 'membership') continue;
        const members = membersAt(NODES, plan.faults, f.startMs);
        for (const node of namedNodes(f.fault)) {
          expect(members, `seed ${seed}: ${describeFault(f.fault)}`).toContain(node);
        }
      }
      for (const lane of ['link', 'process'] as const) {
        const own = plan.faults.filter((f) => f.lane === lane);
        for (let i = 1; i < own.length; i++) {
          expect(own[i]!.startMs).toBeGreaterThanOrEqual(own[i - 1]!.endMs);
        }
      }
    }
    // Some default 60 s plans change the membership, and then fault the nodes that joined.
    const plans = SEEDS.map((seed) => plan3(seed, 60_000, NEMESIS_KINDS));
    const joinersFaulted = plans.filter((p) =>
      p.faults.some(
        (f) => f.fault.kind !== 'membership' && namedNodes(f.fault).some((x) => /^j/.test(x)),
      ),
    );
    expect(joinersFaulted.length).toBeGreaterThan(SEEDS.length / 4);
  });

  it('without n, removes a node only after one has joined', () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const plan = planNemesis({ seed, durationMs: 60_000, kinds: ['membership'], nodes: NODES });
      for (const f of plan.faults) {
        expect(membersAt(NODES, plan.faults, f.startMs).length).toBeGreaterThanOrEqual(3);
      }
    }
    // Five nodes with N=3: removals may come first, down to three and no further.
    let removedFirst = 0;
    const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
    for (const seed of SEEDS) {
      const plan = plan3(seed, 120_000, ['membership'], five);
      if ((plan.faults[0]?.fault as MembershipFault | undefined)?.action !== 'join')
        removedFirst += 1;
      for (const f of plan.faults) {
        const size = membersAt(five, plan.faults, f.startMs).length;
        expect(size).toBeGreaterThanOrEqual(3);
        expect(size).toBeLessThanOrEqual(6);
      }
    }
    expect(removedFirst).toBeGreaterThan(0);
  });

  it('leaves the plans of the other kinds as they were: a seed replays the schedule it did', () => {
    const plan = planNemesis({
      seed: 7,
      durationMs: 30_000,
      kinds: ['partition', 'kill', 'pause', 'delay', 'skew'],
      nodes: NODES,
      n: 3,
    });
    // Drawn before the membership kind existed.
    expect(plan.faults.map((f) => [f.startMs, f.endMs, describeFault(f.fault)])).toEqual([
      [1096, 3463, 'kill -9 n3'],
      [2111, 6956, 'delay n2->n1 drop 39%, n2->n3 drop 52%'],
      [4684, 6547, 'kill -9 n3'],
      [7079, 8673, 'pause n2 (SIGSTOP)'],
      [9259, 12188, 'partition (halves) {n1,n3} | {n2}'],
      [11075, 13796, 'kill -9 n2'],
      [13101, 17164, 'partition (halves) {n1,n3} | {n2}'],
      [14567, 21809, 'skew n2 clock +6.6 s'],
      [18320, 21935, 'delay n1->n2 drop 46%, n1->n3 drop 65%'],
      [22710, 25941, 'partition (bridge) {n2} - n1 - {n3}'],
      [23189, 29124, 'skew n3 clock -2.6 s'],
      [27268, 30000, 'partition (isolated) {n2,n3} | {n1}'],
    ]);
  });

  it('describes each change in one line', () => {
    const change = (action: MembershipFault['action'], node: string): MembershipFault => ({
      kind: 'membership',
      action,
      node,
      via: 'n1',
    });
    expect(describeFault(change('join', 'j1'))).toBe('join j1 (via n1)');
    expect(describeFault(change('leave', 'n2'))).toBe('leave n2 (via n1)');
    expect(describeFault(change('remove-dead', 'n3'))).toBe('kill -9 n3, then remove it (via n1)');
  });
});

describe('a scheduled plan with membership changes', () => {
  const at = (startMs: number, endMs: number, fault: Fault): PlannedFault => ({
    lane: fault.kind === 'partition' || fault.kind === 'delay' ? 'link' : 'process',
    startMs,
    endMs,
    fault,
  });
  const join = at(1_000, 5_000, { kind: 'membership', action: 'join', node: 'j1', via: 'n1' });
  const schedule = (faults: readonly PlannedFault[]) =>
    schedulePlan({ seed: 1, durationMs: 20_000, nodes: NODES, faults });

  it('lets later faults name the node that joined', () => {
    const kill = at(6_000, 8_000, { kind: 'kill', node: 'j1' });
    const plan = schedule([kill, join]);
    expect(plan.faults).toEqual([join, kill]);
    expect(plan.kinds).toEqual(['kill', 'membership']);
  });

  it.each([
    [
      'a fault on a node before it joins',
      [at(500, 900, { kind: 'kill', node: 'j1' }), join],
      /names unknown nodes j1/,
    ],
    [
      'a join of a node that is one already',
      [at(1_000, 5_000, { kind: 'membership', action: 'join', node: 'n2', via: 'n1' })],
      /it is a node already/,
    ],
    [
      'a process fault on a node that left',
      [
        at(1_000, 5_000, { kind: 'membership', action: 'leave', node: 'n2', via: 'n1' }),
        at(6_000, 8_000, { kind: 'pause', node: 'n2' }),
      ],
      /n2 left before it/,
    ],
    [
      'a change in the link lane',
      [{ ...join, lane: 'link' as const }],
      /belongs to the process lane/,
    ],
  ])('refuses %s', (_what, faults, message) => {
    expect(() => schedule(faults)).toThrow(message);
  });
});
