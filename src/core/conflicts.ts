// The two conflict modes of DESIGN 2.3 behind one interface, so the coordinator, the store,
// hinted handoff and anti-entropy merge replicas' state the same way whichever mode a cluster
// runs. Both merges are joins (commutative, associative, idempotent), which is what makes
// replication by repeated merging converge.

import type { ConflictMode } from '../config.js';
import { TooManySiblingsError, ValueTooLargeError } from './errors.js';
import { compareHlc, type Hlc } from './hlc.js';
import type { UpdateRequest } from './replica-links.js';
import type { Version } from './version.js';
import {
  EMPTY_CLOCK,
  equalDotted,
  mergeDotted,
  newestSibling,
  updateDotted,
  type VersionSet,
} from './version-set.js';

export interface ConflictPolicy {
  readonly mode: ConflictMode;
  merge(a: VersionSet | undefined, b: VersionSet): VersionSet;
  /** Same state: merging one into the other changes nothing. */
  equals(a: VersionSet | undefined, b: VersionSet | undefined): boolean;
  /** `b` adds nothing to `a`: merging it in leaves `a` as it is. */
  dominates(a: VersionSet, b: VersionSet): boolean;
}

/** Last write wins: the set is one version, and the higher HLC timestamp replaces the other. */
export const LWW: ConflictPolicy = Object.freeze({
  mode: 'lww' as const,
  merge(a: VersionSet | undefined, b: VersionSet): VersionSet {
    if (a === undefined) return b;
    const x = a.siblings[0] as Version;
    const y = b.siblings[0] as Version;
    return compareHlc(y.ts, x.ts) > 0 ? b : a;
  },
  equals(a: VersionSet | undefined, b: VersionSet | undefined): boolean {
    if (a === undefined || b === undefined) return a === b;
    return compareHlc((a.siblings[0] as Version).ts, (b.siblings[0] as Version).ts) === 0;
  },
  dominates(a: VersionSet, b: VersionSet): boolean {
    return compareHlc((a.siblings[0] as Version).ts, (b.siblings[0] as Version).ts) >= 0;
  },
});

/** Dotted version vector sets: concurrent writes are all kept until a context resolves them. */
export const SIBLINGS: ConflictPolicy = Object.freeze({
  mode: 'siblings' as const,
  merge(a: VersionSet | undefined, b: VersionSet): VersionSet {
    return a === undefined ? b : mergeDotted(a, b);
  },
  equals(a: VersionSet | undefined, b: VersionSet | undefined): boolean {
    if (a === undefined || b === undefined) return a === b;
    return equalDotted(a, b);
  },
  dominates(a: VersionSet, b: VersionSet): boolean {
    return equalDotted(mergeDotted(a, b), a);
  },
});

export function policyFor(mode: ConflictMode): ConflictPolicy {
  return mode === 'siblings' ? SIBLINGS : LWW;
}

/** The lww form of one version. */
export function single(version: Version): VersionSet {
  return { clock: EMPTY_CLOCK, siblings: [{ ...version, dot: null }] };
}

/** What lww readers see: the newest version in a set. */
export function newestVersion(set: VersionSet | undefined): Version | undefined {
  return set === undefined ? undefined : newestSibling(set);
}

/**
 * Issues a siblings-mode write at a replica of the key: the DVV update against the replica's
 * own state, stamped `ts` (its HLC, which orders siblings for display and ages tombstones).
 * Refused past the sibling cap, unless the write does not grow the set (a write that resolves
 * at least one sibling always may).
 */
export function issueUpdate(
  local: VersionSet | undefined,
  req: UpdateRequest,
  issuer: string,
  ts: Hlc,
  siblingsMax: number,
  counterFloor = 0,
  setBytesMax = Number.POSITIVE_INFINITY,
): VersionSet {
  const { content } = req;
  const version: Version = {
    ts,
    tombstone: content.tombstone,
    contentType: content.tombstone ? '' : content.contentType,
    value: content.tombstone ? EMPTY_VALUE : content.value,
  };
  const next = updateDotted(local, req.context, issuer, version, counterFloor);
  const before = local?.siblings.length ?? 0;
  if (next.siblings.length > siblingsMax && next.siblings.length > before)
    throw new TooManySiblingsError(before, siblingsMax);
  // Every replica must be able to send the set in one peer frame.
  const bytes = valueBytes(next);
  if (bytes > setBytesMax && bytes > (local === undefined ? 0 : valueBytes(local))) {
    throw new ValueTooLargeError(
      `this key's concurrent values would hold ${bytes} bytes together, above the ${setBytesMax} a key may hold; ` +
        'read it and write the resolved value with the X-Kvorum-Context of that read',
    );
  }
  return next;
}

const EMPTY_VALUE = new Uint8Array(0);

/** An upper bound on the set's encoded size: values, content types, and room for headers. */
function valueBytes(set: VersionSet): number {
  let total = 0;
  for (const s of set.siblings) total += s.value.length + s.contentType.length + 256;
  return total;
}
