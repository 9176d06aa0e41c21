import { describe, expect, it } from 'vitest';
import { repeat, type Timers } from '../../src/core/clock.js';

/** Timers whose armed callbacks run only when the test fires them. */
function manualTimers() {
  const armed: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  const timers: Timers = {
    after(ms, fn) {
      const t = { ms, fn, cancelled: false };
      armed.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
  };
  const fireNext = (): void => {
    const t = armed.find((a) => !a.cancelled);
    if (t === undefined) throw new Error('nothing armed');
    armed.splice(armed.indexOf(t), 1);
    t.fn();
  };
  const pending = () => armed.filter((a) => !a.cancelled);
  return { timers, fireNext, pending };
}

describe('repeat', () => {
  it('runs fn once per interval, re-arming with the interval read each time', () => {
    const m = manualTimers();
    let interval = 100;
    let runs = 0;
    repeat(
      m.timers,
      () => interval,
      () => (runs += 1),
    );
    expect(runs).toBe(0);
    expect(m.pending().map((a) => a.ms)).toEqual([100]);
    m.fireNext();
    expect(runs).toBe(1);
    interval = 250;
    m.fireNext();
    expect(runs).toBe(2);
    expect(m.pending().map((a) => a.ms)).toEqual([250]);
  });

  it('cancel leaves nothing armed and runs fn no more, even from a timer already due', () => {
    const m = manualTimers();
    let runs = 0;
    const r = repeat(
      m.timers,
      () => 10,
      () => (runs += 1),
    );
    m.fireNext();
    r.cancel();
    expect(m.pending()).toEqual([]);
    expect(runs).toBe(1);
  });

  it('keeps going when fn throws: the next run is armed before fn runs', () => {
    const m = manualTimers();
    repeat(
      m.timers,
      () => 10,
      () => {
        throw new Error('boom');
      },
    );
    expect(() => m.fireNext()).toThrow('boom');
    expect(m.pending()).toHaveLength(1);
  });
});
