// CPU used during a scenario's measured window: each server process from /proc/<pid>/stat, and
// the bench process itself, where the autocannon worker runs, as the load generator. The meter
// runs in the load worker, started and stopped around the measured run, so warm-up is never in
// the figures. On a shared machine this says who had the cores while the figures were taken.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export const LOAD_GENERATOR = 'load generator';

let ticksPerSecond: number | undefined;

/** /proc counts CPU time in clock ticks; 100 per second almost everywhere, but ask once. */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let ticks = 100;
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      if (Number.isInteger(v) && v > 0) ticks = v;
    } catch {
      // no getconf: keep the usual value
    }
    ticksPerSecond = ticks;
  }
  return ticksPerSecond;
}

/** utime + stime of a process in seconds, or undefined where /proc is missing or it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    // Read synchronously: the reading is meant to be taken at this instant, and it is tiny.
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields after it start at 3.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicksPerSecond();
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A window of time on the monotonic clock, in microseconds (as .cpuprofile timestamps are). */
export interface TimeWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** CPU seconds each process used over a window of wall time. */
export interface CpuReading {
  /** CPU seconds by process name, `load generator` included; {} without /proc. */
  readonly seconds: Record<string, number>;
  readonly wallS: number;
  readonly window: TimeWindow;
}

/** Cores each process used: CPU seconds ÷ wall seconds. */
export function coresOf(r: CpuReading): Record<string, number> {
  if (r.wallS <= 0) return {};
  return Object.fromEntries(Object.entries(r.seconds).map(([name, s]) => [name, s / r.wallS]));
}

/** Started right before a measured run, stopped right after it. */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private readonly ownStart = ownCpuSeconds();
  /** Nothing is measured without /proc, not even the load generator: no total to compare. */
  private readonly enabled = existsSync('/proc/self/stat');
  private readonly startUs: number;

  constructor(private readonly pids: ReadonlyMap<string, number>) {
    if (this.enabled)
      for (const [name, pid] of pids) {
        const s = processCpuSeconds(pid);
        if (s !== undefined) this.start.set(name, s);
      }
    // After the readings: the first one may ask getconf, which must not count as load time.
    this.startUs = nowUs();
  }

  stop(): CpuReading {
    const stopUs = nowUs();
    const window = { fromUs: this.startUs, toUs: stopUs };
    const wallS = (stopUs - this.startUs) / 1e6;
    if (!this.enabled) return { seconds: {}, wallS, window };
    const seconds: Record<string, number> = {};
    for (const [name, pid] of this.pids) {
      const before = this.start.get(name);
      const after = processCpuSeconds(pid);
      // A process that died meanwhile has no reading left: leave it out rather than guess.
      if (before !== undefined && after !== undefined) seconds[name] = after - before;
    }
    seconds[LOAD_GENERATOR] = ownCpuSeconds() - this.ownStart;
    return { seconds, wallS, window };
  }
}
