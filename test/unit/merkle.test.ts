import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LWW, SIBLINGS, single } from '../../src/core/conflicts.js';
import type { Hlc } from '../../src/core/hlc.js';
import {
  DIGEST_BYTES,
  HashTree,
  PREFIX_BITS,
  differingIndexes,
  digestAt,
  keyPrefix,
  packDigests,
  prefixHex,
  segmentOf,
  segmentRange,
  setDigest,
  treeChange,
} from '../../src/core/merkle.js';
import { hash32 } from '../../src/core/ring.js';
import {
  EMPTY_CLOCK,
  updateDotted,
  type VClock,
  type VersionSet,
} from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import { seededRng } from '../support/rng.js';

const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const version = (ts: Hlc, value = 'v', tombstone = false): Version => ({
  ts,
  tombstone,
  contentType: tombstone ? '' : 'text/plain',
  value: tombstone ? new Uint8Array(0) : enc(value),
});
const ts = (wallMs: number, logical = 0, node = 'n1'): Hlc => ({ wallMs, logical, node });
const storageKey = (key: string) => prefixHex(keyPrefix(key)) + key;

function inRange(sk: string, r: { gte: string; lt: string | undefined }): boolean {
  return sk >= r.gte && (r.lt === undefined || sk < r.lt);
}

function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * A random siblings-mode history: replicas n1..n3 issue writes against their own state with
 * contexts taken from states seen earlier, and merge each other's states now and then.
 */
function siblingsHistory(seed: number, steps: number): VersionSet[] {
  const rng = seededRng(seed);
  const nodes = ['n1', 'n2', 'n3'];
  const state = new Map<string, VersionSet | undefined>(nodes.map((n) => [n, undefined]));
  const seen: VClock[] = [EMPTY_CLOCK];
  const out: VersionSet[] = [];
  for (let i = 0; i < steps; i++) {
    const node = nodes[Math.floor(rng() * nodes.length)] as string;
    if (out.length > 0 && rng() < 0.3) {
      const other = state.get(nodes[Math.floor(rng() * nodes.length)] as string);
      if (other !== undefined) state.set(node, SIBLINGS.merge(state.get(node), other));
    } else {
      const context = seen[Math.floor(rng() * seen.length)] as VClock;
      const next = updateDotted(
        state.get(node),
        context,
        node,
        version(ts(1000 + i, 0, node), `w${i}`, rng() < 0.2),
      );
      state.set(node, next);
      seen.push(next.clock);
    }
    const s = state.get(node);
    if (s !== undefined) out.push(s);
  }
  return out;
}

describe('key prefixes and segments', () => {
  it('takes the top 16 bits of the ring hash and writes them as 4 hex digits', () => {
    expect(PREFIX_BITS).toBe(16);
    for (const key of ['', 'a', 'user:42', 'ключ', '\u0000']) {
      expect(keyPrefix(key)).toBe(hash32(key) >>> 16);
      expect(prefixHex(keyPrefix(key))).toMatch(/^[0-9a-f]{4}$/);
    }
    expect(prefixHex(0)).toBe('0000');
    expect(prefixHex(0xab)).toBe('00ab');
    expect(prefixHex(0xffff)).toBe('ffff');
    expect(() => prefixHex(0x10000)).toThrow(RangeError);
    expect(() => prefixHex(-1)).toThrow(RangeError);
    expect(() => prefixHex(1.5)).toThrow(RangeError);
  });

  it('refuses segment counts that are not powers of two up to 2^16', () => {
    for (const bad of [0, 3, 1000, 2 ** 17, 1.5, -2])
      expect(() => segmentOf('k', bad)).toThrow(RangeError);
    expect(() => segmentRange(4, 4)).toThrow(RangeError);
    expect(() => segmentRange(-1, 4)).toThrow(RangeError);
  });

  for (const segments of [1, 2, 16, 1024, 65536]) {
    it(`covers every prefix exactly once, in order, with ${segments} segments`, () => {
      const ranges = Array.from({ length: segments }, (_, s) => segmentRange(s, segments));
      expect(ranges[0]!.gte).toBe('0000');
      expect(ranges[segments - 1]!.lt).toBeUndefined();
      const bad: string[] = [];
      for (let s = 0; s + 1 < segments; s++) {
        // Contiguous and sorted: each range ends where the next begins.
        if (ranges[s]!.lt !== ranges[s + 1]!.gte || !(ranges[s]!.gte < ranges[s + 1]!.gte))
          bad.push(`ranges ${s} and ${s + 1}`);
      }
      const shift = PREFIX_BITS - Math.log2(segments);
      for (let p = 0; p < 1 << PREFIX_BITS; p++) {
        const s = p >>> shift;
        // The shortest and a long storage key under this prefix fall in its segment only.
        for (const sk of [prefixHex(p), prefixHex(p) + '\uffff\uffff']) {
          if (!inRange(sk, ranges[s]!)) bad.push(`${sk} outside segment ${s}`);
          if (s > 0 && inRange(sk, ranges[s - 1]!)) bad.push(`${sk} in segment ${s - 1}`);
          if (s + 1 < segments && inRange(sk, ranges[s + 1]!))
            bad.push(`${sk} in segment ${s + 1}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('places each key in the segment whose range holds its storage key', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 16 }), (key, bits) => {
        const segments = 2 ** bits;
        const s = segmentOf(key, segments);
        expect(inRange(storageKey(key), segmentRange(s, segments))).toBe(true);
        expect(s).toBe(keyPrefix(key) >>> (16 - bits));
      }),
    );
  });

  it("includes keys under the 'ffff' prefix in the last segment", () => {
    const r = segmentRange(1023, 1024);
    expect(r.gte).toBe('ffc0');
    expect(inRange('ffff' + 'zzzz', r)).toBe(true);
    expect(inRange('ffff', r)).toBe(true);
  });
});

describe('setDigest', () => {
  const lww = single(version(ts(5, 1, 'n2'), 'hello'));

  it('is 8 bytes and deterministic', () => {
    expect(setDigest(lww)).toHaveLength(DIGEST_BYTES);
    expect(hex(setDigest(lww))).toBe(hex(setDigest(structuredClone(lww))));
  });

  it('ignores the value bytes and content type: a stamp or dot names one write', () => {
    const other = single({ ...version(ts(5, 1, 'n2'), 'other'), contentType: 'x/y' });
    expect(hex(setDigest(other))).toBe(hex(setDigest(lww)));
  });

  it('changes with the stamp, the tombstone flag, the dot and the clock', () => {
    const base = hex(setDigest(lww));
    expect(hex(setDigest(single(version(ts(6, 1, 'n2')))))).not.toBe(base);
    expect(hex(setDigest(single(version(ts(5, 2, 'n2')))))).not.toBe(base);
    expect(hex(setDigest(single(version(ts(5, 1, 'n3')))))).not.toBe(base);
    expect(hex(setDigest(single(version(ts(5, 1, 'n2'), '', true))))).not.toBe(base);
    const a = updateDotted(undefined, EMPTY_CLOCK, 'n1', version(ts(5, 1, 'n2')));
    expect(hex(setDigest(a))).not.toBe(base);
    expect(hex(setDigest({ ...a, clock: [['n1', 2]] }))).not.toBe(hex(setDigest(a)));
    const moved = { ...a, siblings: [{ ...a.siblings[0]!, dot: { node: 'n1', counter: 2 } }] };
    expect(hex(setDigest(moved))).not.toBe(hex(setDigest(a)));
  });

  it('is equal for sets lww calls equal, and differs for sets it does not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(5), fc.nat(3), fc.constantFrom('n1', 'n2')), { minLength: 2 }),
        (stamps) => {
          const sets = stamps.map(([w, l, n], i) => single(version(ts(w, l, n), `v${i}`)));
          for (const a of sets)
            for (const b of sets)
              expect(hex(setDigest(a)) === hex(setDigest(b))).toBe(LWW.equals(a, b));
        },
      ),
    );
  });

  it('is equal for sets siblings mode calls equal, however they were merged', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 2, max: 30 }), (seed, steps) => {
        const sets = siblingsHistory(seed, steps);
        const rng = seededRng(seed ^ 0x5eed);
        // The join of all states, built in two different orders, is one state.
        const join = (xs: VersionSet[]) =>
          xs.reduce<VersionSet | undefined>((acc, s) => SIBLINGS.merge(acc, s), undefined)!;
        const x = join(sets);
        const y = join(shuffle(sets, rng));
        expect(SIBLINGS.equals(x, y)).toBe(true);
        expect(hex(setDigest(x))).toBe(hex(setDigest(y)));
        for (const a of sets)
          for (const b of sets)
            expect(hex(setDigest(a)) === hex(setDigest(b))).toBe(SIBLINGS.equals(a, b));
      }),
    );
  });
});

describe('HashTree', () => {
  it('validates its shape', () => {
    expect(() => new HashTree(1000, 10)).toThrow(RangeError);
    expect(() => new HashTree(1024, 3)).toThrow(RangeError);
    expect(() => new HashTree(1024, 0)).toThrow(RangeError);
    expect(() => new HashTree(2 ** 17, 32)).toThrow(RangeError);
    const t = new HashTree();
    expect(t.segments).toBe(1024);
    expect(t.perGroup).toBe(32);
    expect(t.groups).toBe(32);
    expect(t.groupHashes()).toHaveLength(32 * DIGEST_BYTES);
    expect(t.leafHashes([0, 31])).toHaveLength(2 * 32 * DIGEST_BYTES);
    expect(() => t.leafHashes([32])).toThrow(RangeError);
    expect(() => t.leafHashes([-1])).toThrow(RangeError);
    expect(() => t.update('k', undefined, new Uint8Array(7))).toThrow(RangeError);
  });

  it('kept up incrementally equals a rebuild from scratch, in any order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.nat(40), fc.option(fc.tuple(fc.nat(20), fc.nat(3)), { nil: undefined })),
          { maxLength: 200 },
        ),
        fc.integer(),
        (changes, seed) => {
          const incremental = new HashTree(64, 8);
          const state = new Map<string, VersionSet>();
          for (const [k, next] of changes) {
            const key = `key-${k}`;
            const before = state.get(key);
            const after = next === undefined ? undefined : single(version(ts(next[0], next[1])));
            incremental.update(key, before && setDigest(before), after && setDigest(after));
            if (after === undefined) state.delete(key);
            else state.set(key, after);
          }
          const rebuilt = new HashTree(64, 8);
          for (const [key, set] of shuffle([...state], seededRng(seed)))
            rebuilt.update(key, undefined, setDigest(set));
          const all = Array.from({ length: 8 }, (_, g) => g);
          expect(hex(incremental.groupHashes())).toBe(hex(rebuilt.groupHashes()));
          expect(hex(incremental.leafHashes(all))).toBe(hex(rebuilt.leafHashes(all)));
        },
      ),
    );
  });

  it('returns to the empty tree when every key is removed, and after clear()', () => {
    const empty = hex(new HashTree().groupHashes());
    const t = new HashTree();
    const d = setDigest(single(version(ts(1))));
    for (let i = 0; i < 100; i++) t.update(`k${i}`, undefined, d);
    expect(hex(t.groupHashes())).not.toBe(empty);
    for (let i = 0; i < 100; i++) t.update(`k${i}`, d, undefined);
    expect(hex(t.groupHashes())).toBe(empty);
    for (let i = 0; i < 10; i++) t.update(`k${i}`, undefined, d);
    t.clear();
    expect(hex(t.groupHashes())).toBe(empty);
  });

  it('treats an update to the same digest as no change', () => {
    const t = new HashTree();
    const d = setDigest(single(version(ts(1))));
    t.update('k', undefined, d);
    const before = hex(t.groupHashes());
    t.update('k', d, new Uint8Array(d));
    t.update('k', undefined, undefined);
    expect(hex(t.groupHashes())).toBe(before);
  });

  it('finds the group and the leaf of a key that differs', () => {
    const a = new HashTree();
    const b = new HashTree();
    const d1 = setDigest(single(version(ts(1))));
    const d2 = setDigest(single(version(ts(2))));
    for (let i = 0; i < 500; i++) {
      a.update(`k${i}`, undefined, d1);
      b.update(`k${i}`, undefined, d1);
    }
    expect(differingIndexes(a.groupHashes(), b.groupHashes())).toEqual([]);
    b.update('k77', d1, d2);
    const segment = segmentOf('k77', 1024);
    const group = Math.floor(segment / 32);
    expect(differingIndexes(a.groupHashes(), b.groupHashes())).toEqual([group]);
    expect(differingIndexes(a.leafHashes([group]), b.leafHashes([group]))).toEqual([segment % 32]);
    // A key only one side holds differs just the same.
    a.update('only-a', undefined, d1);
    const s2 = segmentOf('only-a', 1024);
    expect(differingIndexes(a.groupHashes(), b.groupHashes())).toEqual(
      [...new Set([group, Math.floor(s2 / 32)])].sort((x, y) => x - y),
    );
  });
});

describe('digest lists', () => {
  it('compares 8-byte entries and refuses lists of different shapes', () => {
    const a = packDigests([new Uint8Array(8), new Uint8Array(8).fill(1), new Uint8Array(8)]);
    const b = new Uint8Array(a);
    expect(differingIndexes(a, b)).toEqual([]);
    b[23] = 9;
    b[8] = 7;
    expect(differingIndexes(a, b)).toEqual([1, 2]);
    expect(hex(digestAt(a, 1))).toBe('0101010101010101');
    expect(() => differingIndexes(a, a.subarray(0, 16))).toThrow(RangeError);
    expect(() => differingIndexes(a.subarray(0, 5), a.subarray(0, 5))).toThrow(RangeError);
    expect(() => packDigests([new Uint8Array(4)])).toThrow(RangeError);
  });
});

describe('treeChange', () => {
  it('applied to a tree, does exactly what update does, and is undefined for no change', () => {
    const a = new HashTree();
    const b = new HashTree();
    const d1 = new Uint8Array(8).fill(1);
    const d2 = new Uint8Array(8).fill(2);
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`;
      a.update(key, undefined, d1);
      b.apply(treeChange(key, undefined, d1)!);
      if (i % 3 === 0) {
        a.update(key, d1, d2);
        b.apply(treeChange(key, d1, d2)!);
      }
    }
    expect(Buffer.from(b.groupHashes()).equals(Buffer.from(a.groupHashes()))).toBe(true);
    expect(treeChange('k', d1, new Uint8Array(8).fill(1))).toBeUndefined();
    expect(() => new HashTree(512, 32).apply(treeChange('k', undefined, d1)!)).toThrow(RangeError);
  });
});

describe('digest spread', () => {
  it('gives 100k distinct states 100k distinct digests, and near states unrelated ones', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const set = single({
        ts: { wallMs: 1_700_000_000_000 + (i >> 3), logical: i & 7, node: `n${i % 3}` },
        tombstone: false,
        contentType: 'x',
        value: new Uint8Array(0),
      });
      seen.add(Buffer.from(setDigest(set)).toString('hex'));
    }
    expect(seen.size).toBe(100_000);
    // One bit of input flips about half the output bits.
    const a = setDigest(
      single({
        ts: { wallMs: 1, logical: 0, node: 'n1' },
        tombstone: false,
        contentType: '',
        value: new Uint8Array(0),
      }),
    );
    const b = setDigest(
      single({
        ts: { wallMs: 1, logical: 1, node: 'n1' },
        tombstone: false,
        contentType: '',
        value: new Uint8Array(0),
      }),
    );
    let differing = 0;
    for (let i = 0; i < 8; i++)
      for (let bit = 0; bit < 8; bit++) if (((a[i]! ^ b[i]!) >> bit) & 1) differing++;
    expect(differing).toBeGreaterThan(16);
    expect(differing).toBeLessThan(48);
  });
});
