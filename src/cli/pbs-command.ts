// `kvorum pbs`: GET /admin/pbs as a table, one row per (R, W): how likely a read issued t ms
// after a write was acknowledged returns it (or one of the last k versions), and what each
// choice costs in predicted latency.

import type { PbsResult } from '../client/kvorum-client.js';
import { LIMITS } from '../config.js';
import { ADMIN_FLAGS, adminClient, askAdmin } from './admin-commands.js';
import type { Command } from './command.js';
import { expectPositionals, type FlagSpecs } from './flags.js';

/** What the server accepts for `t` (src/http/pbs-query.ts), checked before asking. */
function checkT(value: string): string | undefined {
  const ms = /^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(value) ? Number(value) : NaN;
  if (ms >= 0 && ms <= LIMITS.pbsTMsMax) return undefined;
  return `must be milliseconds from 0 to ${LIMITS.pbsTMsMax} (up to 3 decimals)`;
}

const PBS_FLAGS = {
  ...ADMIN_FLAGS,
  t: {
    kind: 'string',
    placeholder: 'ms',
    help: 'how long after the write was acknowledged the read is issued (default 0)',
    check: checkT,
  },
  k: {
    kind: 'integer',
    min: 1,
    max: LIMITS.pbsKMax,
    help: 'a read counts as fresh if it returns one of the last k versions (default 1)',
  },
} as const satisfies FlagSpecs;

const probability = (p: number | null) => (p === null ? 'unknown' : p.toFixed(4));
const quantiles = (q: { p50: number; p99: number } | null) =>
  q === null ? '-' : `${q.p50.toFixed(3)} / ${q.p99.toFixed(3)}`;

/** The answer as a person reads it: a heading, the table, where the samples came from, notes. */
export function formatPbs(result: PbsResult): string {
  const header = [
    'R',
    'W',
    'R+W>N',
    'P(consistent)',
    `P(within k=${result.k})`,
    'read ms p50 / p99',
    'write ms p50 / p99',
  ];
  const rows = result.predictions.map((p) => [
    String(p.r),
    String(p.w),
    p.strictQuorum ? 'strict' : '',
    probability(p.pConsistent),
    probability(p.pWithinK),
    quantiles(p.readMs),
    quantiles(p.writeMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // Numbers right-aligned, the quorum column left-aligned.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const samples = Object.entries(result.samples).map(([id, s]) => {
    if (s.writeFrom === 'none') return `${id} none`;
    const borrowed = [
      s.writeFrom !== 'own' ? `writes from ${s.writeFrom}` : '',
      s.readFrom !== 'own' ? `reads from ${s.readFrom}` : '',
    ].filter((x) => x !== '');
    const extra = borrowed.length === 0 ? '' : ` (${borrowed.join(', ')})`;
    return `${id} ${s.writes} writes, ${s.reads} reads${extra}`;
  });
  return [
    `PBS on ${result.node}: a read issued ${result.tMs} ms after a write was acknowledged, ` +
      `N=${result.n}, ${result.trials} trials`,
    '',
    line(header),
    ...rows.map(line),
    '',
    `round trips measured: ${samples.join('; ')}`,
    ...(result.enoughSamples ? [] : ['too few samples: the prediction is rough (see notes)']),
    ...result.notes.map((n) => `note: ${n}`),
    '',
  ].join('\n');
}

export const pbsCommand: Command<typeof PBS_FLAGS> = {
  name: 'pbs',
  synopsis: 'kvorum pbs [--t ms] [--k versions] [flags]',
  summary: 'predicted staleness and latency of every R/W choice (GET /admin/pbs)',
  details: [
    'Probabilistically Bounded Staleness (Bailis et al., VLDB 2012) from the round trips the',
    'asked node measured on live traffic: for every R and W, the chance that a read issued',
    '--t ms after a write was acknowledged returns it (or one of the last --k versions), and',
    "the predicted p50/p99 latency. R+W>N is always 1. The node's view: it is the coordinator",
    'of the writes and reads modelled. Example:',
    '  kvorum pbs --t 10',
  ].join('\n'),
  flags: PBS_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    const result = await askAdmin(async () =>
      (await adminClient(values)).pbs({
        ...(values.t === undefined ? {} : { tMs: Number(values.t) }),
        ...(values.k === undefined ? {} : { k: values.k }),
      }),
    );
    process.stdout.write(formatPbs(result));
  },
};
