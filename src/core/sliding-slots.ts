// A sliding window over time in fixed memory: a ring of slots, each holding what happened in one
// stretch of slotMs, emptied when the ring comes round to it again. Time comes in as a
// parameter, so tests drive it.

export interface SlidingSpan {
  readonly windowMs: number;
  readonly slotMs: number;
}

interface Slot<S> {
  /** floor(nowMs / slotMs) of the time this slot holds; -1 when never used. */
  index: number;
  readonly value: S;
}

export class SlidingSlots<S> {
  private readonly slots: Slot<S>[];

  constructor(
    private readonly span: SlidingSpan,
    make: () => S,
    /** Empties a slot's value for reuse. */
    private readonly clear: (value: S) => void,
  ) {
    if (!(span.slotMs > 0) || span.windowMs % span.slotMs !== 0 || span.windowMs <= 0)
      throw new Error('a window must be a positive whole number of slots');
    this.slots = Array.from({ length: span.windowMs / span.slotMs }, () => ({
      index: -1,
      value: make(),
    }));
  }

  /** The slot for `nowMs`, emptied first if it last held an older stretch of time. */
  at(nowMs: number): S {
    const index = Math.floor(nowMs / this.span.slotMs);
    const slot = this.slots[index % this.slots.length] as Slot<S>;
    if (slot.index !== index) {
      slot.index = index;
      this.clear(slot.value);
    }
    return slot.value;
  }

  /** The slots that hold time in the window ending at `nowMs`. */
  within(nowMs: number): S[] {
    const current = Math.floor(nowMs / this.span.slotMs);
    const oldest = current - this.slots.length + 1;
    return this.slots.filter((s) => s.index >= oldest && s.index <= current).map((s) => s.value);
  }
}

/**
 * How long the window ending at `nowMs` covers: from the start of its oldest slot, or from
 * `startMs` when counting began later, and at least one slot, so a rate never divides by ~0.
 */
export function windowSpanMs(span: SlidingSpan, nowMs: number, startMs: number): number {
  const oldest = Math.floor(nowMs / span.slotMs) - span.windowMs / span.slotMs + 1;
  return Math.max(nowMs - Math.max(oldest * span.slotMs, startMs), span.slotMs);
}
