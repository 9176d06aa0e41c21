// Keeps a node's HLC from going back across a restart. A restarted node whose wall clock was
// set back would otherwise stamp new writes below ones it stamped before, and in lww mode
// those writes would be acknowledged and then lose to older ones. The clock's wall part is
// saved a little ahead of what it has issued (one meta write per hlcMarkAheadMs of stamping).
// A restart waits until the wall clock has passed the saved mark (at most hlcMarkAheadMs with a
// sound clock) instead of stamping from it: a node that resumed from the mark stamped writes
// ahead of every other clock, and in lww mode a later write through another node lost to them
// (found by the simulator, which restarts real nodes).

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import type { HybridClock } from '../core/hlc.js';
import type { ReplicaStore } from '../storage/replica-store.js';

const META_KEY = 'hlcMark';

export async function persistClock(
  hlc: HybridClock,
  store: ReplicaStore,
  nowMs: () => number,
  logger: Logger,
  sleep: (ms: number) => Promise<void>,
  aheadMs = LIMITS.hlcMarkAheadMs,
): Promise<void> {
  const saved = Number((await store.getMeta(META_KEY)) ?? '0');
  const floor = Number.isSafeInteger(saved) && saved > 0 ? saved : 0;
  const behindMs = floor - nowMs();
  if (behindMs > 0 && behindMs <= LIMITS.hlcRestartWaitMaxMs) await sleep(behindMs + 1);
  // Durable before the first stamp: everything issued until the clock passes it is covered.
  const limit = Math.max(floor, nowMs()) + aheadMs;
  await store.putMeta(META_KEY, String(limit));
  hlc.persistWith(floor, limit, (wallMs) => {
    const next = wallMs + aheadMs;
    // Queued ahead of the write being stamped, in the store's one FIFO pipeline, so it is
    // durable no later than that write is here.
    store.putMeta(META_KEY, String(next)).catch((err: unknown) => {
      logger.error({ err }, 'could not save the HLC mark');
    });
    return next;
  });
  // Still ahead after the wait: the clock went back further than a restart waits for.
  if (floor > nowMs()) {
    logger.warn(
      { savedMarkMs: floor, wallClockMs: nowMs() },
      'wall clock is behind the HLC mark saved before the restart; stamping from the mark',
    );
  }
}
