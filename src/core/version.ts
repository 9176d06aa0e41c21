// A stored version of a key: what replicas keep, compare, and ship to each other.

import { compareHlc, type Hlc } from './hlc.js';

export interface Version {
  readonly ts: Hlc;
  readonly tombstone: boolean;
  readonly contentType: string;
  /** Empty for tombstones. */
  readonly value: Uint8Array;
}

/** True when `a` should replace `b` (last write wins by HLC). */
export function isNewer(a: Version, b: Version | undefined): boolean {
  return b === undefined || compareHlc(a.ts, b.ts) > 0;
}

export function newest(versions: Iterable<Version | undefined>): Version | undefined {
  let best: Version | undefined;
  for (const v of versions) if (v !== undefined && isNewer(v, best)) best = v;
  return best;
}

export function sameVersion(a: Version | undefined, b: Version | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return compareHlc(a.ts, b.ts) === 0;
}
