// The nemesis schedule, decided up front from the seed: which fault, on which nodes, from when
// to when. Two lanes run side by side, so a network fault can overlap a process fault, but each
// lane has one fault at a time: the link lane (partitions, delays and drops) and the process
// lane (kill -9, SIGSTOP, clock skew, membership changes), which never takes down or changes
// more than one node at once. Membership changes (a join, a leave, a dead node's removal) make
// the node set a function of time: every fault names the nodes that are members when it starts.
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
  'membership',
] as const);
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

/** Faults that need control of the node processes: only on a cluster verify started itself. */
export const PROCESS_KINDS: readonly NemesisKind[] = Object.freeze([
  'kill',
  'pause',
  'skew',
  'membership',
]);

export type PartitionShape = 'halves' | 'isolated' | 'bridge';

/**
 * join: a new node starts with `serve --join`; leave: a live member is removed (and exits by
 * itself); remove-dead: a member is killed (-9), then removed, its data rebuilt from the others.
 */
export type MembershipAction = 'join' | 'leave' | 'remove-dead';

export interface MembershipFault {
  readonly kind: 'membership';
  readonly action: MembershipAction;
  /** The node that joins or is removed. */
  readonly node: string;
  /** The member asked to make the change (the join's URL, or where POST /admin/leave goes). */
  readonly via: string;
}

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
  | { readonly kind: 'skew'; readonly node: string; readonly offsetMs: number }
  | MembershipFault;

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
  /**
   * Replicas per key: a membership change never leaves fewer members than this. Absent: the
   * starting size, so a node is removed only after one has joined.
   */
  readonly n?: number;
}

const LANE_OF: Readonly<Record<NemesisKind, Lane>> = Object.freeze({
  partition: 'link',
  delay: 'link',
  kill: 'process',
  pause: 'process',
  skew: 'process',
  membership: 'process',
});

/** Faults that act on links (one at a time, in the link lane). */
export const LINK_KINDS: readonly NemesisKind[] = Object.freeze(
  NEMESIS_KINDS.filter((k) => LANE_OF[k] === 'link'),
);

const LENGTH_OF: Readonly<Record<NemesisKind, { min: number; max: number }>> = Object.freeze({
  partition: VERIFY_LIMITS.linkFaultMs,
  delay: VERIFY_LIMITS.linkFaultMs,
  kill: VERIFY_LIMITS.killFaultMs,
  pause: VERIFY_LIMITS.pauseFaultMs,
  skew: VERIFY_LIMITS.skewFaultMs,
  membership: VERIFY_LIMITS.membershipFaultMs,
});

export function planNemesis(opts: PlanOptions): NemesisPlan {
  const root = new SeededRng(opts.seed).fork('nemesis');
  const faults: PlannedFault[] = [];
  // A partition needs two sides.
  const usable = opts.kinds.filter((k) => k !== 'partition' || opts.nodes.length >= 2);
  const sizes = { n: opts.n ?? opts.nodes.length, start: opts.nodes.length };
  // The process lane first: its membership changes say which nodes the link lane can name.
  // Each lane draws from its own stream, so the order changes no number.
  for (const lane of ['process', 'link'] as const) {
    const kinds = usable.filter((k) => LANE_OF[k] === lane);
    if (kinds.length === 0 || (lane === 'link' && opts.nodes.length < 2)) continue;
    const rng = root.fork(lane);
    let t = rng.int(VERIFY_LIMITS.faultGapMs.min, VERIFY_LIMITS.faultGapMs.max);
    for (;;) {
      const kind = rng.pick(kinds);
      const { min, max } = LENGTH_OF[kind];
      const length = rng.int(min, max);
      const members = membersAt(opts.nodes, faults, t);
      const fault =
        kind === 'membership'
          ? drawMembership(members, joinedIds(faults), sizes, rng)
          : drawFault(kind, members, rng);
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
  const faults = [...opts.faults].sort(
    (a, b) => a.startMs - b.startMs || (a.lane < b.lane ? -1 : 1),
  );
  // Nodes a fault may name: those that were ever members by its start (joins come first).
  const known = new Set(opts.nodes);
  for (const f of faults) {
    const what = describeFault(f.fault);
    if (LANE_OF[f.fault.kind] !== f.lane)
      throw new Error(`${what} belongs to the ${LANE_OF[f.fault.kind]} lane`);
    if (f.startMs < 0 || f.endMs <= f.startMs || f.endMs > opts.durationMs)
      throw new Error(`${what} must end after it starts, within the run`);
    const joining = f.fault.kind === 'membership' && f.fault.action === 'join';
    if (joining && known.has(f.fault.node)) throw new Error(`${what}: it is a node already`);
    const named = namedNodes(f.fault).filter((n) => !(joining && n === f.fault.node));
    const unknown = named.filter((n) => !known.has(n));
    if (unknown.length > 0) throw new Error(`${what} names unknown nodes ${unknown.join(', ')}`);
    if (f.lane === 'process') {
      const members = membersAt(opts.nodes, faults, f.startMs - 1);
      const gone = named.filter((n) => !members.includes(n));
      if (gone.length > 0) throw new Error(`${what}: ${gone.join(', ')} left before it`);
    }
    if (joining) known.add(f.fault.node);
  }
  for (const lane of ['link', 'process'] as const) {
    const own = faults.filter((f) => f.lane === lane);
    for (const [i, f] of own.entries())
      if (i > 0 && f.startMs < own[i - 1]!.endMs)
        throw new Error(`two ${lane} faults overlap at ${f.startMs} ms`);
  }
  const kinds = NEMESIS_KINDS.filter((k) => faults.some((f) => f.fault.kind === k));
  return { seed: opts.seed, durationMs: opts.durationMs, kinds, faults };
}

/** A delay held on one link for a whole run. */
export interface SteadyDelay {
  readonly ms: number;
  readonly jitterMs: number;
}

/**
 * `plan` with one more fault: what the first node sends to the second is delayed from the start
 * to the end of the run. It takes the link lane for the whole run, so the plan must have no
 * link fault of its own. A steady link keeps one regime for the whole run, which is what
 * comparing a latency model with what it predicts needs: the samples and the reads it is
 * checked against come from the same conditions.
 */
export function withSteadyDelay(
  plan: NemesisPlan,
  nodes: readonly string[],
  delay: SteadyDelay,
): NemesisPlan {
  const [from, to] = nodes;
  if (from === undefined || to === undefined) throw new Error('a steady delay needs two nodes');
  const clash = plan.faults.find((f) => f.lane === 'link');
  if (clash !== undefined) {
    throw new Error(
      `a steady delay holds the link lane, but the plan has ${describeFault(clash.fault)}`,
    );
  }
  const steady: PlannedFault = {
    lane: 'link',
    startMs: 0,
    endMs: plan.durationMs,
    fault: { kind: 'delay', node: from, delay: { [to]: delay }, drop: {} },
  };
  return { ...plan, faults: [steady, ...plan.faults] };
}

/** Every node a fault names: a partition's groups, a delay's links, a change's node and via. */
export function namedNodes(fault: Fault): string[] {
  switch (fault.kind) {
    case 'partition':
      return fault.groups.flat();
    case 'delay':
      return [fault.node, ...Object.keys(fault.delay), ...Object.keys(fault.drop)];
    case 'membership':
      return [fault.node, fault.via];
    default:
      return [fault.node];
  }
}

/**
 * The members at `tMs` by the plan: the starting nodes, changed by every membership fault that
 * started by then (`faults` in start order). A change counts from its start: clients stop
 * talking to a leaving node then, and a joining node is routed to as soon as it serves.
 */
export function membersAt(
  start: readonly string[],
  faults: readonly PlannedFault[],
  tMs: number,
): string[] {
  let members = [...start];
  for (const f of faults) {
    if (f.startMs > tMs || f.fault.kind !== 'membership') continue;
    const { action, node } = f.fault;
    members = action === 'join' ? [...members, node] : members.filter((m) => m !== node);
  }
  return members;
}

function joinedIds(faults: readonly PlannedFault[]): string[] {
  return faults.flatMap((f) =>
    f.fault.kind === 'membership' && f.fault.action === 'join' ? [f.fault.node] : [],
  );
}

/**
 * The next membership change: a join while the cluster is at N (or at its starting size when
 * that is all it may grow by), a removal while it is at its largest, either one in between. A
 * removal is of a live node or of one killed first (a dead node being replaced), and the change
 * is asked of another member. Every number is drawn each time, so one choice does not shift the
 * next.
 */
function drawMembership(
  members: readonly string[],
  joined: readonly string[],
  sizes: { readonly n: number; readonly start: number },
  rng: SeededRng,
): MembershipFault {
  const preferJoin = rng.chance(0.5);
  const dead = rng.chance(0.5);
  const nodeDraw = rng.next();
  const viaDraw = rng.next();
  const canLeave = members.length > sizes.n;
  const canJoin = members.length < sizes.start + VERIFY_LIMITS.membersAboveStartMax;
  if (!canLeave || (canJoin && preferJoin)) {
    const taken = new Set([...members, ...joined]);
    let k = joined.length + 1;
    while (taken.has(`j${k}`)) k += 1;
    return { kind: 'membership', action: 'join', node: `j${k}`, via: at(members, viaDraw) };
  }
  const node = at(members, nodeDraw);
  const via = at(
    members.filter((m) => m !== node),
    viaDraw,
  );
  return { kind: 'membership', action: dead ? 'remove-dead' : 'leave', node, via };
}

/** The item a uniform draw `u` in [0, 1) picks, as SeededRng.pick would. */
function at<T>(items: readonly T[], u: number): T {
  return items[Math.floor(u * items.length)]!;
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
    case 'membership':
      throw new Error('membership changes are drawn by drawMembership');
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
    case 'membership':
      switch (fault.action) {
        case 'join':
          return `join ${fault.node} (via ${fault.via})`;
        case 'leave':
          return `leave ${fault.node} (via ${fault.via})`;
        case 'remove-dead':
          return `kill -9 ${fault.node}, then remove it (via ${fault.via})`;
      }
  }
}
