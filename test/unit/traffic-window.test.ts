// The console's traffic figures: counts by status class, rates over the sliding window,
// percentiles within a bucket's precision, slots that expire, and the level names requests
// are counted under.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import {
  OVERFLOW_LEVEL,
  TrafficWindow,
  levelName,
  statusClassOf,
  trafficLevel,
} from '../../src/core/traffic-window.js';

const LIMITS_10S = { windowMs: 10_000, slotMs: 1_000, levelsMax: 8 };
/** Bucket precision: a quarter octave, so a reported percentile is within ~10% of the truth. */
const PRECISION = 2 ** (1 / 8);

function within(actual: number | null, expected: number): boolean {
  return actual !== null && actual / expected <= PRECISION && expected / actual <= PRECISION;
}

describe('status classes', () => {
  it.each([
    [200, '2xx'],
    [204, '2xx'],
    [300, 'other'],
    [404, 'other'],
    [400, 'other'],
    [503, '503'],
    [504, '504'],
    [500, 'other'],
  ] as const)('%i counts as %s', (status, cls) => {
    expect(statusClassOf(status)).toBe(cls);
  });
});

describe('level names', () => {
  it.each([
    [1, 3, 'one'],
    [2, 3, 'quorum'],
    [3, 3, 'all'],
    [1, 5, 'one'],
    [2, 5, '2'],
    [3, 5, 'quorum'],
    [4, 5, '4'],
    [5, 5, 'all'],
    // One replica: one, quorum and all are the same count; it is called one.
    [1, 1, 'one'],
  ])('%i of N=%i is %s', (k, n, name) => {
    expect(levelName(k, n)).toBe(name);
  });

  it('a request is counted under its operation and the level it was served at', () => {
    const opts = { r: 2, w: 1, linearizable: false, timeoutMs: 2000 };
    expect(trafficLevel('read', opts, 3)).toBe('read quorum');
    expect(trafficLevel('write', opts, 3)).toBe('write one');
    expect(trafficLevel('write', { ...opts, w: 2, linearizable: true }, 3)).toBe(
      'write linearizable',
    );
  });
});

describe('the traffic window', () => {
  it('counts each level apart, by status class, and gives requests per second over the window', () => {
    const t = new TrafficWindow(LIMITS_10S, 0);
    // 20 s of steady traffic: 10 writes a second, one in ten refused 503.
    for (let ms = 0; ms < 20_000; ms += 100) {
      t.record('write quorum', ms % 1000 === 0 ? 503 : 204, 2, ms);
    }
    t.record('read one', 200, 1, 19_500);
    // At 19.999 s the window is the ten slots from 10 s on: the last 100 writes.
    const [read, write] = t.snapshot(19_999);
    expect(read).toMatchObject({ level: 'read one', requests: 1 });
    expect(write).toMatchObject({
      level: 'write quorum',
      requests: 100,
      statuses: { '2xx': 90, '503': 10, '504': 0, other: 0 },
    });
    expect(write?.perSecond).toBeCloseTo(10, 2);
  });

  it('forgets requests older than the window', () => {
    const t = new TrafficWindow(LIMITS_10S, 0);
    t.record('read quorum', 200, 1, 1_000);
    expect(t.snapshot(10_999)).toHaveLength(1);
    // Slot 1 (1000-1999 ms) falls out once slot 11 is the newest.
    expect(t.snapshot(11_000)).toEqual([]);
    // A slot that is reused for a later second starts empty.
    t.record('read quorum', 503, 1, 11_500);
    expect(t.snapshot(11_600)[0]?.statuses).toEqual({ '2xx': 0, '503': 1, '504': 0, other: 0 });
  });

  it('divides by its real age while younger than the window', () => {
    const t = new TrafficWindow(LIMITS_10S, 5_000);
    for (let i = 0; i < 40; i++) t.record('write one', 204, 1, 5_000 + i * 50);
    // 40 requests in the 2 s since counting began: 20 a second, not 4.
    expect(t.snapshot(7_000)[0]?.perSecond).toBeCloseTo(20, 5);
  });

  it('reports p50 and p99 within a bucket of the true percentiles', () => {
    const t = new TrafficWindow(LIMITS_10S, 0);
    // 1000 requests: 1..1000 ms, so p50 = 500 ms and p99 = 990 ms.
    for (let i = 1; i <= 1000; i++) t.record('read all', 200, i, 5_000);
    const [f] = t.snapshot(5_000);
    expect(within(f?.p50Ms ?? null, 500)).toBe(true);
    expect(within(f?.p99Ms ?? null, 990)).toBe(true);
    // A fast level and a slow one do not mix.
    t.record('read one', 200, 0.3, 5_000);
    expect(within(t.snapshot(5_000)[1]?.p99Ms ?? null, 0.3)).toBe(true);
  });

  it('keeps at most levelsMax rows: the rest fold into one', () => {
    const t = new TrafficWindow({ ...LIMITS_10S, levelsMax: 3 }, 0);
    for (const level of ['a', 'b', 'c', 'd', 'e']) t.record(level, 200, 1, 100);
    const rows = t.snapshot(200);
    expect(rows.map((r) => r.level)).toEqual(['a', 'b', OVERFLOW_LEVEL]);
    expect(rows[2]?.requests).toBe(3);
  });

  it('refuses a window that is not a whole number of slots', () => {
    expect(() => new TrafficWindow({ ...LIMITS_10S, slotMs: 3_000 }, 0)).toThrow(/multiple/);
  });

  it("the configured limits make a valid window with room for every level's row", () => {
    expect(
      () =>
        new TrafficWindow(
          {
            windowMs: LIMITS.trafficWindowMs,
            slotMs: LIMITS.trafficSlotMs,
            levelsMax: LIMITS.trafficLevelsMax,
          },
          0,
        ),
    ).not.toThrow();
    // read/write x (one, quorum, all, the other counts up to nMax, linearizable, invalid)
    expect(LIMITS.trafficLevelsMax).toBeGreaterThan(2 * (LIMITS.nMax + 2));
  });
});
