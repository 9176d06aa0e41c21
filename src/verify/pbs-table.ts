// The predicted-against-measured section of a `kvorum verify --compare-pbs` report: what was
// compared, then one table per coordinator case (t bucket, reads, stale, measured % with its
// 95% interval, predicted % at the client's t and at t plus the read's round trip), and where
// the stale reads were, by the write's node and the read's. Pure.

import { bucketLabel } from './age-buckets.js';
import type { ComparisonRow, ComparisonTable, PairCount, PbsComparison } from './pbs-compare.js';

const pct = (p: number) => (100 * p).toFixed(2);

const HEADER = [
  't ms',
  'reads',
  'stale',
  'measured %',
  '95% interval',
  'predicted %',
  'at t+rtt %',
];
/** Node pairs listed on one line of the report. */
const PAIRS_PER_LINE = 4;

function cells(row: ComparisonRow, label: string): string[] {
  const partly = row.predicted !== undefined && row.predictedReads < row.reads;
  const predicted = (p: number | undefined) =>
    p === undefined ? '-' : `${pct(p)}${partly ? '*' : ''}`;
  return [
    label,
    String(row.reads),
    String(row.stale),
    row.reads === 0 ? '-' : pct(row.measured),
    row.reads === 0 ? '-' : `${pct(row.interval.low)}-${pct(row.interval.high)}`,
    predicted(row.predicted),
    predicted(row.predictedShifted),
  ];
}

/** The table's lines, indented: a row per bucket and one for all of them. */
export function formatComparisonTable(table: ComparisonTable, indent = '  '): string[] {
  const rows = [
    HEADER,
    ...table.rows.map((row) => cells(row, bucketLabel(row.bucket))),
    cells(table.total, 'all'),
  ];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // The bucket label left-aligned, the figures right-aligned.
  return rows.map(
    (r) =>
      indent +
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
  );
}

const pairText = (p: PairCount) => `${p.writeNode}->${p.readNode} ${p.stale}/${p.reads}`;

export function formatPbsComparison(c: PbsComparison): string[] {
  const asked = c.curves.map((curve) => curve.node).join(', ') || 'no node';
  const trials = [...new Set(c.curves.map((curve) => curve.trials))].join('/');
  const rtt =
    c.readRoundTripP50Ms === undefined ? '' : ` (p50 ${c.readRoundTripP50Ms.toFixed(2)} ms)`;
  const pairLines: string[] = [];
  for (let i = 0; i < c.byPair.length; i += PAIRS_PER_LINE) {
    pairLines.push(
      `    ${c.byPair
        .slice(i, i + PAIRS_PER_LINE)
        .map(pairText)
        .join(', ')}`,
    );
  }
  const partial = [c.sameCoordinator, c.otherCoordinator].some((t) =>
    [...t.rows, t.total].some((r) => r.predicted !== undefined && r.predictedReads < r.reads),
  );
  return [
    `PBS predicted against measured (R=${c.r} W=${c.w}, N=${c.n}${c.strictQuorum ? ', R+W>N' : ''}): ` +
      'stale reads by t, the ms from the latest',
    "  acknowledged write of the key completing to the read starting, by the client's clock",
    "  predicted %: the mean over the bucket's reads of the prediction at each read's t by the node",
    `  it went through (GET /admin/pbs on ${asked} after the workload${trials === '' ? '' : `, ${trials} trials each`})`,
    `  at t+rtt %: the same at t plus the read's round trip${rtt}, about the coordinator's`,
    "  t, which is later by the write's response and the read's request",
    `  reads: ${c.eligible} began after an acknowledged write; ${c.overlapped} left out (another write of the key`,
    `  overlapped them); ${c.compared} compared`,
    '',
    '  same coordinator: the read went through the node that coordinated the write (what PBS models)',
    ...formatComparisonTable(c.sameCoordinator),
    '',
    "  other coordinator: through another node, against that node's own prediction (PBS models",
    "  a write and a read through one node, so this is how far one node's view carries)",
    ...formatComparisonTable(c.otherCoordinator),
    ...(partial ? ['  * predicted over the reads through nodes that answered (see below)'] : []),
    '',
    '  stale/reads by the node that took the write -> the node read through:',
    ...pairLines,
    ...c.missing.map((m) => `  no prediction from ${m.node}: ${m.why}`),
    ...c.curves.flatMap((curve) => [
      ...(curve.enoughSamples ? [] : [`  ${curve.node}: too few samples, the prediction is rough`]),
      ...curve.notes.map((note) => `  ${curve.node} note: ${note}`),
    ]),
  ];
}
