// The WARS Monte Carlo against what can be worked out by hand: strict quorums are always
// consistent, constant latencies give exact fractions, more time never hurts, and a seed
// replays a run exactly.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import {
  consistentAt,
  predictionsAt,
  simulateWars,
  withinK,
  type WarsDistributions,
  type WarsInput,
} from '../../src/core/pbs.js';
import { SeededRng } from '../../src/verify/rng.js';

const TRIALS = LIMITS.pbsTrials;
/** Four standard errors of a probability near 1/2 over TRIALS trials: a seeded run stays inside. */
const TOLERANCE = 4 * Math.sqrt(0.25 / TRIALS);

const seeded = (seed: number) => {
  const rng = new SeededRng(seed);
  return () => rng.next();
};

const constant = (w: number, a: number, r: number, s: number): WarsDistributions => ({
  w: [w],
  a: [a],
  r: [r],
  s: [s],
});

/** Long-tailed samples (exponential, mean `meanMs`), as real round trips are. */
function tailed(random: () => number, meanMs: number, count = 200): number[] {
  return Array.from({ length: count }, () => -meanMs * Math.log(1 - random()));
}

function tailedNode(random: () => number, meanMs: number): WarsDistributions {
  return {
    w: tailed(random, meanMs),
    a: tailed(random, meanMs / 2),
    r: tailed(random, meanMs),
    s: tailed(random, meanMs / 2),
  };
}

function run(
  nodes: readonly WarsDistributions[],
  n: number,
  seed = 1,
  extra: Partial<WarsInput> = {},
) {
  return simulateWars({ n, nodes, trials: TRIALS, random: seeded(seed), ...extra });
}

describe('PBS: the WARS Monte Carlo', () => {
  it('gives exactly 1 for every t whenever R + W > N, however slow the replicas', () => {
    const random = seeded(11);
    for (const [n, count] of [
      [3, 3],
      [5, 7],
    ] as const) {
      const nodes = Array.from({ length: count }, (_, i) => tailedNode(random, 1 + 5 * i));
      const sim = run(nodes, n, 12);
      for (let r = 1; r <= n; r++)
        for (let w = n + 1 - r; w <= n; w++)
          for (const t of [0, 0.1, 3, 1_000])
            expect(consistentAt(sim, r, w, t), `N=${n} R=${r} W=${w} t=${t}`).toBe(1);
    }
  });

  it('R=W=1 with constant latencies: one of three replicas has the write at commit, so 1/3 until the others get it', () => {
    // N=3. Replica A: W=A=R=S=1 ms. Replicas B and C: W=10, A=R=S=1.
    // Acks arrive at 2 (A) and 11 (B, C), so W=1 commits at 2.
    // Every read round trip is 2 ms, so the first answer is any of the three, each with
    // chance 1/3. The read reaches replica i at commit + t + R = 3 + t. A has held the write
    // since 1; B and C only from 10, i.e. for t >= 7. So P(consistent) = 1/3 for t < 7, 1 after.
    const nodes = [constant(1, 1, 1, 1), constant(10, 1, 1, 1), constant(10, 1, 1, 1)];
    const sim = run(nodes, 3);
    for (const t of [0, 3, 6.99]) expect(consistentAt(sim, 1, 1, t)).toBeCloseTo(1 / 3, 1);
    expect(Math.abs(consistentAt(sim, 1, 1, 0) - 1 / 3)).toBeLessThan(TOLERANCE);
    expect(consistentAt(sim, 1, 1, 7)).toBe(1);
    // R=2, W=1: the two first answers miss A only if both are B and C: (2/3)(1/2) = 1/3.
    expect(Math.abs(consistentAt(sim, 2, 1, 0) - 2 / 3)).toBeLessThan(TOLERANCE);
    // R=1, W=2 is not a strict quorum, yet commit waits for B or C's ack at 11, by which time
    // every replica (10) holds the write: 1.
    expect(consistentAt(sim, 1, 2, 0)).toBe(1);
    // Latencies: the W-th ack and the R-th answer.
    const byPair = new Map(predictionsAt(sim, 0, 1).map((p) => [`${p.r},${p.w}`, p]));
    expect(byPair.get('1,1')?.writeMs).toEqual({ p50: 2, p99: 2 });
    expect(byPair.get('1,2')?.writeMs).toEqual({ p50: 11, p99: 11 });
    expect(byPair.get('3,1')?.readMs).toEqual({ p50: 2, p99: 2 });
  });

  it('R=W=1 with two fast writers of three: 2/3 until the third gets the write', () => {
    // A and B: W=A=R=S=1; C: W=10. Commit at 2; the read reaches its replica at 3 + t; A or B
    // is the first answer with chance 2/3, and C holds the write from t >= 7.
    const nodes = [constant(1, 1, 1, 1), constant(1, 1, 1, 1), constant(10, 1, 1, 1)];
    const sim = run(nodes, 3, 2);
    expect(Math.abs(consistentAt(sim, 1, 1, 0) - 2 / 3)).toBeLessThan(TOLERANCE);
    expect(consistentAt(sim, 1, 1, 7)).toBe(1);
  });

  it('never predicts less consistency for a later read, and 1 once every replica must hold the write', () => {
    const random = seeded(21);
    const nodes = [tailedNode(random, 1), tailedNode(random, 4), tailedNode(random, 20)];
    const sim = run(nodes, 3, 22);
    const latestWriteMs = Math.max(...nodes.flatMap((d) => d.w));
    for (let r = 1; r <= 3; r++) {
      for (let w = 1; w <= 3; w++) {
        let previous = 0;
        for (let t = 0; t <= 60; t += 0.25) {
          const p = consistentAt(sim, r, w, t);
          expect(p, `R=${r} W=${w} t=${t}`).toBeGreaterThanOrEqual(previous);
          expect(p).toBeLessThanOrEqual(1);
          previous = p;
        }
        // A read issued this late reaches replicas after the slowest write request could have.
        expect(consistentAt(sim, r, w, latestWriteMs)).toBe(1);
      }
    }
    // Not trivially 1 everywhere: R=W=1 with one slow replica is stale at first.
    expect(consistentAt(sim, 1, 1, 0)).toBeLessThan(1);
  });

  it('replays exactly from a seed, and another seed differs', () => {
    const random = seeded(31);
    const nodes = [tailedNode(random, 2), tailedNode(random, 3), tailedNode(random, 9)];
    const a = predictionsAt(run(nodes, 3, 5), 1, 2);
    const b = predictionsAt(run(nodes, 3, 5), 1, 2);
    const c = predictionsAt(run(nodes, 3, 6), 1, 2);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('k-staleness is 1 - (1 - p)^k', () => {
    expect(withinK(0.5, 1)).toBe(0.5);
    expect(withinK(0.5, 2)).toBe(0.75);
    expect(withinK(0.9, 3)).toBeCloseTo(0.999, 12);
    expect(withinK(1, 100)).toBe(1);
    const nodes = [constant(1, 1, 1, 1), constant(10, 1, 1, 1), constant(10, 1, 1, 1)];
    const p = predictionsAt(run(nodes, 3), 0, 3).find((x) => x.r === 1 && x.w === 1);
    expect(p?.pWithinK).toBeCloseTo(1 - (1 - (p?.pConsistent ?? 0)) ** 3, 12);
  });

  it('marks the strict quorums and answers every (R, W) once', () => {
    const nodes = [constant(1, 1, 1, 1), constant(2, 2, 2, 2), constant(3, 3, 3, 3)];
    const all = predictionsAt(run(nodes, 3), 0, 1);
    expect(all.map((p) => `${p.r}${p.w}${p.strictQuorum ? 's' : ''}`)).toEqual([
      '11',
      '12',
      '13s',
      '21',
      '22s',
      '23s',
      '31s',
      '32s',
      '33s',
    ]);
  });

  it('paired legs keep each round trip whole; independent legs mix halves of different ones', () => {
    // One replica whose round trips are 2 or 4 ms, split in halves: W = A in {1, 2}.
    const node = { w: [1, 2], a: [1, 2], r: [1, 2], s: [1, 2] };
    const distinct = (a: Float64Array) => [...new Set(a)].sort();
    const paired = run([node], 1, 3, { pairedLegs: true });
    expect(distinct(paired.writeMs[0]!)).toEqual([2, 4]);
    expect(distinct(paired.readMs[0]!)).toEqual([2, 4]);
    const independent = run([node], 1, 3);
    expect(distinct(independent.writeMs[0]!)).toEqual([2, 3, 4]);
  });

  it('with more nodes than N, each trial places the key on N of them at random', () => {
    // N=1 of three nodes whose round trips are 2, 4 and 6 ms: each is the replica a third of the time.
    const nodes = [constant(1, 1, 1, 1), constant(2, 2, 2, 2), constant(3, 3, 3, 3)];
    const sim = run(nodes, 1, 4);
    for (const ms of [2, 4, 6]) {
      const share = sim.writeMs[0]!.filter((x) => x === ms).length / TRIALS;
      expect(Math.abs(share - 1 / 3), `${ms} ms`).toBeLessThan(TOLERANCE);
    }
  });

  it('refuses inputs outside its bounds instead of running unbounded or on nothing', () => {
    const ok = constant(1, 1, 1, 1);
    const random = seeded(1);
    const bad: Array<[string, WarsInput]> = [
      ['an empty distribution', { n: 1, nodes: [{ ...ok, r: [] }], trials: 10, random }],
      ['a negative sample', { n: 1, nodes: [{ ...ok, w: [-1] }], trials: 10, random }],
      ['a sample that is not a number', { n: 1, nodes: [{ ...ok, s: [NaN] }], trials: 10, random }],
      [
        'more samples than a distribution may hold',
        {
          n: 1,
          nodes: [{ ...ok, a: new Array<number>(LIMITS.pbsSamplesPerPeer + 1).fill(1) }],
          trials: 10,
          random,
        },
      ],
      ['more trials than the limit', { n: 1, nodes: [ok], trials: LIMITS.pbsTrials + 1, random }],
      ['fewer nodes than N', { n: 3, nodes: [ok, ok], trials: 10, random }],
      [
        'paired legs of different lengths',
        { n: 1, nodes: [{ ...ok, a: [1, 2] }], trials: 10, random, pairedLegs: true },
      ],
    ];
    for (const [what, input] of bad) expect(() => simulateWars(input), what).toThrow(RangeError);
  });
});
