// What `kvorum verify` records for every client operation, and the recorder that assigns ids in
// invocation order. The checkers read these records; nothing here does I/O.

import type { Outcome } from './history.js';

/**
 * `read` and `write` act on the workload's register keys; `add` writes one element of the set
 * checker, on a key of its own that is written exactly once.
 */
export type RecordKind = 'read' | 'write' | 'add';

export interface OpRecord {
  /** Position in invocation order. */
  readonly id: number;
  /** The client that ran it; final reads after the heal use ids past the last client. */
  readonly client: number;
  /** The node the request went to (the coordinator). */
  readonly node: string;
  readonly key: string;
  readonly f: RecordKind;
  /** write and add: the value written, unique in the whole run. */
  readonly value?: string;
  /** ok read: the live values it returned; none when absent, several for siblings. */
  readonly values?: readonly string[];
  /**
   * A write sent with a read's X-Kvorum-Context: the live values that read returned, which the
   * write supersedes. Undefined for a blind write (no context).
   */
  readonly contextValues?: readonly string[];
  readonly outcome: Outcome;
  /** The HTTP status, or what happened instead (`ECONNREFUSED`, `client-timeout`, …). */
  readonly status: string;
  /** Milliseconds since the run started (performance.now based, monotonic). */
  readonly invokeAt: number;
  /** When the answer arrived; for `info` the time the client gave up. */
  readonly completeAt: number;
  /** A read made after the heal, to pin down the final state. */
  readonly final?: boolean;
}

export type Invocation = Omit<OpRecord, 'id' | 'outcome' | 'status' | 'completeAt' | 'values'>;

export interface Completion {
  readonly outcome: Outcome;
  readonly status: string;
  readonly completeAt: number;
  readonly values?: readonly string[];
}

/** Collects records; ids follow invocation order even though completions arrive in any order. */
export class HistoryRecorder {
  private readonly open = new Map<number, Invocation>();
  private readonly done: OpRecord[] = [];
  private nextId = 0;
  private readonly counts = { ok: 0, fail: 0, info: 0 };

  invoke(op: Invocation): number {
    const id = this.nextId++;
    this.open.set(id, op);
    return id;
  }

  complete(id: number, result: Completion): OpRecord {
    const op = this.open.get(id);
    if (op === undefined) throw new Error(`operation ${id} completed twice or was never invoked`);
    this.open.delete(id);
    const record: OpRecord = { ...op, id, ...result };
    this.done.push(record);
    this.counts[result.outcome] += 1;
    return record;
  }

  /** Operations completed so far, by outcome; for the progress line. */
  outcomeCounts(): Readonly<Record<Outcome, number>> {
    return { ...this.counts };
  }

  get inFlight(): number {
    return this.open.size;
  }

  /**
   * Every record in invocation order. An operation still open is `info` (it may or may not
   * take effect), which is what the client would have to assume had it given up at `nowMs`.
   */
  records(nowMs: number): OpRecord[] {
    const stillOpen = [...this.open].map(([id, op]): OpRecord => ({
      ...op,
      id,
      outcome: 'info',
      status: 'unfinished',
      completeAt: nowMs,
    }));
    return [...this.done, ...stillOpen].sort((a, b) => a.id - b.id);
  }
}

export interface OutcomeTally {
  total: number;
  ok: number;
  fail: number;
  info: number;
}

/** Counts by kind and outcome, and which statuses made up the failures and unknowns. */
export interface RecordSummary {
  readonly all: OutcomeTally;
  readonly byKind: Readonly<Record<RecordKind, OutcomeTally>>;
  /** `write fail 503` → count, for the statuses behind fail and info outcomes. */
  readonly statuses: ReadonlyMap<string, number>;
}

const emptyTally = (): OutcomeTally => ({ total: 0, ok: 0, fail: 0, info: 0 });

export function summarize(records: readonly OpRecord[]): RecordSummary {
  const all = emptyTally();
  const byKind = { read: emptyTally(), write: emptyTally(), add: emptyTally() };
  const statuses = new Map<string, number>();
  for (const r of records) {
    for (const t of [all, byKind[r.f]]) {
      t.total += 1;
      t[r.outcome] += 1;
    }
    if (r.outcome !== 'ok') {
      const label = `${r.f} ${r.outcome} ${r.status}`;
      statuses.set(label, (statuses.get(label) ?? 0) + 1);
    }
  }
  return { all, byKind, statuses };
}
