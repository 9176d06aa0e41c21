import { describe, expect, it } from 'vitest';
import { HybridClock, LOGICAL_MAX, compareHlc, type Hlc } from '../../src/core/hlc.js';

function manualClock(start: number) {
  let t = start;
  return { nowMs: () => t, monotonicMs: () => t, set: (v: number) => (t = v) };
}

describe('hybrid logical clock', () => {
  it('is strictly monotonic even when wall time stands still or goes back', () => {
    const clock = manualClock(1000);
    const hlc = new HybridClock('n1', clock);
    const seen: Hlc[] = [];
    for (let i = 0; i < 50; i++) {
      if (i === 20) clock.set(500); // wall clock jumps back
      if (i === 40) clock.set(2000);
      seen.push(hlc.now());
    }
    for (let i = 1; i < seen.length; i++)
      expect(compareHlc(seen[i]!, seen[i - 1]!)).toBeGreaterThan(0);
    expect(seen[40]).toEqual({ wallMs: 2000, logical: 0, node: 'n1' });
  });

  it('orders after anything it observed, even from a clock far ahead', () => {
    const hlc = new HybridClock('n1', manualClock(1000));
    const remote: Hlc = { wallMs: 9000, logical: 7, node: 'n2' };
    hlc.observe(remote);
    expect(compareHlc(hlc.now(), remote)).toBeGreaterThan(0);
    expect(
      compareHlc(hlc.above({ wallMs: 9500, logical: 3, node: 'n3' }), {
        wallMs: 9500,
        logical: 3,
        node: 'n3',
      }),
    ).toBeGreaterThan(0);
  });

  it('compares by wall time, then logical counter, then node id', () => {
    const a = { wallMs: 1, logical: 5, node: 'n9' };
    const b = { wallMs: 2, logical: 0, node: 'n1' };
    const c = { wallMs: 2, logical: 1, node: 'n1' };
    const d = { wallMs: 2, logical: 1, node: 'n2' };
    expect(compareHlc(a, b)).toBeLessThan(0);
    expect(compareHlc(b, c)).toBeLessThan(0);
    expect(compareHlc(c, d)).toBeLessThan(0);
    expect(compareHlc(d, d)).toBe(0);
  });
});

describe('logical overflow', () => {
  it('carries into the wall part instead of passing 2^32-1, and keeps ordering', () => {
    const clock = { nowMs: () => 1_000, monotonicMs: () => 0 };
    const hlc = new HybridClock('n1', clock);
    const top = { wallMs: 1_000, logical: LOGICAL_MAX, node: 'n2' };
    const next = hlc.above(top);
    expect(next.logical).toBeLessThanOrEqual(LOGICAL_MAX);
    expect(compareHlc(next, top)).toBeGreaterThan(0);
    expect(compareHlc(hlc.now(), next)).toBeGreaterThan(0);
  });
});

describe('persisted mark', () => {
  it('starts at the saved floor and asks for a new limit each time stamps pass the last', () => {
    let now = 1_000;
    const clock = { nowMs: () => now, monotonicMs: () => 0 };
    const hlc = new HybridClock('n1', clock);
    const passed: number[] = [];
    hlc.persistWith(5_000, 6_000, (wallMs) => {
      passed.push(wallMs);
      return wallMs + 1_000;
    });
    // The wall clock says 1000, but the clock starts at the saved mark.
    expect(hlc.now().wallMs).toBe(5_000);
    now = 6_500;
    expect(hlc.now().wallMs).toBe(6_500);
    expect(passed).toEqual([6_500]);
    now = 7_000; // below the new limit (7500): nothing to save
    hlc.now();
    expect(passed).toEqual([6_500]);
  });
});
