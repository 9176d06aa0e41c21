import { describe, expect, it } from 'vitest';
import { until } from '../support/cluster.js';

describe('until (the polling helper of the integration tests)', () => {
  it('rethrows a failed assertion from the probe at once instead of retrying', async () => {
    let calls = 0;
    const err = await until(
      'a probe whose assertion fails',
      () => {
        calls += 1;
        expect(calls).toBe(0);
        return true;
      },
      5_000,
    ).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AssertionError');
    expect(calls).toBe(1);
  });

  it('treats other errors as "not yet" and names the last one when time runs out', async () => {
    let calls = 0;
    const err = await until(
      'a probe that keeps failing',
      () => {
        calls += 1;
        throw new Error('connection refused');
      },
      100,
      10,
    ).catch((e: unknown) => e);
    expect(calls).toBeGreaterThan(1);
    expect(String(err)).toMatch(
      /timed out after 100 ms waiting for a probe that keeps failing: Error: connection refused/,
    );
  });

  it('returns the first value that is neither undefined nor false', async () => {
    let calls = 0;
    const v = await until('the third call', () => (++calls >= 3 ? calls : false), 1_000, 1);
    expect(v).toBe(3);
  });
});
