// What a replica holds for one key: a set of sibling versions and the causal history they
// summarise, as a dotted version vector set (Preguiça, Baquero et al., "Dotted Version Vectors:
// Logical Clocks for Optimistic Replication", 2010; the form Riak 2.0 adopted).
//
// Each sibling carries the dot (node, counter) of the write that made it. The set's clock maps
// every node that issued a dot to the highest counter it knows of. A sibling is superseded by a
// set whose clock covers its dot but does not hold it: that set saw the write and replaced it.
// Dots are issued only by a replica of the key (the coordinator forwards the write there), so
// siblings grow with concurrent writes, never with the number of clients.
//
// In lww mode the same shape is used with an empty clock and one sibling without a dot; the
// policies in conflicts.ts pick which algebra applies.

import { compareHlc } from './hlc.js';
import type { Version } from './version.js';

export interface Dot {
  readonly node: string;
  readonly counter: number;
}

/** node -> highest counter known, sorted by node id, no zero counters. */
export type VClock = readonly (readonly [string, number])[];

export interface Sibling extends Version {
  /** The write that made this sibling; null in lww mode. */
  readonly dot: Dot | null;
}

export interface VersionSet {
  readonly clock: VClock;
  /** Sorted by dot (node, then counter) in siblings mode; one entry in lww mode. */
  readonly siblings: readonly Sibling[];
}

export const EMPTY_CLOCK: VClock = Object.freeze([]);

/** Counters are kept below 2^48 so that they survive every encoding exactly. */
export const COUNTER_MAX = 2 ** 48 - 1;

export function clockGet(clock: VClock, node: string): number {
  for (const [n, c] of clock) if (n === node) return c;
  return 0;
}

/** The pointwise maximum of two clocks. */
export function clockJoin(a: VClock, b: VClock): VClock {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: (readonly [string, number])[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x[0] < y[0])) {
      out.push(x as readonly [string, number]);
      i += 1;
    } else if (x === undefined || y[0] < x[0]) {
      out.push(y);
      j += 1;
    } else {
      out.push(x[1] >= y[1] ? x : y);
      i += 1;
      j += 1;
    }
  }
  return out;
}

/** The clock with `node` raised to at least `counter`. */
export function clockWith(clock: VClock, node: string, counter: number): VClock {
  return clockJoin(clock, [[node, counter]]);
}

export function clocksEqual(a: VClock, b: VClock): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as readonly [string, number];
    const y = b[i] as readonly [string, number];
    if (x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  return true;
}

export function covers(clock: VClock, dot: Dot): boolean {
  return clockGet(clock, dot.node) >= dot.counter;
}

export function compareDots(a: Dot, b: Dot): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.counter - b.counter;
}

function sameDot(a: Dot | null, b: Dot | null): boolean {
  return a !== null && b !== null && a.node === b.node && a.counter === b.counter;
}

/** The dots a set holds, for lookups in O(1): merges of large sets stay linear. */
function dotsOf(set: VersionSet): Set<string> {
  const out = new Set<string>();
  for (const s of set.siblings) if (s.dot !== null) out.add(dotKey(s.dot));
  return out;
}

function dotKey(dot: Dot): string {
  return `${dot.counter}@${dot.node}`;
}

/**
 * The DVV-set join: a sibling survives if the other side holds it too, or has not seen it
 * (its clock does not cover the dot). Commutative, associative and idempotent.
 */
export function mergeDotted(a: VersionSet, b: VersionSet): VersionSet {
  const siblings: Sibling[] = [];
  const inA = dotsOf(a);
  const inB = dotsOf(b);
  for (const s of a.siblings) {
    const dot = s.dot as Dot;
    if (inB.has(dotKey(dot)) || !covers(b.clock, dot)) siblings.push(s);
  }
  for (const s of b.siblings) {
    const dot = s.dot as Dot;
    if (!inA.has(dotKey(dot)) && !covers(a.clock, dot)) siblings.push(s);
  }
  siblings.sort((x, y) => compareDots(x.dot as Dot, y.dot as Dot));
  return { clock: clockJoin(a.clock, b.clock), siblings };
}

/** Same causal history and the same siblings (a dot names exactly one write). */
export function equalDotted(a: VersionSet, b: VersionSet): boolean {
  if (!clocksEqual(a.clock, b.clock) || a.siblings.length !== b.siblings.length) return false;
  for (let i = 0; i < a.siblings.length; i++) {
    if (!sameDot(a.siblings[i]!.dot, b.siblings[i]!.dot)) return false;
  }
  return true;
}

/**
 * A new write at replica `issuer`, whose client had read `context`: it supersedes exactly the
 * siblings that context covers, keeps the rest as its siblings, and gets the issuer's next dot.
 * The counter also clears the context's entry for the issuer, and `floor`: a counter the issuer
 * keeps across all keys, so a key whose state was purged (tombstone GC) never reuses a dot that
 * an old context still covers.
 */
export function updateDotted(
  local: VersionSet | undefined,
  context: VClock,
  issuer: string,
  version: Version,
  floor = 0,
): VersionSet {
  const clock = local?.clock ?? EMPTY_CLOCK;
  const counter = Math.max(clockGet(clock, issuer), clockGet(context, issuer), floor) + 1;
  if (counter > COUNTER_MAX) throw new RangeError(`dot counter for ${issuer} overflowed`);
  const dot: Dot = { node: issuer, counter };
  const kept = (local?.siblings ?? []).filter((s) => !covers(context, s.dot as Dot));
  const siblings = [...kept, { ...version, dot }].sort((x, y) =>
    compareDots(x.dot as Dot, y.dot as Dot),
  );
  return { clock: clockWith(clockJoin(clock, context), issuer, counter), siblings };
}

/** The newest sibling by HLC (lww's answer, and the stable order siblings are shown in). */
export function newestSibling(set: VersionSet): Sibling | undefined {
  let best: Sibling | undefined;
  for (const s of set.siblings) if (best === undefined || compareHlc(s.ts, best.ts) > 0) best = s;
  return best;
}

/** True when every sibling is a tombstone: the key reads as deleted. */
export function isDeleted(set: VersionSet | undefined): boolean {
  return set === undefined || set.siblings.every((s) => s.tombstone);
}
