// What every replica holds for each key once the faults are healed (GET /admin/keys/<key> on each
// node), and the pure questions the checkers ask of it: which values survive anywhere, and
// whether the replicas agree.

/** A node's own copy of a key, as GET /admin/keys/<key> answers it. */
export interface LocalCopy {
  readonly key: string;
  readonly node: string;
  readonly clock?: Readonly<Record<string, number>>;
  readonly siblings: readonly {
    readonly dot: string | null;
    readonly ts: string;
    readonly tombstone: boolean;
    readonly contentType: string;
    /** base64 */
    readonly value: string;
  }[];
}

/** key → node → its copy (`null`: the node holds nothing for the key). */
export type Snapshot = ReadonlyMap<string, ReadonlyMap<string, LocalCopy | null>>;

/** The live (not deleted) values of a copy, as text. */
export function liveValues(copy: LocalCopy | null | undefined): string[] {
  if (copy === null || copy === undefined) return [];
  return copy.siblings
    .filter((s) => !s.tombstone)
    .map((s) => Buffer.from(s.value, 'base64').toString('utf8'));
}

/** Every live value of `key` on any replica. */
export function presentAnywhere(snapshot: Snapshot, key: string): Set<string> {
  const out = new Set<string>();
  for (const copy of snapshot.get(key)?.values() ?? [])
    for (const v of liveValues(copy)) out.add(v);
  return out;
}

/**
 * A copy's identity for comparison: its versions (dot, timestamp, tombstone, type, value) in a
 * fixed order. The causal clock is left out: it summarises the versions, and two replicas that
 * hold the same versions hold the same data.
 */
export function copyFingerprint(copy: LocalCopy | null | undefined): string {
  if (copy === null || copy === undefined) return '[]';
  const parts = copy.siblings.map((s) =>
    JSON.stringify([s.dot, s.ts, s.tombstone, s.contentType, s.value]),
  );
  return `[${parts.sort().join(',')}]`;
}

/** Keys whose replicas do not all hold the same versions. */
export function divergentKeys(snapshot: Snapshot): string[] {
  const out: string[] = [];
  for (const [key, copies] of snapshot) {
    const prints = new Set([...copies.values()].map(copyFingerprint));
    if (prints.size > 1) out.push(key);
  }
  return out;
}
