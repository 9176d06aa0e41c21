// PBS's prediction against what the run measured, bucket by bucket of read age. A bucket's
// measured rate is its stale reads over its reads; its predicted rate is the mean, over the
// same reads, of the prediction at each read's own age by the node the read went through, so
// both describe the same reads (a curve that falls steeply inside a bucket makes the
// prediction at its middle a poor stand-in). Reads are split by coordinator: PBS models a
// write and a read coordinated by the same node; a read through another node meets replicas
// the model never ordered, and its row shows how far the asked node's view carries.
//
// The client sees a write complete after the coordinator committed it, and sends a read
// before the coordinator gets it: by the coordinator's clock the read is older, by the write's
// response leg and the read's request leg. So the prediction is also given at t plus the
// read's own round trip, which stands in for those two legs (and counts the server's work on
// the read as well): the first figure is the most the model says of these reads, the second
// about what it says at the coordinator's t.
// Pure.

import {
  bucketIndex,
  bucketsOf,
  wilsonInterval,
  type AgeBucket,
  type Interval,
} from './age-buckets.js';
import { staleAt, type CurveOutcome, type PbsCurve } from './pbs-curve.js';
import type { ReadAge, ReadAges } from './read-ages.js';

export interface ComparisonRow {
  readonly bucket: AgeBucket;
  readonly reads: number;
  readonly stale: number;
  /** stale / reads; 0 for an empty bucket. */
  readonly measured: number;
  /** 95% Wilson interval of `measured`. */
  readonly interval: Interval;
  /** Mean predicted P(stale) over the bucket's reads that have a prediction; undefined when none has. */
  readonly predicted: number | undefined;
  /** The same at each read's t plus its own round trip: about the coordinator's t. */
  readonly predictedShifted: number | undefined;
  /** Reads of the bucket with a prediction (those through a node that answered). */
  readonly predictedReads: number;
}

export interface ComparisonTable {
  readonly rows: readonly ComparisonRow[];
  /** Every bucket together. */
  readonly total: ComparisonRow;
}

export interface PbsComparison {
  readonly r: number;
  readonly w: number;
  readonly n: number;
  /** R + W > N: PBS predicts 0 at every t, and a stale read is a bug or a lost clock race. */
  readonly strictQuorum: boolean;
  readonly curves: readonly PbsCurve[];
  /** Nodes whose prediction could not be had, and why; their reads have no prediction. */
  readonly missing: readonly { readonly node: string; readonly why: string }[];
  readonly eligible: number;
  readonly overlapped: number;
  /** eligible - overlapped: the reads in the two tables. */
  readonly compared: number;
  /** Reads through the node that coordinated the write they are measured against. */
  readonly sameCoordinator: ComparisonTable;
  /** Reads through another node, against that node's prediction. */
  readonly otherCoordinator: ComparisonTable;
  /**
   * Median client round trip of the compared reads (ms): the scale of how much earlier than the
   * coordinator the client sees a write complete and a read begin (see the report).
   */
  readonly readRoundTripP50Ms: number | undefined;
  /** The compared reads by the node that coordinated the write and the node read through. */
  readonly byPair: readonly PairCount[];
}

export interface PairCount {
  readonly writeNode: string;
  readonly readNode: string;
  readonly reads: number;
  readonly stale: number;
}

export interface CompareInput {
  readonly ages: ReadAges;
  readonly curves: readonly CurveOutcome[];
  readonly levels: { readonly r: number; readonly w: number; readonly n: number };
  readonly edgesMs: readonly number[];
}

export function comparePbs(input: CompareInput): PbsComparison {
  const { ages, levels } = input;
  const buckets = bucketsOf(input.edgesMs);
  const curves = input.curves.flatMap((c) => (c.ok ? [c.curve] : []));
  const missing = input.curves.flatMap((c) => (c.ok ? [] : [{ node: c.node, why: c.why }]));
  const byNode = new Map(curves.map((c) => [c.node, c]));
  const table = (reads: readonly ReadAge[]) => tableOf(reads, buckets, byNode);
  return {
    ...levels,
    strictQuorum: levels.r + levels.w > levels.n,
    curves,
    missing,
    eligible: ages.eligible,
    overlapped: ages.overlapped,
    compared: ages.ages.length,
    sameCoordinator: table(ages.ages.filter((a) => a.sameCoordinator)),
    otherCoordinator: table(ages.ages.filter((a) => !a.sameCoordinator)),
    readRoundTripP50Ms: median(ages.ages.map(roundTrip)),
    byPair: pairsOf(ages.ages),
  };
}

const roundTrip = (a: ReadAge) => a.read.completeAt - a.read.invokeAt;

function pairsOf(ages: readonly ReadAge[]): PairCount[] {
  const pairs = new Map<string, PairCount>();
  for (const a of ages) {
    const id = `${a.latest.node}\0${a.read.node}`;
    const p = pairs.get(id) ?? {
      writeNode: a.latest.node,
      readNode: a.read.node,
      reads: 0,
      stale: 0,
    };
    pairs.set(id, { ...p, reads: p.reads + 1, stale: p.stale + (a.stale ? 1 : 0) });
  }
  return [...pairs.values()].sort(
    (x, y) => x.writeNode.localeCompare(y.writeNode) || x.readNode.localeCompare(y.readNode),
  );
}

function tableOf(
  reads: readonly ReadAge[],
  buckets: readonly AgeBucket[],
  curves: ReadonlyMap<string, PbsCurve>,
): ComparisonTable {
  const grouped = buckets.map((): ReadAge[] => []);
  for (const a of reads) grouped[bucketIndex(buckets, a.tMs)]!.push(a);
  const all: AgeBucket = { fromMs: 0, toMs: Infinity };
  return {
    rows: buckets.map((bucket, i) => rowOf(bucket, grouped[i]!, curves)),
    total: rowOf(all, reads, curves),
  };
}

function rowOf(
  bucket: AgeBucket,
  reads: readonly ReadAge[],
  curves: ReadonlyMap<string, PbsCurve>,
): ComparisonRow {
  const stale = reads.filter((a) => a.stale).length;
  let predictedSum = 0;
  let shiftedSum = 0;
  let predictedReads = 0;
  for (const a of reads) {
    const curve = curves.get(a.read.node);
    if (curve === undefined) continue;
    predictedSum += staleAt(curve, a.tMs);
    shiftedSum += staleAt(curve, a.tMs + roundTrip(a));
    predictedReads += 1;
  }
  return {
    bucket,
    reads: reads.length,
    stale,
    measured: reads.length === 0 ? 0 : stale / reads.length,
    interval: wilsonInterval(stale, reads.length),
    predicted: predictedReads === 0 ? undefined : predictedSum / predictedReads,
    predictedShifted: predictedReads === 0 ? undefined : shiftedSum / predictedReads,
    predictedReads,
  };
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
