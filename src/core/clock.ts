// Time comes into the core through this interface, so a simulation can drive the same code
// with a virtual clock and tests can skew one replica's wall clock.

export interface Clock {
  /** Wall-clock milliseconds since the epoch (may be skewed on purpose in tests). */
  nowMs(): number;
  /** A monotonic reading in milliseconds, for measuring durations. */
  monotonicMs(): number;
}

/** A cancellable one-shot timer, so the core can wait without owning the event loop. */
export interface Timers {
  after(ms: number, fn: () => void): { cancel(): void };
}
