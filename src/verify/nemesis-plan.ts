// The nemesis schedule, decided up front from the seed: which fault, on which nodes, from when
// to when. Two lanes run side by side, so a network fault can overlap a process fault, but each
// lane has one fault at a time: the link lane (partitions, delays and drops) and the process
// lane (kill -9, SIGSTOP, clock skew), which never takes down more than one node at once.
// Pure: the same seed, nodes and duration always give the same plan.

import type { LinkFaultSpec } from './node-api.js';
import { SeededRng } from './rng.js';
import { VERIFY_LIMITS } from './verify-limits.js';

export const NEMESIS_KINDS = Object.freeze([
  'partition',
  'kill',
  'pause',
  'delay',
  'skew',
] as const);
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

/** Faults that need control of the node processes: only on a cluster verify started itself. */
export const PROCESS_KINDS: readonly NemesisKind[] = Object.freeze(['kill', 'pause', 'skew']);

export type PartitionShape = 'halves' | 'isolated' | 'bridge';

export type Fault =
  | {
      readonly kind: 'partition';
      readonly shape: PartitionShape;
      /** Nodes that still talk to each other; a bridge node is in both of its groups. */
      readonly groups: readonly (readonly string[])[];
      /** node → the peers it blocks (both directions). */
      readonly blocks: Readonly<Record<string, readonly string[]>>;
    }
  | {
      readonly kind: 'delay';
      /** Delays and drops act on what this node sends. */
      readonly node: string;
      readonly delay: LinkFaultSpec['delay'];
      readonly drop: LinkFaultSpec['drop'];
    }
  | { readonly kind: 'kill'; readonly node: string }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'skew'; readonly node: string; readonly offsetMs: number };

export type Lane = 'link' | 'process';

export interface PlannedFault {
  readonly lane: Lane;
  /** Milliseconds after the workload starts. */
  readonly startMs: number;
  readonly endMs: number;
  readonly fault: Fault;
}

export interface NemesisPlan {
  readonly seed: number;
  readonly durationMs: number;
  readonly kinds: readonly NemesisKind[];
  /** Ordered by start time. */
  readonly faults: readonly PlannedFault[];
}

export interface PlanOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly kinds: readonly NemesisKind[];
  readonly nodes: readonly string[];
}

const LANE_OF: Readonly<Record<NemesisKind, Lane>> = Object.freeze({
  partition: 'link',
  delay: 'link',
  kill: 'process',
  pause: 'process',
  skew: 'process',
});

const LENGTH_OF: Readonly<Record<NemesisKind, { min: number; max: number }>> = Object.freeze({
  partition: VERIFY_LIMITS.linkFaultMs,
  delay: VERIFY_LIMITS.linkFaultMs,
  kill: VERIFY_LIMITS.killFaultMs,
  pause: VERIFY_LIMITS.pauseFaultMs,
  skew: VERIFY_LIMITS.skewFaultMs,
});

export function planNemesis(opts: PlanOptions): NemesisPlan {
  const root = new SeededRng(opts.seed).fork('nemesis');
  const faults: PlannedFault[] = [];
  // A partition needs two sides.
  const usable = opts.kinds.filter((k) => k !== 'partition' || opts.nodes.length >= 2);
  for (const lane of ['link', 'process'] as const) {
    const kinds = usable.filter((k) => LANE_OF[k] === lane);
    if (kinds.length === 0 || (lane === 'link' && opts.nodes.length < 2)) continue;
    const rng = root.fork(lane);
    let t = rng.int(VERIFY_LIMITS.faultGapMs.min, VERIFY_LIMITS.faultGapMs.max);
    for (;;) {
      const kind = rng.pick(kinds);
      const { min, max } = LENGTH_OF[kind];
      const length = rng.int(min, max);
      const fault = drawFault(kind, opts.nodes, rng);
      // A fault must have time to act before the workload stops: cut it short, or skip it.
      if (t + min > opts.durationMs) break;
      faults.push({ lane, startMs: t, endMs: Math.min(t + length, opts.durationMs), fault });
      t += length + rng.int(VERIFY_LIMITS.faultGapMs.min, VERIFY_LIMITS.faultGapMs.max);
    }
  }
  faults.sort((a, b) => a.startMs - b.startMs || (a.lane < b.lane ? -1 : 1));
  return { seed: opts.seed, durationMs: opts.durationMs, kinds: [...opts.kinds], faults };
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: readonly string[];
  /** The faults, each in its lane; their kinds are the plan's kinds. */
  readonly faults: readonly PlannedFault[];
}

/**
 * A plan given in full instead of drawn from the seed: a targeted schedule, for a test that
 * needs one fault pattern every time (a skewed node on one side of a bridge, say). It keeps
 * the rules of a drawn plan: one fault at a time per lane, each inside the run, on known nodes.
 */
export function schedulePlan(opts: ScheduleOptions): NemesisPlan {
  for (const f of opts.faults) {
    if (LANE_OF[f.fault.kind] !== f.lane)
      throw new Error(`${describeFault(f.fault)} belongs to the ${LANE_OF[f.fault.kind]} lane`);
    if (f.startMs < 0 || f.endMs <= f.startMs || f.endMs > opts.durationMs)
      throw new Error(`${describeFault(f.fault)} must end after it starts, within the run`);
    const unknown = namedNodes(f.fault).filter((n) => !opts.nodes.includes(n));
    if (unknown.length > 0)
      throw new Error(`${describeFault(f.fault)} names unknown nodes ${unknown.join(', ')}`);
  }
  const faults = [...opts.faults].sort(
    (a, b) => a.startMs - b.startMs || (a.lane < b.lane ? -1 : 1),
  );
  for (const lane of ['link', 'process'] as const) {
    const own = faults.filter((f) => f.lane === lane);
    for (const [i, f] of own.entries())
      if (i > 0 && f.startMs < own[i - 1]!.endMs)
        throw new Error(`two ${lane} faults overlap at ${f.startMs} ms`);
  }
  const kinds = NEMESIS_KINDS.filter((k) => faults.some((f) => f.fault.kind === k));
  return { seed: opts.seed, durationMs: opts.durationMs, kinds, faults };
}

function namedNodes(fault: Fault): string[] {
  switch (fault.kind) {
    case 'partition':
      return fault.groups.flat();
    case 'delay':
      return [fault.node, ...Object.keys(fault.delay), ...Object.keys(fault.drop)];
    default:
      return [fault.node];
  }
}

function drawFault(kind: NemesisKind, nodes: readonly string[], rng: SeededRng): Fault {
  switch (kind) {
    case 'partition':
      return drawPartition(nodes, rng);
    case 'delay':
      return drawDelay(nodes, rng);
    case 'kill':
    case 'pause':
      return { kind, node: rng.pick(nodes) };
    case 'skew': {
      const { min, max } = VERIFY_LIMITS.skewOffsetMs;
      const sign = rng.chance(0.5) ? 1 : -1;
      return { kind, node: rng.pick(nodes), offsetMs: sign * rng.int(min, max) };
    }
  }
}

/** Jepsen's partition shapes: two halves (majority/minority), one node cut off, a bridge. */
export function drawPartition(nodes: readonly string[], rng: SeededRng): Fault {
  const shapes: PartitionShape[] =
    nodes.length >= 3 ? ['halves', 'isolated', 'bridge'] : ['halves'];
  const shape = rng.pick(shapes);
  const order = rng.shuffle(nodes);
  let groups: string[][];
  if (shape === 'halves') {
    const minority = Math.max(1, Math.floor((nodes.length - 1) / 2));
    groups = [order.slice(minority), order.slice(0, minority)];
  } else if (shape === 'isolated') {
    groups = [order.slice(1), [order[0]!]];
  } else {
    // The bridge talks to both sides; the sides cannot talk to each other.
    const [bridge, ...rest] = order;
    const half = Math.floor(rest.length / 2);
    groups = [
      [...rest.slice(0, half), bridge!],
      [bridge!, ...rest.slice(half)],
    ];
  }
  return { kind: 'partition', shape, groups, blocks: blocksOf(nodes, groups) };
}

/** Every node blocks every node it shares no group with. */
export function blocksOf(
  nodes: readonly string[],
  groups: readonly (readonly string[])[],
): Record<string, string[]> {
  const blocks: Record<string, string[]> = {};
  for (const a of nodes) {
    blocks[a] = nodes.filter((b) => b !== a && !groups.some((g) => g.includes(a) && g.includes(b)));
  }
  return blocks;
}

/**
 * Slow or lossy links from one node, all of them at once, since a write that reaches one other
 * replica in time is already on a quorum. Slow links get jitter as large as their delay, which
 * reorders messages: a read can overtake the write it then reports. Lossy links strand writes
 * on the node. Both leave a value on one replica that some reads see and others do not, which
 * is exactly what ABD's phases must hide.
 */
function drawDelay(nodes: readonly string[], rng: SeededRng): Fault {
  const node = rng.pick(nodes);
  const lossy = rng.chance(0.5);
  const delay: Record<string, { ms: number; jitterMs: number }> = {};
  const drop: Record<string, number> = {};
  for (const peer of nodes.filter((p) => p !== node)) {
    // Draw everything every time, so one link's choice does not shift the next link's numbers.
    const ms = rng.int(VERIFY_LIMITS.linkDelayMs.min, VERIFY_LIMITS.linkDelayMs.max);
    const jitterMs = rng.int(Math.floor(ms / 2), ms);
    const { min, max } = VERIFY_LIMITS.linkDropRate;
    const rate = Math.round((min + rng.next() * (max - min)) * 100) / 100;
    if (lossy) drop[peer] = rate;
    else delay[peer] = { ms, jitterMs };
  }
  return { kind: 'delay', node, delay, drop };
}

/** The link faults each node should have while `fault` is in force (none for process faults). */
export function linkFaultsOf(fault: Fault, node: string): LinkFaultSpec | undefined {
  if (fault.kind === 'partition') {
    return { block: fault.blocks[node] ?? [], delay: {}, drop: {} };
  }
  if (fault.kind === 'delay') {
    return fault.node === node
      ? { block: [], delay: fault.delay, drop: fault.drop }
      : { block: [], delay: {}, drop: {} };
  }
  return undefined;
}

function group(nodes: readonly string[]): string {
  return `{${nodes.join(',')}}`;
}

/** One line for a person: `partition {n1,n2} | {n3}`, `kill -9 n2`, `skew n3 +4.2 s`. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'partition':
      if (fault.shape === 'bridge') {
        const [left, right] = fault.groups as [string[], string[]];
        const bridge = left.find((n) => right.includes(n))!;
        const side = (g: readonly string[]) => group(g.filter((n) => n !== bridge));
        return `partition (bridge) ${side(left)} - ${bridge} - ${side(right)}`;
      }
      return `partition (${fault.shape}) ${fault.groups.map(group).join(' | ')}`;
    case 'delay': {
      const parts = [
        ...Object.entries(fault.delay).map(
          ([peer, d]) => `${fault.node}->${peer} +${d.ms}±${d.jitterMs} ms`,
        ),
        ...Object.entries(fault.drop).map(
          ([peer, p]) => `${fault.node}->${peer} drop ${Math.round(p * 100)}%`,
        ),
      ];
      return `delay ${parts.join(', ')}`;
    }
    case 'kill':
      return `kill -9 ${fault.node}`;
    case 'pause':
      return `pause ${fault.node} (SIGSTOP)`;
    case 'skew': {
      const sign = fault.offsetMs >= 0 ? '+' : '-';
      return `skew ${fault.node} clock ${sign}${(Math.abs(fault.offsetMs) / 1000).toFixed(1)} s`;
    }
  }
}
