// Lost acknowledged writes on the register keys, judged from the state every replica holds after
// the heal. What "lost" means depends on the conflict mode:
// - siblings: a write may only disappear when a later write superseded it, i.e. one issued with
//   the context of a read that returned its value. Acknowledged, absent, and never superseded
//   is lost (DESIGN 2.3: "no acknowledged write is ever lost").
// - lww: one value survives per key. A write that began after the surviving value's write was
//   acknowledged should have replaced it; when it did not (a lagging clock stamped it lower),
//   that update was lost. Last-writer-wins loses concurrent writes by design; this counts only
//   the ones a user would call lost, ordered in real time.

import type { OpRecord } from './records.js';
import type { SetAnomaly } from './set-check.js';

export interface LostWrite {
  readonly key: string;
  readonly value: string;
  /** The record id of the write. */
  readonly id: number;
  readonly why: string;
}

export interface RegisterLoss {
  /** Acknowledged writes on the register keys. */
  readonly acknowledged: number;
  /** Acknowledged writes still present on some replica. */
  readonly surviving: number;
  /** Acknowledged writes absent for a legitimate reason (superseded, or overwritten later). */
  readonly superseded: number;
  readonly lost: readonly LostWrite[];
  /** Values present that no write produced, or whose write definitely failed. */
  readonly unexpected: readonly SetAnomaly[];
  /** lww keys whose replicas still hold different values: nothing can be judged there. */
  readonly undecided: readonly string[];
}

interface Keyed {
  readonly writes: OpRecord[];
  readonly byValue: Map<string, OpRecord>;
}

function byKey(records: readonly OpRecord[]): Map<string, Keyed> {
  const out = new Map<string, Keyed>();
  for (const r of records) {
    let k = out.get(r.key);
    if (k === undefined) out.set(r.key, (k = { writes: [], byValue: new Map() }));
    if (r.f !== 'write') continue;
    k.writes.push(r);
    k.byValue.set(r.value ?? '', r);
  }
  return out;
}

function unexpectedValues(keyed: Keyed, key: string, found: ReadonlySet<string>): SetAnomaly[] {
  const out: SetAnomaly[] = [];
  for (const value of found) {
    const w = keyed.byValue.get(value);
    if (w === undefined) out.push({ key, value, why: 'never written' });
    else if (w.outcome === 'fail')
      out.push({ key, value, why: `answered ${w.status}, yet present` });
  }
  return out;
}

/** Siblings mode: see the module comment. `present(key)` is every live value on any replica. */
export function checkSiblingsLoss(
  records: readonly OpRecord[],
  present: (key: string) => ReadonlySet<string>,
): RegisterLoss {
  let acknowledged = 0;
  let surviving = 0;
  let superseded = 0;
  const lost: LostWrite[] = [];
  const unexpected: SetAnomaly[] = [];
  for (const [key, keyed] of byKey(records.filter((r) => r.f !== 'add'))) {
    const found = present(key);
    // A write that may have taken effect (ok or info) supersedes what its context's read saw.
    const covered = new Set<string>();
    for (const w of keyed.writes) {
      if (w.outcome !== 'fail') for (const v of w.contextValues ?? []) covered.add(v);
    }
    for (const w of keyed.writes) {
      if (w.outcome !== 'ok') continue;
      acknowledged += 1;
      const value = w.value ?? '';
      if (found.has(value)) surviving += 1;
      else if (covered.has(value)) superseded += 1;
      else
        lost.push({
          key,
          value,
          id: w.id,
          why: 'acknowledged, on no replica, and no write was issued with a context that saw it',
        });
    }
    unexpected.push(...unexpectedValues(keyed, key, found));
  }
  return { acknowledged, surviving, superseded, lost, unexpected, undecided: [] };
}

/** lww mode: see the module comment. */
export function checkLostUpdates(
  records: readonly OpRecord[],
  present: (key: string) => ReadonlySet<string>,
): RegisterLoss {
  let acknowledged = 0;
  let surviving = 0;
  let superseded = 0;
  const lost: LostWrite[] = [];
  const unexpected: SetAnomaly[] = [];
  const undecided: string[] = [];
  for (const [key, keyed] of byKey(records.filter((r) => r.f !== 'add'))) {
    const found = present(key);
    const acked = keyed.writes.filter((w) => w.outcome === 'ok');
    acknowledged += acked.length;
    unexpected.push(...unexpectedValues(keyed, key, found));
    if (found.size > 1) {
      undecided.push(key);
      continue;
    }
    const [finalValue] = found;
    if (finalValue === undefined) {
      // Nothing survives at all (this workload never deletes): every acknowledged write is gone.
      for (const w of acked) {
        lost.push({ key, value: w.value ?? '', id: w.id, why: 'no replica holds any value' });
      }
      continue;
    }
    const winner = keyed.byValue.get(finalValue);
    // An indeterminate winner may have taken effect at any time: it orders nothing.
    const winnerDoneAt =
      winner === undefined || winner.outcome !== 'ok' ? Infinity : winner.completeAt;
    for (const w of acked) {
      if (w === winner) surviving += 1;
      else if (w.invokeAt > winnerDoneAt) {
        lost.push({
          key,
          value: w.value ?? '',
          id: w.id,
          why: `began after the surviving value ${finalValue} was acknowledged, yet did not replace it`,
        });
      } else superseded += 1;
    }
  }
  return { acknowledged, surviving, superseded, lost, unexpected, undecided };
}
