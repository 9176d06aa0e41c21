// GET /admin/pbs/curve's answer: the t-visibility curve of every (R, W), what the console draws,
// from one model (src/replica/pbs-report.ts), so one request gives the whole picture and its
// points agree. Without t given, the node picks the axis: evenly from 0 to a round number past
// which every line is flat (each (R, W) consistent in 99% of the trials), so a loopback cluster
// (under a millisecond) and one with a 100 ms delay fault both fill the picture.

import { LIMITS } from '../config.js';
import { pairLatencies, type LatencyQuantiles } from '../core/pbs.js';
import {
  consistentAfterMs,
  consistentCurve,
  evenAxis,
  roundUp125,
  sortedWindows,
} from '../core/pbs-curve.js';
import { roundMs, roundProbability, type PbsAnswerHead, type PbsModel } from './pbs-report.js';

/** Points of an axis the node picks: 0 to its end in fiftieths, round steps on a 1-2-5 end. */
export const AXIS_POINTS = 51;
/** The axis ends where every (R, W) is consistent in this share of the trials. */
export const AXIS_END_SHARE = 0.99;
/** The shortest axis the node picks, ms: below it a curve is a step no one can read. */
export const AXIS_MIN_END_MS = 0.1;

export interface PbsCurve {
  readonly r: number;
  readonly w: number;
  readonly strictQuorum: boolean;
  /** P(consistent) at each t of the answer's tMs; null: nothing measured yet. */
  readonly pConsistent: readonly number[] | null;
  readonly readMs: LatencyQuantiles | null;
  readonly writeMs: LatencyQuantiles | null;
}

export interface PbsCurveAnswer extends PbsAnswerHead {
  /** The t of each point, ms after the write was acknowledged, ascending. */
  readonly tMs: readonly number[];
  /** Every (R, W) with 1 <= R, W <= N, R-major. */
  readonly curves: readonly PbsCurve[];
}

/** The curves at `tMs` (ascending), or on an axis the node picks when it is undefined. */
export function pbsCurveAnswer(
  model: PbsModel,
  tMs: readonly number[] | undefined,
): PbsCurveAnswer {
  const { sim, ...rest } = model;
  const { n } = model;
  const pairs: Array<{ r: number; w: number }> = [];
  for (let r = 1; r <= n; r++) for (let w = 1; w <= n; w++) pairs.push({ r, w });

  if (sim === undefined) {
    const axis = tMs ?? evenAxis(AXIS_MIN_END_MS, AXIS_POINTS);
    const curves = pairs.map(({ r, w }) => {
      const strictQuorum = r + w > n;
      const pConsistent = strictQuorum ? axis.map(() => 1) : null;
      return { r, w, strictQuorum, pConsistent, readMs: null, writeMs: null };
    });
    return { ...rest, tMs: axis, curves };
  }

  const windows = pairs.map(({ r, w }) => sortedWindows(sim, r, w));
  const axis = tMs ?? evenAxis(axisEndMs(windows), AXIS_POINTS);
  const curves = pairs.map(({ r, w }, i) => {
    const { readMs, writeMs } = pairLatencies(sim, r, w);
    return {
      r,
      w,
      strictQuorum: r + w > n,
      pConsistent: consistentCurve(windows[i] as Float64Array, axis).map(roundProbability),
      readMs: roundMs(readMs),
      writeMs: roundMs(writeMs),
    };
  });
  return { ...rest, tMs: axis, curves };
}

/** A round end past which every (R, W) is consistent in AXIS_END_SHARE of the trials. */
function axisEndMs(windows: readonly Float64Array[]): number {
  const latest = Math.max(...windows.map((w) => consistentAfterMs(w, AXIS_END_SHARE)));
  return Math.min(LIMITS.pbsTMsMax, roundUp125(Math.max(latest, AXIS_MIN_END_MS)));
}
