// The console's staleness figures: stale replies per read level over a sliding window and since
// the node started, how far behind they were within a bucket's precision, replies that held
// nothing counted but given no lag, and a bounded number of levels.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { OVERFLOW_LEVEL, StalenessWindow } from '../../src/core/staleness-window.js';

const LIMITS_60S = { windowMs: 60_000, slotMs: 5_000, levelsMax: 8 };
/** Half a quarter-octave bucket: the most a reported percentile is off by. */
const PRECISION = 2 ** (1 / 8);

const behind = (...lags: Array<number | undefined>) =>
  lags.map((lagMs, i) => ({ node: `n${i + 1}`, lagMs }));

function near(actual: number | null | undefined, expected: number): boolean {
  return (
    typeof actual === 'number' && actual / expected <= PRECISION && expected / actual <= PRECISION
  );
}

describe('the staleness window', () => {
  it('counts stale replies per level, with a rate over the window and a total since start', () => {
    const w = new StalenessWindow(LIMITS_60S, 0);
    // Two minutes of one quorum read a second meeting one stale replica 20 ms behind.
    for (let ms = 0; ms < 120_000; ms += 1_000) w.record('quorum', behind(20), ms);
    w.record('all', behind(5, undefined), 119_000);
    const [all, quorum] = w.snapshot(119_999);
    expect(all).toMatchObject({ level: 'all', total: 2, replies: 2, lagged: 1 });
    expect(near(all?.lagP50Ms, 5)).toBe(true);
    // The window is the last 60 s; the total keeps all 120.
    expect(quorum).toMatchObject({ level: 'quorum', total: 120, replies: 60, lagged: 60 });
    expect(quorum?.perSecond).toBeCloseTo(1, 2);
    expect(near(quorum?.lagP99Ms, 20)).toBe(true);
  });

  it('reports p50 and p99 of the lags within a bucket, and none for replies that held nothing', () => {
    const w = new StalenessWindow(LIMITS_60S, 0);
    w.record('all', behind(...Array.from({ length: 1000 }, (_, i) => i + 1)), 1_000);
    const [f] = w.snapshot(1_000);
    expect(near(f?.lagP50Ms, 500)).toBe(true);
    expect(near(f?.lagP99Ms, 990)).toBe(true);
    w.record('2', behind(undefined, undefined), 1_000);
    expect(w.snapshot(1_000)[0]).toMatchObject({
      level: '2',
      replies: 2,
      lagged: 0,
      lagP50Ms: null,
      lagP99Ms: null,
    });
  });

  it('keeps a level it has seen once its replies leave the window, with nothing recent', () => {
    const w = new StalenessWindow(LIMITS_60S, 0);
    expect(w.snapshot(0)).toEqual([]);
    w.record('quorum', behind(3), 1_000);
    w.record('quorum', [], 2_000);
    expect(w.snapshot(70_000)).toEqual([
      {
        level: 'quorum',
        total: 1,
        replies: 0,
        perSecond: 0,
        lagged: 0,
        lagP50Ms: null,
        lagP99Ms: null,
      },
    ]);
  });

  it('divides by its real age while younger than the window', () => {
    const w = new StalenessWindow(LIMITS_60S, 10_000);
    for (let i = 0; i < 20; i++) w.record('quorum', behind(1), 10_000 + i * 500);
    // 20 replies in the 10 s since counting began: 2 a second, not a third of one.
    expect(w.snapshot(20_000)[0]?.perSecond).toBeCloseTo(2, 5);
  });

  it('keeps at most levelsMax levels: the rest fold into one', () => {
    const w = new StalenessWindow({ ...LIMITS_60S, levelsMax: 2 }, 0);
    for (const level of ['2', '3', '4']) w.record(level, behind(1), 100);
    expect(w.snapshot(100).map((f) => [f.level, f.total])).toEqual([
      ['2', 1],
      [OVERFLOW_LEVEL, 2],
    ]);
  });

  it('the configured limits make a valid window', () => {
    expect(() =>
      new StalenessWindow(
        {
          windowMs: LIMITS.stalenessWindowMs,
          slotMs: LIMITS.stalenessSlotMs,
          levelsMax: LIMITS.trafficLevelsMax,
        },
        0,
      ).snapshot(0),
    ).not.toThrow();
    expect(LIMITS.trafficLevelsMax).toBeGreaterThan(LIMITS.nMax + 2);
  });
});
