// Buckets of read age (ms since the latest acknowledged write) and the uncertainty of a rate
// measured in one. Some buckets hold a handful of reads: a rate without its interval would
// read as more precise than it is. Pure.

export interface AgeBucket {
  /** Inclusive. */
  readonly fromMs: number;
  /** Exclusive; Infinity for the last bucket. */
  readonly toMs: number;
}

/** Buckets [e0, e1), [e1, e2), …, [last, ∞) from ascending edges starting at 0. */
export function bucketsOf(edgesMs: readonly number[]): AgeBucket[] {
  if (edgesMs[0] !== 0) throw new RangeError('age buckets start at 0 ms');
  for (let i = 1; i < edgesMs.length; i++) {
    if (!(edgesMs[i]! > edgesMs[i - 1]!)) throw new RangeError('age bucket edges must ascend');
  }
  return edgesMs.map((fromMs, i) => ({ fromMs, toMs: edgesMs[i + 1] ?? Infinity }));
}

/** The bucket `tMs` falls in (ages are >= 0; a negative one is a caller's bug). */
export function bucketIndex(buckets: readonly AgeBucket[], tMs: number): number {
  const i = buckets.findIndex((b) => tMs >= b.fromMs && tMs < b.toMs);
  if (i < 0) throw new RangeError(`age ${tMs} ms is in no bucket`);
  return i;
}

/** `0-1`, `50-100`, `100+`. */
export function bucketLabel(b: AgeBucket): string {
  return b.toMs === Infinity ? `${b.fromMs}+` : `${b.fromMs}-${b.toMs}`;
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/** z for a two-sided 95% interval. */
const Z95 = 1.959964;

/**
 * The Wilson score interval of a proportion (95%): unlike p ± z·√(p(1-p)/n) it stays inside
 * [0, 1] and is not empty at 0 of n or n of n, which is what small buckets mostly show.
 */
export function wilsonInterval(hits: number, trials: number, z: number = Z95): Interval {
  if (!(Number.isInteger(hits) && Number.isInteger(trials) && hits >= 0 && hits <= trials)) {
    throw new RangeError(`a proportion needs 0 <= hits <= trials, got ${hits} of ${trials}`);
  }
  if (trials === 0) return { low: 0, high: 1 };
  const p = hits / trials;
  const z2n = (z * z) / trials;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  // At 0 of n (n of n) the bound is 0 (1) exactly; rounding would leave it a hair off.
  return {
    low: hits === 0 ? 0 : Math.max(0, centre - half),
    high: hits === trials ? 1 : Math.min(1, centre + half),
  };
}
