// `kvorum verify --compare-pbs`, the pure parts: each read's age and whether it missed the
// latest acknowledged write, the age buckets and the Wilson interval, a node's PBS curve read
// between its grid points, and the comparison table. Hand-made records and answers; no
// processes.

import { describe, expect, it } from 'vitest';
import type { PbsResult } from '../../src/client/kvorum-client.js';
import {
  bucketIndex,
  bucketLabel,
  bucketsOf,
  wilsonInterval,
} from '../../src/verify/age-buckets.js';
import { comparePbs } from '../../src/verify/pbs-compare.js';
import {
  curveFrom,
  fetchPbsCurve,
  staleAt,
  type CurveOutcome,
  type PbsCurve,
} from '../../src/verify/pbs-curve.js';
import { formatPbsComparison } from '../../src/verify/pbs-table.js';
import { readAges } from '../../src/verify/read-ages.js';
import type { OpRecord } from '../../src/verify/records.js';

let nextId = 0;
/** `w n1 k 5 ok 0 10` (a write of 5 through n1), `r n2 k [5] ok 12 14` (a read through n2). */
function op(line: string): OpRecord {
  const [f, node, key, val, outcome, invokeAt, completeAt] = line.split(' ');
  const base = {
    id: nextId++,
    client: 0,
    node: node!,
    key: key!,
    outcome: outcome as OpRecord['outcome'],
    status: outcome === 'ok' ? '200' : outcome === 'fail' ? '503' : '504',
    invokeAt: Number(invokeAt),
    completeAt: Number(completeAt),
  };
  if (f === 'r') {
    return { ...base, f: 'read', values: (JSON.parse(val!) as number[]).map(String) };
  }
  return { ...base, f: 'write', value: val };
}
const ops = (...lines: string[]) => lines.map(op);

describe('read ages', () => {
  it('measures each read against the write acknowledged last before it began', () => {
    const { eligible, overlapped, ages } = readAges(
      ops(
        'w n1 k 1 ok 0 10',
        'r n1 k [1] ok 5 6', // began before any write was acknowledged: not eligible
        'w n1 k 2 ok 20 30',
        'r n1 k [2] ok 32 33', // 2 ms after 2: fresh
        'r n2 k [1] ok 40 41', // 10 ms after 2, through another node: stale
      ),
      'lww',
    );
    expect({ eligible, overlapped }).toEqual({ eligible: 2, overlapped: 0 });
    expect(
      ages.map((a) => [a.latest.value, a.tMs, a.stale, a.sameCoordinator, a.read.node]),
    ).toEqual([
      ['2', 2, false, true, 'n1'],
      ['2', 10, true, false, 'n2'],
    ]);
  });

  it('leaves out a read that another write overlapped, whatever its outcome but a failure', () => {
    const { eligible, overlapped, ages } = readAges(
      ops(
        'w n1 k 1 ok 0 10',
        'w n1 k 2 ok 15 30', // in flight when the next read began
        'r n1 k [1] ok 20 22',
        'w n2 k 3 info 40 60', // unknown: may land until the client gave up at 60
        'r n1 k [2] ok 50 52',
        'w n1 k 4 fail 70 80', // refused: wrote nothing
        'r n1 k [2] ok 75 76',
        'w n1 k 5 ok 90 95', // sent while the next read was out
        'r n1 k [2] ok 89 91',
      ),
      'lww',
    );
    expect({ eligible, overlapped }).toEqual({ eligible: 4, overlapped: 3 });
    expect(ages.map((a) => [a.read.invokeAt, a.latest.value, a.tMs, a.stale])).toEqual([
      [75, '2', 45, false],
    ]);
  });

  it('counts the same reads as eligible as the stale-read count, and keys apart', () => {
    const { eligible, ages } = readAges(
      ops('w n1 a 1 ok 0 1', 'w n1 b 2 ok 0 1', 'r n1 a [1] ok 2 3', 'r n1 b [] ok 2 3'),
      'lww',
    );
    expect(eligible).toBe(2);
    expect(ages.map((a) => [a.read.key, a.stale])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });
});

describe('age buckets', () => {
  const buckets = bucketsOf([0, 1, 2, 5]);

  it('cover [0, ∞) without gaps, the last one open', () => {
    expect(buckets.map(bucketLabel)).toEqual(['0-1', '1-2', '2-5', '5+']);
    expect([0, 0.999, 1, 4.99, 5, 1e9].map((t) => bucketIndex(buckets, t))).toEqual([
      0, 0, 1, 2, 3, 3,
    ]);
  });

  it('refuse edges that do not start at 0 or do not ascend', () => {
    expect(() => bucketsOf([1, 2])).toThrow(RangeError);
    expect(() => bucketsOf([0, 2, 2])).toThrow(RangeError);
    expect(() => bucketIndex(buckets, -1)).toThrow(RangeError);
  });
});

describe('the Wilson interval', () => {
  it('matches the textbook values', () => {
    const i = wilsonInterval(1, 10);
    expect(i.low).toBeCloseTo(0.01788, 4);
    expect(i.high).toBeCloseTo(0.40415, 4);
  });

  it('is not empty at 0 of n nor n of n, and stays in [0, 1]', () => {
    expect(wilsonInterval(0, 20).low).toBe(0);
    expect(wilsonInterval(0, 20).high).toBeCloseTo(0.1611, 3);
    expect(wilsonInterval(20, 20).high).toBe(1);
    expect(wilsonInterval(20, 20).low).toBeCloseTo(0.8389, 3);
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    // Exactly, not a rounding error away: a measured 0 must lie inside its interval.
    for (const n of [1, 7, 132, 653, 2025]) {
      expect(wilsonInterval(0, n).low).toBe(0);
      expect(wilsonInterval(n, n).high).toBe(1);
    }
  });

  it('narrows as the reads grow', () => {
    const width = (n: number) => {
      const i = wilsonInterval(n / 10, n);
      return i.high - i.low;
    };
    expect(width(1000)).toBeLessThan(width(100));
    expect(width(100)).toBeLessThan(width(10));
  });

  it('refuses more hits than trials', () => {
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
  });
});

/** A GET /admin/pbs answer whose (1, 1) row is `pConsistent` at `tMs`; (2, 2) is strict. */
function answer(tMs: number, pConsistent: number | null, node = 'n1'): PbsResult {
  const row = (r: number, w: number, p: number | null) => ({
    r,
    w,
    strictQuorum: r + w > 3,
    pConsistent: p,
    pWithinK: p,
    readMs: null,
    writeMs: null,
  });
  return {
    node,
    n: 3,
    tMs,
    k: 1,
    trials: 10_000,
    enoughSamples: true,
    notes: [],
    samples: {},
    predictions: [row(1, 1, pConsistent), row(2, 2, 1)],
  };
}

const curveOf = (outcome: CurveOutcome): PbsCurve => {
  if (!outcome.ok) throw new Error(outcome.why);
  return outcome.curve;
};

describe('a PBS curve', () => {
  const curve = curveOf(
    curveFrom('n1', [answer(0, 0.6), answer(1, 0.8), answer(10, 1)], { r: 1, w: 1 }),
  );

  it("keeps 1 - P(consistent) of the run's (R, W) at each t", () => {
    expect(curve.points.map((p) => [p.tMs, Number(p.pStale.toFixed(6))])).toEqual([
      [0, 0.4],
      [1, 0.2],
      [10, 0],
    ]);
    const strict = curveOf(curveFrom('n1', [answer(0, 0.6), answer(1, 0.8)], { r: 2, w: 2 }));
    expect(strict.points.map((p) => p.pStale)).toEqual([0, 0]);
  });

  it('is read linearly between its points, and flat beyond them', () => {
    expect(staleAt(curve, 0)).toBeCloseTo(0.4);
    expect(staleAt(curve, 0.5)).toBeCloseTo(0.3);
    expect(staleAt(curve, 5.5)).toBeCloseTo(0.1);
    expect(staleAt(curve, 10)).toBe(0);
    expect(staleAt(curve, 1e6)).toBe(0);
  });

  it('is no curve when the node measured nothing, or lacks the (R, W)', () => {
    const unmeasured = curveFrom('n2', [answer(0, null)], { r: 1, w: 1 });
    expect(unmeasured).toMatchObject({ ok: false, node: 'n2', why: /measured no replies/ });
    expect(curveFrom('n2', [answer(0, 1)], { r: 3, w: 1 })).toMatchObject({ ok: false });
    expect(() => curveFrom('n1', [answer(1, 1), answer(1, 1)], { r: 1, w: 1 })).toThrow(
      /ascending/,
    );
  });

  it('is fetched at every grid point, and a node that fails says why instead of throwing', async () => {
    const asked: number[] = [];
    const ok = await fetchPbsCurve(
      'n1',
      async (t) => {
        asked.push(t);
        return answer(t, t < 1 ? 0.5 : 1);
      },
      { r: 1, w: 1 },
      [0, 0.5, 1],
    );
    expect(asked).toEqual([0, 0.5, 1]);
    expect(curveOf(ok).points).toHaveLength(3);
    const down = await fetchPbsCurve(
      'n3',
      () => Promise.reject(new Error('n3 GET /admin/pbs: ECONNREFUSED')),
      { r: 1, w: 1 },
      [0, 1],
    );
    expect(down).toEqual({ ok: false, node: 'n3', why: 'n3 GET /admin/pbs: ECONNREFUSED' });
  });
});

describe('the comparison', () => {
  // n1 predicts 40% stale at 0 ms, falling to 0 at 10 ms; n2 nothing stale at all.
  const curves: CurveOutcome[] = [
    curveFrom('n1', [answer(0, 0.6), answer(10, 1)], { r: 1, w: 1 }),
    curveFrom('n2', [answer(0, 1, 'n2'), answer(10, 1, 'n2')], { r: 1, w: 1 }),
    { ok: false, node: 'n3', why: 'n3 GET /admin/pbs: ECONNREFUSED' },
  ];
  const records = ops(
    'w n1 k 1 ok 0 10',
    'r n1 k [] ok 10.5 11', // 0.5 ms, stale, same coordinator
    'r n1 k [1] ok 15 16', // 5 ms, fresh, same coordinator
    'r n2 k [] ok 12 13', // 2 ms, stale, through n2
    'r n3 k [1] ok 30 31', // 20 ms, fresh, through n3 (no prediction)
    'w n1 k 2 ok 40 50',
    'r n1 k [2] ok 45 46', // overlapped by the write of 2
  );
  const c = comparePbs({
    ages: readAges(records, 'lww'),
    curves,
    levels: { r: 1, w: 1, n: 3 },
    edgesMs: [0, 1, 10],
  });

  it('splits the reads by coordinator, and every compared read is in one bucket', () => {
    expect(c).toMatchObject({ eligible: 5, overlapped: 1, compared: 4, strictQuorum: false });
    const reads = (rows: readonly { reads: number }[]) => rows.map((r) => r.reads);
    expect(reads(c.sameCoordinator.rows)).toEqual([1, 1, 0]);
    expect(reads(c.otherCoordinator.rows)).toEqual([0, 1, 1]);
    expect(c.sameCoordinator.total.reads + c.otherCoordinator.total.reads).toBe(c.compared);
  });

  it("measures stale over reads, and predicts the mean at each read's own t by its node", () => {
    const [first, second] = c.sameCoordinator.rows;
    expect(first).toMatchObject({ reads: 1, stale: 1, measured: 1, predictedReads: 1 });
    expect(first!.predicted).toBeCloseTo(0.4 * (1 - 0.5 / 10));
    // Shifted by the read's own round trip (0.5 ms): t = 1 ms.
    expect(first!.predictedShifted).toBeCloseTo(0.4 * (1 - 1 / 10));
    expect(second!.predicted).toBeCloseTo(0.4 * (1 - 5 / 10));
    expect(c.sameCoordinator.total.predicted).toBeCloseTo((0.38 + 0.2) / 2);
    // The read through n2 has n2's prediction; the one through n3 has none.
    expect(c.otherCoordinator.rows[1]).toMatchObject({ stale: 1, predicted: 0, predictedReads: 1 });
    expect(c.otherCoordinator.rows[2]).toMatchObject({
      reads: 1,
      stale: 0,
      predicted: undefined,
      predictedReads: 0,
    });
    expect(c.missing).toEqual([{ node: 'n3', why: 'n3 GET /admin/pbs: ECONNREFUSED' }]);
  });

  it("counts stale reads by the write's node and the read's", () => {
    expect(c.byPair).toEqual([
      { writeNode: 'n1', readNode: 'n1', reads: 2, stale: 1 },
      { writeNode: 'n1', readNode: 'n2', reads: 1, stale: 1 },
      { writeNode: 'n1', readNode: 'n3', reads: 1, stale: 0 },
    ]);
  });

  it('prints both tables with counts, intervals and both predictions', () => {
    const text = formatPbsComparison(c).join('\n');
    expect(text).toMatch(/^PBS predicted against measured \(R=1 W=1, N=3\)/);
    expect(text).toMatch(
      /reads: 5 began after an acknowledged write; 1 left out [^;]*; 4 compared/,
    );
    expect(text).toMatch(
      /t ms +reads +stale +measured % +95% interval +predicted % +at t\+rtt %\n +0-1 +1 +1 +100\.00 +20\.65-100\.00 +38\.00 +36\.00\n/,
    );
    expect(text).toMatch(/^ +10\+ +1 +0 +0\.00 +0\.00-79\.35 +- +-$/m);
    expect(text).toMatch(/^ +all +2 +1 +50\.00 .* 0\.00\* +0\.00\*$/m);
    expect(text).toMatch(/n1->n1 1\/2, n1->n2 1\/1, n1->n3 0\/1/);
    expect(text).toMatch(/no prediction from n3: n3 GET \/admin\/pbs: ECONNREFUSED/);
  });

  it('predicts 0 at every t for R+W>N', () => {
    const strict = comparePbs({
      ages: readAges(records, 'lww'),
      curves: [curveFrom('n1', [answer(0, 0.6), answer(10, 1)], { r: 2, w: 2 })],
      levels: { r: 2, w: 2, n: 3 },
      edgesMs: [0, 1, 10],
    });
    expect(strict.strictQuorum).toBe(true);
    expect(strict.sameCoordinator.rows.map((r) => r.predicted)).toEqual([0, 0, undefined]);
  });
});
