// What the HTTP layer needs from a running replica. src/replica implements it; route tests
// can implement it in memory.

import type { Admission } from '../core/admission.js';
import type { ReadResult, WriteResult } from '../core/coordinator.js';
import type { ConflictMode } from '../config.js';
import type { FaultSpec } from '../core/faults.js';
import type { VersionSet } from '../core/version-set.js';
import type { ConsistencyDefaults, RequestParams } from '../core/quorum.js';
import type {
  ConsoleClusterFacts,
  ConsoleNodeEntry,
  ConsoleNodeFacts,
} from '../core/console-view.js';
import type { PbsCurveQuery, PbsQuery } from './pbs-query.js';

export interface PartitionResult {
  readonly applied: string[];
  readonly failed: Array<{ id: string; error: string }>;
}

/** What `GET /admin/console` learns from the replica (the HTTP layer adds its traffic figures). */
export interface ConsoleBackend {
  /** This node's own figures. */
  nodeFacts(): ConsoleNodeFacts;
  /** What this node knows of the cluster: profile, layout, ring. */
  clusterFacts(): ConsoleClusterFacts;
  /** Every other node's figures, asked of it over HTTP, or why there are none. */
  peerViews(): Promise<ConsoleNodeEntry[]>;
}

export interface HttpBackend {
  readonly id: string;
  readonly valueBytesMax: number;
  readonly conflicts: ConflictMode;
  readonly adminToken: string | undefined;
  /** Every /kv request is admitted here first, or refused 503 overloaded. */
  readonly admission: Admission;
  /** The profile's request defaults: traffic figures name the level each request was served at. */
  readonly defaults: ConsistencyDefaults;
  readonly console: ConsoleBackend;
  get(key: string, params: RequestParams): Promise<ReadResult>;
  put(
    key: string,
    value: Uint8Array,
    contentType: string,
    params: RequestParams,
    context: string | undefined,
  ): Promise<WriteResult>;
  del(key: string, params: RequestParams, context: string | undefined): Promise<WriteResult>;
  status(): Record<string, unknown>;
  getFaults(): FaultSpec;
  /** Validates and applies; throws InvalidArgumentError on a bad spec. */
  setFaults(raw: unknown): FaultSpec;
  partition(raw: unknown): Promise<PartitionResult>;
  heal(): Promise<PartitionResult>;
  /** What this node itself stores for `key`, bypassing the coordinator (for operators and tests). */
  localKey(key: string): Promise<VersionSet | undefined>;
  /** Runs an anti-entropy exchange with every peer that is up, now; answers what each repaired. */
  repair(): Promise<Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** GET /admin/layout: the newest version, every node's state, and whether it has settled. */
  layout(): Record<string, unknown>;
  /** GET /admin/pbs: predicted staleness and latency for every (R, W), from this node's measurements. */
  pbs(query: PbsQuery): object;
  /** GET /admin/pbs/curve: P(consistent) against t for every (R, W), from the same model. */
  pbsCurve(query: PbsCurveQuery): object;
  /** POST /admin/join {id, http, peer}: adds a node; answers the layout and cluster settings. */
  join(raw: unknown): Promise<Record<string, unknown>>;
  /** POST /admin/leave {id}: removes a node once its ranges have moved. */
  leave(raw: unknown): Promise<Record<string, unknown>>;
}
