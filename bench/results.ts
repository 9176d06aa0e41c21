// The shapes the bench records: one result per scenario, the prefills, and the whole run as
// it is written to JSON (the Markdown report and the chart are rendered from this).

import type { Machine } from './environment.js';
import type { MemorySplit, RssSample } from './memory.js';
import type { ProfileBreakdown } from './profile.js';
import type { Scenario } from './scenarios.js';
import type { LoadResult } from './workload.js';

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly label: string;
  /** Undefined when the run failed; `error` says why. */
  readonly load: LoadResult | undefined;
  readonly error: string | undefined;
  /** Peak resident memory of each server process during the scenario, bytes. */
  readonly rssPeakBytes: Record<string, number>;
  /** The same for anonymous memory (RssAnon: RSS without mapped files); absent in old runs. */
  readonly rssAnonPeakBytes?: Record<string, number>;
  /**
   * Cores each server process used during the measured run (CPU seconds ÷ wall seconds, warm-up
   * excluded), and `load generator` (the bench process); empty where /proc is missing.
   */
  readonly cpuCores: Record<string, number>;
  /** CPU seconds of the same processes over the same window. */
  readonly cpuSeconds: Record<string, number>;
  /** Every sample of the scenario's RSS, for scenarios that keep a curve (the soak). */
  readonly rssCurve?: readonly RssSample[];
}

/** A result as the run records it: with its ratios to the baselines and its CPU per request. */
export interface AnalyzedResult extends ScenarioResult {
  readonly ratios: readonly Ratios[];
  /**
   * CPU µs of every server process together (the load generator not included) per response
   * of the measured run, refusals included; undefined without /proc or without responses.
   */
  readonly cpuUsPerOp: number | undefined;
}

/** The profiled phase: where its servers' CPU went, and the scenario it ran. */
export interface ProfileSummary extends ProfileBreakdown {
  readonly scenarioId: string;
  readonly label: string;
  /** 2xx per second with the profiler on; undefined when the scenario failed. */
  readonly reqPerS: number | undefined;
  readonly cpuCores: Record<string, number>;
  /** .cpuprofile files read. */
  readonly files: number;
}

export interface PrefillRecord {
  readonly phase: string;
  readonly prefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  readonly seconds: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly error: string | undefined;
}

/** RSS of each server process of one phase (bytes by process name) at the points compared. */
export interface PhaseMemory {
  readonly phase: string;
  readonly title: string;
  readonly system: 'kvorum' | 'etcd';
  /** Keys prefilled, over every key space of the phase. */
  readonly keys: number;
  /** Every node up and healthy, nothing written yet. */
  readonly bootBytes: Record<string, number>;
  /** After the prefill, as the first step begins: the RSS the idle figure is compared with. */
  readonly startBytes: Record<string, number>;
  /** The largest RSS seen during the phase's scenarios. */
  readonly peakBytes: Record<string, number>;
  /** The largest anonymous RSS (RssAnon) seen during them; absent in old runs. */
  readonly anonPeakBytes?: Record<string, number>;
  /** After the last step, once the servers have had idleAfterS without load. */
  readonly idleBytes: Record<string, number>;
  readonly idleAfterS: number;
  /** How each node's RSS splits at three of those points; kvorum phases only. */
  readonly splits?: PhaseMemorySplits;
}

/** Each node's memory split (by node name) after the prefill, at a scenario's end, and idle. */
export interface PhaseMemorySplits {
  readonly start: Record<string, MemorySplit>;
  /** At the end of the scenario whose peak RSS was the phase's highest. */
  readonly busiest: { readonly scenarioId: string; readonly at: Record<string, MemorySplit> };
  readonly idle: Record<string, MemorySplit>;
}

/** How long the cluster took to deliver the hints kept during the partition, once healed. */
export interface CatchUpRecord {
  readonly phase: string;
  /** Hints pending on each node with the load stopped, right before the heal. */
  readonly hintsAtHeal: Record<string, number>;
  /** Seconds from the heal request until every node saw every other up again. */
  readonly upAfterS: number | undefined;
  /** Seconds from the heal request until no node had a hint pending; undefined: not by capS. */
  readonly caughtUpAfterS: number | undefined;
  readonly capS: number;
  /** Hints pending, all nodes together, at each poll: [seconds after the heal request, count]. */
  readonly pending: ReadonlyArray<readonly [number, number]>;
  /** What stopped the measurement, when it could not be taken. */
  readonly error: string | undefined;
}

/** How one node's RSS moved over the last half of the soak: a least-squares line through it. */
/** Lowest and highest RSS of a node over one window of samples, bytes. */
export interface RssEnvelope {
  readonly floorBytes: number;
  readonly ceilingBytes: number;
}

export interface SoakNodeGrowth {
  readonly node: string;
  /** The last half's first and second window (a quarter of the soak each). */
  readonly early: RssEnvelope;
  readonly late: RssEnvelope;
  /** The larger of the floor's and the ceiling's growth from early to late (late ÷ early − 1). */
  readonly growth: number;
  readonly peakBytes: number;
}

export interface SoakSummary {
  readonly scenarioId: string;
  /** The last half: from halfway through the curve to its last sample, seconds. */
  readonly fromS: number;
  /** Where the last half's early window ends and its late one begins, seconds. */
  readonly splitS: number;
  readonly toS: number;
  /** Samples in the last half. */
  readonly samples: number;
  /** Per node, in node order; empty when a window of the last half has no sample. */
  readonly nodes: readonly SoakNodeGrowth[];
}

export interface EtcdInfo {
  /** Undefined when etcd was not used; `skipped` says why. */
  readonly version: string | undefined;
  readonly path: string | undefined;
  readonly leader: string | undefined;
  readonly skipped: string | undefined;
}

/** Figures of one scenario divided by the same figures of a baseline scenario. */
export interface Ratios {
  readonly baseline: string;
  readonly reqPerS: number | undefined;
  readonly p50: number | undefined;
  readonly p99: number | undefined;
  readonly p999: number | undefined;
  readonly cpuPerOp: number | undefined;
}

export interface TargetVerdict {
  readonly target: string;
  /** The scenario whose figure is judged (against a baseline). */
  readonly scenario: string;
  readonly status: 'PASS' | 'FALL SHORT' | 'NOT MEASURED';
  readonly measured: string;
}

export interface BenchRun {
  readonly kind: 'kvorum-bench';
  readonly schema: 1;
  readonly mode: 'quick' | 'full' | 'soak';
  readonly scaling: boolean;
  readonly machine: Machine;
  readonly loadAtEnd: number;
  /** Share of all cores that processes other than the bench's used during the run (Linux). */
  readonly othersCpuShare: number | undefined;
  readonly settings: Record<string, unknown>;
  readonly etcd: EtcdInfo;
  readonly wallSeconds: number;
  readonly prefills: readonly PrefillRecord[];
  readonly results: readonly AnalyzedResult[];
  readonly targets: readonly TargetVerdict[];
  /** Undefined when no profiled phase ran (--no-profile, --only) or it gave no profile. */
  readonly profile: ProfileSummary | undefined;
  /** One per phase that started, in the order they ran. */
  readonly memory: readonly PhaseMemory[];
  /** After the partition's heal; undefined when no partition scenario ran. */
  readonly catchUp: CatchUpRecord | undefined;
  /** The soak's RSS over its last half; undefined unless this is a --soak run. */
  readonly soak: SoakSummary | undefined;
  readonly notes: readonly string[];
}
