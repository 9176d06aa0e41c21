// The committed version set of recently used keys, so the write pipeline and local reads skip
// LevelDB for them. A LevelDB read costs a thread-pool round trip per call whatever it fetches;
// every write has to read the stored set before it can merge, so without this a write costs two
// such round trips, and a read one.
//
// It holds only committed state: the store fills it from reads that no batch overlapped and
// updates it after a batch is written, never before. A key known to be absent is cached too
// (as `undefined`), since the first write of a key has to know there is nothing to merge with.

import { LIMITS } from '../config.js';
import type { VersionSet } from '../core/version-set.js';

/**
 * What an entry costs beyond its key and encoded set: the Map slot, the entry, the set and its
 * arrays, and per sibling its objects, strings and the value's typed array. Measured with V8's
 * heap and ArrayBuffer counters (test/unit/set-cache.test.ts checks it): an entry of one 100-byte
 * sibling decoded from the store takes about 1,000 bytes, where its key and stored set are 160.
 */
const ENTRY_OVERHEAD_BYTES = 512;
const SIBLING_OVERHEAD_BYTES = 320;

interface Entry {
  readonly set: VersionSet | undefined;
  readonly bytes: number;
  /** Looked up or rewritten since the eviction sweep last passed it: it gets a second chance. */
  used: boolean;
}

/**
 * `set` with values copied out of any much larger buffer they are views of (a value that came
 * in a peer frame or an HTTP body may be a slice of a whole socket read), so an entry holds
 * about the bytes it is charged for. The store's own writes never need the copy: they hand over
 * sets whose values are views into the record just written (version-codec's withValuesIn).
 * The copy gets a buffer of its own: `Buffer.from` would put a small value in Node's shared
 * 8 KiB pool, and a slab that holds one cached value stays whole; measured after a 40 s write
 * burst over 100k keys, cached 100-byte values held 57 MiB of ArrayBuffers, 8.5x their size.
 */
function detached(set: VersionSet | undefined, encodedBytes: number): VersionSet | undefined {
  if (set === undefined) return undefined;
  const slack = 2 * encodedBytes + 1024;
  if (set.siblings.every((s) => s.value.buffer.byteLength <= slack)) return set;
  return {
    clock: set.clock,
    siblings: set.siblings.map((s) =>
      s.value.buffer.byteLength <= slack ? s : { ...s, value: ownCopy(s.value) },
    ),
  };
}

function ownCopy(value: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(value.length);
  copy.set(value);
  return copy;
}

export class SetCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Where the eviction sweep stopped (see evict). */
  private hand: IterableIterator<[string, Entry]> | undefined;
  hits = 0;
  misses = 0;

  /**
   * `bytesMax` 0 turns the cache off. A set larger than `entryBytesMax` is not kept: the cache
   * spares small writes a LevelDB read, which beside a large value's write costs little, and a
   * burst of large values would otherwise stay in memory long after it ended.
   */
  constructor(
    private readonly bytesMax: number,
    private readonly entryBytesMax: number = LIMITS.storeCacheEntryBytesMax,
  ) {}

  /** The cached state: `{ set }` (set undefined when the key is known absent), or undefined. */
  lookup(key: string): { readonly set: VersionSet | undefined } | undefined {
    const e = this.entries.get(key);
    if (e === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    // Marked, not moved: reordering the Map on every hit (delete, then set) churned its hash
    // table enough to show in profiles of a write load, where every write hits.
    e.used = true;
    return e;
  }

  /** Records the committed state of `key`; `encodedBytes` is the size of the stored record. */
  put(key: string, set: VersionSet | undefined, encodedBytes: number): void {
    if (this.bytesMax === 0) return;
    const siblings = set === undefined ? 0 : set.siblings.length;
    const bytes =
      ENTRY_OVERHEAD_BYTES + SIBLING_OVERHEAD_BYTES * siblings + 2 * key.length + encodedBytes;
    const old = this.entries.get(key);
    if (bytes > this.bytesMax / 8 || bytes > this.entryBytesMax) {
      // A huge value would push out everything else, and keep memory after a burst.
      if (old !== undefined) this.forget(key);
      return;
    }
    // Map.set on a key already there keeps its slot and its place in the order: no churn.
    this.entries.set(key, { set: detached(set, encodedBytes), bytes, used: old !== undefined });
    this.bytes += bytes - (old?.bytes ?? 0);
    if (this.bytes > this.bytesMax) this.evict();
  }

  clear(): void {
    this.entries.clear();
    this.hand = undefined;
    this.bytes = 0;
  }

  forget(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.bytes -= old.bytes;
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /**
   * CLOCK (second chance), an approximation of least-recently-used. The hand walks the entries
   * in insertion order and stays where it stopped, so each eviction costs a few steps: an entry
   * used since the hand last passed it loses its mark and stays, the first unmarked one goes.
   * New entries join behind the hand's path (a Map iterator sees entries added while it runs),
   * and after a whole lap every mark is cleared, so the walk always ends. (Starting each sweep
   * anew from the oldest entry, and moving used ones to the back, cost tens of microseconds per
   * write once the cache was full: the sweep waded through every mark and every hole those
   * moves left in the Map.)
   */
  private evict(): void {
    while (this.bytes > this.bytesMax) {
      let step = this.hand?.next();
      if (step === undefined || step.done === true) {
        this.hand = this.entries.entries();
        step = this.hand.next();
        if (step.done === true) return;
      }
      const [key, e] = step.value;
      if (e.used) {
        e.used = false;
        continue;
      }
      this.entries.delete(key);
      this.bytes -= e.bytes;
    }
  }
}
