// Resident memory of the server processes, read from /proc/<pid>/status (VmRSS): sampled once
// a second during each scenario so the report can give the peak (every 10 s over a soak, kept
// as a curve), and read once at the points of a phase the memory targets compare (booted,
// prefilled, idle after the last step).

import { readFile } from 'node:fs/promises';
import { MIB } from './scenarios.js';

const SAMPLE_EVERY_MS = 1_000;

/** VmRSS in bytes, or undefined where /proc is not available or the process is gone. */
export function rssBytes(pid: number): Promise<number | undefined> {
  return statusBytes(pid, 'VmRSS');
}

/**
 * RssFile in bytes: the resident pages of files mapped into the process. For kvorum these are
 * LevelDB's table files (LevelDB maps up to 1,000 of them to read them) and the node binary:
 * clean page cache, shared with the kernel's and dropped by it under memory pressure.
 */
export function rssFileBytes(pid: number): Promise<number | undefined> {
  return statusBytes(pid, 'RssFile');
}

async function statusBytes(pid: number, field: string): Promise<number | undefined> {
  const status = await statusOf(pid);
  return status === undefined ? undefined : fieldBytes(status, field);
}

/** /proc/<pid>/status, or undefined where /proc is not available or the process is gone. */
async function statusOf(pid: number): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

function fieldBytes(status: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
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

/** Every process's RSS at one moment of a sampled window, seconds after it began. */
export interface RssSample {
  readonly atS: number;
  readonly bytes: Record<string, number>;
}

/** Samples named processes until stopped: each one's peak, and every sample as a curve. */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private readonly anonPeaks = new Map<string, number>();
  private readonly samples: RssSample[] = [];
  private readonly startedMs = performance.now();
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    everyMs = SAMPLE_EVERY_MS,
  ) {
    this.sampling = this.sample();
    this.timer = setInterval(() => {
      this.sampling = this.sample();
    }, everyMs);
  }

  private async sample(): Promise<void> {
    const atS = (performance.now() - this.startedMs) / 1000;
    const bytes: Record<string, number> = {};
    for (const [name, pid] of this.pids) {
      const status = await statusOf(pid);
      const rss = status === undefined ? undefined : fieldBytes(status, 'VmRSS');
      if (status === undefined || rss === undefined) continue;
      bytes[name] = rss;
      this.peaks.set(name, Math.max(rss, this.peaks.get(name) ?? 0));
      const anon = fieldBytes(status, 'RssAnon');
      if (anon !== undefined)
        this.anonPeaks.set(name, Math.max(anon, this.anonPeaks.get(name) ?? 0));
    }
    this.samples.push({ atS: Math.round(atS * 10) / 10, bytes });
  }

  /**
   * Peak anonymous RSS (RssAnon) by process name, once stopped: RSS without mapped files, the
   * memory the process itself holds (a LevelDB node maps its table files to read them; etcd's
   * bbolt maps its whole database).
   */
  get anonPeakBytes(): Record<string, number> {
    return Object.fromEntries(this.anonPeaks);
  }

  /** Stops sampling after one last sample; resolves to peak RSS in bytes by process name. */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    return Object.fromEntries(this.peaks);
  }

  get curve(): readonly RssSample[] {
    return this.samples;
  }
}

/**
 * How a kvorum node's resident memory splits, from `memory` of its /admin/status
 * (process.memoryUsage(), bytes), with the full collections its memory return has run.
 */
export interface MemorySplit {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  /** Memory V8 does not hold but is told of: Buffers and other ArrayBuffers among it. */
  readonly external: number;
  readonly arrayBuffers: number;
  readonly collections: number;
  /** Resident pages of mapped files (rssFileBytes), read from /proc beside the rest. */
  readonly rssFile?: number;
}

/**
 * "458: heap 141/178 · buffers 21 · files 150 · other 105" (MiB): RSS, V8's heap used of what
 * it holds, ArrayBuffers, mapped files, and the rest of RSS beside those and what else V8 is
 * told of (LevelDB's own memory, the allocator's free memory).
 */
export function describeSplit(m: MemorySplit): string {
  const mib = (b: number): string => (b / MIB).toFixed(0);
  const files = m.rssFile ?? 0;
  const other = m.rss - m.heapTotal - m.external - files;
  return (
    `${mib(m.rss)}: heap ${mib(m.heapUsed)}/${mib(m.heapTotal)} · buffers ${mib(m.arrayBuffers)}` +
    `${m.rssFile === undefined ? '' : ` · files ${mib(files)}`} · other ${mib(other)}`
  );
}
