// The shapes `GET /admin/console` answers (README, Admin API): one node's live figures, and the
// cluster view that gathers every node's. The HTTP layer composes them, the replica fills them
// in, the typed client reads them, and the console page mirrors them (console/src/wire.ts).

import type { FaultSpec } from './faults.js';
import type { RingShare } from './ring.js';
import type { StalenessFigures } from './staleness-window.js';
import type { TrafficFigures } from './traffic-window.js';

/** One peer link as a node sees it. */
export interface ConsolePeerLink {
  /** The failure detector's belief. */
  readonly up: boolean;
  /** Round trip of the last ping over the peer link (faults included), ms; null if it went unanswered. */
  readonly rttMs: number | null;
  /** Pings of the recent history that were sent, and of those the ones never answered. */
  readonly pingsSent: number;
  readonly pingsLost: number;
  /** The last ping could not be sent (no link, or blocked). */
  readonly unreachable: boolean;
  /** The coordinator's moving average of this peer's read/write reply time, ms. */
  readonly replyMs: number | null;
}

/** What a node knows about itself, without the HTTP layer's traffic figures. */
export interface ConsoleNodeFacts {
  readonly id: string;
  readonly pid: number;
  /** Wall-clock ms when taken. */
  readonly at: number;
  readonly keys: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** Percent of one core, over the last second or so. */
  readonly cpuPercent: number;
  readonly hintsPending: number;
  readonly layoutVersion: number;
  readonly faults: FaultSpec;
  readonly peers: Readonly<Record<string, ConsolePeerLink>>;
  /** Stale read replies its coordinator met, per read level, over the last windowMs. */
  readonly staleness: {
    readonly windowMs: number;
    readonly levels: readonly StalenessFigures[];
  };
}

/** `GET /admin/console?scope=node`. */
export interface ConsoleNodeView extends ConsoleNodeFacts {
  readonly traffic: { readonly windowMs: number; readonly levels: readonly TrafficFigures[] };
}

/** One node in a cluster view: its figures, or why there are none. */
export interface ConsoleNodeEntry {
  readonly id: string;
  readonly view?: ConsoleNodeView;
  /** It did not answer (down, or too slow), or it was not asked (consoleFanOutNodesMax). */
  readonly error?: string;
}

/** What one node knows about the whole cluster without asking anyone. */
export interface ConsoleClusterFacts {
  readonly cluster: string;
  readonly profile: string;
  readonly n: number;
  /** The profile's default levels. */
  readonly r: string;
  readonly w: string;
  readonly conflicts: string;
  /** Every profile's defaults, so the page shows what each promises from the code's truth. */
  readonly profiles: Readonly<
    Record<
      string,
      {
        readonly r: string;
        readonly w: string;
        readonly linearizable: boolean;
        readonly readRepair: string;
        readonly hintedHandoff: boolean;
        readonly sloppyQuorum: boolean;
      }
    >
  >;
  readonly layout: {
    readonly version: number;
    readonly settled: boolean;
    readonly nodes: readonly {
      readonly id: string;
      readonly http: string;
      readonly state: 'joining' | 'member' | 'leaving';
    }[];
  };
  readonly ring: {
    readonly size: number;
    /** Stretches of hash space by primary node, for drawing; null past consoleRingArcsMax. */
    readonly arcs:
      readonly { readonly from: number; readonly to: number; readonly primary: string }[] | null;
    readonly shares: Readonly<Record<string, RingShare>>;
  };
}

/** `GET /admin/console` (scope=cluster). */
export interface ConsoleClusterView extends ConsoleClusterFacts {
  /** The node that answered. */
  readonly self: string;
  readonly at: number;
  readonly nodes: readonly ConsoleNodeEntry[];
}
