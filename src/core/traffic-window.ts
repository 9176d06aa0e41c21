// What clients have seen from one node lately, per operation and consistency level: requests
// per second, p50/p99 latency and how answers split into 2xx / 503 / 504 / other, over a
// sliding window. Memory is fixed: the window is a ring of slots (src/core/sliding-slots.ts),
// and each slot keeps counts and a log-bucketed latency histogram, never the samples themselves.
// Time comes in as a parameter, so tests drive it.

import { LogHistogram } from './log-histogram.js';
import { majority, type RequestOptions } from './quorum.js';
import { SlidingSlots, windowSpanMs } from './sliding-slots.js';

/** How answers are split: the three the console is about, and everything else. */
export const STATUS_CLASSES = Object.freeze(['2xx', '503', '504', 'other'] as const);
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** The row requests with unusable r/w/consistency/timeout are counted under (they answer 400). */
export const INVALID_LEVEL = 'invalid';
/** Where requests go once trafficLevelsMax rows exist (it cannot happen with N <= nMax). */
export const OVERFLOW_LEVEL = 'more';

// Latency buckets (src/core/log-histogram.ts): 100 reach past 5 minutes, beyond any request
// timeout.
const BUCKETS = 100;

export function statusClassOf(status: number): StatusClass {
  if (status >= 200 && status <= 299) return '2xx';
  if (status === 503) return '503';
  if (status === 504) return '504';
  return 'other';
}

/** A replica count as a person names it: one, quorum, all, or the number itself. */
export function levelName(k: number, n: number): string {
  if (k === 1) return 'one';
  if (k === majority(n)) return 'quorum';
  if (k === n) return 'all';
  return String(k);
}

/** The row a request is counted under: its operation and the level it was served at. */
export function trafficLevel(op: 'read' | 'write', opts: RequestOptions, n: number): string {
  if (opts.linearizable) return `${op} linearizable`;
  return `${op} ${levelName(op === 'read' ? opts.r : opts.w, n)}`;
}

interface Slot {
  readonly statuses: number[];
  readonly histogram: LogHistogram;
}

export interface TrafficFigures {
  /** `read quorum`, `write one`, `read linearizable`, `write invalid`, … */
  readonly level: string;
  readonly requests: number;
  readonly perSecond: number;
  /** null when no request finished in the window. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly statuses: Readonly<Record<StatusClass, number>>;
}

export interface TrafficWindowLimits {
  readonly windowMs: number;
  readonly slotMs: number;
  readonly levelsMax: number;
}

export class TrafficWindow {
  private readonly levels = new Map<string, SlidingSlots<Slot>>();

  constructor(
    private readonly limits: TrafficWindowLimits,
    /** When counting began: a window younger than windowMs divides by its real age. */
    private readonly startMs: number,
  ) {
    if (!(limits.slotMs > 0) || limits.windowMs % limits.slotMs !== 0) {
      throw new Error('trafficWindowMs must be a positive multiple of trafficSlotMs');
    }
  }

  record(level: string, status: number, durMs: number, nowMs: number): void {
    const slot = this.slotsOf(level).at(nowMs);
    const c = STATUS_CLASSES.indexOf(statusClassOf(status));
    slot.statuses[c] = (slot.statuses[c] as number) + 1;
    slot.histogram.add(durMs);
  }

  /** Every level with requests in the window ending at `nowMs`, sorted by name. */
  snapshot(nowMs: number): TrafficFigures[] {
    const spanMs = windowSpanMs(this.limits, nowMs, this.startMs);
    const out: TrafficFigures[] = [];
    for (const [level, slots] of this.levels) {
      const statuses = [0, 0, 0, 0];
      const histogram = new LogHistogram(BUCKETS);
      for (const slot of slots.within(nowMs)) {
        slot.statuses.forEach((v, i) => (statuses[i] = (statuses[i] as number) + v));
        histogram.addAll(slot.histogram);
      }
      const requests = statuses.reduce((a, b) => a + b, 0);
      if (requests === 0) continue;
      out.push({
        level,
        requests,
        perSecond: (requests * 1000) / spanMs,
        p50Ms: histogram.quantile(0.5),
        p99Ms: histogram.quantile(0.99),
        statuses: Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, statuses[i]])) as Record<
          StatusClass,
          number
        >,
      });
    }
    return out.sort((a, b) => (a.level < b.level ? -1 : a.level > b.level ? 1 : 0));
  }

  private slotsOf(level: string): SlidingSlots<Slot> {
    let slots = this.levels.get(level);
    if (slots !== undefined) return slots;
    if (this.levels.size >= this.limits.levelsMax - 1 && level !== OVERFLOW_LEVEL) {
      return this.slotsOf(OVERFLOW_LEVEL);
    }
    slots = new SlidingSlots<Slot>(
      this.limits,
      () => ({ statuses: [0, 0, 0, 0], histogram: new LogHistogram(BUCKETS) }),
      (slot) => {
        slot.statuses.fill(0);
        slot.histogram.clear();
      },
    );
    this.levels.set(level, slots);
    return slots;
  }
}
