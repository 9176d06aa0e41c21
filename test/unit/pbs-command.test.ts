// `kvorum pbs`'s table: one aligned row per (R, W), unknowns spelled out, and the notes that say
// where the samples came from.

import { describe, expect, it } from 'vitest';
import type { PbsResult } from '../../src/client/kvorum-client.js';
import { formatPbs } from '../../src/cli/pbs-command.js';

const row = (r: number, w: number, p: number | null) => ({
  r,
  w,
  strictQuorum: r + w > 2,
  pConsistent: p,
  pWithinK: p,
  readMs: p === null ? null : { p50: 0.1, p99: 1.25 },
  writeMs: p === null ? null : { p50: 2, p99: 12.5 },
});

const result = (over: Partial<PbsResult>): PbsResult => ({
  node: 'n1',
  n: 2,
  tMs: 10,
  k: 1,
  trials: 10_000,
  enoughSamples: true,
  notes: [],
  samples: {
    n1: { writes: 50, reads: 50, writeFrom: 'own', readFrom: 'own' },
    n2: { writes: 50, reads: 0, writeFrom: 'own', readFrom: 'writes' },
  },
  predictions: [row(1, 1, 0.97), row(1, 2, 1), row(2, 1, 1), row(2, 2, 1)],
  ...over,
});

describe('formatPbs', () => {
  it('prints a heading, one row per (R, W) with its strictness, and where samples came from', () => {
    expect(formatPbs(result({}))).toBe(
      [
        'PBS on n1: a read issued 10 ms after a write was acknowledged, N=2, 10000 trials',
        '',
        'R  W  R+W>N   P(consistent)  P(within k=1)  read ms p50 / p99  write ms p50 / p99',
        '1  1                 0.9700         0.9700      0.100 / 1.250      2.000 / 12.500',
        '1  2  strict         1.0000         1.0000      0.100 / 1.250      2.000 / 12.500',
        '2  1  strict         1.0000         1.0000      0.100 / 1.250      2.000 / 12.500',
        '2  2  strict         1.0000         1.0000      0.100 / 1.250      2.000 / 12.500',
        '',
        'round trips measured: n1 50 writes, 50 reads; n2 50 writes, 0 reads (reads from writes)',
        '',
      ].join('\n'),
    );
  });

  it('says what is unknown and why', () => {
    const text = formatPbs(
      result({
        enoughSamples: false,
        notes: ['n1 has measured no replies yet'],
        samples: { n1: { writes: 0, reads: 0, writeFrom: 'none', readFrom: 'none' } },
        predictions: [row(1, 1, null), row(2, 2, 1)],
      }),
    );
    expect(text).toMatch(/^1 {2}1 +unknown +unknown +- +-$/m);
    expect(text).toContain('round trips measured: n1 none');
    expect(text).toContain('too few samples: the prediction is rough (see notes)');
    expect(text).toContain('note: n1 has measured no replies yet');
  });
});
