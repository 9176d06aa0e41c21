// GET /admin/pbs's answer from recorded round trips: it always answers, says what stood in for
// what was not measured, and turns halved round trips into the closed form of the model.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import {
  pbsModel,
  PbsPredictor,
  pbsReport,
  type PbsReportInput,
} from '../../src/replica/pbs-report.js';
import type { RoundTrips } from '../../src/replica/wars-recorder.js';
import { SeededRng } from '../../src/verify/rng.js';

const MEMBERS = ['n1', 'n2', 'n3'];
const many = (ms: number, count = 100) => new Array<number>(count).fill(ms);

function report(trips: Record<string, Partial<RoundTrips>>, extra: Partial<PbsReportInput> = {}) {
  const rng = new SeededRng(9);
  return pbsReport({
    self: 'n1',
    members: MEMBERS,
    n: 3,
    tMs: 0,
    k: 1,
    roundTrips: (node) => ({ write: trips[node]?.write ?? [], read: trips[node]?.read ?? [] }),
    random: () => rng.next(),
    trials: 2_000,
    ...extra,
  });
}

const pairs = (rows: readonly { r: number; w: number }[]) => rows.map((p) => `${p.r},${p.w}`);
const ALL_PAIRS = ['1,1', '1,2', '1,3', '2,1', '2,2', '2,3', '3,1', '3,2', '3,3'];

describe('pbsReport', () => {
  it('answers before anything was measured: strict quorums are 1, the rest unknown, and it says why', () => {
    const a = report({});
    expect(a.enoughSamples).toBe(false);
    expect(pairs(a.predictions)).toEqual(ALL_PAIRS);
    for (const p of a.predictions) {
      expect(p.pConsistent).toBe(p.r + p.w > 3 ? 1 : null);
      expect(p.strictQuorum).toBe(p.r + p.w > 3);
      expect(p.readMs).toBeNull();
    }
    expect(a.notes.join(' ')).toMatch(/n1 has measured no replies yet/);
    expect(a.samples.n2).toEqual({ writes: 0, reads: 0, writeFrom: 'none', readFrom: 'none' });
  });

  it("halves peers' round trips into the model: R=W=1 is 1/3 at t=0 when the peers get writes 8 ms after this node", () => {
    // n1 (this node): write and read round trips 2 ms; its own store, so W = 2, A = 0, R = 0,
    // S = 2. n2 and n3: writes 20 ms (W = A = 10), reads 2 ms (R = S = 1). W=1 commits at 2
    // (n1's ack); the first read answer is any of the three (equal round trips). n1 holds the
    // write from 2, when the read reaches it (2 + t); n2 and n3 hold it from 10 and are
    // reached at 2 + t + 1: consistent for t >= 7, else only if n1 answered first (1/3).
    const trips = {
      n1: { write: many(2), read: many(2) },
      n2: { write: many(20), read: many(2) },
      n3: { write: many(20), read: many(2) },
    };
    const at0 = report(trips, { trials: LIMITS.pbsTrials });
    expect(at0.enoughSamples).toBe(true);
    expect(at0.notes).toEqual([]);
    const first = at0.predictions[0]!;
    expect(first).toMatchObject({ r: 1, w: 1, strictQuorum: false });
    expect(Math.abs(first.pConsistent! - 1 / 3)).toBeLessThan(0.02);
    expect(first.writeMs).toEqual({ p50: 2, p99: 2 });
    expect(at0.predictions.find((p) => p.r === 1 && p.w === 2)?.writeMs).toEqual({
      p50: 20,
      p99: 20,
    });
    const at7 = report(trips, { tMs: 7, k: 2 });
    expect(at7.predictions.every((p) => p.pConsistent === 1 && p.pWithinK === 1)).toBe(true);
    expect(at7).toMatchObject({ tMs: 7, k: 2, n: 3, node: 'n1' });
  });

  it("a write a peer acknowledged before this node's store committed it is not yet visible to a local read", () => {
    // n1: its store takes 4 ms to commit a write (W = 4, A = 0) and 0.2 ms to read (R = 0).
    // n2, n3: round trips of 2 ms (W = A = R = S = 1). W=1 commits at 2 (a peer's ack). R=1
    // reads n1, the fastest answer, which it reaches at 2 + t: it holds the write from 4, so
    // the read is stale until t = 2. (Halving n1's round trip too would predict 1 at once.)
    const trips = {
      n1: { write: many(4), read: many(0.2) },
      n2: { write: many(2), read: many(2) },
      n3: { write: many(2), read: many(2) },
    };
    const one = (tMs: number) => report(trips, { tMs }).predictions[0]!;
    expect(one(0).pConsistent).toBe(0);
    expect(one(1.9).pConsistent).toBe(0);
    expect(one(2).pConsistent).toBe(1);
  });

  it("uses a member's write round trips for its reads when targeted reads rarely asked it, and says so", () => {
    const a = report({
      n1: { write: many(1), read: many(1) },
      n2: { write: many(3), read: many(3) },
      n3: { write: many(5), read: [5, 5] },
    });
    expect(a.samples.n3).toEqual({ writes: 100, reads: 2, writeFrom: 'own', readFrom: 'writes' });
    expect(a.notes).toEqual(['n3: its 100 write round trips stand in for reads (same link)']);
    expect(a.enoughSamples).toBe(true);
  });

  it("lends the other members' round trips to one nothing was measured for, and is then not enough", () => {
    const a = report({ n1: { write: many(1), read: many(1) }, n2: { write: many(3) } });
    expect(a.samples.n3?.writeFrom).toBe('peers');
    expect(a.notes).toContain(
      "n3: none of its replies measured; the other members' round trips stand in",
    );
    expect(a.enoughSamples).toBe(false);
    for (const p of a.predictions) {
      expect(p.pConsistent).toBeGreaterThanOrEqual(0);
      expect(p.pConsistent).toBeLessThanOrEqual(1);
    }
  });

  it('says when the samples are thin, and still predicts from them', () => {
    const a = report({
      n1: { write: [1, 1, 1], read: [1] },
      n2: { write: many(3) },
      n3: { write: many(5) },
    });
    expect(a.enoughSamples).toBe(false);
    expect(a.notes).toContain(
      `n1: only 1 round trips measured, fewer than ${LIMITS.pbsSamplesMin}`,
    );
    expect(a.predictions.every((p) => typeof p.pConsistent === 'number')).toBe(true);
  });

  it('never fails on a layout smaller than N', () => {
    const a = report({ n1: { write: many(1), read: many(1) } }, { members: ['n1', 'n2'] });
    expect(a.enoughSamples).toBe(false);
    expect(pairs(a.predictions)).toEqual(ALL_PAIRS);
    expect(a.notes.join(' ')).toMatch(/fewer than N=3/);
  });

  it('answers every t and k from one run of the trials for pbsModelReuseMs, then runs them again', () => {
    let now = 0;
    let builds = 0;
    const rng = new SeededRng(4);
    const trips: Record<string, RoundTrips> = {
      n1: { write: many(3), read: many(0.1) },
      n2: { write: [1, 2, 4, 8, 16], read: many(2) },
      n3: { write: [1, 3, 9, 27], read: many(2) },
    };
    const predictor = new PbsPredictor(
      () => (
        builds++,
        pbsModel({
          self: 'n1',
          members: MEMBERS,
          n: 3,
          roundTrips: (node) => trips[node]!,
          random: () => rng.next(),
          trials: 2_000,
        })
      ),
      () => now,
    );
    // Points of one curve: the same trials, so the curve never dips.
    let previous = 0;
    for (let t = 0; t <= 30; t += 0.5) {
      const p = predictor.answer(t, 1).predictions[0]!.pConsistent!;
      expect(p, `t=${t}`).toBeGreaterThanOrEqual(previous);
      previous = p;
    }
    expect(predictor.answer(0, 5).k).toBe(5);
    expect(builds).toBe(1);
    now += LIMITS.pbsModelReuseMs;
    predictor.answer(0, 1);
    expect(builds).toBe(2);
  });
});
