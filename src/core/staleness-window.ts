// Stale read replies as this node's coordinator met them, per read level, for the console: how
// many lately (and since the node started), and how far behind they were. It is fed the same
// reports as kvorum_stale_replies_total and kvorum_read_staleness_seconds, so the page and
// /metrics agree. Memory is fixed: a ring of slots (src/core/sliding-slots.ts) per level, each
// with a count and a log-bucketed histogram of lags, never the replies themselves.

import { LogHistogram, bucketsReaching } from './log-histogram.js';
import { SlidingSlots, windowSpanMs, type SlidingSpan } from './sliding-slots.js';
import type { StaleReply } from './tally.js';

/** Where replies go once levelsMax levels exist (read levels are fewer: it cannot happen). */
export const OVERFLOW_LEVEL = 'more';

// A lag is the HLC wall-time gap between two versions of a key, which can be days apart when a
// replica missed a write long ago; a day of buckets, and longer lags in the top one.
const BUCKETS = bucketsReaching(24 * 3600 * 1000);

export interface StalenessFigures {
  /** The read level, as kvorum_stale_replies_total names it: quorum, all, linearizable or R. */
  readonly level: string;
  /** Stale replies since the node started (kvorum_stale_replies_total{level}). */
  readonly total: number;
  /** Stale replies in the window. */
  readonly replies: number;
  readonly perSecond: number;
  /** Of those, the ones that held an older version (the rest held nothing for the key). */
  readonly lagged: number;
  /** How far behind the lagged ones were, ms of HLC wall time; null when none were. */
  readonly lagP50Ms: number | null;
  readonly lagP99Ms: number | null;
}

export interface StalenessWindowLimits extends SlidingSpan {
  readonly levelsMax: number;
}

interface Slot {
  replies: number;
  readonly lags: LogHistogram;
}

interface Level {
  total: number;
  readonly slots: SlidingSlots<Slot>;
}

export class StalenessWindow {
  private readonly levels = new Map<string, Level>();

  constructor(
    private readonly limits: StalenessWindowLimits,
    /** When counting began: a window younger than windowMs divides by its real age. */
    private readonly startMs: number,
  ) {
    if (!(limits.levelsMax >= 1)) throw new RangeError('levelsMax must be at least 1');
  }

  /** The stale replies of one read, served at `level`. */
  record(level: string, stale: readonly StaleReply[], nowMs: number): void {
    if (stale.length === 0) return;
    const entry = this.levelOf(level);
    entry.total += stale.length;
    const slot = entry.slots.at(nowMs);
    slot.replies += stale.length;
    for (const { lagMs } of stale) if (lagMs !== undefined) slot.lags.add(lagMs);
  }

  /** Every level that has had a stale reply since counting began, sorted by name. */
  snapshot(nowMs: number): StalenessFigures[] {
    const spanMs = windowSpanMs(this.limits, nowMs, this.startMs);
    const out: StalenessFigures[] = [];
    for (const [level, { total, slots }] of this.levels) {
      let replies = 0;
      const lags = new LogHistogram(BUCKETS);
      for (const slot of slots.within(nowMs)) {
        replies += slot.replies;
        lags.addAll(slot.lags);
      }
      out.push({
        level,
        total,
        replies,
        perSecond: (replies * 1000) / spanMs,
        lagged: lags.total,
        lagP50Ms: lags.quantile(0.5),
        lagP99Ms: lags.quantile(0.99),
      });
    }
    return out.sort((a, b) => (a.level < b.level ? -1 : a.level > b.level ? 1 : 0));
  }

  private levelOf(level: string): Level {
    let entry = this.levels.get(level);
    if (entry !== undefined) return entry;
    if (this.levels.size >= this.limits.levelsMax - 1 && level !== OVERFLOW_LEVEL)
      return this.levelOf(OVERFLOW_LEVEL);
    entry = {
      total: 0,
      slots: new SlidingSlots<Slot>(
        this.limits,
        () => ({ replies: 0, lags: new LogHistogram(BUCKETS) }),
        (slot) => {
          slot.replies = 0;
          slot.lags.clear();
        },
      ),
    };
    this.levels.set(level, entry);
    return entry;
  }
}
