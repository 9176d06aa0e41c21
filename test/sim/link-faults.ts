// Link faults in the admin API's vocabulary (src/core/faults.ts): each fault the simulation
// puts in force adds block, drop or delay entries to some nodes' FaultSpecs, and a node's spec
// is every fault in force on it, merged, so faults that overlap come and go independently.

import { EMPTY_FAULTS, parseFaultSpec, type FaultSpec } from '../../src/core/faults.js';

/** A fault in force: the FaultSpec entries it adds to some nodes. */
export interface LinkFault {
  readonly label: string;
  readonly specs: ReadonlyMap<string, Partial<Pick<FaultSpec, 'block' | 'delay' | 'drop'>>>;
}

/**
 * Node `id`'s FaultSpec under `faults`: blocks add up, the harshest drop and the longest delay
 * win; validated as PUT /admin/faults validates one.
 */
export function faultSpecOf(
  faults: Iterable<LinkFault>,
  id: string,
  ids: readonly string[],
): FaultSpec {
  const block = new Set<string>();
  const delay: Record<string, { ms: number; jitterMs: number }> = {};
  const drop: Record<string, number> = {};
  // A fault may name a node that has left since, or one this node has not heard of yet: only
  // links it has can be faulted.
  const has = (peer: string): boolean => ids.includes(peer);
  for (const f of faults) {
    const spec = f.specs.get(id);
    for (const peer of spec?.block ?? []) if (has(peer)) block.add(peer);
    for (const [peer, d] of Object.entries(spec?.delay ?? {}))
      if (has(peer) && d.ms > (delay[peer]?.ms ?? -1)) delay[peer] = { ...d };
    for (const [peer, p] of Object.entries(spec?.drop ?? {}))
      if (has(peer)) drop[peer] = Math.max(p, drop[peer] ?? 0);
  }
  if (block.size === 0 && Object.keys(delay).length + Object.keys(drop).length === 0)
    return EMPTY_FAULTS;
  return parseFaultSpec({ block: [...block], delay, drop }, ids, id);
}
