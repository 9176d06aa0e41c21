// Memory that comes back after a burst. The buffers of large values are freed only at V8's next
// full collection, and a node that goes quiet after a burst may not run one for minutes, so its
// RSS stayed near the burst's peak. Once at least memoryReturnAfterBytes of uploads (admitted or
// refused) are followed by a quiet period, this asks V8 for a full collection.

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
  /** Upload bytes seen up to the last collection, and as of the previous look. */
  private collectedAt = 0;
  private seenAt = 0;
  private quietLooks = 0;
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
    const { bytesAdmitted, bytesRefused, bytes } = this.admission.status();
    // Every upload, admitted or refused, passed through memory.
    const seen = bytesAdmitted + bytesRefused;
    // Quiet: nothing in flight and no upload for two looks in a row (a lull inside a burst,
    // between its waves, is not the end of it), after a burst.
    this.quietLooks = bytes === 0 && seen === this.seenAt ? this.quietLooks + 1 : 0;
    this.seenAt = seen;
    if (this.quietLooks < 2 || seen - this.collectedAt < LIMITS.memoryReturnAfterBytes) return;
    this.collectedAt = seen;
    this.collections += 1;
    this.gc?.();
  }
}
