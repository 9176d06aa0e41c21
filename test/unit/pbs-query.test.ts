// GET /admin/pbs's query: defaults, the values it takes, and one clear line for each it refuses.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { parsePbsQuery } from '../../src/http/pbs-query.js';

describe('parsePbsQuery', () => {
  it.each<[Record<string, unknown> | undefined, { tMs: number; k: number }]>([
    [undefined, { tMs: 0, k: 1 }],
    [{}, { tMs: 0, k: 1 }],
    [{ t: '10' }, { tMs: 10, k: 1 }],
    [
      { t: '0.25', k: '3' },
      { tMs: 0.25, k: 3 },
    ],
    [
      { t: String(LIMITS.pbsTMsMax), k: String(LIMITS.pbsKMax) },
      { tMs: 60_000, k: 100 },
    ],
  ])('takes %j', (query, want) => {
    expect(parsePbsQuery(query)).toEqual(want);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a negative t', { t: '-1' }, /t must be a number of milliseconds from 0 to 60000/],
    ['t past the limit', { t: '60000.5' }, /t must be/],
    ['t that is not a number', { t: 'soon' }, /got "soon"/],
    ['an empty t', { t: '' }, /t must be/],
    ['t in exponent form', { t: '1e3' }, /t must be/],
    ['k of 0', { k: '0' }, /k must be a whole number of versions from 1 to 100/],
    ['k past the limit', { k: '101' }, /k must be/],
    ['a fractional k', { k: '1.5' }, /k must be/],
    ['t twice', { t: ['1', '2'] }, /t was given more than once/],
    ['an unknown parameter', { time: '10' }, /unknown query parameter "time"/],
  ])('refuses %s with 400 invalid_argument', (_what, query, message) => {
    expect(() => parsePbsQuery(query)).toThrow(InvalidArgumentError);
    expect(() => parsePbsQuery(query)).toThrow(message);
  });
});
