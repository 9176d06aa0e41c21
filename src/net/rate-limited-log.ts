// Warnings about what other hosts send (refused handshakes, malformed frames, connection floods)
// are the ones an attacker can make this node write at will: each kind gets a few lines per
// second, and what was held back is counted and said, so a flood costs a log line per second.

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';

const WINDOW_MS = 1_000;

interface KindState {
  windowStartMs: number;
  written: number;
  /** Lines held back since the last one of this kind was written. */
  suppressed: number;
  flush: NodeJS.Timeout | undefined;
}

export class RateLimitedLog {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly logger: Logger,
    private readonly linesPerSecond: number = LIMITS.logLinesPerKindPerSecond,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Writes a warning of `kind` unless that kind used its lines for this second. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.nowMs();
    let s = this.kinds.get(kind);
    if (s === undefined) {
      s = { windowStartMs: now, written: 0, suppressed: 0, flush: undefined };
      this.kinds.set(kind, s);
    }
    if (now - s.windowStartMs >= WINDOW_MS) {
      s.windowStartMs = now;
      s.written = 0;
    }
    if (s.written >= this.linesPerSecond) {
      s.suppressed += 1;
      // Said at the end of the window even if the flood stops, so no count is lost.
      s.flush ??= setTimeout(() => this.flush(kind), WINDOW_MS - (now - s.windowStartMs)).unref();
      return;
    }
    s.written += 1;
    const held = s.suppressed;
    s.suppressed = 0;
    this.logger.warn(held > 0 ? { ...fields, kind, suppressed: held } : { ...fields, kind }, msg);
  }

  /** Says how many lines of `kind` were held back, if any; called at the end of a window. */
  private flush(kind: string): void {
    const s = this.kinds.get(kind);
    if (s === undefined) return;
    s.flush = undefined;
    if (s.suppressed === 0) return;
    this.logger.warn({ kind, suppressed: s.suppressed }, 'log lines of this kind suppressed');
    s.suppressed = 0;
  }

  /** Says what is still held back and stops the timers (the node is closing). */
  close(): void {
    for (const [kind, s] of this.kinds) {
      if (s.flush !== undefined) clearTimeout(s.flush);
      this.flush(kind);
    }
  }
}
