// Stale reads: a read that began after a write was acknowledged, yet returned neither that
// write's value nor a later one. The rate is what an AP profile trades for availability.
// "Later" is real time in lww mode (the returned value's write was acknowledged before the
// missed write began) and causality in siblings mode (a value whose write carried a context
// that, directly or through earlier writes, saw the missed value).

import type { OpRecord } from './records.js';

export interface StaleReads {
  /** ok reads (during the run) that began after at least one acknowledged write of their key. */
  readonly eligible: number;
  readonly stale: number;
  /** A few stale reads, for the report. */
  readonly examples: readonly { readonly read: OpRecord; readonly missed: OpRecord }[];
}

const EXAMPLES_MAX = 3;

/** The register operations (reads and writes, not set adds) of each key, in record order. */
export function groupByKey(records: readonly OpRecord[]): Map<string, OpRecord[]> {
  const out = new Map<string, OpRecord[]>();
  for (const r of records) {
    if (r.f === 'add') continue;
    const list = out.get(r.key);
    if (list === undefined) out.set(r.key, [r]);
    else list.push(r);
  }
  return out;
}

export function countStaleReads(
  records: readonly OpRecord[],
  mode: 'lww' | 'siblings',
): StaleReads {
  let eligible = 0;
  let stale = 0;
  const examples: { read: OpRecord; missed: OpRecord }[] = [];
  for (const ops of groupByKey(records).values()) {
    const acked = ops.filter((o) => o.f === 'write' && o.outcome === 'ok');
    const reflects = reflectsIn(ops, mode);
    for (const read of ops) {
      if (read.f !== 'read' || read.outcome !== 'ok' || read.final) continue;
      const before = acked.filter((w) => w.completeAt < read.invokeAt);
      if (before.length === 0) continue;
      eligible += 1;
      const missed = before.find((w) => !reflects(read.values ?? [], w));
      if (missed === undefined) continue;
      stale += 1;
      if (examples.length < EXAMPLES_MAX) examples.push({ read, missed });
    }
  }
  return { eligible, stale, examples };
}

/** Whether the values a read returned reflect `write`: that value, or one that supersedes it. */
export type Reflects = (returned: readonly string[], write: OpRecord) => boolean;

/** What "reflects" means for one key's operations (all of them, from groupByKey) in `mode`. */
export function reflectsIn(ops: readonly OpRecord[], mode: 'lww' | 'siblings'): Reflects {
  const writerOf = new Map(ops.filter((o) => o.f === 'write').map((w) => [w.value ?? '', w]));
  return mode === 'lww' ? lwwReflects(writerOf) : siblingsReflects(writerOf);
}

/** The read returned `write`'s value, or a value whose write did not end before `write` began. */
function lwwReflects(writerOf: ReadonlyMap<string, OpRecord>): Reflects {
  return (returned, write) => {
    const value = returned[0];
    if (value === undefined) return false;
    if (value === write.value) return true;
    const source = writerOf.get(value);
    // A value nobody wrote is the other checkers' business, not a stale read.
    if (source === undefined) return true;
    const sourceDoneAt = source.outcome === 'ok' ? source.completeAt : Infinity;
    return !(sourceDoneAt < write.invokeAt);
  };
}

/** The read returned `write`'s value, or a value whose write superseded it, directly or not. */
function siblingsReflects(writerOf: ReadonlyMap<string, OpRecord>): Reflects {
  const ancestors = new Map<string, ReadonlySet<string>>();
  const ancestorsOf = (value: string): ReadonlySet<string> => {
    const known = ancestors.get(value);
    if (known !== undefined) return known;
    const out = new Set<string>();
    ancestors.set(value, out); // contexts only point back in time, but guard against cycles
    // Iterative depth-first walk: chains of read-modify-writes can be thousands long.
    const stack = [...(writerOf.get(value)?.contextValues ?? [])];
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (out.has(v)) continue;
      out.add(v);
      const done = ancestors.get(v);
      if (done !== undefined) for (const a of done) out.add(a);
      else stack.push(...(writerOf.get(v)?.contextValues ?? []));
    }
    return out;
  };
  return (returned, write) => {
    const value = write.value ?? '';
    return returned.some((v) => v === value || ancestorsOf(v).has(value));
  };
}
