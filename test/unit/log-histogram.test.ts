// The fixed-memory pieces the console's windows are made of: a log-bucketed histogram whose
// quantiles are within half a bucket, and a ring of time slots that empties as it comes round.

import { describe, expect, it } from 'vitest';
import { LogHistogram, bucketsReaching } from '../../src/core/log-histogram.js';
import { SlidingSlots, windowSpanMs } from '../../src/core/sliding-slots.js';

/** Half a quarter-octave bucket: the most a reported quantile is off by. */
const PRECISION = 2 ** (1 / 8);

describe('LogHistogram', () => {
  it('reports quantiles within half a bucket, and null when empty', () => {
    const h = new LogHistogram(100);
    expect(h.quantile(0.5)).toBeNull();
    for (let ms = 1; ms <= 1000; ms++) h.add(ms);
    expect(h.total).toBe(1000);
    for (const [q, want] of [
      [0.5, 500],
      [0.99, 990],
    ] as const) {
      const got = h.quantile(q) as number;
      expect(Math.max(got / want, want / got), `q=${q}`).toBeLessThanOrEqual(PRECISION);
    }
  });

  it('puts everything past its top bucket in it, and adds up with one of the same shape', () => {
    const h = new LogHistogram(bucketsReaching(1_000));
    h.add(50_000);
    // The top bucket starts less than a bucket (a quarter octave) above 1 s.
    expect(h.quantile(1)).toBeGreaterThanOrEqual(1_000);
    expect(h.quantile(1)).toBeLessThan(1_000 * 2 ** (3 / 8));
    const sum = new LogHistogram(bucketsReaching(1_000));
    sum.add(2);
    sum.addAll(h);
    expect(sum.total).toBe(2);
    expect(() => sum.addAll(new LogHistogram(3))).toThrow(/different buckets/);
    sum.clear();
    expect([sum.total, sum.quantile(0.5)]).toEqual([0, null]);
  });
});

describe('SlidingSlots', () => {
  const span = { windowMs: 3_000, slotMs: 1_000 };
  const counter = () =>
    new SlidingSlots(
      span,
      () => ({ n: 0 }),
      (s) => (s.n = 0),
    );

  it('keeps the slots of the window, and empties one the ring reuses', () => {
    const slots = counter();
    slots.at(500).n += 1;
    slots.at(1_500).n += 2;
    expect(slots.within(2_999).map((s) => s.n)).toEqual([1, 2]);
    // 3.5 s: slot 0 (0-999 ms) has left the window, and slot 3 reuses its place.
    expect(slots.within(3_500).map((s) => s.n)).toEqual([2]);
    slots.at(3_500).n += 5;
    expect(
      slots
        .within(3_500)
        .map((s) => s.n)
        .sort(),
    ).toEqual([2, 5]);
  });

  it('spans the window, or the time since counting began, and at least one slot', () => {
    expect(windowSpanMs(span, 10_500, 0)).toBe(2_500);
    expect(windowSpanMs(span, 10_500, 9_000)).toBe(1_500);
    expect(windowSpanMs(span, 10_100, 10_000)).toBe(1_000);
  });

  it('refuses a window that is not a whole number of slots', () => {
    expect(
      () =>
        new SlidingSlots(
          { windowMs: 2_500, slotMs: 1_000 },
          () => 0,
          () => 0,
        ),
    ).toThrow(/whole number of slots/);
  });
});
