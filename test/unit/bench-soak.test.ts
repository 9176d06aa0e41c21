// The soak's plateau test: RSS under load is a sawtooth, so it compares the floor and the ceiling
// of the last quarter with the quarter before, and only growth of either fails it.

import { describe, expect, it } from 'vitest';
import { summarizeSoak } from '../../bench/analysis.js';
import type { ScenarioResult } from '../../bench/results.js';

const MiB = 1024 * 1024;

/** A 10-minute curve sampled every 10 s: a 90 s sawtooth of `swing` MiB on `base(t)` MiB. */
function soak(base: (s: number) => number, phaseS = 0, swing = 150): ScenarioResult {
  const rssCurve = Array.from({ length: 61 }, (_, i) => {
    const atS = i * 10;
    const saw = (((atS + phaseS) % 90) / 90) * swing;
    return { atS, bytes: { n1: (base(atS) + saw) * MiB } };
  });
  return {
    scenario: { id: 'soak.put.quorum', section: 'soak' },
    rssPeakBytes: { n1: Math.max(...rssCurve.map((s) => s.bytes.n1)) },
    rssCurve,
  } as unknown as ScenarioResult;
}

describe('soak plateau', () => {
  it('passes a sawtooth that does not climb, wherever its last swing ends', () => {
    for (const phaseS of [0, 20, 40, 60, 80]) {
      const summary = summarizeSoak([soak(() => 330, phaseS)])!;
      expect(summary.splitS).toBe(450);
      expect(Math.abs(summary.nodes[0]!.growth)).toBeLessThan(0.05);
    }
  });

  it('fails a sawtooth whose floor climbs, as a leak does', () => {
    const summary = summarizeSoak([soak((s) => 330 + s * 0.3)])!;
    const n1 = summary.nodes[0]!;
    expect(n1.late.floorBytes).toBeGreaterThan(n1.early.floorBytes);
    expect(n1.growth).toBeGreaterThan(0.05);
  });
});
