// Where a key's replicas are, as the coordinator sees it. With one layout that is the key's
// preference list on the ring. While the cluster moves from one layout version to the next,
// both are live: a write must reach W replicas in the preference list of each (so whichever
// version reads come to use holds it), and reads ask the one version whose replicas are known
// to hold the data (Garage's read version). The layout module decides which lists; this
// interface is all the coordinator needs of it.

import type { Ring } from './ring.js';

export interface KeyPlacement {
  /** The replicas a read asks: the key's preference list in the version reads use. */
  readSet(key: string): readonly string[];
  /**
   * One preference list per live layout version, the read set among them; a write is
   * acknowledged only once it has W acks in each.
   */
  writeSets(key: string): readonly (readonly string[])[];
  /** Every node in ring order from the key, in the newest version: sloppy quorum's stand-ins. */
  walk(key: string): readonly string[];
  /**
   * A write begins; the returned function is called when it has settled. A node acknowledges a
   * new layout version only once the writes it began under older ones have settled.
   */
  beginWrite?(): () => void;
}

/** A settled cluster: one ring, one preference list per key. */
export function ringPlacement(ring: Ring, n: number): KeyPlacement {
  return {
    readSet: (key) => ring.preferenceList(key, n),
    writeSets: (key) => [ring.preferenceList(key, n)],
    walk: (key) => ring.preferenceList(key, ring.nodes.length),
  };
}

/** The distinct nodes of `sets`, in order of first appearance. */
export function unionOf(sets: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const set of sets) for (const node of set) if (!out.includes(node)) out.push(node);
  return out;
}
