// Hybrid logical clocks (Kulkarni et al., 2014): timestamps that follow wall time but never go
// backwards and order causally related events, with the node id as the final tie-breaker so
// that any two versions compare unequal unless they are the same write.

import type { Clock } from './clock.js';

export interface Hlc {
  readonly wallMs: number;
  readonly logical: number;
  readonly node: string;
}

/** The logical part is stored and sent as a u32. */
export const LOGICAL_MAX = 2 ** 32 - 1;

export const HLC_ZERO: Hlc = Object.freeze({ wallMs: 0, logical: 0, node: '' });

/** Negative if a < b, positive if a > b, 0 only for the same timestamp. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs - b.wallMs;
  if (a.logical !== b.logical) return a.logical - b.logical;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

export class HybridClock {
  private wallMs = 0;
  private logical = 0;
  /** The wall time the caller has made durable; passing it calls onPassLimit. */
  private limitMs = Number.POSITIVE_INFINITY;
  private onPassLimit: ((wallMs: number) => number) | undefined;

  constructor(
    private readonly node: string,
    private readonly clock: Clock,
    /** observe() ignores timestamps further ahead of the local clock than this. */
    private readonly aheadMsMax = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Starts this clock no lower than `floorMs` (a mark saved before a restart), and calls
   * `onPass` whenever its wall part passes the current limit, with the wall time reached; it
   * returns the next limit (after making it durable). So a node restarted with its wall clock
   * set back never stamps below what it stamped before.
   */
  persistWith(floorMs: number, limitMs: number, onPass: (wallMs: number) => number): void {
    if (floorMs > this.wallMs) {
      this.wallMs = floorMs;
      this.logical = 0;
    }
    this.limitMs = limitMs;
    this.onPassLimit = onPass;
  }

  /** A timestamp greater than every one this clock has issued or observed. */
  now(): Hlc {
    const ts = this.tick();
    if (ts.wallMs > this.limitMs && this.onPassLimit !== undefined) {
      this.limitMs = this.onPassLimit(ts.wallMs);
    }
    return ts;
  }

  private tick(): Hlc {
    const pt = this.clock.nowMs();
    if (pt > this.wallMs) {
      this.wallMs = pt;
      this.logical = 0;
    } else if (this.logical < LOGICAL_MAX) {
      this.logical += 1;
    } else {
      // The logical counter is 32 bits on the wire and on disk: carry into the wall part,
      // which keeps the order and every encoding valid.
      this.wallMs += 1;
      this.logical = 0;
    }
    return { wallMs: this.wallMs, logical: this.logical, node: this.node };
  }

  /** Folds in a timestamp seen from elsewhere, so later local stamps are above it. */
  observe(ts: Hlc): void {
    // A peer with a wild clock (or a forged message) must not push this clock out of range.
    if (ts.wallMs > this.clock.nowMs() + this.aheadMsMax) return;
    this.raise(ts);
  }

  private raise(ts: Hlc): void {
    if (ts.wallMs > this.wallMs || (ts.wallMs === this.wallMs && ts.logical > this.logical)) {
      this.wallMs = ts.wallMs;
      this.logical = ts.logical;
    }
  }

  /** A timestamp strictly above `floor` and above everything this clock has issued. */
  above(floor: Hlc): Hlc {
    // Unbounded on purpose: correctness (ABD, contexts) needs a stamp above `floor`.
    this.raise(floor);
    return this.now();
  }
}
