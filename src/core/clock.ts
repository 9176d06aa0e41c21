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

/**
 * Runs `fn` every `intervalMs()` until cancelled, on `timers`: the next run is armed when this
 * one is called, so a slow `fn` (one that returns a promise) never overlaps itself only if it
 * guards itself, as every caller here does.
 */
export function repeat(
  timers: Timers,
  intervalMs: () => number,
  fn: () => void,
): { cancel(): void } {
  let current: { cancel(): void } | undefined;
  let cancelled = false;
  const arm = (): void => {
    current = timers.after(intervalMs(), () => {
      if (cancelled) return;
      arm();
      fn();
    });
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      current?.cancel();
    },
  };
}
