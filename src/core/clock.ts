// Time and scheduling come into the core through these interfaces, so a simulation can drive
// the same code with a virtual clock.

export interface Clock {
  /** Wall-clock milliseconds since the epoch (may be skewed on purpose in tests). */
  nowMs(): number;
}

export interface Scheduler {
  /** Runs fn after ms; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}
