// Resident memory of the server processes, read from /proc/<pid>/status (VmRSS): sampled once
// a second during each scenario so the report can give the peak, and read once at the points
// of a phase the memory targets compare (booted, prefilled, idle after the last step).

import { readFile } from 'node:fs/promises';

const SAMPLE_EVERY_MS = 1_000;

/** VmRSS in bytes, or undefined where /proc is not available or the process is gone. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS of each named process now, bytes; processes without a reading are left out. */
export async function rssNow(pids: ReadonlyMap<string, number>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pid] of pids) {
    const rss = await rssBytes(pid);
    if (rss !== undefined) out[name] = rss;
  }
  return out;
}

/** Samples named processes until stopped; `peak()` is each one's largest RSS seen. */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void> = Promise.resolve();

  constructor(private readonly pids: ReadonlyMap<string, number>) {
    this.sampling = this.sample();
    this.timer = setInterval(() => {
      this.sampling = this.sample();
    }, SAMPLE_EVERY_MS);
  }

  private async sample(): Promise<void> {
    for (const [name, pid] of this.pids) {
      const rss = await rssBytes(pid);
      if (rss !== undefined) this.peaks.set(name, Math.max(rss, this.peaks.get(name) ?? 0));
    }
  }

  /** Stops sampling after one last sample; resolves to peak RSS in bytes by process name. */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    return Object.fromEntries(this.peaks);
  }
}
