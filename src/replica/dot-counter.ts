// The issuer side of dotted version vectors: a counter this node keeps across all keys, below
// which it never issues a dot again. Per-key clocks alone would restart at 1 after tombstone GC
// purges a key, and a client still holding a context from before the purge would then cover
// (and silently supersede) new writes it never saw.
//
// Durability without a write per dot: blocks are reserved in the store's meta. The reservation
// is raised when half a block is left; it is queued in the same FIFO pipeline as the writes, so
// it commits no later than the batch after the one that crossed the half-way mark, and a batch
// holds at most storeBatchWritesMax writes, well under half a block. A restart continues from
// the reserved mark, skipping whatever of the block was unused.
//
// A node that lost its store lost its mark too; it then issues under a new actor id
// (actor.ts), so its counter may start again from zero.

import { LIMITS } from '../config.js';
import { COUNTER_MAX } from '../core/version-set.js';
import type { ReplicaStore } from '../storage/replica-store.js';

const META_KEY = 'dotCounter';

export class DotCounter {
  private next = 0;
  private reserved = 0;

  constructor(
    private readonly store: ReplicaStore,
    private readonly block = LIMITS.dotCounterBlock,
  ) {
    if (block < 2 * LIMITS.storeBatchWritesMax) {
      throw new RangeError('a dot counter block must exceed two store batches');
    }
  }

  async open(): Promise<void> {
    const stored = Number((await this.store.getMeta(META_KEY)) ?? '0');
    this.next = Number.isSafeInteger(stored) && stored > 0 ? Math.min(stored, COUNTER_MAX) : 0;
    this.reserved = Math.min(this.next + this.block, COUNTER_MAX);
    await this.store.putMeta(META_KEY, String(this.reserved));
  }

  /** Every dot this node issues from now on is above this. */
  floor(): number {
    return this.next;
  }

  /** Records a counter just issued (called inside the store's batch plan). */
  issued(counter: number): void {
    if (counter > this.next) this.next = counter;
    if (this.next > this.reserved - this.block / 2 && this.reserved < COUNTER_MAX) {
      this.reserved = Math.min(this.next + this.block, COUNTER_MAX);
      // A failed reservation shows up as a failed batch; the next issue retries it.
      void this.store.putMeta(META_KEY, String(this.reserved)).catch(() => {
        this.reserved = this.next;
      });
    }
  }
}
