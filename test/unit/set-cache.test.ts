import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { SetCache } from '../../src/storage/set-cache.js';
import { decodeSet, encodeSet } from '../../src/storage/version-codec.js';
import type { VersionSet } from '../../src/core/version-set.js';

const setOf = (value: Uint8Array): VersionSet => ({
  clock: [],
  siblings: [
    {
      ts: { wallMs: 1, logical: 0, node: 'n1' },
      tombstone: false,
      contentType: 'text/plain',
      value,
      dot: null,
    },
  ],
});

describe('SetCache', () => {
  it('remembers sets and known-absent keys, and counts hits and misses', () => {
    const c = new SetCache(1 << 20);
    const s = setOf(new Uint8Array([1]));
    expect(c.lookup('a')).toBeUndefined();
    c.put('a', s, 10);
    c.put('gone', undefined, 0);
    expect(c.lookup('a')?.set).toBe(s);
    const gone = c.lookup('gone');
    expect(gone).toBeDefined();
    expect(gone?.set).toBeUndefined();
    expect([c.hits, c.misses]).toEqual([2, 1]);
  });

  it('stays within its byte budget by dropping the least recently used', () => {
    const c = new SetCache(20_000);
    // Each entry costs 1,200 bytes plus overhead (2,036 in all): ten do not fit in 20,000.
    for (let i = 0; i < 10; i++) c.put(`k${i}`, setOf(new Uint8Array(1)), 1_200);
    expect(c.usedBytes).toBeLessThanOrEqual(20_000);
    expect(c.lookup('k0')).toBeUndefined();
    c.lookup('k1'); // k1 is now the most recently used
    c.put('k10', setOf(new Uint8Array(1)), 1_200);
    expect(c.lookup('k1')).toBeDefined();
    expect(c.lookup('k2')).toBeUndefined();
    expect(c.size).toBe(9);
  });

  it('replaces an entry in place and forgets or clears on request', () => {
    const c = new SetCache(1 << 20);
    c.put('a', setOf(new Uint8Array(1)), 100);
    const before = c.usedBytes;
    c.put('a', setOf(new Uint8Array(1)), 100);
    expect(c.usedBytes).toBe(before);
    c.forget('a');
    expect([c.size, c.usedBytes]).toEqual([0, 0]);
    c.put('b', undefined, 0);
    c.clear();
    expect([c.size, c.usedBytes]).toEqual([0, 0]);
  });

  it('charges a rewritten entry its new size, and drops it when it grows too large', () => {
    const c = new SetCache(80_000);
    c.put('a', setOf(new Uint8Array(1)), 100);
    const small = c.usedBytes;
    c.put('a', setOf(new Uint8Array(1)), 1_000);
    expect(c.usedBytes).toBe(small + 900);
    c.put('a', setOf(new Uint8Array(1)), 20_000);
    expect([c.lookup('a'), c.size, c.usedBytes]).toEqual([undefined, 0, 0]);
  });

  it('leaves what a lookup returned as it was when the key is written again', () => {
    const c = new SetCache(1 << 20);
    const first = setOf(new Uint8Array([1]));
    c.put('a', first, 10);
    const seen = c.lookup('a');
    c.put('a', setOf(new Uint8Array([2])), 10);
    expect(seen?.set).toBe(first);
    expect(c.lookup('a')?.set).not.toBe(first);
  });

  it('gives every entry used since the last sweep a second chance before evicting', () => {
    const c = new SetCache(20_000);
    for (let i = 0; i < 9; i++) c.put(`k${i}`, setOf(new Uint8Array(1)), 1_200);
    for (let i = 0; i < 8; i++) c.lookup(`k${i}`); // all but k8 used
    c.put('k9', setOf(new Uint8Array(1)), 1_200);
    expect(c.lookup('k8')).toBeUndefined();
    for (let i = 0; i < 8; i++) expect(c.lookup(`k${i}`)).toBeDefined();
  });

  it('does not keep a value larger than an eighth of the budget, and 0 turns it off', () => {
    const c = new SetCache(8_000);
    c.put('big', setOf(new Uint8Array(1)), 1_500);
    expect(c.lookup('big')).toBeUndefined();
    const off = new SetCache(0);
    off.put('a', undefined, 0);
    expect(off.size).toBe(0);
  });

  it('copies a value out of a much larger buffer it is a view of', () => {
    const c = new SetCache(1 << 20);
    const socketRead = Buffer.alloc(64 * 1024, 7);
    const view = socketRead.subarray(100, 200);
    c.put('k', setOf(view), 150);
    const held = c.lookup('k')?.set?.siblings[0]?.value as Uint8Array;
    expect(Buffer.from(held).equals(view)).toBe(true);
    // Into a buffer of its own: a copy in Node's shared 8 KiB pool would keep a whole slab.
    expect(held.buffer.byteLength).toBe(100);
    const pooled = Buffer.from('a small value'); // a slice of the shared pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(1024);
    c.put('p', setOf(pooled), 60);
    expect(c.lookup('p')?.set?.siblings[0]?.value.buffer.byteLength).toBe(pooled.length);
    // A value that owns its buffer is kept as it is.
    const own = Buffer.alloc(100, 1); // not a slice of Node's shared pool
    const s = setOf(own);
    c.put('o', s, 150);
    expect(c.lookup('o')?.set).toBe(s);
  });

  it('charges an entry about what it takes in memory, so the byte limit bounds the heap', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const count = 20_000;
    const cache = new SetCache(1 << 30);
    gc();
    const before = process.memoryUsage();
    // Each set decoded from its stored bytes, as the store fills the cache from LevelDB reads.
    for (let i = 0; i < count; i++) {
      const encoded = encodeSet(setOf(Buffer.alloc(100, i)));
      cache.put(`key-${i}`, decodeSet(Buffer.from(encoded)), encoded.length);
    }
    gc();
    const after = process.memoryUsage();
    const used = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    const ratio = cache.usedBytes / used;
    expect(cache.size).toBe(count);
    expect(ratio, `charged ${cache.usedBytes} bytes for ${used} held`).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.5);
  });
});
