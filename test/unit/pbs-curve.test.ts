// PBS's curve: its points are exactly the single-t answers of the same trials, the axis the
// node picks ends where every (R, W) has flattened, and GET /admin/pbs/curve's answer holds one
// curve per (R, W), or says nothing was measured yet.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { consistentAt, simulateWars, type WarsDistributions } from '../../src/core/pbs.js';
import {
  consistentAfterMs,
  consistentCurve,
  evenAxis,
  roundUp125,
  sortedWindows,
} from '../../src/core/pbs-curve.js';
import {
  AXIS_MIN_END_MS,
  AXIS_POINTS,
  pbsCurveAnswer,
} from '../../src/replica/pbs-curve-report.js';
import { pbsModel } from '../../src/replica/pbs-report.js';
import type { RoundTrips } from '../../src/replica/wars-recorder.js';
import { SeededRng } from '../../src/verify/rng.js';

const seeded = (seed: number) => {
  const rng = new SeededRng(seed);
  return () => rng.next();
};

/** Long-tailed samples (exponential, mean `meanMs`), as real round trips are. */
function tailed(random: () => number, meanMs: number): number[] {
  return Array.from({ length: 200 }, () => -meanMs * Math.log(1 - random()));
}

function tailedRun(seed: number) {
  const random = seeded(seed);
  const node = (mean: number): WarsDistributions => ({
    w: tailed(random, mean),
    a: tailed(random, mean / 2),
    r: tailed(random, mean),
    s: tailed(random, mean / 2),
  });
  return simulateWars({ n: 3, nodes: [node(1), node(3), node(10)], trials: 5_000, random });
}

describe('the curve of one (R, W)', () => {
  it('gives at each t exactly what consistentAt gives for that t alone', () => {
    const sim = tailedRun(3);
    const ts = [0, 0.001, 0.5, 1, 2.25, 7, 30, 100];
    for (let r = 1; r <= 3; r++) {
      for (let w = 1; w <= 3; w++) {
        expect(consistentCurve(sortedWindows(sim, r, w), ts), `${r},${w}`).toEqual(
          ts.map((t) => consistentAt(sim, r, w, t)),
        );
      }
    }
    expect(() => sortedWindows(sim, 4, 1)).toThrow(/outside 1..3/);
  });

  it('reaches a share q at consistentAfterMs, and not before', () => {
    const windows = sortedWindows(tailedRun(5), 1, 1);
    const atOnce = consistentCurve(windows, [0])[0]!;
    for (const q of [0.9, 0.99, 0.999]) {
      expect(atOnce).toBeLessThan(q);
      const t = consistentAfterMs(windows, q);
      const [before, at] = consistentCurve(windows, [t - 1e-9, t]);
      expect(at).toBeGreaterThanOrEqual(q);
      expect(before).toBeLessThan(q);
    }
    // A pair consistent at once in every trial: from 0, never before it.
    expect(consistentAfterMs(sortedWindows(tailedRun(5), 2, 2), 0.99)).toBe(0);
  });

  it('rounds an axis end up to 1, 2 or 5 times a power of ten, and spaces its points evenly', () => {
    expect([0.07, 0.1, 0.13, 0.3, 1, 1.01, 4.2, 7, 20, 2_001].map(roundUp125)).toEqual([
      0.1, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 5_000,
    ]);
    expect(() => roundUp125(0)).toThrow(RangeError);
    expect(evenAxis(0.1, 6)).toEqual([0, 0.02, 0.04, 0.06, 0.08, 0.1]);
    expect(evenAxis(5, AXIS_POINTS).slice(0, 4)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(evenAxis(5, AXIS_POINTS).at(-1)).toBe(5);
  });
});

const MEMBERS = ['n1', 'n2', 'n3'];
const many = (ms: number) => new Array<number>(100).fill(ms);

function model(trips: Record<string, Partial<RoundTrips>>) {
  const rng = new SeededRng(9);
  return pbsModel({
    self: 'n1',
    members: MEMBERS,
    n: 3,
    roundTrips: (node) => ({ write: trips[node]?.write ?? [], read: trips[node]?.read ?? [] }),
    random: () => rng.next(),
    trials: 3_000,
  });
}

const pairsOf = (a: { curves: readonly { r: number; w: number }[] }) =>
  a.curves.map((c) => `${c.r},${c.w}`);
const ALL_PAIRS = ['1,1', '1,2', '1,3', '2,1', '2,2', '2,3', '3,1', '3,2', '3,3'];

describe('GET /admin/pbs/curve: the answer', () => {
  // As in pbs-report.test.ts: n1's store takes 2 ms, the peers' writes 20 ms and reads 2 ms.
  // R=W=1 commits at 2 (n1's ack); the read is consistent for t >= 7, before that only when n1
  // answers first (1/3). So the axis the node picks ends at 10 ms.
  const trips = {
    n1: { write: many(2), read: many(2) },
    n2: { write: many(20), read: many(2) },
    n3: { write: many(20), read: many(2) },
  };

  it('picks an axis from 0 to a round end past where every (R, W) is flat', () => {
    const a = pbsCurveAnswer(model(trips), undefined);
    expect(a).toMatchObject({ node: 'n1', n: 3, trials: 3_000, enoughSamples: true });
    expect(a.tMs).toEqual(evenAxis(10, AXIS_POINTS));
    expect(pairsOf(a)).toEqual(ALL_PAIRS);
    const first = a.curves[0]!;
    const at = (t: number) => first.pConsistent![a.tMs.indexOf(t)]!;
    expect(Math.abs(at(0) - 1 / 3)).toBeLessThan(0.04);
    expect(at(6.8)).toBe(at(0));
    expect(at(7)).toBe(1);
    expect(first.writeMs).toEqual({ p50: 2, p99: 2 });
    for (const c of a.curves) {
      expect(c.pConsistent).toHaveLength(AXIS_POINTS);
      if (c.strictQuorum) expect(new Set(c.pConsistent)).toEqual(new Set([1]));
      // One run's points: never a dip.
      c.pConsistent!.forEach((p, i) =>
        expect(p).toBeGreaterThanOrEqual(c.pConsistent![i - 1] ?? 0),
      );
    }
  });

  it('answers at the t given, in order', () => {
    const a = pbsCurveAnswer(model(trips), [0.5, 7, 60_000]);
    expect(a.tMs).toEqual([0.5, 7, 60_000]);
    expect(a.curves[0]?.pConsistent?.slice(1)).toEqual([1, 1]);
  });

  it('before anything was measured: strict quorums are 1 at every point, the rest null', () => {
    const a = pbsCurveAnswer(model({}), undefined);
    expect(a.enoughSamples).toBe(false);
    expect(a.notes.join(' ')).toMatch(/n1 has measured no replies yet/);
    expect(a.tMs).toEqual(evenAxis(AXIS_MIN_END_MS, AXIS_POINTS));
    expect(pairsOf(a)).toEqual(ALL_PAIRS);
    for (const c of a.curves) {
      expect(c.pConsistent).toEqual(c.strictQuorum ? a.tMs.map(() => 1) : null);
      expect(c.readMs).toBeNull();
    }
  });

  it('never picks an axis past the longest t a query may ask', () => {
    const slow = many(LIMITS.pbsTMsMax);
    const a = pbsCurveAnswer(
      model({ n1: { write: many(1), read: many(1) }, n2: { write: slow }, n3: { write: slow } }),
      undefined,
    );
    expect(a.tMs.at(-1)).toBeLessThanOrEqual(LIMITS.pbsTMsMax);
  });
});
