// The JSON GET /admin/console and GET /admin/pbs/curve answer, as the page reads it. It mirrors
// the server's src/core/console-view.ts and src/replica/pbs-curve-report.ts (the page is built
// apart from the server and cannot import them); test/unit/console-page.test.ts fails the
// type-check when what the server sends stops fitting it.

export interface LinkFaults {
  readonly block: readonly string[];
  readonly delay: Readonly<Record<string, { readonly ms: number; readonly jitterMs: number }>>;
  readonly drop: Readonly<Record<string, number>>;
}

export interface PeerLink {
  readonly up: boolean;
  readonly rttMs: number | null;
  readonly pingsSent: number;
  readonly pingsLost: number;
  readonly unreachable: boolean;
  readonly replyMs: number | null;
}

export type StatusClass = '2xx' | '503' | '504' | 'other';

export interface TrafficFigures {
  readonly level: string;
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly statuses: Readonly<Record<StatusClass, number>>;
}

export interface StalenessFigures {
  readonly level: string;
  readonly total: number;
  readonly replies: number;
  readonly perSecond: number;
  readonly lagged: number;
  readonly lagP50Ms: number | null;
  readonly lagP99Ms: number | null;
}

export interface NodeView {
  readonly id: string;
  readonly pid: number;
  readonly at: number;
  readonly keys: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly cpuPercent: number;
  readonly hintsPending: number;
  readonly layoutVersion: number;
  readonly faults: LinkFaults;
  readonly peers: Readonly<Record<string, PeerLink>>;
  readonly traffic: { readonly windowMs: number; readonly levels: readonly TrafficFigures[] };
  readonly staleness: { readonly windowMs: number; readonly levels: readonly StalenessFigures[] };
}

export interface NodeEntry {
  readonly id: string;
  readonly view?: NodeView;
  readonly error?: string;
}

export interface ProfileDefaults {
  readonly r: string;
  readonly w: string;
  readonly linearizable: boolean;
  readonly readRepair: string;
  readonly hintedHandoff: boolean;
  readonly sloppyQuorum: boolean;
}

export interface RingShare {
  readonly ranges: number;
  readonly primary: number;
  readonly replica: number;
}

export interface LayoutNode {
  readonly id: string;
  readonly http: string;
  readonly state: 'joining' | 'member' | 'leaving';
}

export interface ClusterView {
  readonly cluster: string;
  readonly profile: string;
  readonly n: number;
  readonly r: string;
  readonly w: string;
  readonly conflicts: string;
  readonly profiles: Readonly<Record<string, ProfileDefaults>>;
  readonly layout: {
    readonly version: number;
    readonly settled: boolean;
    readonly nodes: readonly LayoutNode[];
  };
  readonly ring: {
    readonly size: number;
    readonly arcs:
      readonly { readonly from: number; readonly to: number; readonly primary: string }[] | null;
    readonly shares: Readonly<Record<string, RingShare>>;
  };
  readonly self: string;
  readonly at: number;
  readonly nodes: readonly NodeEntry[];
}

/** An admin call's answer to POST /admin/partition and /admin/heal. */
export interface FaultResult {
  readonly applied: readonly string[];
  readonly failed: readonly { readonly id: string; readonly error: string }[];
}

export interface LatencyQuantiles {
  readonly p50: number;
  readonly p99: number;
}

/** One (R, W)'s line: P(consistent) at each t of the answer; null until something is measured. */
export interface PbsCurve {
  readonly r: number;
  readonly w: number;
  readonly strictQuorum: boolean;
  readonly pConsistent: readonly number[] | null;
  readonly readMs: LatencyQuantiles | null;
  readonly writeMs: LatencyQuantiles | null;
}

/** GET /admin/pbs/curve. */
export interface PbsCurves {
  readonly node: string;
  readonly n: number;
  readonly trials: number;
  readonly enoughSamples: boolean;
  readonly notes: readonly string[];
  readonly samples: Readonly<Record<string, { readonly writes: number; readonly reads: number }>>;
  readonly tMs: readonly number[];
  readonly curves: readonly PbsCurve[];
}
