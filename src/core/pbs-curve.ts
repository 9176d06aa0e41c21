// PBS's t-visibility curve: for one (R, W), the probability that a read is consistent against
// t, the time since the write was acknowledged, read from one run of the WARS trials
// (src/core/pbs.ts). A trial's read is consistent at t exactly when its staleness window is
// <= t, so the curve is the windows' empirical distribution: sorted once, each point is a
// binary search, and all points come from the same trials, so the curve never dips.
// Pure, like the model.

import type { WarsSimulation } from './pbs.js';

/** A copy of the staleness windows of (R, W), sorted ascending. */
export function sortedWindows(sim: WarsSimulation, r: number, w: number): Float64Array {
  if (!(r >= 1 && r <= sim.n && w >= 1 && w <= sim.n))
    throw new RangeError(`PBS: (R, W) = (${r}, ${w}) outside 1..${sim.n}`);
  return (sim.windowsMs[(r - 1) * sim.n + (w - 1)] as Float64Array).slice().sort();
}

/** How many of the sorted values are <= x. */
function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The share of trials whose read is consistent when issued each of `tsMs` after commit. */
export function consistentCurve(sorted: Float64Array, tsMs: readonly number[]): number[] {
  if (sorted.length === 0) throw new RangeError('PBS: a curve needs at least one trial');
  return tsMs.map((t) => countAtMost(sorted, t) / sorted.length);
}

/**
 * The least t (>= 0) at which a share q (0 < q <= 1) of the trials' reads are consistent: the
 * windows' nearest-rank quantile q.
 */
export function consistentAfterMs(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) throw new RangeError('PBS: a curve needs at least one trial');
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return Math.max(0, sorted[rank - 1] as number);
}

/** The least of 1, 2 or 5 times a power of ten that is >= ms (ms > 0): an axis's end. */
export function roundUp125(ms: number): number {
  if (!(ms > 0 && Number.isFinite(ms))) throw new RangeError(`PBS: no round end for ${ms}`);
  const decade = 10 ** Math.floor(Math.log10(ms));
  for (const step of [1, 2, 5, 10]) {
    // Powers of ten below 1 are not exact in binary: round to the number they name.
    const end = Number((step * decade).toPrecision(12));
    if (end >= ms) return end;
  }
  return 10 * decade;
}

/** `points` (>= 2) values of t evenly from 0 to endMs, each to a microsecond. */
export function evenAxis(endMs: number, points: number): number[] {
  if (!(Number.isInteger(points) && points >= 2)) throw new RangeError('an axis needs 2 points');
  return Array.from({ length: points }, (_, i) => Number(((endMs * i) / (points - 1)).toFixed(3)));
}
