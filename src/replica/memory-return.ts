// Memory that comes back after a burst. The buffers of large values are freed only at V8's next
// full collection, and a node that goes quiet after a burst may not run one for minutes, so its
// RSS stayed near the burst's peak. Once a burst of at least memoryReturnAfterBytes of admitted
// writes is followed by a quiet period, this asks V8 for one full collection.

import { setFlagsFromString } from 'node:v8';
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

export class MemoryReturn {
  private timer: NodeJS.Timeout | undefined;
  /** Bytes admitted up to the last collection, and as of the previous look. */
  private collectedAt = 0;
  private seenAt = 0;
  private readonly gc = exposedGc();
  /** Full collections asked for, for /admin/status. */
  collections = 0;

  constructor(private readonly admission: Admission) {}

  start(): void {
    if (this.gc === undefined) return;
    this.timer = setInterval(() => this.look(), LIMITS.memoryReturnQuietMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private look(): void {
    const { bytesAdmitted, bytes } = this.admission.status();
    // Quiet: nothing in flight and nothing admitted since the previous look, after a burst.
    const quiet = bytes === 0 && bytesAdmitted === this.seenAt;
    this.seenAt = bytesAdmitted;
    if (!quiet || bytesAdmitted - this.collectedAt < LIMITS.memoryReturnAfterBytes) return;
    this.collectedAt = bytesAdmitted;
    this.collections += 1;
    this.gc?.();
  }
}
