// Probabilistically Bounded Staleness (Bailis et al., "Probabilistically Bounded Staleness for
// Practical Partial Quorums", VLDB 2012): the WARS model, by Monte Carlo, for every (R, W).
// Pure: latency samples and a random source come in, predictions go out.
//
// WARS: a write goes to every replica (W), each acknowledges (A); the write commits at the W-th
// acknowledgement. A read sent t ms after commit reaches replica i after R_i and its answer
// comes back after S_i; the read takes the R first answers, and is consistent if any of them
// came from a replica that held the write by the time the read reached it.

import { LIMITS } from '../config.js';

/** One node's four latency distributions, as samples in milliseconds (each non-empty, >= 0). */
export interface WarsDistributions {
  /** W: the write request, coordinator to replica. */
  readonly w: readonly number[];
  /** A: the write's acknowledgement, replica to coordinator. */
  readonly a: readonly number[];
  /** R: the read request, coordinator to replica. */
  readonly r: readonly number[];
  /** S: the read's response, replica to coordinator. */
  readonly s: readonly number[];
}

export interface WarsInput {
  /** Replicas per key. */
  readonly n: number;
  /**
   * The nodes keys are placed on. Each trial draws N of them at random, as a key's placement
   * on the ring would (all of them when there are exactly N).
   */
  readonly nodes: readonly WarsDistributions[];
  /** At most LIMITS.pbsTrials. */
  readonly trials: number;
  /** Uniform in [0, 1); every random choice of a run comes from it, so a seed replays it. */
  readonly random: () => number;
  /**
   * w[j] and a[j] (and r[j], s[j]) are the two legs of one measured round trip: a trial draws
   * them together (same j), so the round trip keeps its own distribution. Without it the four
   * are drawn independently, as the paper does with one-way measurements.
   */
  readonly pairedLegs?: boolean;
}

/** The outcome of the trials, from which any t and k can be read without running them again. */
export interface WarsSimulation {
  readonly n: number;
  readonly trials: number;
  /**
   * Per (R, W), at index (R-1)*n + (W-1): each trial's staleness window in ms. The read of a
   * trial is consistent exactly when it is issued this long after commit or later (a window of
   * 0 or less: consistent at once). Unsorted: counting those <= t costs less than sorting them
   * for one t; a curve of many t sorts a copy (src/core/pbs-curve.ts).
   */
  readonly windowsMs: readonly Float64Array[];
  /** Per W, at index W-1: each trial's commit time (the W-th fastest write round trip), sorted. */
  readonly writeMs: readonly Float64Array[];
  /** Per R, at index R-1: each trial's read time (the R-th fastest read round trip), sorted. */
  readonly readMs: readonly Float64Array[];
}

export interface LatencyQuantiles {
  readonly p50: number;
  readonly p99: number;
}

export interface PbsPrediction {
  readonly r: number;
  readonly w: number;
  /** R + W > N: every read quorum meets every write quorum, so every read is consistent. */
  readonly strictQuorum: boolean;
  /** t-visibility: the probability that a read issued t ms after commit returns the write. */
  readonly pConsistent: number;
  /** ⟨k, t⟩-staleness: the probability that it returns one of the last k versions. */
  readonly pWithinK: number;
  readonly readMs: LatencyQuantiles;
  readonly writeMs: LatencyQuantiles;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new RangeError(`PBS: ${what}`);
}

function checkSamples(samples: readonly number[], what: string): void {
  check(
    samples.length >= 1 && samples.length <= LIMITS.pbsSamplesPerPeer,
    `${what} needs 1 to ${LIMITS.pbsSamplesPerPeer} samples, got ${samples.length}`,
  );
  for (const ms of samples) check(Number.isFinite(ms) && ms >= 0, `${what} has a sample ${ms}`);
}

function checkInput(input: WarsInput): void {
  const { n, nodes, trials } = input;
  check(Number.isInteger(n) && n >= 1 && n <= LIMITS.nMax, `n must be 1 to ${LIMITS.nMax}`);
  check(
    nodes.length >= n && nodes.length <= LIMITS.layoutNodesMax,
    `needs ${n} to ${LIMITS.layoutNodesMax} nodes, got ${nodes.length}`,
  );
  check(
    Number.isInteger(trials) && trials >= 1 && trials <= LIMITS.pbsTrials,
    `trials must be 1 to ${LIMITS.pbsTrials}`,
  );
  nodes.forEach((d, i) => {
    checkSamples(d.w, `node ${i} W`);
    checkSamples(d.a, `node ${i} A`);
    checkSamples(d.r, `node ${i} R`);
    checkSamples(d.s, `node ${i} S`);
    if (input.pairedLegs) {
      check(d.w.length === d.a.length, `node ${i}: paired W and A differ in length`);
      check(d.r.length === d.s.length, `node ${i}: paired R and S differ in length`);
    }
  });
}

/** Runs the WARS trials for every (R, W) at once: each trial serves all N² pairs. */
export function simulateWars(input: WarsInput): WarsSimulation {
  checkInput(input);
  const { n, nodes, trials, random } = input;
  const paired = input.pairedLegs ?? false;
  const pick = (length: number): number => Math.min(length - 1, Math.floor(random() * length));

  const windowsMs = Array.from({ length: n * n }, () => new Float64Array(trials));
  const writeMs = Array.from({ length: n }, () => new Float64Array(trials));
  const readMs = Array.from({ length: n }, () => new Float64Array(trials));

  // A permutation of the node indices: the first n after a partial shuffle are a trial's replicas.
  const perm = Array.from(nodes, (_, i) => i);
  const writeRoundTrip = new Float64Array(n);
  const readRoundTrip = new Float64Array(n);
  /** w_i - r_i: replica i holds the write when the read reaches it iff this <= commit + t. */
  const heldBy = new Float64Array(n);
  /** Breaks ties between equal read round trips at random: no replica is favoured by its index. */
  const tie = new Float64Array(n);
  const readOrder = Array.from({ length: n }, (_, i) => i);

  for (let trial = 0; trial < trials; trial++) {
    if (nodes.length > n) {
      for (let i = 0; i < n; i++) {
        const j = i + pick(nodes.length - i);
        const chosen = perm[j] as number;
        perm[j] = perm[i] as number;
        perm[i] = chosen;
      }
    }
    for (let i = 0; i < n; i++) {
      const d = nodes[perm[i] as number] as WarsDistributions;
      const jw = pick(d.w.length);
      const ja = paired ? jw : pick(d.a.length);
      const jr = pick(d.r.length);
      const js = paired ? jr : pick(d.s.length);
      const w = d.w[jw] as number;
      const r = d.r[jr] as number;
      writeRoundTrip[i] = w + (d.a[ja] as number);
      readRoundTrip[i] = r + (d.s[js] as number);
      heldBy[i] = w - r;
      tie[i] = random();
      readOrder[i] = i;
    }
    // Only the W-th value matters for commit, not which replica acknowledged: no tie-break.
    writeRoundTrip.sort();
    sortByReadTime(readOrder, readRoundTrip, tie);

    let earliestHeld = Infinity;
    for (let rq = 1; rq <= n; rq++) {
      const replica = readOrder[rq - 1] as number;
      readMs[rq - 1]![trial] = readRoundTrip[replica]!;
      // The R first answers are consistent at t iff one of them held the write:
      // min over them of (w_i - r_i) <= commit + t.
      earliestHeld = Math.min(earliestHeld, heldBy[replica]!);
      for (let wq = 1; wq <= n; wq++) {
        windowsMs[(rq - 1) * n + (wq - 1)]![trial] = earliestHeld - writeRoundTrip[wq - 1]!;
      }
    }
    for (let wq = 1; wq <= n; wq++) writeMs[wq - 1]![trial] = writeRoundTrip[wq - 1]!;
  }
  for (const a of writeMs) a.sort();
  for (const a of readMs) a.sort();
  return { n, trials, windowsMs, writeMs, readMs };
}

/** Insertion sort of a trial's few (at most LIMITS.nMax) replicas by read time, then tie. */
function sortByReadTime(order: number[], ms: Float64Array, tie: Float64Array): void {
  for (let i = 1; i < order.length; i++) {
    const v = order[i] as number;
    let j = i - 1;
    for (; j >= 0; j--) {
      const u = order[j] as number;
      const d = (ms[u] as number) - (ms[v] as number);
      if (d < 0 || (d === 0 && (tie[u] as number) <= (tie[v] as number))) break;
      order[j + 1] = u;
    }
    order[j + 1] = v;
  }
}

function countAtMost(values: Float64Array, x: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) <= x) count++;
  return count;
}

/** t-visibility of (R, W): the share of trials whose read, issued tMs after commit, is consistent. */
export function consistentAt(sim: WarsSimulation, r: number, w: number, tMs: number): number {
  check(r >= 1 && r <= sim.n && w >= 1 && w <= sim.n, `(R, W) = (${r}, ${w}) outside 1..${sim.n}`);
  const windows = sim.windowsMs[(r - 1) * sim.n + (w - 1)] as Float64Array;
  return countAtMost(windows, tMs) / sim.trials;
}

/**
 * ⟨k, t⟩-staleness from t-visibility, as the paper derives it: a read misses all of the last
 * k versions with probability (1 - p)^k, so it returns one of them with 1 - (1 - p)^k. This
 * treats the k writes' chances as independent and gives each the newest one's p; the older
 * writes committed earlier, so their chance is no lower, and the figure is a lower bound.
 */
export function withinK(pConsistent: number, k: number): number {
  check(Number.isInteger(k) && k >= 1, `k must be a positive integer, got ${k}`);
  return 1 - (1 - pConsistent) ** k;
}

/** The nearest-rank quantile q (0 < q <= 1) of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

function quantiles(sorted: Float64Array): LatencyQuantiles {
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Predicted latencies of (R, W): the R-th fastest read round trip, the W-th fastest write's. */
export function pairLatencies(
  sim: WarsSimulation,
  r: number,
  w: number,
): { readonly readMs: LatencyQuantiles; readonly writeMs: LatencyQuantiles } {
  return {
    readMs: quantiles(sim.readMs[r - 1] as Float64Array),
    writeMs: quantiles(sim.writeMs[w - 1] as Float64Array),
  };
}

/** Every (R, W), R-major, for a read issued tMs after commit and staleness of k versions. */
export function predictionsAt(sim: WarsSimulation, tMs: number, k: number): PbsPrediction[] {
  const out: PbsPrediction[] = [];
  for (let r = 1; r <= sim.n; r++) {
    for (let w = 1; w <= sim.n; w++) {
      const pConsistent = consistentAt(sim, r, w, tMs);
      out.push({
        r,
        w,
        strictQuorum: r + w > sim.n,
        pConsistent,
        pWithinK: withinK(pConsistent, k),
        ...pairLatencies(sim, r, w),
      });
    }
  }
  return out;
}
