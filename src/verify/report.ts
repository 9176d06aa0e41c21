// The text report of a `kvorum verify` run: settings and seed, operations by outcome, the
// nemesis timeline, each checker's verdict and counts, and the profile's verdict. Pure.

import { formatReport } from './linearizability.js';
import type { NemesisEvent } from './nemesis-runner.js';
import { formatPbsComparison } from './pbs-table.js';
import type { OutcomeTally } from './records.js';
import type { VerifyResult } from './run-verify.js';
import { VERIFY_LIMITS } from './verify-limits.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const percent = (part: number, whole: number) =>
  whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(part === 0 ? 0 : 2)}%`;

function tally(t: OutcomeTally): string {
  return `${t.total} (ok ${t.ok}, fail ${t.fail}, info ${t.info})`;
}

function timeline(events: readonly NemesisEvent[]): string[] {
  const byFault = new Map<number, { start?: NemesisEvent; end?: NemesisEvent }>();
  for (const e of events) {
    const entry = byFault.get(e.index) ?? {};
    entry[e.phase] = e;
    byFault.set(e.index, entry);
  }
  return [...byFault.values()]
    .filter((e) => e.start !== undefined)
    .sort((a, b) => a.start!.atMs - b.start!.atMs)
    .map(({ start, end }) => {
      const from = `+${seconds(start!.atMs)}`;
      const to = end === undefined ? 'end' : `+${seconds(end.atMs)}`;
      const problems = [...start!.problems, ...(end?.problems ?? [])];
      const note = problems.length === 0 ? '' : `  [! ${problems.join('; ')}]`;
      return `  ${`${from} .. ${to}`.padEnd(20)} ${start!.description}${note}`;
    });
}

function countsByKind(result: VerifyResult): string {
  const counts = new Map<string, number>();
  for (const f of result.plan.faults) counts.set(f.fault.kind, (counts.get(f.fault.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

export function formatVerifyReport(result: VerifyResult, replay?: string): string {
  const s = result.settings;
  const out: string[] = [];
  const isAp = s.profile === 'ap' || s.conflicts === 'siblings';
  out.push(
    `kvorum verify: profile ${s.profile}, conflicts ${s.conflicts}, seed ${s.seed}`,
    `  ${s.where}`,
    `  ${s.nodes.length} nodes (n=${s.n}), ${s.clients} clients, ${s.keys.length} register keys, ` +
      `${seconds(s.durationMs)} at ~${s.rate} ops/s (timeout ${s.timeoutMs} ms), nemesis ${s.nemesis.join(',') || 'none'}`,
  );
  if (s.steadyDelay !== undefined) {
    const d = s.steadyDelay;
    out.push(`  steady delay for the whole run: ${d.from}->${d.to} +${d.ms}±${d.jitterMs} ms`);
  }
  if (s.unsafe.length > 0) out.push(`  UNSAFE test flags on every node: ${s.unsafe.join(', ')}`);

  const { all, byKind, statuses } = result.summary;
  out.push('', `operations: ${tally(all)}`);
  for (const kind of ['read', 'write', 'add'] as const) {
    out.push(`  ${kind.padEnd(6)} ${tally(byKind[kind])}`);
  }
  const notOk = [...statuses].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (notOk.length > 0) out.push(`  not ok: ${notOk.map(([k, n]) => `${k} x${n}`).join(', ')}`);

  out.push(
    '',
    `nemesis: ${result.plan.faults.length} fault(s)${result.plan.faults.length > 0 ? ` (${countsByKind(result)})` : ''}`,
  );
  out.push(...timeline(result.events));
  if ([...result.members].sort().join(',') !== [...s.nodes].sort().join(',')) {
    out.push(`  members at the end: ${result.members.join(', ')} (the final checks ask these)`);
  }
  for (const p of result.recoveryProblems) out.push(`  after the run: ${p}`);

  out.push('');
  if (result.registers === undefined) {
    out.push('linearizability: not checked (siblings mode: a key may hold several values)');
  } else {
    const r = result.registers;
    out.push(
      `linearizability (register per key; Wing-Gong search with Lowe's memoization): ` +
        `${r.result.linearizable === true ? 'every key linearizable' : r.result.linearizable === false ? 'NOT linearizable' : 'undecided'}`,
    );
    const byName = [...r.result.keys].sort((a, b) =>
      a.key.localeCompare(b.key, 'en', { numeric: true }),
    );
    const width = Math.max(8, ...byName.map((k) => k.key.length));
    for (const key of byName) {
      const verdict =
        key.linearizable === true
          ? 'linearizable'
          : key.linearizable === false
            ? 'NOT linearizable'
            : 'undecided';
      out.push(`  ${key.key.padEnd(width)} ${String(key.opCount).padStart(6)} ops  ${verdict}`);
    }
    out.push(
      `  checked ${r.opCount} ops in ${seconds(r.elapsedMs)}; ${r.unobservedInfoWrites} indeterminate ` +
        'write(s) whose value no read returned were left out (they may never have taken effect)',
    );
    if (r.result.linearizable !== true) out.push(indent(formatReport(r.result)));
  }

  const set = result.set;
  out.push(
    '',
    `set (one key per element, written once): attempted ${set.attempted}, acknowledged ${set.acknowledged}, ` +
      `lost ${set.lost.length}, recovered ${set.recovered} of ${set.indeterminate} indeterminate, ` +
      `unexpected ${set.unexpected.length} (definitely failed: ${set.failed})`,
  );
  for (const a of [...set.lost, ...set.unexpected].slice(0, VERIFY_LIMITS.anomaliesShownMax)) {
    out.push(`  ${a.key} = ${a.value}: ${a.why}`);
  }
  const loss = result.loss;
  out.push(
    s.conflicts === 'siblings'
      ? `registers: ${loss.acknowledged} acknowledged writes: ${loss.surviving} still present, ` +
          `${loss.superseded} superseded by a write that saw them, lost ${loss.lost.length}, unexpected ${loss.unexpected.length}`
      : `registers: ${loss.acknowledged} acknowledged writes: ${loss.surviving} final, ${loss.superseded} overwritten, ` +
          `lost updates in the final state ${loss.lost.length}, unexpected ${loss.unexpected.length}` +
          (loss.undecided.length > 0
            ? `, ${loss.undecided.length} key(s) undecided (replicas differ)`
            : ''),
  );
  for (const a of [...loss.lost, ...loss.unexpected].slice(0, VERIFY_LIMITS.anomaliesShownMax)) {
    out.push(`  ${a.key} = ${a.value}: ${a.why}`);
  }
  if (result.lostWithNode.length > 0) {
    out.push(
      `lost with a removed node (w=one, allowed): ${result.lostWithNode.length} acknowledged write(s) ` +
        'absent, each acknowledged through a node that was then killed and removed',
    );
    for (const a of result.lostWithNode.slice(0, VERIFY_LIMITS.anomaliesShownMax)) {
      out.push(`  ${a.key} = ${a.value}: ${a.why}`);
    }
  }

  const c = result.convergence;
  out.push(
    c.converged
      ? `convergence: the replicas of all ${c.snapshot.size} keys agree, no hints pending, ${seconds(c.elapsedMs)} after the heal (${c.rounds} round(s))`
      : `convergence: NOT converged after ${seconds(c.elapsedMs)}: ${c.divergent.length} key(s) differ ` +
          `(${c.divergent.slice(0, VERIFY_LIMITS.anomaliesShownMax).join(', ')}), ${c.hintsPending} hint(s) pending`,
  );
  const st = result.stale;
  out.push(
    `stale reads: ${st.stale} of ${st.eligible} reads that began after an acknowledged write ` +
      `(${percent(st.stale, st.eligible)})${staleNote(s.profile, isAp)}`,
  );
  if (result.pbs !== undefined) out.push('', ...formatPbsComparison(result.pbs));

  const v = result.verdict;
  out.push(
    '',
    `verdict: ${v.pass ? 'PASS' : 'FAIL'}: profile ${s.profile}/${s.conflicts} promises ${v.promise}`,
  );
  for (const f of v.findings) {
    const mark = f.held ? 'ok  ' : f.promised ? 'FAIL' : 'note';
    out.push(`  ${mark} ${f.text}${f.promised ? '' : ' (not promised)'}`);
  }
  out.push(`seed ${s.seed}; run took ${seconds(result.totalMs)}`);
  if (replay !== undefined) out.push(`replay: ${replay}`);
  return `${out.join('\n')}\n`;
}

/** What a stale read means in this profile. */
function staleNote(profile: string, isAp: boolean): string {
  if (isAp) return '';
  if (profile === 'cp') return '; linearizable reads allow none';
  // R + W > N: a read quorum meets every acknowledged write, so only a lower timestamp hides one.
  return '; with R+W>N each one is an update lost to clock order';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
