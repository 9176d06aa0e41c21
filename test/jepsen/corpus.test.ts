// Proves the checker on published Jepsen histories of etcd (via Porcupine and the
// linearizability-checker project): every verdict in expected.tsv, each within a time bound.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJepsenHistory } from '../../src/verify/jepsen-log.js';
import { checkRegister, formatReport } from '../../src/verify/linearizability.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const corpusDir = resolve(repoRoot, '..', 'shared', 'checker-corpus', 'etcd');
const expectedPath = resolve(corpusDir, 'expected.tsv');
/** Each history's own budget; the README says the search needs well under a second. */
const BUDGET_MS = 10_000;

interface Entry {
  readonly log: string;
  readonly linearizable: boolean;
}

/** expected.tsv: a `log\tlinearizable` header, then one `etcd_NNN.log\ttrue|false` per line. */
function readExpected(): Entry[] {
  if (!existsSync(expectedPath)) return [];
  const [header, ...rows] = readFileSync(expectedPath, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (header?.trim() !== 'log\tlinearizable') {
    throw new Error(`${expectedPath}: unexpected header ${JSON.stringify(header)}`);
  }
  return rows.map((row, i) => {
    const [log, verdict] = row.trim().split('\t');
    if (log === undefined || (verdict !== 'true' && verdict !== 'false')) {
      throw new Error(`${expectedPath}:${i + 2}: cannot read ${JSON.stringify(row)}`);
    }
    return { log, linearizable: verdict === 'true' };
  });
}

const entries = readExpected();
const timings: { log: string; ms: number }[] = [];

describe('etcd corpus', () => {
  it('is present beside the repository', () => {
    expect(
      existsSync(expectedPath),
      `the checker corpus is missing: looked for ${expectedPath} (repo root ${repoRoot})`,
    ).toBe(true);
    expect(entries.length).toBeGreaterThan(0);
  });

  it.each(entries)('$log: linearizable is $linearizable', ({ log, linearizable }) => {
    const ops = readJepsenHistory(readFileSync(resolve(corpusDir, log), 'utf8'));
    const started = performance.now();
    const result = checkRegister(ops, { model: 'cas-register', budgetMs: BUDGET_MS });
    const ms = performance.now() - started;
    timings.push({ log, ms });
    expect(result.linearizable, formatReport(result)).toBe(linearizable);
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  afterAll(() => {
    const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 3);
    const total = timings.reduce((sum, t) => sum + t.ms, 0);
    console.log(
      `etcd corpus: ${timings.length} histories in ${total.toFixed(0)} ms; slowest ` +
        slowest.map((t) => `${t.log} ${t.ms.toFixed(1)} ms`).join(', '),
    );
  });
});
