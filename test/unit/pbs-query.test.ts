// GET /admin/pbs's and /admin/pbs/curve's queries: defaults, the values they take, and one clear
// line for each they refuse.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { parsePbsCurveQuery, parsePbsQuery } from '../../src/http/pbs-query.js';

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

describe('parsePbsCurveQuery', () => {
  const most = Array.from({ length: LIMITS.pbsCurvePointsMax }, (_, i) => i / 2);

  it.each<[Record<string, unknown> | undefined, readonly number[] | undefined]>([
    [undefined, undefined],
    [{}, undefined],
    [{ t: '5' }, [5]],
    [{ t: '0,0.25,1,60000' }, [0, 0.25, 1, 60_000]],
    [{ t: most.join(',') }, most],
  ])('takes %j', (query, tMs) => {
    expect(parsePbsCurveQuery(query)).toEqual({ tMs });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an empty t',
      { t: '' },
      /each t must be a number of milliseconds from 0 to 60000.*value 1 is ""/,
    ],
    ['an empty value', { t: '1,,2' }, /value 2 is ""/],
    ['a value past the limit', { t: '1,60001' }, /value 2 is "60001"/],
    ['a negative value', { t: '-1' }, /each t must be/],
    ['a value that is not a number', { t: '0,soon' }, /value 2 is "soon"/],
    [
      'values that go back',
      { t: '0,5,2' },
      /t must list increasing values.*value 3 \(2\) follows 5/,
    ],
    ['a value twice', { t: '1,1' }, /increasing/],
    [
      'more values than the limit',
      { t: [...most, 100].join(',') },
      new RegExp(
        `t lists at most ${LIMITS.pbsCurvePointsMax} values; got ${LIMITS.pbsCurvePointsMax + 1}`,
      ),
    ],
    ['t twice', { t: ['1', '2'] }, /t was given more than once/],
    ['k, which the curve does not take', { k: '2' }, /unknown query parameter "k".*takes only t/],
  ])('refuses %s with 400 invalid_argument', (_what, query, message) => {
    expect(() => parsePbsCurveQuery(query)).toThrow(InvalidArgumentError);
    expect(() => parsePbsCurveQuery(query)).toThrow(message);
  });
});
