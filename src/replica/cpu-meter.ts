// This process's CPU use as a percentage of one core, for the console. process.cpuUsage() is a
// running total; the figure is its growth over at least cpuSampleMinMs, so polls a few
// milliseconds apart do not report noise.

import type { Clock } from '../core/clock.js';

interface Sample {
  readonly atMs: number;
  /** User plus system CPU time, in microseconds. */
  readonly cpuUs: number;
}

export class CpuMeter {
  private reference: Sample;
  private lastPercent: number;

  constructor(
    private readonly clock: Clock,
    private readonly sampleMinMs: number,
    private readonly cpuUsage: () => NodeJS.CpuUsage = () => process.cpuUsage(),
    uptimeMs: number = process.uptime() * 1000,
  ) {
    this.reference = this.sample();
    // Until a sample period has passed, the average since the process started.
    this.lastPercent = uptimeMs > 0 ? this.reference.cpuUs / 10 / uptimeMs : 0;
  }

  /** CPU time over wall time since the reference sample, in percent of one core. */
  percent(): number {
    const now = this.sample();
    const elapsedMs = now.atMs - this.reference.atMs;
    if (elapsedMs >= this.sampleMinMs) {
      this.lastPercent = Math.max(0, (now.cpuUs - this.reference.cpuUs) / 10 / elapsedMs);
      this.reference = now;
    }
    return this.lastPercent;
  }

  private sample(): Sample {
    const u = this.cpuUsage();
    return { atMs: this.clock.monotonicMs(), cpuUs: u.user + u.system };
  }
}
