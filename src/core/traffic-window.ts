// What clients have seen from one node lately, per operation and consistency level: requests
// per second, p50/p99 latency and how answers split into 2xx / 503 / 504 / other, over a
// sliding window. Memory is fixed: the window is a ring of slots, and each slot keeps counts
// and a log-bucketed latency histogram (as HdrHistogram does), never the samples themselves.
// Time comes in as a parameter, so tests drive it.

import { majority, type RequestOptions } from './quorum.js';

/** How answers are split: the three the console is about, and everything else. */
export const STATUS_CLASSES = Object.freeze(['2xx', '503', '504', 'other'] as const);
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** The row requests with unusable r/w/consistency/timeout are counted under (they answer 400). */
export const INVALID_LEVEL = 'invalid';
/** Where requests go once trafficLevelsMax rows exist (it cannot happen with N <= nMax). */
export const OVERFLOW_LEVEL = 'more';

// Latency buckets: a quarter of an octave each (about 19% wide) from 10 µs up, so a percentile
// is off by at most half a bucket; 100 buckets reach past 5 minutes, beyond any request timeout.
const BUCKET_MIN_MS = 0.01;
const BUCKETS_PER_OCTAVE = 4;
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

function bucketOf(ms: number): number {
  if (!(ms > BUCKET_MIN_MS)) return 0;
  const b = Math.floor(Math.log2(ms / BUCKET_MIN_MS) * BUCKETS_PER_OCTAVE);
  return Math.min(b, BUCKETS - 1);
}

/** The middle of a bucket (geometric), what a percentile falling in it reports. */
function bucketMiddleMs(b: number): number {
  return BUCKET_MIN_MS * 2 ** ((b + 0.5) / BUCKETS_PER_OCTAVE);
}

interface Slot {
  /** floor(nowMs / slotMs) of the time this slot holds; -1 when never used. */
  index: number;
  readonly statuses: number[];
  readonly histogram: Uint32Array;
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
  private readonly slotsPerLevel: number;
  private readonly levels = new Map<string, Slot[]>();

  constructor(
    private readonly limits: TrafficWindowLimits,
    /** When counting began: a window younger than windowMs divides by its real age. */
    private readonly startMs: number,
  ) {
    if (!(limits.slotMs > 0) || limits.windowMs % limits.slotMs !== 0) {
      throw new Error('trafficWindowMs must be a positive multiple of trafficSlotMs');
    }
    this.slotsPerLevel = limits.windowMs / limits.slotMs;
  }

  record(level: string, status: number, durMs: number, nowMs: number): void {
    const slot = this.slotAt(this.slotsOf(level), nowMs);
    const c = STATUS_CLASSES.indexOf(statusClassOf(status));
    slot.statuses[c] = (slot.statuses[c] as number) + 1;
    const b = bucketOf(durMs);
    slot.histogram[b] = (slot.histogram[b] as number) + 1;
  }

  /** Every level with requests in the window ending at `nowMs`, sorted by name. */
  snapshot(nowMs: number): TrafficFigures[] {
    const current = Math.floor(nowMs / this.limits.slotMs);
    const oldest = current - this.slotsPerLevel + 1;
    // The window runs from the start of its oldest slot (or from when counting began) to now.
    const spanMs = Math.max(
      nowMs - Math.max(oldest * this.limits.slotMs, this.startMs),
      this.limits.slotMs,
    );
    const out: TrafficFigures[] = [];
    for (const [level, slots] of this.levels) {
      const statuses = [0, 0, 0, 0];
      const histogram = new Uint32Array(BUCKETS);
      for (const slot of slots) {
        if (slot.index < oldest || slot.index > current) continue;
        slot.statuses.forEach((v, i) => (statuses[i] = (statuses[i] as number) + v));
        slot.histogram.forEach((v, i) => (histogram[i] = (histogram[i] as number) + v));
      }
      const requests = statuses.reduce((a, b) => a + b, 0);
      if (requests === 0) continue;
      out.push({
        level,
        requests,
        perSecond: (requests * 1000) / spanMs,
        p50Ms: percentile(histogram, requests, 0.5),
        p99Ms: percentile(histogram, requests, 0.99),
        statuses: Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, statuses[i]])) as Record<
          StatusClass,
          number
        >,
      });
    }
    return out.sort((a, b) => (a.level < b.level ? -1 : a.level > b.level ? 1 : 0));
  }

  private slotsOf(level: string): Slot[] {
    let slots = this.levels.get(level);
    if (slots !== undefined) return slots;
    if (this.levels.size >= this.limits.levelsMax - 1 && level !== OVERFLOW_LEVEL) {
      return this.slotsOf(OVERFLOW_LEVEL);
    }
    slots = Array.from({ length: this.slotsPerLevel }, () => ({
      index: -1,
      statuses: [0, 0, 0, 0],
      histogram: new Uint32Array(BUCKETS),
    }));
    this.levels.set(level, slots);
    return slots;
  }

  /** The slot for `nowMs`, emptied first if it last held an older stretch of time. */
  private slotAt(slots: Slot[], nowMs: number): Slot {
    const index = Math.floor(nowMs / this.limits.slotMs);
    const slot = slots[index % this.slotsPerLevel] as Slot;
    if (slot.index !== index) {
      slot.index = index;
      slot.statuses.fill(0);
      slot.histogram.fill(0);
    }
    return slot;
  }
}

/** The bucket holding the ceil(q * total)-th fastest request, as its middle value. */
function percentile(histogram: Uint32Array, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let b = 0; b < histogram.length; b++) {
    seen += histogram[b] as number;
    if (seen >= rank) return bucketMiddleMs(b);
  }
  return bucketMiddleMs(histogram.length - 1);
}
