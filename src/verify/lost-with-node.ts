// With w=one a write is acknowledged once one replica holds it. When the node that coordinated
// it held it alone (its sends to the others still queued, or kept as hints because they were cut
// off) and that node is then killed and removed from the cluster for good, the write is gone
// with it, as with a failed disk: w=one never promised more. The simulator knows which nodes
// held each version and exempts exactly those writes. verify cannot see inside the nodes, so it
// excuses an absent write only when it was acknowledged at w=one through a node that was later
// killed and removed, before that happened, and it names every write it excuses.

import type { NemesisEvent } from './nemesis-runner.js';
import type { NemesisPlan } from './nemesis-plan.js';
import type { OpRecord } from './records.js';

/** A member killed with kill -9 and then removed from the layout, for good. */
export interface DeadRemoval {
  readonly node: string;
  /** When the nemesis had killed and removed it (ms after the workload started). */
  readonly atMs: number;
}

/** An acknowledged write, absent after the heal, that was lost with a removed node. */
export interface LostWithNode {
  readonly key: string;
  readonly value: string;
  readonly node: string;
  readonly why: string;
}

/** The remove-dead faults whose node is no member at the end (a failed removal restarts it). */
export function deadRemovals(
  plan: NemesisPlan,
  events: readonly NemesisEvent[],
  finalMembers: readonly string[],
): DeadRemoval[] {
  const out: DeadRemoval[] = [];
  for (const e of events) {
    const fault = plan.faults[e.index]?.fault;
    if (e.phase !== 'start' || fault?.kind !== 'membership' || fault.action !== 'remove-dead') {
      continue;
    }
    if (!finalMembers.includes(fault.node)) out.push({ node: fault.node, atMs: e.atMs });
  }
  return out;
}

/**
 * Splits `lost` (absent acknowledged writes, by key and value) into those still counted as lost
 * and those excused: acknowledged through a node of `removals` before it was killed. Call only
 * when the run's writes were made at w=one.
 */
export function excuseLostWithNode<T extends { readonly key: string; readonly value: string }>(
  lost: readonly T[],
  records: readonly OpRecord[],
  removals: readonly DeadRemoval[],
): { lost: T[]; excused: LostWithNode[] } {
  if (removals.length === 0) return { lost: [...lost], excused: [] };
  const writes = new Map<string, OpRecord>();
  for (const r of records) {
    if (r.f !== 'read' && r.value !== undefined) writes.set(`${r.key}\u0000${r.value}`, r);
  }
  const kept: T[] = [];
  const excused: LostWithNode[] = [];
  for (const item of lost) {
    const w = writes.get(`${item.key}\u0000${item.value}`);
    const removal =
      w === undefined
        ? undefined
        : removals.find((d) => d.node === w.node && w.completeAt <= d.atMs);
    if (w === undefined || removal === undefined) {
      kept.push(item);
      continue;
    }
    excused.push({
      key: item.key,
      value: item.value,
      node: removal.node,
      why:
        `acknowledged at w=one through ${removal.node} at +${(w.completeAt / 1000).toFixed(1)} s; ` +
        `${removal.node} was killed and removed by +${(removal.atMs / 1000).toFixed(1)} s`,
    });
  }
  return { lost: kept, excused };
}
