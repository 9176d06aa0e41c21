// The console's CPU figure: CPU time over wall time, in percent of one core, measured over at
// least the sample period so polls close together do not report noise.

import { describe, expect, it } from 'vitest';
import { CpuMeter } from '../../src/replica/cpu-meter.js';

describe('cpu meter', () => {
  it('before a whole period it gives the average since the process started', () => {
    const clock = { nowMs: () => 0, monotonicMs: () => 0 };
    // 0.5 s of CPU in the 2 s the process has run.
    const meter = new CpuMeter(clock, 1_000, () => ({ user: 300_000, system: 200_000 }), 2_000);
    expect(meter.percent()).toBeCloseTo(25, 5);
  });

  it('then the CPU used since the last sample, which it keeps for a whole period', () => {
    let now = 0;
    let cpuUs = 0;
    const clock = { nowMs: () => now, monotonicMs: () => now };
    const meter = new CpuMeter(clock, 1_000, () => ({ user: cpuUs, system: cpuUs / 2 }), 1_000);
    // 1 s of user and 0.5 s of system time in 2 s of wall time: 75% of a core.
    now += 2_000;
    cpuUs += 1_000_000;
    expect(meter.percent()).toBeCloseTo(75, 5);
    // 10 ms later, busy all the time: too short to measure, the figure stays.
    now += 10;
    cpuUs += 10_000;
    expect(meter.percent()).toBeCloseTo(75, 5);
    // A second on, idle since: 15 ms of CPU over 1.01 s.
    now += 1_000;
    expect(meter.percent()).toBeCloseTo((15 / 1_010) * 100, 5);
  });
});
