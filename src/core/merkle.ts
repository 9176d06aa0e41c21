// Hash trees for anti-entropy (Dynamo section 4.7), one per peer over the keys the two nodes
// both replicate. The tree has two levels: leaves are key-space segments, groups summarise a
// run of leaves, so two nodes that agree swap one small message and two that differ in a few
// keys narrow the difference to a few segments before any key crosses the network.
//
// A leaf is the XOR of one 64-bit hash per (key, digest of the set held for it). XOR makes the
// leaf independent of the order writes landed in and lets a write update it in O(1) (XOR the
// old entry out, the new one in), so the tree is kept current as writes land and an exchange
// never has to rescan the store.

import { createHash } from 'node:crypto';
import { LIMITS } from '../config.js';
import { hash32 } from './ring.js';
import type { VersionSet } from './version-set.js';

/** Bits of a key's hash that place it in the key space (and first in its storage key). */
export const PREFIX_BITS = 16;
const PREFIXES = 1 << PREFIX_BITS;
const PREFIX_CHARS = PREFIX_BITS / 4;

/** Bytes in a set digest, a leaf, a group hash and a key entry hash. */
export const DIGEST_BYTES = 8;

/** The top bits of the key's ring hash: where it sits in the key space. */
export function keyPrefix(key: string): number {
  return hash32(key) >>> (32 - PREFIX_BITS);
}

/**
 * A prefix as fixed-width lowercase hex. The store puts this in front of every data key, so
 * string order of storage keys is prefix order and a segment is one contiguous range.
 */
export function prefixHex(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix >= PREFIXES)
    throw new RangeError(`a key prefix is an integer from 0 to ${PREFIXES - 1}, got ${prefix}`);
  return prefix.toString(16).padStart(PREFIX_CHARS, '0');
}

function segmentBits(segments: number): number {
  if (
    !Number.isInteger(segments) ||
    segments < 1 ||
    segments > PREFIXES ||
    (segments & (segments - 1)) !== 0
  )
    throw new RangeError(`segments must be a power of two from 1 to ${PREFIXES}, got ${segments}`);
  return 31 - Math.clz32(segments);
}

/** The segment (tree leaf) a key belongs to: the top log2(segments) bits of its prefix. */
export function segmentOf(key: string, segments: number): number {
  return keyPrefix(key) >>> (PREFIX_BITS - segmentBits(segments));
}

/**
 * Bounds of a segment over prefixed storage keys, for a range scan: gte <= k < lt. The last
 * segment has no upper bound, so keys under prefix 'ffff' are not cut off.
 */
export function segmentRange(
  segment: number,
  segments: number,
): { gte: string; lt: string | undefined } {
  segmentBits(segments);
  if (!Number.isInteger(segment) || segment < 0 || segment >= segments)
    throw new RangeError(`segment must be an integer from 0 to ${segments - 1}, got ${segment}`);
  const width = PREFIXES / segments;
  const gte = prefixHex(segment * width);
  return { gte, lt: segment === segments - 1 ? undefined : prefixHex((segment + 1) * width) };
}

/** Group hashes (computed only when an exchange asks) keep SHA-1. */
function hash8(h: ReturnType<typeof createHash>): Uint8Array {
  // Copied out so the caller never holds a view into a larger pooled buffer.
  return new Uint8Array(h.digest().subarray(0, DIGEST_BYTES));
}

/**
 * What a replica holds for a key, in 8 bytes that every replica computes alike. Only what
 * names the state goes in: the clock, and each sibling's dot, HLC stamp and tombstone flag. A
 * dot (or, in lww mode, a stamp) names exactly one write, so equal names mean equal values and
 * the value bytes, which may be large, need not be hashed. Sets the policies call equal hash
 * equal: lww compares stamps, siblings compares clocks and dots.
 */
export function setDigest(set: VersionSet): Uint8Array {
  const h = new Hash64(SET_SEED);
  h.word(set.clock.length);
  for (const [actor, counter] of set.clock) {
    h.str(actor);
    h.num(counter);
  }
  h.word(set.siblings.length);
  for (const s of set.siblings) {
    if (s.dot === null) h.word(0);
    else {
      h.word(1);
      h.str(s.dot.node);
      h.num(s.dot.counter);
    }
    h.num(s.ts.wallMs);
    h.word(s.ts.logical);
    h.str(s.ts.node);
    h.word(s.tombstone ? 1 : 0);
  }
  return h.digest();
}

/** A tree entry: the key and its digest hashed together. */
function entryHash(key: string, digest: Uint8Array): Uint8Array {
  const h = new Hash64(ENTRY_SEED);
  h.str(key);
  h.word(readU32(digest, 0));
  h.word(readU32(digest, 4));
  return h.digest();
}

// Digests and entry hashes are computed for every change of every key, on the write path, so
// they use a fast non-cryptographic hash: two MurmurHash3-style 32-bit lanes with different
// seeds, 64 bits in all. Anti-entropy needs differences found, not resistance to an adversary
// (who could at worst hide a divergence until the key changes again). Separate seeds keep set
// digests and entry hashes in separate domains.
const SET_SEED = 0x6b766f72;
const ENTRY_SEED = 0x756d2d65;
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

class Hash64 {
  private a: number;
  private b: number;
  private words = 0;

  constructor(seed: number) {
    this.a = seed >>> 0;
    this.b = (seed ^ 0x9e3779b9) >>> 0;
  }

  word(w: number): void {
    let k = Math.imul(w | 0, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    this.a ^= k;
    this.a = (this.a << 13) | (this.a >>> 19);
    this.a = (Math.imul(this.a, 5) + 0xe6546b64) | 0;
    // The second lane mixes the same word with other constants, so the lanes disagree.
    let j = Math.imul(w ^ 0x5bd1e995, C2);
    j = (j << 17) | (j >>> 15);
    j = Math.imul(j, C1);
    this.b ^= j;
    this.b = (this.b << 11) | (this.b >>> 21);
    this.b = (Math.imul(this.b, 9) + 0x52dce729) | 0;
    this.words += 1;
  }

  /** A non-negative safe integer, as its low and high 32 bits. */
  num(n: number): void {
    this.word(n >>> 0);
    this.word(Math.floor(n / 0x1_0000_0000));
  }

  /** Length first, then two UTF-16 units per word: no two strings feed the same words. */
  str(s: string): void {
    this.word(s.length);
    let i = 0;
    for (; i + 1 < s.length; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < s.length) this.word(s.charCodeAt(i));
  }

  digest(): Uint8Array {
    const out = new Uint8Array(DIGEST_BYTES);
    writeU32(out, 0, fmix32(this.a ^ this.words));
    writeU32(out, 4, fmix32(this.b ^ Math.imul(this.words, 0x85ebca6b)));
    return out;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkDigest(d: Uint8Array | undefined, what: string): void {
  if (d !== undefined && d.length !== DIGEST_BYTES)
    throw new RangeError(`${what} digest must be ${DIGEST_BYTES} bytes, got ${d.length}`);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** A key's change, hashed once, to apply to every peer's tree that holds the key. */
export interface TreeChange {
  readonly segments: number;
  readonly segment: number;
  readonly before: Uint8Array | undefined;
  readonly after: Uint8Array | undefined;
}

/** The entry hashes for `key` going from digest `before` to `after`; undefined if unchanged. */
export function treeChange(
  key: string,
  before: Uint8Array | undefined,
  after: Uint8Array | undefined,
  segments: number = LIMITS.aeSegments,
): TreeChange | undefined {
  checkDigest(before, 'before');
  checkDigest(after, 'after');
  if (before === undefined ? after === undefined : after !== undefined && bytesEqual(before, after))
    return undefined;
  return {
    segments,
    segment: segmentOf(key, segments),
    before: before === undefined ? undefined : entryHash(key, before),
    after: after === undefined ? undefined : entryHash(key, after),
  };
}

export class HashTree {
  readonly segments: number;
  readonly perGroup: number;
  readonly groups: number;
  /** Two words (high, low) per leaf. */
  private readonly leaves: Uint32Array;
  /** Group hashes as last computed; a write marks its group dirty instead of rehashing it. */
  private readonly groupCache: Uint8Array;
  private readonly dirty: Uint8Array;

  constructor(segments: number = LIMITS.aeSegments, perGroup: number = LIMITS.aeSegmentsPerGroup) {
    segmentBits(segments);
    if (!Number.isInteger(perGroup) || perGroup < 1 || segments % perGroup !== 0)
      throw new RangeError(
        `segments per group must be a whole divisor of ${segments}, got ${perGroup}`,
      );
    this.segments = segments;
    this.perGroup = perGroup;
    this.groups = segments / perGroup;
    this.leaves = new Uint32Array(segments * 2);
    this.groupCache = new Uint8Array(this.groups * DIGEST_BYTES);
    this.dirty = new Uint8Array(this.groups).fill(1);
  }

  /** The key's digest went from `before` to `after` (undefined: not held). */
  update(key: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    checkDigest(before, 'before');
    checkDigest(after, 'after');
    if (
      before === undefined ? after === undefined : after !== undefined && bytesEqual(before, after)
    )
      return;
    const segment = segmentOf(key, this.segments);
    if (before !== undefined) this.toggle(segment, entryHash(key, before));
    if (after !== undefined) this.toggle(segment, entryHash(key, after));
    this.dirty[Math.floor(segment / this.perGroup)] = 1;
  }

  /** Applies a change made by treeChange (with this tree's segment count). */
  apply(change: TreeChange): void {
    if (change.segments !== this.segments)
      throw new RangeError(
        `a change for ${change.segments} segments, this tree has ${this.segments}`,
      );
    if (change.before !== undefined) this.toggle(change.segment, change.before);
    if (change.after !== undefined) this.toggle(change.segment, change.after);
    this.dirty[Math.floor(change.segment / this.perGroup)] = 1;
  }

  /** Every group's hash, 8 bytes each, in group order. */
  groupHashes(): Uint8Array {
    for (let g = 0; g < this.groups; g++) {
      if (this.dirty[g] === 0) continue;
      const bytes = this.leafHashes([g]);
      this.groupCache.set(hash8(createHash('sha1').update(bytes)), g * DIGEST_BYTES);
      this.dirty[g] = 0;
    }
    return this.groupCache.slice();
  }

  /** For each group asked, its leaves in segment order, 8 bytes each. */
  leafHashes(groups: readonly number[]): Uint8Array {
    const out = new Uint8Array(groups.length * this.perGroup * DIGEST_BYTES);
    let at = 0;
    for (const g of groups) {
      if (!Number.isInteger(g) || g < 0 || g >= this.groups)
        throw new RangeError(`group must be an integer from 0 to ${this.groups - 1}, got ${g}`);
      const first = g * this.perGroup;
      for (let s = first; s < first + this.perGroup; s++) {
        writeU32(out, at, this.leaves[2 * s]!);
        writeU32(out, at + 4, this.leaves[2 * s + 1]!);
        at += DIGEST_BYTES;
      }
    }
    return out;
  }

  /** Forgets every entry, e.g. before rebuilding from the store. */
  clear(): void {
    this.leaves.fill(0);
    this.dirty.fill(1);
  }

  private toggle(segment: number, h: Uint8Array): void {
    this.leaves[2 * segment] = (this.leaves[2 * segment]! ^ readU32(h, 0)) >>> 0;
    this.leaves[2 * segment + 1] = (this.leaves[2 * segment + 1]! ^ readU32(h, 4)) >>> 0;
  }
}

/** Positions whose 8-byte entries differ between two equally long hash lists. */
export function differingIndexes(a: Uint8Array, b: Uint8Array): number[] {
  if (a.length !== b.length || a.length % DIGEST_BYTES !== 0)
    throw new RangeError(
      `hash lists must be equally long multiples of ${DIGEST_BYTES} bytes, got ${a.length} and ${b.length}`,
    );
  const out: number[] = [];
  for (let i = 0; i < a.length; i += DIGEST_BYTES) {
    for (let j = i; j < i + DIGEST_BYTES; j++) {
      if (a[j] !== b[j]) {
        out.push(i / DIGEST_BYTES);
        break;
      }
    }
  }
  return out;
}

/** The i-th 8-byte entry of a packed digest list. */
export function digestAt(digests: Uint8Array, i: number): Uint8Array {
  return digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
}

/** Packs digests into one list, 8 bytes each, as the aeKeys reply carries them. */
export function packDigests(digests: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(digests.length * DIGEST_BYTES);
  digests.forEach((d, i) => {
    checkDigest(d, 'packed');
    out.set(d, i * DIGEST_BYTES);
  });
  return out;
}
