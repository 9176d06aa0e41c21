// One node's PBS prediction as a curve over t: GET /admin/pbs asked at a grid of t for the
// run's (R, W), kept as the probability that a read issued t ms after the write was
// acknowledged misses it. Reads in the history have any age, so the curve is read between its
// points: linearly, which stays between the two neighbours of a curve that only falls.

import type { PbsResult } from '../client/kvorum-client.js';

export interface CurvePoint {
  readonly tMs: number;
  /** 1 - P(consistent) at tMs. */
  readonly pStale: number;
}

export interface PbsCurve {
  /** The node asked: the coordinator whose measurements these are. */
  readonly node: string;
  readonly r: number;
  readonly w: number;
  readonly n: number;
  /** Monte Carlo trials behind each point. */
  readonly trials: number;
  /** Every member's latencies came from enough of its own replies (GET /admin/pbs). */
  readonly enoughSamples: boolean;
  readonly notes: readonly string[];
  readonly samples: PbsResult['samples'];
  /** Ascending tMs. */
  readonly points: readonly CurvePoint[];
}

export type CurveOutcome =
  | { readonly ok: true; readonly curve: PbsCurve }
  | { readonly ok: false; readonly node: string; readonly why: string };

/** GET /admin/pbs?t=… on one node. */
export type PbsAsk = (tMs: number) => Promise<PbsResult>;

/**
 * Asks `node` at every t of `gridMs` (ascending), one after the other: a node answers from the
 * same trials for a second (LIMITS.pbsModelReuseMs), so a quick walk gets one model's points.
 * Never throws: a node that cannot answer, or has measured nothing, is an outcome saying why.
 */
export async function fetchPbsCurve(
  node: string,
  ask: PbsAsk,
  levels: { readonly r: number; readonly w: number },
  gridMs: readonly number[],
): Promise<CurveOutcome> {
  const answers: PbsResult[] = [];
  for (const tMs of gridMs) {
    try {
      answers.push(await ask(tMs));
    } catch (err) {
      return { ok: false, node, why: err instanceof Error ? err.message : String(err) };
    }
  }
  return curveFrom(node, answers, levels);
}

/** The curve of (R, W) from answers at ascending t; not ok when the node had nothing to go on. */
export function curveFrom(
  node: string,
  answers: readonly PbsResult[],
  levels: { readonly r: number; readonly w: number },
): CurveOutcome {
  const first = answers[0];
  if (first === undefined) return { ok: false, node, why: 'no t was asked' };
  const points: CurvePoint[] = [];
  for (const answer of answers) {
    const row = answer.predictions.find((p) => p.r === levels.r && p.w === levels.w);
    if (row === undefined) {
      return {
        ok: false,
        node,
        why: `no prediction for R=${levels.r} W=${levels.w} (N=${answer.n})`,
      };
    }
    if (row.pConsistent === null) {
      return { ok: false, node, why: `it has measured no replies (${answer.notes.join('; ')})` };
    }
    const prev = points.at(-1);
    if (prev !== undefined && !(answer.tMs > prev.tMs)) {
      throw new RangeError(`answers must come at ascending t: ${answer.tMs} after ${prev.tMs}`);
    }
    points.push({ tMs: answer.tMs, pStale: 1 - row.pConsistent });
  }
  const { n, trials, enoughSamples, notes, samples } = first;
  return { ok: true, curve: { node, ...levels, n, trials, enoughSamples, notes, samples, points } };
}

/** The predicted P(stale) at tMs: linear between grid points, flat before the first and after the last. */
export function staleAt(curve: PbsCurve, tMs: number): number {
  const points = curve.points;
  const after = points.findIndex((p) => p.tMs >= tMs);
  if (after === 0) return points[0]!.pStale;
  if (after < 0) return points.at(-1)!.pStale;
  const a = points[after - 1]!;
  const b = points[after]!;
  return a.pStale + ((tMs - a.tMs) / (b.tMs - a.tMs)) * (b.pStale - a.pStale);
}
