import type { Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimitedLog } from '../../src/net/rate-limited-log.js';

function capture() {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const logger = {
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }),
  } as unknown as Logger;
  return { lines, logger };
}

describe('RateLimitedLog', () => {
  afterEach(() => vi.useRealTimers());

  it('writes at most the allowed lines of one kind per second and counts the rest', () => {
    vi.useFakeTimers();
    const { lines, logger } = capture();
    let now = 0;
    const log = new RateLimitedLog(logger, 3, () => now);
    for (let i = 0; i < 1000; i++) log.warn('refused', { i }, 'peer connection refused');
    expect(lines.map((l) => l.fields.i)).toEqual([0, 1, 2]);

    // The next second's first line carries what was held back.
    now = 1_000;
    log.warn('refused', { i: 1000 }, 'peer connection refused');
    expect(lines[3]?.fields).toMatchObject({ i: 1000, kind: 'refused', suppressed: 997 });
  });

  it('says what it held back at the end of the second even when the flood stops', () => {
    vi.useFakeTimers();
    const { lines, logger } = capture();
    let now = 0;
    const log = new RateLimitedLog(logger, 2, () => now);
    for (let i = 0; i < 50; i++) log.warn('garbage', {}, 'malformed frame');
    expect(lines).toHaveLength(2);
    now = 1_000;
    vi.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({
      fields: { kind: 'garbage', suppressed: 48 },
      msg: 'log lines of this kind suppressed',
    });
    // Nothing is said twice.
    vi.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(3);
  });

  it('limits each kind on its own', () => {
    const { lines, logger } = capture();
    const log = new RateLimitedLog(logger, 1, () => 0);
    log.warn('a', {}, 'a');
    log.warn('a', {}, 'a');
    log.warn('b', {}, 'b');
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b']);
    log.close();
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b', 'log lines of this kind suppressed']);
  });
});
