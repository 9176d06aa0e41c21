// The set checker (Jepsen's "set" workload): every `add` writes one unique element on a key of
// its own, exactly once. After the heal, every replica is read: an acknowledged element missing
// everywhere was lost, and an element whose write definitely failed must not be anywhere.

import type { OpRecord } from './records.js';

export interface SetAnomaly {
  readonly key: string;
  readonly value: string;
  /** Why it counts: `acknowledged (204) but on no replica`, `answered 503 yet present`, … */
  readonly why: string;
}

export interface SetCheck {
  readonly attempted: number;
  /** Answered 204. */
  readonly acknowledged: number;
  /** Definitely not applied (503, 4xx, connection refused). */
  readonly failed: number;
  /** Outcome unknown (504, dropped connection, client timeout). */
  readonly indeterminate: number;
  /** Acknowledged, yet on no replica. */
  readonly lost: readonly SetAnomaly[];
  /** Indeterminate and present: the write did take effect. */
  readonly recovered: number;
  /** Present although never written, or although its write definitely failed. */
  readonly unexpected: readonly SetAnomaly[];
}

/**
 * `present(key)` is every live value any replica of `key` holds after the heal. Each add's key is
 * its own, so anything else found on it was never written by this run.
 */
export function checkSet(
  records: readonly OpRecord[],
  present: (key: string) => ReadonlySet<string>,
): SetCheck {
  const adds = records.filter((r) => r.f === 'add');
  const lost: SetAnomaly[] = [];
  const unexpected: SetAnomaly[] = [];
  let recovered = 0;
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const add of adds) {
    const value = add.value ?? '';
    const found = present(add.key);
    counts[add.outcome] += 1;
    const there = found.has(value);
    if (add.outcome === 'ok' && !there) {
      lost.push({ key: add.key, value, why: `acknowledged (${add.status}) but on no replica` });
    } else if (add.outcome === 'info' && there) {
      recovered += 1;
    } else if (add.outcome === 'fail' && there) {
      unexpected.push({ key: add.key, value, why: `answered ${add.status}, yet present` });
    }
    for (const other of found) {
      if (other !== value) unexpected.push({ key: add.key, value: other, why: 'never written' });
    }
  }
  return {
    attempted: adds.length,
    acknowledged: counts.ok,
    failed: counts.fail,
    indeterminate: counts.info,
    lost,
    recovered,
    unexpected,
  };
}
