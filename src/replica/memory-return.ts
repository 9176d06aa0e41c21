// Memory that comes back after a burst. V8 frees dead objects and the buffers of large values
// only at a full collection, and a node that goes quiet after a burst may not run one for
// minutes: measured, a node stayed at 1.6x its RSS before a 40 s write burst for 20 s and more,
// and one of three for over 40 s. So a node that has been quiet for two looks in a row
// (memoryReturnQuietMs apart) after its RSS grew by memoryReturnGrowthBytes, or after
// memoryReturnAfterBytes of uploads, asks V8 for a full collection. Quiet is measured on the
// event loop, not on client requests: a replica that only applies what a coordinator sends it
// serves no client and is as busy.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LIMITS } from '../config.js';
import type { Admission } from '../core/admission.js';

/**
 * V8's gc(), exposed after start: the flag makes new contexts carry it (the same as running node
 * with --expose-gc, without asking every operator to).
 */
function exposedGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc !== 'function') return undefined;
    // Twice: the first collection finds the dead Buffers, but their backing stores are freed
    // by a later sweep; the second frees them (measured: after dropping 200 MiB of Buffers,
    // RSS 238 MiB after one gc(), 41 MiB after two).
    const collect = gc as () => void;
    return () => {
      collect();
      collect();
    };
  } catch {
    return undefined;
  }
}

/** What the memory return reads and does; the defaults are the process's own. */
export interface MemoryProbes {
  /** Resident set size, bytes. */
  readonly rss: () => number;
  /** Bytes of V8's heap in use, live or garbage not yet collected. */
  readonly heapUsed: () => number;
  /** Share of the time since the previous call that the event loop was busy, 0..1. */
  readonly busy: () => number;
  /** A full collection; undefined when V8 would not expose one. */
  readonly gc: (() => void) | undefined;
}

function processProbes(): MemoryProbes {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    rss: () => process.memoryUsage.rss(),
    heapUsed: () => getHeapStatistics().used_heap_size,
    busy: () => {
      const now = performance.eventLoopUtilization();
      const share = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return share;
    },
    gc: exposedGc(),
  };
}

export class MemoryReturn {
  private timer: NodeJS.Timeout | undefined;
  /** RSS and used heap after the last collection (at start: none yet), and uploads up to it. */
  private rssAfter: number;
  private heapAfter: number;
  private uploadsAt = 0;
  private quietLooks = 0;
  /** Full collections asked for, for /admin/status. */
  collections = 0;

  constructor(
    private readonly admission: Admission,
    private readonly probes: MemoryProbes = processProbes(),
  ) {
    this.rssAfter = probes.rss();
    this.heapAfter = probes.heapUsed();
  }

  start(): void {
    if (this.probes.gc === undefined) return;
    this.timer = setInterval(() => this.look(), LIMITS.memoryReturnQuietMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One look (the timer's tick): collects when quiet after growth. Exposed for tests. */
  look(): void {
    const { bytesAdmitted, bytesRefused, requests } = this.admission.status();
    // Every upload, admitted or refused, passed through memory.
    const uploads = bytesAdmitted + bytesRefused;
    // Two quiet looks in a row: a lull inside a burst, between its waves, is not the end of it.
    const quiet = requests === 0 && this.probes.busy() < LIMITS.memoryReturnBusyMax;
    this.quietLooks = quiet ? this.quietLooks + 1 : 0;
    if (this.quietLooks < 2) return;
    const grown =
      this.probes.rss() - this.rssAfter >= LIMITS.memoryReturnGrowthBytes ||
      this.probes.heapUsed() - this.heapAfter >= LIMITS.memoryReturnGrowthBytes ||
      uploads - this.uploadsAt >= LIMITS.memoryReturnAfterBytes;
    if (!grown) return;
    this.uploadsAt = uploads;
    this.collections += 1;
    this.probes.gc?.();
    this.rssAfter = this.probes.rss();
    this.heapAfter = this.probes.heapUsed();
  }
}
