// Hinted handoff, the delivery side: hints kept for replicas that missed writes are replayed
// when the failure detector says the replica is up again, and dropped once it acknowledges.

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { repeat, type Timers } from '../core/clock.js';
import type { ReplicaLinks } from '../core/replica-links.js';
import type { ReplicaStore } from '../storage/replica-store.js';

export interface HintReplayerOptions {
  readonly store: ReplicaStore;
  readonly links: ReplicaLinks;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly batchMax: number;
  readonly timeoutMs: number;
  readonly timers: Timers;
  readonly onReplayed?: (target: string, count: number) => void;
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
      for (const [target, pending] of this.o.store.pendingHints()) {
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

  private async replayTo(target: string): Promise<void> {
    const hints = await this.o.store.hintsFor(target, this.o.batchMax);
    let delivered = 0;
    // A few in flight at a time: a backlog of large values must not flood the peer link.
    for (let i = 0; i < hints.length && !this.stopped; i += LIMITS.hintsInFlightMax) {
      await Promise.all(
        hints.slice(i, i + LIMITS.hintsInFlightMax).map(async (hint) => {
          try {
            await this.o.links.write(target, hint.key, hint.set, this.o.timeoutMs);
            await this.o.store.deleteHint(hint);
            delivered += 1;
          } catch {
            // Stays for the next round; the replica may have gone down again.
          }
        }),
      );
    }
    if (delivered > 0) {
      const left = this.o.store.pendingHints().get(target) ?? 0;
      this.o.logger.info({ target, delivered, left }, 'hints replayed');
      this.o.onReplayed?.(target, delivered);
    }
  }
}
