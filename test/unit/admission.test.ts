import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/core/admission.js';
import { OverloadedError } from '../../src/core/errors.js';

const MiB = 1024 * 1024;
const limits = { bytesMax: 256 * MiB, writeBytesMax: 8 * MiB, requestsMax: 4, retryAfterS: 1 };

function refusal(f: () => unknown): OverloadedError {
  try {
    f();
  } catch (err) {
    if (err instanceof OverloadedError) return err;
    throw err;
  }
  throw new Error('expected an OverloadedError');
}

describe('Admission', () => {
  it('refuses a request past the requests budget, and admits again once one is released', () => {
    const a = new Admission(limits);
    const held = [a.admit(0), a.admit(0), a.admit(0), a.admit(0)];
    const err = refusal(() => a.admit(0));
    expect(err.details()).toEqual({ resource: 'requests', inFlight: 4, limit: 4 });
    expect(err.status).toBe(503);
    expect(err.code).toBe('overloaded');
    a.release(held[0]!);
    a.release(held[0]!); // twice is once
    expect(a.status().requests).toBe(3);
    expect(() => a.admit(0)).not.toThrow();
  });

  it('counts the requests in flight (what hint replay backs off for), refused ones not', () => {
    const a = new Admission(limits);
    expect(a.requestsInFlight).toBe(0);
    const held = [a.admit(0), a.admit(10), a.admit(0), a.admit(0)];
    refusal(() => a.admit(0));
    expect(a.requestsInFlight).toBe(4);
    for (const h of held) a.release(h);
    a.release(held[1]!);
    expect(a.requestsInFlight).toBe(0);
  });

  it('bounds write bytes in flight, but always admits one body when nothing else is in flight', () => {
    const a = new Admission(limits);
    const big = a.admit(20 * MiB); // larger than the budget, alone: admitted
    expect(refusal(() => a.admit(1)).details()).toMatchObject({ resource: 'bytes' });
    a.release(big);
    const x = a.admit(5 * MiB);
    expect(() => a.admit(3 * MiB)).not.toThrow();
    expect(refusal(() => a.admit(1)).details()).toEqual({
      resource: 'bytes',
      inFlight: 8 * MiB,
      limit: 8 * MiB,
    });
    a.release(x);
    expect(a.status()).toMatchObject({ bytes: 3 * MiB, bytesAdmitted: 28 * MiB, bytesRefused: 2 });
  });

  it('counts bytes queued to peers against the overall budget; reads carry none and pass', () => {
    let queued = 255 * MiB;
    const a = new Admission(limits, () => queued);
    expect(refusal(() => a.admit(2 * MiB)).details()).toEqual({
      resource: 'bytes',
      inFlight: 255 * MiB,
      limit: 256 * MiB,
    });
    expect(() => a.admit(0)).not.toThrow();
    queued = 0;
    expect(() => a.admit(2 * MiB)).not.toThrow();
  });
});
