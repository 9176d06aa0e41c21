// Hinted handoff, the delivery side: hints kept for replicas that missed writes are replayed
// when the failure detector says the replica is up again, and dropped once it acknowledges.
// A replica back from a partition is stale until its hints land, so an idle node drains the
// whole backlog in one round, many hints to a writeBatch frame and a few frames in flight;
// while clients are waiting on the node, a round sends one batch per target instead.

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { repeat, type Timers } from '../core/clock.js';
import type { WriteEntry } from '../net/messages.js';
import type { Hint, ReplicaStore } from '../storage/replica-store.js';

/** What replay needs of the links: the failure detector's view, and batched merges. */
export interface HintLinks {
  isUp(node: string): boolean;
  /** Resolves with the indices of the entries the replica could not merge. */
  writeBatch(
    node: string,
    entries: readonly WriteEntry[],
    timeoutMs: number,
  ): Promise<{ failed: readonly number[] }>;
}

export interface HintReplayerOptions {
  readonly store: Pick<ReplicaStore, 'pendingHints' | 'hintsFor' | 'deleteHint'>;
  readonly links: HintLinks;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly timers: Timers;
  /** Whether clients are waiting on this node now: replay then leaves them the resources. */
  readonly busy?: () => boolean;
  readonly onReplayed?: (target: string, count: number) => void;
}

/** One frame's worth of hints: what one read takes from the store and one writeBatch carries. */
const FRAME = { entries: LIMITS.writeBatchEntriesMax, bytesMax: LIMITS.hintReplayFrameBytes };
/** While clients are waiting: one smaller frame per round. */
const BUSY_FRAME = { entries: LIMITS.hintReplayBatchMax, bytesMax: LIMITS.hintReplayFrameBytes };
const FRAMES_IN_FLIGHT = LIMITS.hintReplayFramesInFlightMax;

interface FrameResult {
  readonly delivered: number;
  /** Sent, and every entry merged: the turn may go on. */
  readonly clean: boolean;
}

export class HintReplayer {
  private timer: { cancel(): void } | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly o: HintReplayerOptions) {}

  start(): void {
    this.timer = repeat(
      this.o.timers,
      () => this.o.intervalMs,
      () => void this.round(),
    );
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** One pass over every target that has hints and is up; rounds never overlap. */
  async round(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (const [target, pending] of [...this.o.store.pendingHints()]) {
        if (pending > 0 && !this.stopped && this.o.links.isUp(target)) {
          // One target's failure (a corrupt hint, say) must not stall the others.
          await this.replayTo(target).catch((err: unknown) =>
            this.o.logger.warn({ err, target }, 'hint replay failed'),
          );
        }
      }
    } catch (err) {
      this.o.logger.warn({ err }, 'hint replay round failed');
    } finally {
      this.running = false;
    }
  }

  /**
   * Reads the target's hints a frame at a time, from the oldest key on, and sends each as it is
   * read, a few frames in flight, so reading, sending and the replica's merging overlap. Ends at
   * the last hint, at a failed frame, or after one frame when clients are waiting; hints still
   * there (a frame that failed, a hint replaced while it was out) wait for the next round. It
   * reads no more hints than the target had when it began, so hints that keep arriving cannot
   * keep the other targets waiting.
   */
  private async replayTo(target: string): Promise<void> {
    const backlog = this.o.store.pendingHints().get(target) ?? 0;
    const inFlight = new Set<Promise<void>>();
    let read = 0;
    let delivered = 0;
    let clean = true;
    let after: string | undefined;
    try {
      while (clean && !this.stopped && read < backlog) {
        const busy = this.o.busy?.() ?? false;
        const size = busy ? BUSY_FRAME : FRAME;
        const frame = await this.o.store.hintsFor(target, size.entries, {
          bytesMax: size.bytesMax,
          ...(after === undefined ? {} : { after }),
        });
        if (frame.length === 0 || !clean || this.stopped) break;
        read += frame.length;
        after = frame[frame.length - 1]?.key;
        const sent: Promise<void> = this.sendFrame(target, frame)
          .then(
            (r) => {
              delivered += r.delivered;
              clean &&= r.clean;
            },
            (err: unknown) => {
              clean = false;
              this.o.logger.warn({ err, target }, 'hint replay failed');
            },
          )
          .finally(() => inFlight.delete(sent));
        inFlight.add(sent);
        if (busy) break;
        if (inFlight.size >= FRAMES_IN_FLIGHT) await Promise.race(inFlight);
      }
    } finally {
      await Promise.all(inFlight);
      if (delivered > 0) {
        const left = this.o.store.pendingHints().get(target) ?? 0;
        this.o.logger.info({ target, delivered, left }, 'hints replayed');
        this.o.onReplayed?.(target, delivered);
      }
    }
  }

  /** One writeBatch; the hints it delivered are deleted, unless newer ones replaced them. */
  private async sendFrame(target: string, frame: readonly Hint[]): Promise<FrameResult> {
    let failed: readonly number[];
    try {
      const entries = frame.map((h): WriteEntry => [h.key, h.set]);
      ({ failed } = await this.o.links.writeBatch(target, entries, this.o.timeoutMs));
    } catch {
      // The frame's hints stay for a later round; the replica may have gone down again.
      return { delivered: 0, clean: false };
    }
    const refused = new Set(failed);
    const delivered = frame.filter((_, i) => !refused.has(i));
    // deleteHint drops a hint only while it holds what was sent: a newer one stays, to go next.
    await Promise.all(delivered.map((hint) => this.o.store.deleteHint(hint)));
    if (refused.size > 0) {
      this.o.logger.warn({ target, refused: refused.size }, 'replica refused hints; kept them');
    }
    return { delivered: delivered.length, clean: refused.size === 0 };
  }
}
