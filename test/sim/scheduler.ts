// A discrete-event scheduler with virtual time, stepped by the test. Every delay in the
// simulation (message latency, request timeouts, faults, client think time) is an event here,
// so a run takes as long as its events take to process, not as long as its virtual time, and
// replays exactly for a seed: events at the same time run in the order they were scheduled,
// and all promise continuations an event triggers run before the next event. It keeps the
// last events it ran (with the labels they were scheduled under, and notes added while they
// ran), so a run that fails can say what led to it.

import type { Clock } from '../../src/core/clock.js';
import { replayOne } from './sim-seeds.js';

const PRINT_NOTES = process.env.SIM_NOTES !== undefined;
export interface Timer {
  cancel(): void;
}

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly label: string;
  cancelled: boolean;
}

/** Lines of the transcript a failure prints: the last events run and notes made. */
export const TRANSCRIPT_LINES = 20;

/** Lets every queued promise continuation run; the simulation does no real I/O. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Scheduler {
  private time = 0;
  private seq = 0;
  private readonly heap: Event[] = [];
  /** A ring of the last TRANSCRIPT_LINES lines, oldest at `recentNext` once full. */
  private readonly recent: string[] = [];
  private recentNext = 0;
  /** Events run so far, for budgets and reports. */
  steps = 0;

  /** `seed`: the seed of the run this scheduler drives, named in its failures. */
  constructor(readonly seed?: number) {}

  get now(): number {
    return this.time;
  }

  /** Runs `fn` at now + delayMs (at least 0); `label` names it in the transcript. */
  at(delayMs: number, fn: () => void, label = 'timer'): Timer {
    const ev: Event = {
      at: this.time + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      label,
      cancelled: false,
    };
    this.push(ev);
    return {
      cancel: () => {
        ev.cancelled = true;
      },
    };
  }

  /** Events still queued (cancelled ones included until they come up). */
  get pending(): number {
    return this.heap.length;
  }

  /** Runs events until `p` settles; fails if nothing is left that could settle it. */
  async run<T>(p: Promise<T>, maxSteps = 1_000_000): Promise<T> {
    let done = false;
    const tracked = p.finally(() => {
      done = true;
    });
    // Keep a rejection from being reported as unhandled before it is awaited below.
    tracked.catch(() => undefined);
    await settle();
    for (let i = 0; !done; i++) {
      if (i >= maxSteps) throw this.failure(`simulation did not settle in ${maxSteps} events`);
      if (!(await this.step()))
        throw this.failure(
          `simulation deadlock: no events left at t=${this.time} and a promise is pending`,
        );
    }
    return tracked;
  }

  /** Adds a line to the transcript at the current time (what an event decided, say). */
  note(text: string): void {
    // SIM_NOTES=1 prints the notes (not the events) as they are made: a seed's story.
    if (PRINT_NOTES) console.log(`t=${this.time} ${text}`);
    this.record(text);
  }

  private record(text: string): void {
    const line = `t=${this.time} ${text}`;
    if (this.recent.length < TRANSCRIPT_LINES) this.recent.push(line);
    else this.recent[this.recentNext] = line;
    this.recentNext = (this.recentNext + 1) % TRANSCRIPT_LINES;
  }

  /** The last events run and notes made, oldest first, one per line. */
  transcript(): string {
    const lines =
      this.recent.length < TRANSCRIPT_LINES
        ? this.recent
        : [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
    return lines.map((line) => `  ${line}`).join('\n');
  }

  /** An error that names the seed that replays the run and what happened last. */
  failure(what: string): Error {
    const seed =
      this.seed === undefined ? '' : `seed ${this.seed} (${replayOne(this.seed)} replays it): `;
    return new Error(
      `${seed}${what} (${this.steps} events run, ${this.pending} queued)\nlast events:\n${this.transcript()}`,
    );
  }

  /** Runs every event due up to `t`, then sets the clock to `t`. */
  async runUntil(t: number): Promise<void> {
    while (this.heap.length > 0 && (this.heap[0] as Event).at <= t) await this.step();
    this.time = Math.max(this.time, t);
  }

  async runFor(ms: number): Promise<void> {
    await this.runUntil(this.time + ms);
  }

  /** Runs events until none are left. */
  async runUntilIdle(maxSteps = 1_000_000): Promise<void> {
    for (let i = 0; this.heap.length > 0; i++) {
      if (i >= maxSteps) throw this.failure(`simulation still busy after ${maxSteps} events`);
      await this.step();
    }
  }

  /** Runs the next live event; false when there is none. */
  private async step(): Promise<boolean> {
    for (;;) {
      const ev = this.pop();
      if (ev === undefined) return false;
      if (ev.cancelled) continue;
      this.time = ev.at;
      this.steps += 1;
      this.record(ev.label);
      ev.fn();
      await settle();
      return true;
    }
  }

  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: Event): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Event, h[parent] as Event)) break;
      [h[i], h[parent]] = [h[parent] as Event, h[i] as Event];
      i = parent;
    }
  }

  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Event, h[m] as Event)) m = l;
        if (r < h.length && this.less(h[r] as Event, h[m] as Event)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Event, h[i] as Event];
        i = m;
      }
    }
    return top;
  }
}

/** Virtual wall time starts here, so stamps look like real ones. */
export const SIM_EPOCH_MS = 1_700_000_000_000;

/**
 * One node's clock: the scheduler's time, with this node's wall clock off by `skewMs`. Events
 * may fall between milliseconds (a jittered timer), so the wall clock is whole milliseconds, as
 * Date.now() is; the monotonic reading is fractional, as performance.now() is.
 */
export function simClock(sched: Scheduler, skewMs = 0): Clock {
  return {
    nowMs: () => Math.floor(SIM_EPOCH_MS + sched.now + skewMs),
    monotonicMs: () => sched.now,
  };
}
