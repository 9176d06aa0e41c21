// Turns the register keys' records (lww mode: one value per read) into the checker's history and
// judges it per key with the Wing-Gong/Lowe search of linearizability.ts.

import type { Op } from './history.js';
import { checkHistory, type HistoryResult } from './linearizability.js';
import type { OpRecord } from './records.js';

export interface RegisterCheck {
  readonly result: HistoryResult;
  /** Operations handed to the checker (fail operations and info reads excluded by it). */
  readonly opCount: number;
  /** Indeterminate writes left out because no read ever returned their value (see below). */
  readonly unobservedInfoWrites: number;
  readonly elapsedMs: number;
}

/** Written values are decimal integers; show them as numbers in the checker's report. */
export function registerValue(text: string): number | string {
  return /^(0|[1-9][0-9]{0,14})$/.test(text) ? Number(text) : text;
}

/**
 * The checker's operations for the `read` and `write` records. An indeterminate write whose value
 * no read returned is dropped: with unique values, a linearization that applies it can drop it
 * and every read keeps its result (nobody read the value it stored), and `info` means it may
 * never have taken effect at all. Keeping it only widens the search, often exponentially.
 */
export function registerOps(records: readonly OpRecord[]): { ops: Op[]; dropped: number } {
  const read = new Set<string>();
  for (const r of records) {
    if (r.f === 'read' && r.outcome === 'ok')
      for (const v of r.values ?? []) read.add(`${r.key}\0${v}`);
  }
  const ops: Op[] = [];
  let dropped = 0;
  for (const r of records) {
    if (r.f === 'add') continue;
    if (r.f === 'write' && r.outcome === 'info' && !read.has(`${r.key}\0${r.value}`)) {
      dropped += 1;
      continue;
    }
    const base = {
      id: r.id,
      process: r.client,
      key: r.key,
      outcome: r.outcome,
      invokeAt: r.invokeAt,
      completeAt: r.outcome === 'info' ? Infinity : r.completeAt,
    };
    if (r.f === 'write') {
      ops.push({ ...base, f: 'write', value: registerValue(r.value ?? '') });
    } else {
      const first = r.values?.[0];
      const value =
        r.outcome === 'ok' ? (first === undefined ? null : registerValue(first)) : undefined;
      ops.push({ ...base, f: 'read', value });
    }
  }
  return { ops, dropped };
}

/** Checks every register key; `budgetMs` bounds the whole search (keys left over are unknown). */
export function checkRegisters(
  records: readonly OpRecord[],
  budgetMs: number,
  now: () => number = () => performance.now(),
): RegisterCheck {
  const started = now();
  const { ops, dropped } = registerOps(records);
  const result = checkHistory(ops, { model: 'register', budgetMs, now });
  return { result, opCount: ops.length, unobservedInfoWrites: dropped, elapsedMs: now() - started };
}
