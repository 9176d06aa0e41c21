// What the bench measures, as data: phases (a fresh cluster, its prefilled key spaces, and a
// list of steps: measure a scenario, inject a delay, partition, heal), built from the settings.

import type { BenchSettings } from './options.js';

export const LEVELS = Object.freeze(['one', 'quorum', 'all', 'linearizable'] as const);
export type Level = (typeof LEVELS)[number];

export const OPS = Object.freeze({
  put: 'PUT',
  get: 'GET',
  mix90: 'GET/PUT 90/10',
  mix50: 'GET/PUT 50/50',
} as const);
export type Op = keyof typeof OPS;

/** Fraction of reads in each op's mix. */
export const GET_SHARE: Readonly<Record<Op, number>> = Object.freeze({
  put: 0,
  get: 1,
  mix90: 0.9,
  mix50: 0.5,
});

export const SECTIONS = Object.freeze({
  core: '3 replicas (N=3), 100 B and 10 KiB values',
  single: 'Baseline: 1 replica (N=1), the no-replication ceiling',
  etcd: 'Baseline: etcd, 3 members, v3 HTTP/JSON gateway, load on the leader',
  delay: 'PACELC: 20 ± 5 ms on every link of n3, both directions, no partition',
  partition: 'Partition {n1,n2} | {n3}: availability per level and side',
  'scale-keys': 'Scaling: key count (3 replicas, 100 B values)',
  'scale-values': 'Scaling: value size (3 replicas)',
  'scale-nodes': 'Scaling: 5 and 7 replicas (N=3)',
  profile: 'Where the time goes: CPU profile of PUT w=quorum, 3 replicas',
  soak: 'Soak: sustained PUT w=quorum, 3 replicas',
} as const);
export type SectionId = keyof typeof SECTIONS;

export const PACELC_DELAY = Object.freeze({ node: 'n3', ms: 20, jitterMs: 5 });
export const PARTITION_GROUPS: readonly (readonly string[])[] = Object.freeze([
  ['n1', 'n2'],
  ['n3'],
]);

export const KIB = 1024;
export const MIB = 1024 * 1024;
const SMALL_VALUE_BYTES = 100;

export interface Scenario {
  readonly id: string;
  readonly section: SectionId;
  readonly system: 'kvorum' | 'etcd';
  readonly nodes: number;
  readonly op: Op;
  /** kvorum's level (the profile default, quorum, when undefined); etcd: undefined. */
  readonly level: Level | undefined;
  /** etcd reads: linearizable (a quorum round through raft) or serializable (local). */
  readonly etcdRead: 'linearizable' | 'serializable' | undefined;
  readonly valueBytes: number;
  readonly keyPrefix: string;
  readonly keys: number;
  readonly connections: number;
  /** Node ids the load is spread over ('leader' for etcd). */
  readonly target: readonly string[];
  readonly side: 'majority' | 'minority' | undefined;
  readonly delayed: boolean;
  /** Measured seconds, when not the run's --duration (the soak). */
  readonly durationS?: number;
  /** Keep every node's RSS every this many seconds as a curve (the soak). */
  readonly rssEveryS?: number;
}

export interface KeySpace {
  readonly prefix: string;
  readonly keys: number;
  readonly valueBytes: number;
}

export type Step =
  | { readonly kind: 'measure'; readonly scenario: Scenario }
  | {
      readonly kind: 'delay';
      readonly node: string;
      readonly ms: number;
      readonly jitterMs: number;
    }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly string[])[] }
  | {
      readonly kind: 'heal';
      /** Time from the heal until no node has a hint pending, and the hints pending at heal. */
      readonly catchUp?: true;
    };

export interface Phase {
  readonly id: string;
  readonly title: string;
  readonly system: 'kvorum' | 'etcd';
  readonly nodes: number;
  readonly n: number;
  readonly keySpaces: readonly KeySpace[];
  readonly steps: readonly Step[];
  /** Its servers run under `node --cpu-prof`, and the runner summarizes their profiles. */
  readonly profile?: true;
}

type ScenarioFields = Partial<Scenario> & Pick<Scenario, 'id' | 'section' | 'op'>;

function nodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

function sizeName(bytes: number): string {
  if (bytes >= MIB) return `${bytes / MIB}MiB`;
  if (bytes >= KIB) return `${bytes / KIB}KiB`;
  return `${bytes}B`;
}

export function describeSize(bytes: number): string {
  return sizeName(bytes).replace(/(\d)([A-Z])/, '$1 $2');
}

/** A short label for tables: "PUT w=quorum", "GET linearizable", "etcd range (serializable)". */
export function scenarioLabel(s: Scenario): string {
  if (s.system === 'etcd') {
    const what = s.op === 'put' ? 'put' : `range (${s.etcdRead ?? 'linearizable'})`;
    return `etcd ${what}${s.valueBytes === SMALL_VALUE_BYTES ? '' : `, ${describeSize(s.valueBytes)}`}`;
  }
  const size = s.valueBytes === SMALL_VALUE_BYTES ? '' : ` ${describeSize(s.valueBytes)}`;
  let level = '';
  if (s.level === 'linearizable') level = ' linearizable';
  else if (s.level !== undefined)
    level = s.op === 'put' ? ` w=${s.level}` : s.op === 'get' ? ` r=${s.level}` : ` ${s.level}`;
  const where = s.side ? ` on ${s.target.join(',')} (${s.side})` : '';
  const nodes = s.section === 'scale-nodes' ? `${s.nodes} replicas: ` : '';
  const keys =
    s.section === 'scale-keys' || s.section === 'soak'
      ? `, ${s.keys.toLocaleString('en-US')} keys`
      : '';
  return `${nodes}${OPS[s.op]}${size}${level}${where}${keys}`;
}

function scenarioBuilder(settings: BenchSettings) {
  return (f: ScenarioFields): Step => ({
    kind: 'measure',
    scenario: {
      system: 'kvorum',
      nodes: 3,
      level: undefined,
      etcdRead: undefined,
      valueBytes: SMALL_VALUE_BYTES,
      keyPrefix: 'k',
      keys: settings.keys,
      connections: settings.connections,
      target: nodeIds(f.nodes ?? 3),
      side: undefined,
      delayed: false,
      ...f,
    },
  });
}

/** PUT and GET at every level: the core of the core, the delay run and the chart. */
function levelSteps(
  make: ReturnType<typeof scenarioBuilder>,
  section: SectionId,
  extra: Partial<Scenario> = {},
): Step[] {
  return LEVELS.flatMap((level) =>
    (['put', 'get'] as const).map((op) =>
      make({ id: `${section}.${op}.${level}`, section, op, level, ...extra }),
    ),
  );
}

/** The soak samples RSS this often: 60 points over its default 10 minutes. */
const SOAK_RSS_EVERY_S = 10;

function soakPhase(s: BenchSettings, make: ReturnType<typeof scenarioBuilder>): Phase {
  const keys = s.soakKeys.toLocaleString('en-US');
  return {
    id: 'soak',
    title: `kvorum, 3 replicas, ${keys} keys, PUT w=quorum for ${s.soakMinutes} min`,
    system: 'kvorum',
    nodes: 3,
    n: 3,
    keySpaces: [{ prefix: 'k', keys: s.soakKeys, valueBytes: SMALL_VALUE_BYTES }],
    steps: [
      make({
        id: 'soak.put.quorum',
        section: 'soak',
        op: 'put',
        level: 'quorum',
        keys: s.soakKeys,
        durationS: s.soakMinutes * 60,
        rssEveryS: SOAK_RSS_EVERY_S,
      }),
    ],
  };
}

export function buildPhases(s: BenchSettings, withEtcd: boolean): Phase[] {
  const make = scenarioBuilder(s);
  if (s.soak) return [soakPhase(s, make)];
  const small: KeySpace = { prefix: 'k', keys: s.keys, valueBytes: SMALL_VALUE_BYTES };
  const large: KeySpace = { prefix: 'm', keys: s.largeKeys, valueBytes: 10 * KIB };
  const largeFields = { valueBytes: large.valueBytes, keyPrefix: large.prefix, keys: large.keys };
  const workloads = (section: SectionId, nodes: number, level: Level | undefined): Step[] => [
    make({ id: `${section}.mix90${level ? `.${level}` : ''}`, section, op: 'mix90', nodes, level }),
    make({ id: `${section}.mix50${level ? `.${level}` : ''}`, section, op: 'mix50', nodes, level }),
    ...(['put', 'get'] as const).map((op) =>
      make({
        id: `${section}.${op}10k${level ? `.${level}` : ''}`,
        section,
        op,
        nodes,
        level,
        ...largeFields,
      }),
    ),
  ];
  const partition: Step[] = LEVELS.flatMap((level) =>
    (['put', 'get'] as const).flatMap((op) =>
      (
        [
          ['majority', 'n1'],
          ['minority', 'n3'],
        ] as const
      ).map(([side, node]) =>
        make({
          id: `partition.${op}.${level}.${side}`,
          section: 'partition',
          op,
          level,
          side,
          target: [node],
        }),
      ),
    ),
  );
  const phases: Phase[] = [
    {
      id: 'kvorum-3',
      title: 'kvorum, 3 replicas',
      system: 'kvorum',
      nodes: 3,
      n: 3,
      keySpaces: [small, large],
      steps: [
        ...levelSteps(make, 'core'),
        ...workloads('core', 3, 'quorum'),
        { kind: 'delay', ...PACELC_DELAY },
        ...levelSteps(make, 'delay', { delayed: true }),
        { kind: 'heal' },
        { kind: 'partition', groups: PARTITION_GROUPS },
        ...partition,
        { kind: 'heal', catchUp: true },
      ],
    },
    {
      id: 'kvorum-1',
      title: 'kvorum, 1 replica (N=1)',
      system: 'kvorum',
      nodes: 1,
      n: 1,
      keySpaces: [small, large],
      steps: [
        make({ id: 'single.put', section: 'single', op: 'put', nodes: 1 }),
        make({ id: 'single.get', section: 'single', op: 'get', nodes: 1 }),
        ...workloads('single', 1, undefined),
      ],
    },
  ];
  if (s.profile)
    phases.push({
      id: 'kvorum-3-profile',
      title: 'kvorum, 3 replicas, CPU profiler on',
      system: 'kvorum',
      nodes: 3,
      n: 3,
      // Prefilled as the core phase is, so its PUTs are overwrites like core.put.quorum's; the
      // summary counts only the load window, so the prefill does not dilute it.
      keySpaces: [small],
      steps: [make({ id: 'profile.put.quorum', section: 'profile', op: 'put', level: 'quorum' })],
      profile: true,
    });
  if (withEtcd) {
    const etcd = { section: 'etcd', system: 'etcd', target: ['leader'] } as const;
    phases.push({
      id: 'etcd',
      title: 'etcd, 3 members',
      system: 'etcd',
      nodes: 3,
      n: 3,
      keySpaces: [small],
      steps: [
        make({ id: 'etcd.put', op: 'put', ...etcd }),
        make({ id: 'etcd.range-lin', op: 'get', etcdRead: 'linearizable', ...etcd }),
        make({ id: 'etcd.range-ser', op: 'get', etcdRead: 'serializable', ...etcd }),
      ],
    });
  }
  if (s.scaling) phases.push(...scalingPhases(s, make));
  return phases;
}

/** Value sizes of the scaling run, with the connections each is driven at and its key count. */
function valueSizes(s: BenchSettings): Array<{ bytes: number; connections: number; keys: number }> {
  return [
    { bytes: SMALL_VALUE_BYTES, connections: s.connections, keys: s.keys },
    { bytes: 10 * KIB, connections: s.connections, keys: s.largeKeys },
    { bytes: 100 * KIB, connections: Math.min(16, s.connections), keys: s.quick ? 200 : 1_000 },
    { bytes: MIB, connections: Math.min(4, s.connections), keys: s.quick ? 50 : 200 },
  ];
}

function scalingPhases(s: BenchSettings, make: ReturnType<typeof scenarioBuilder>): Phase[] {
  const quorumPair = (section: SectionId, prefix: string, fields: Partial<Scenario> = {}) =>
    (['put', 'get'] as const).map((op) =>
      make({ id: `${prefix}.${op}.quorum`, section, op, level: 'quorum', ...fields }),
    );
  const sizes = valueSizes(s);
  const phases: Phase[] = [
    {
      id: 'scale-keys',
      title: `kvorum, 3 replicas, ${s.scalingKeys.toLocaleString('en-US')} keys`,
      system: 'kvorum',
      nodes: 3,
      n: 3,
      keySpaces: [{ prefix: 'k', keys: s.scalingKeys, valueBytes: SMALL_VALUE_BYTES }],
      steps: quorumPair('scale-keys', 'scale-keys', { keys: s.scalingKeys }),
    },
    {
      id: 'scale-values',
      title: 'kvorum, 3 replicas, values 100 B-1 MiB',
      system: 'kvorum',
      nodes: 3,
      n: 3,
      keySpaces: sizes.map((v) => ({
        prefix: `v${sizeName(v.bytes)}-`,
        keys: v.keys,
        valueBytes: v.bytes,
      })),
      steps: sizes.flatMap((v) =>
        quorumPair('scale-values', `scale-values.${sizeName(v.bytes)}`, {
          valueBytes: v.bytes,
          keyPrefix: `v${sizeName(v.bytes)}-`,
          keys: v.keys,
          connections: v.connections,
        }),
      ),
    },
  ];
  for (const nodes of [5, 7]) {
    phases.push({
      id: `scale-nodes-${nodes}`,
      title: `kvorum, ${nodes} replicas (N=3)`,
      system: 'kvorum',
      nodes,
      n: 3,
      keySpaces: [{ prefix: 'k', keys: s.keys, valueBytes: SMALL_VALUE_BYTES }],
      steps: quorumPair('scale-nodes', `scale-nodes.${nodes}`, { nodes, target: nodeIds(nodes) }),
    });
  }
  return phases;
}

/**
 * Drops fault steps that no measurement follows (a delay or partition whose scenarios were all
 * filtered out), and heals that have nothing to heal.
 */
function pruneFaults(steps: readonly Step[]): Step[] {
  const out: Step[] = [];
  let faulted = false;
  steps.forEach((st, i) => {
    if (st.kind === 'measure') out.push(st);
    else if (st.kind === 'heal') {
      if (faulted) out.push(st);
      faulted = false;
    } else if (steps[i + 1]?.kind === 'measure') {
      out.push(st);
      faulted = true;
    }
  });
  return out;
}

/** Keeps the measure steps --only selects; drops phases left with none. */
export function selectPhases(phases: readonly Phase[], only: RegExp | undefined): Phase[] {
  if (only === undefined) return [...phases];
  return phases
    .map((p) => ({
      ...p,
      steps: pruneFaults(
        p.steps.filter((st) => st.kind !== 'measure' || only.test(st.scenario.id)),
      ),
    }))
    .filter((p) => p.steps.some((st) => st.kind === 'measure'));
}

export function measuredScenarios(phases: readonly Phase[]): Scenario[] {
  return phases.flatMap((p) =>
    p.steps.flatMap((st) => (st.kind === 'measure' ? [st.scenario] : [])),
  );
}
