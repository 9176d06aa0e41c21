// One contract suite every ReplicaStore backend passes (memory-level and LevelDB on disk), in
// both conflict modes, plus the batching, failure and format behaviour of the level pipeline,
// observed through a database the test keeps a handle to.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  LWW,
  SIBLINGS,
  issueUpdate,
  single,
  type ConflictPolicy,
} from '../../src/core/conflicts.js';
import { TooManySiblingsError } from '../../src/core/errors.js';
import { compareHlc } from '../../src/core/hlc.js';
import { hash32 } from '../../src/core/ring.js';
import {
  EMPTY_CLOCK,
  compareDots,
  updateDotted,
  type Dot,
  type Sibling,
  type VClock,
  type VersionSet,
} from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import {
  BATCH_WRITES_MAX,
  LevelReplicaStore,
  StoreFormatError,
  dataKeyOf,
  memoryStore,
  openDiskStore,
} from '../../src/storage/level-store.js';
import type { ReplicaStore } from '../../src/storage/replica-store.js';
import { encodeSet, encodeVersion } from '../../src/storage/version-codec.js';
import { seededRng } from '../support/rng.js';

function version(
  wallMs: number,
  logical = 0,
  node = 'n1',
  value = `v${wallMs}.${logical}`,
): Version {
  return {
    ts: { wallMs, logical, node },
    tombstone: false,
    contentType: 'text/plain',
    value: Buffer.from(value),
  };
}

function tombstone(wallMs: number, node = 'n1'): Version {
  return {
    ts: { wallMs, logical: 0, node },
    tombstone: true,
    contentType: '',
    value: new Uint8Array(0),
  };
}

/** The lww set of one version. */
function lww(wallMs: number, logical = 0, node = 'n1', value?: string): VersionSet {
  return single(version(wallMs, logical, node, value));
}

/** A siblings-mode set with the given clock and dotted siblings. */
function dotted(
  clock: Record<string, number>,
  siblings: ReadonlyArray<readonly [string, number, Version]>,
): VersionSet {
  const vclock: VClock = Object.entries(clock).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const sibs: Sibling[] = siblings.map(([node, counter, v]) => ({ ...v, dot: { node, counter } }));
  sibs.sort((x, y) => compareDots(x.dot as Dot, y.dot as Dot));
  return { clock: vclock, siblings: sibs };
}

/** A client write (no context unless given) issued by replica `issuer`. */
function write(
  local: VersionSet | undefined,
  value: string,
  opts: { context?: VClock; issuer?: string; wallMs?: number; max?: number } = {},
): VersionSet {
  const { context = EMPTY_CLOCK, issuer = 'n1', wallMs = 1, max = 10_000 } = opts;
  return issueUpdate(
    local,
    {
      context,
      content: { value: Buffer.from(value), contentType: 'text/plain', tombstone: false },
    },
    issuer,
    { wallMs, logical: 0, node: issuer },
    max,
  );
}

/** A set as plain data, values in hex, so two sets compare with toEqual. */
function plain(set: VersionSet | undefined): unknown {
  if (set === undefined) return undefined;
  return {
    clock: set.clock.map(([n, c]) => [n, c]),
    siblings: set.siblings.map((s) => ({
      dot: s.dot === null ? null : { node: s.dot.node, counter: s.dot.counter },
      ts: { wallMs: s.ts.wallMs, logical: s.ts.logical, node: s.ts.node },
      tombstone: s.tombstone,
      contentType: s.contentType,
      value: Buffer.from(s.value).toString('hex'),
    })),
  };
}

function expectSet(actual: VersionSet | undefined, expected: VersionSet): void {
  expect(actual).toBeDefined();
  expect(plain(actual)).toEqual(plain(expected));
}

function values(set: VersionSet | undefined): string[] {
  return (set?.siblings ?? []).map((s) => Buffer.from(s.value).toString());
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** What `open()` rejects with (a store is opened once: a failed open is not retried). */
async function openError(store: ReplicaStore): Promise<Error> {
  const error = await store.open().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, 'open() should have failed').toBeInstanceOf(StoreFormatError);
  return error as Error;
}

const tick = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A random siblings-mode history: replicas n1..n3 issue writes against their own state with
 * contexts taken from any replica's state (possibly stale), and merge each other's states now
 * and then. Every state along the way is returned.
 */
function siblingsHistory(seed: number, steps: number): VersionSet[] {
  const rng = seededRng(seed);
  const nodes = ['n1', 'n2', 'n3'];
  const state: Array<VersionSet | undefined> = [undefined, undefined, undefined];
  const seen: VersionSet[] = [];
  for (let i = 0; i < steps; i += 1) {
    const r = Math.floor(rng() * 3);
    const other = Math.floor(rng() * 3);
    if (rng() < 0.6) {
      const from = rng() < 0.3 ? undefined : seen[Math.floor(rng() * seen.length)];
      const context = from?.clock ?? EMPTY_CLOCK;
      const v = rng() < 0.15 ? tombstone(i, nodes[r]) : version(i, 0, nodes[r], `w${i}`);
      state[r] = updateDotted(state[r], context, nodes[r]!, v);
    } else if (state[other] !== undefined) {
      state[r] = SIBLINGS.merge(state[r], state[other]!);
    }
    if (state[r] !== undefined) seen.push(state[r]!);
  }
  return seen;
}

interface StoreOpts {
  fsync?: boolean;
  policy?: ConflictPolicy;
}
type MakeStore = (dir: string, opts: { fsync: boolean; policy: ConflictPolicy }) => ReplicaStore;

/**
 * The ReplicaStore contract. `makeStore` builds a store over `dir` (each test gets its own);
 * `persistent` backends must hand a later store over the same dir the data of an earlier one.
 */
function runReplicaStoreSuite(
  name: string,
  makeStore: MakeStore,
  caps: { persistent: boolean },
): void {
  describe(`ReplicaStore contract: ${name}`, () => {
    let dir: string;
    let opened: ReplicaStore[];

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kvorum-store-'));
      opened = [];
    });

    afterEach(async () => {
      for (const store of opened) await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    function makeOne(opts: StoreOpts = {}): ReplicaStore {
      const store = makeStore(dir, { fsync: opts.fsync ?? false, policy: opts.policy ?? LWW });
      opened.push(store);
      return store;
    }

    async function openStore(opts: StoreOpts = {}): Promise<ReplicaStore> {
      const store = makeOne(opts);
      await store.open();
      return store;
    }

    describe('reads and lww merges', () => {
      it('reads an absent key as undefined', async () => {
        const store = await openStore();
        expect(await store.get('nope')).toBeUndefined();
      });

      it('keeps the higher HLC and answers true; a get after the merge sees it', async () => {
        const store = await openStore();
        expect(await store.merge('k', lww(10))).toBe(true);
        expectSet(await store.get('k'), lww(10));
        expect(await store.merge('k', lww(10, 1))).toBe(true);
        expectSet(await store.get('k'), lww(10, 1));
        expect(await store.merge('k', lww(10, 1, 'n2'))).toBe(true);
        expectSet(await store.get('k'), lww(10, 1, 'n2'));
      });

      it('answers false to an older or identical version and changes nothing', async () => {
        const store = await openStore();
        await store.merge('k', lww(20, 5, 'n2'));
        for (const older of [
          lww(19, 9, 'n9'),
          lww(20, 4, 'n9'),
          lww(20, 5, 'n1'),
          lww(20, 5, 'n2', 'other'),
          lww(20, 5, 'n2'),
        ]) {
          expect(await store.merge('k', older)).toBe(false);
          expectSet(await store.get('k'), lww(20, 5, 'n2'));
        }
      });

      it('stores tombstones, which an older value cannot resurrect', async () => {
        const store = await openStore();
        await store.merge('k', lww(1));
        expect(await store.merge('k', single(tombstone(2)))).toBe(true);
        expectSet(await store.get('k'), single(tombstone(2)));
        expect(await store.merge('k', lww(1, 5))).toBe(false);
        expectSet(await store.get('k'), single(tombstone(2)));
        expect(await store.merge('fresh', single(tombstone(3)))).toBe(true);
        expectSet(await store.get('fresh'), single(tombstone(3)));
      });

      it('round-trips values of every byte and their content types', async () => {
        const store = await openStore();
        const cases: Version[] = [
          {
            ...version(1),
            value: Uint8Array.from({ length: 256 }, (_, i) => i),
            contentType: 'application/octet-stream',
          },
          { ...version(1), value: new Uint8Array(0), contentType: '' },
          {
            ...version(1, 0, 'nœud-ü'),
            value: Buffer.from('{"a":"ü"}'),
            contentType: 'application/json; charset=utf-8',
          },
        ];
        await Promise.all(cases.map((v, i) => store.merge(`bin-${i}`, single(v))));
        for (const [i, v] of cases.entries()) expectSet(await store.get(`bin-${i}`), single(v));
      });

      it('1000 concurrent merges of random versions to 10 keys: newest wins, true exactly when it raised the key', async () => {
        const store = await openStore();
        const rng = seededRng(42);
        const writes = Array.from({ length: 1000 }, (_, i) => ({
          key: `key-${Math.floor(rng() * 10)}`,
          // Distinct logical counters keep every version distinct, so "newest" is one write.
          set: lww(Math.floor(rng() * 50), i, `n${Math.floor(rng() * 3)}`),
        }));
        const results = await Promise.all(writes.map((w) => store.merge(w.key, w.set)));
        // Writes of one key apply in arrival order, so each is told whether it was newer than
        // every write to its key before it.
        const newest = new Map<string, VersionSet>();
        const expected = writes.map((w) => {
          const best = newest.get(w.key);
          const raises =
            best === undefined || compareHlc(w.set.siblings[0]!.ts, best.siblings[0]!.ts) > 0;
          if (raises) newest.set(w.key, w.set);
          return raises;
        });
        expect(results).toEqual(expected);
        expect(newest.size).toBe(10);
        for (const [key, set] of newest) expectSet(await store.get(key), set);
      });

      it.each([
        ['older first', [lww(1), lww(2)], [true, true], 1],
        ['newer first', [lww(2), lww(1)], [true, false], 0],
        ['the same version twice', [lww(3), lww(3)], [true, false], 0],
      ] as const)(
        'two merges of one key in the same tick, %s: applied in arrival order',
        async (_name, [a, b], expected, winner) => {
          const store = await openStore();
          const results = await Promise.all([store.merge('k', a), store.merge('k', b)]);
          expect(results).toEqual(expected);
          expectSet(await store.get('k'), winner === 0 ? a : b);
        },
      );
    });

    describe('siblings merges', () => {
      it('merges two concurrent sets to both siblings, and the same set twice is a no-op', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        expect(await store.merge('k', a)).toBe(true);
        expect(await store.merge('k', b)).toBe(true);
        const both = dotted({ n1: 1, n2: 1 }, [
          ['n1', 1, version(1, 0, 'n1', 'a')],
          ['n2', 1, version(1, 0, 'n2', 'b')],
        ]);
        expectSet(await store.get('k'), both);
        expect(await store.merge('k', b)).toBe(false);
        expect(await store.merge('k', a)).toBe(false);
        expect(await store.merge('k', both)).toBe(false);
        expectSet(await store.get('k'), both);
      });

      it('a set that saw both siblings replaces them; the superseded sets are then no-ops', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        await Promise.all([store.merge('k', a), store.merge('k', b)]);
        const resolved = dotted({ n1: 2, n2: 1 }, [['n1', 2, version(2, 0, 'n1', 'ab')]]);
        expect(await store.merge('k', resolved)).toBe(true);
        expectSet(await store.get('k'), resolved);
        expect(await store.merge('k', a)).toBe(false);
        expect(await store.merge('k', b)).toBe(false);
        expectSet(await store.get('k'), resolved);
      });

      it('400 concurrent merges of random histories into 5 keys equal a sequential fold', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const pool = siblingsHistory(7, 120);
        const rng = seededRng(99);
        const writes = Array.from({ length: 400 }, () => ({
          key: `k${Math.floor(rng() * 5)}`,
          set: pool[Math.floor(rng() * pool.length)]!,
        }));
        const pending: Promise<boolean>[] = [];
        for (const [i, w] of writes.entries()) {
          pending.push(store.merge(w.key, w.set));
          if (i % 97 === 0) await tick(); // spread the writes over several batches
        }
        const results = await Promise.all(pending);
        const folded = new Map<string, VersionSet>();
        const expected = writes.map((w) => {
          const before = folded.get(w.key);
          const after = SIBLINGS.merge(before, w.set);
          folded.set(w.key, after);
          return !SIBLINGS.equals(before, after);
        });
        expect(results).toEqual(expected);
        for (const [key, set] of folded) expectSet(await store.get(key), set);
      });
    });

    describe('update', () => {
      it('hands fn the stored set (undefined when absent) and resolves with the new one', async () => {
        const store = await openStore();
        const seen: Array<VersionSet | undefined> = [];
        const first = await store.update('k', (stored) => {
          seen.push(stored);
          return lww(5);
        });
        expectSet(first, lww(5));
        const second = await store.update('k', (stored) => {
          seen.push(stored);
          return lww(stored!.siblings[0]!.ts.wallMs + 1);
        });
        expectSet(second, lww(6));
        expect(seen[0]).toBeUndefined();
        expectSet(seen[1], lww(5));
        expectSet(await store.get('k'), lww(6));
      });

      it('loses none of 200 concurrent context-free writes to one key: all become siblings', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const pending: Promise<VersionSet>[] = [];
        for (let round = 0; round < 4; round += 1) {
          for (let i = 0; i < 50; i += 1) {
            const n = round * 50 + i;
            pending.push(store.update('k', (stored) => write(stored, `w${n}`, { wallMs: n + 1 })));
          }
          await tick(); // later rounds gather behind the batch being written
        }
        const results = await Promise.all(pending);
        // Each write saw every write before it: the i-th resolves with i + 1 siblings.
        expect(results.map((r) => r.siblings.length)).toEqual(
          Array.from({ length: 200 }, (_, i) => i + 1),
        );
        const stored = await store.get('k');
        expect(stored!.clock).toEqual([['n1', 200]]);
        expect(stored!.siblings.map((s) => s.dot)).toEqual(
          Array.from({ length: 200 }, (_, i) => ({ node: 'n1', counter: i + 1 })),
        );
        expect(new Set(values(stored))).toEqual(
          new Set(Array.from({ length: 200 }, (_, n) => `w${n}`)),
        );
      });

      it('a write with the read context replaces the siblings it saw, and keeps a concurrent one', async () => {
        const store = await openStore({ policy: SIBLINGS });
        await store.update('k', (s) => write(s, 'a'));
        await store.update('k', (s) => write(s, 'b'));
        const read = await store.get('k');
        expect(values(read)).toEqual(['a', 'b']);
        const [resolved, concurrent] = await Promise.all([
          store.update('k', (s) => write(s, 'ab', { context: read!.clock })),
          store.update('k', (s) => write(s, 'c')),
        ]);
        expect(values(resolved)).toEqual(['ab']);
        expect(values(concurrent)).toEqual(['ab', 'c']);
        expect(values(await store.get('k'))).toEqual(['ab', 'c']);
        expect((await store.get('k'))!.clock).toEqual([['n1', 4]]);
      });

      it('an fn that throws rejects only its caller; the writes beside it in the batch succeed', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const boom = new Error('boom');
        const outcomes = await Promise.allSettled([
          store.update('k', (s) => write(s, 'first')),
          store.update('k', () => {
            throw boom;
          }),
          store.merge('j', dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'j')]])),
          store.update('k', (s) => write(s, 'second')),
          store.update('fresh', () => {
            throw boom;
          }),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
          'fulfilled',
          'rejected',
        ]);
        expect((outcomes[1] as PromiseRejectedResult).reason).toBe(boom);
        expect(values(await store.get('k'))).toEqual(['first', 'second']);
        expect(values(await store.get('j'))).toEqual(['j']);
        expect(await store.get('fresh')).toBeUndefined();
      });

      it('past the sibling cap, the writes that would grow the set are refused, one by one', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const outcomes = await Promise.allSettled([
          ...Array.from({ length: 5 }, (_, i) =>
            store.update('k', (s) => write(s, `w${i}`, { max: 3 })),
          ),
          store.merge('other', dottedOne()),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual([
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'rejected',
          'rejected',
          'fulfilled',
        ]);
        expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(TooManySiblingsError);
        expect(values(await store.get('k'))).toEqual(['w0', 'w1', 'w2']);
        // A resolving write may always shrink the set.
        const read = await store.get('k');
        const resolved = await store.update('k', (s) =>
          write(s, 'one', { context: read!.clock, max: 3 }),
        );
        expect(values(resolved)).toEqual(['one']);
      });
    });

    describe('purge', () => {
      it('deletes a key only while it holds exactly the set named (lww)', async () => {
        const store = await openStore();
        await store.merge('k', single(tombstone(5)));
        expect(await store.purge('k', single(tombstone(4)))).toBe(false);
        expectSet(await store.get('k'), single(tombstone(5)));
        expect(await store.purge('k', single(tombstone(5)))).toBe(true);
        expect(await store.get('k')).toBeUndefined();
        expect(await store.purge('k', single(tombstone(5)))).toBe(false);
        expect(await store.purge('absent', lww(1))).toBe(false);
      });

      it('deletes an older copy the tombstone supersedes, not a newer one', async () => {
        const store = await openStore();
        await store.merge('old', lww(3));
        await store.merge('new', lww(6));
        expect(await store.purge('old', single(tombstone(5)))).toBe(true);
        expect(await store.get('old')).toBeUndefined();
        expect(await store.purge('new', single(tombstone(5)))).toBe(false);
        expectSet(await store.get('new'), lww(6));
      });

      it('deletes a key only while it holds exactly the set named (siblings)', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, tombstone(1, 'n1')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, tombstone(2, 'n2')]]);
        await store.merge('k', a);
        await store.merge('k', b);
        expect(await store.purge('k', a)).toBe(false);
        expect(await store.purge('k', b)).toBe(false);
        expect((await store.get('k'))!.siblings).toHaveLength(2);
        expect(await store.purge('k', SIBLINGS.merge(a, b))).toBe(true);
        expect(await store.get('k')).toBeUndefined();
      });

      it('a purge queued behind a merge of the same tick sees the merge and keeps the key', async () => {
        const store = await openStore();
        await store.merge('k', single(tombstone(5)));
        const [merged, purged] = await Promise.all([
          store.merge('k', lww(6)),
          store.purge('k', single(tombstone(5))),
        ]);
        expect([merged, purged]).toEqual([true, false]);
        expectSet(await store.get('k'), lww(6));
      });
    });

    describe('hints', () => {
      it('keeps one hint per (target, key): a newer one replaces it, an older one does not', async () => {
        const store = await openStore();
        await store.addHint('n2', 'k', lww(5));
        await store.addHint('n2', 'k', lww(6));
        await store.addHint('n2', 'k', lww(4));
        await store.addHint('n3', 'k', lww(1));
        const hints = await store.hintsFor('n2', 10);
        expect(hints).toHaveLength(1);
        expect(hints[0]!.target).toBe('n2');
        expect(hints[0]!.key).toBe('k');
        expectSet(hints[0]!.set, lww(6));
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1, n3: 1 });
      });

      it('merges concurrent sets for one (target, key) into one hint with both siblings', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        await store.addHint('n3', 'k', a);
        await store.addHint('n3', 'k', b);
        await store.addHint('n3', 'k', a);
        const hints = await store.hintsFor('n3', 10);
        expect(hints).toHaveLength(1);
        expectSet(hints[0]!.set, SIBLINGS.merge(a, b));
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n3: 1 });
      });

      it('lists at most `limit` hints of one target, in key order, and none of other targets', async () => {
        const store = await openStore();
        const keys = ['b', 'a', 'c/1', 'c', 'ä', 'a\u0000b', ''];
        await Promise.all(keys.map((key, i) => store.addHint('n2', key, lww(i + 1))));
        await store.addHint('n1', 'x', lww(1));
        await store.addHint('n22', 'x', lww(1));
        const sorted = [...keys].sort(byteOrder);
        expect((await store.hintsFor('n2', 100)).map((h) => h.key)).toEqual(sorted);
        expect((await store.hintsFor('n2', 3)).map((h) => h.key)).toEqual(sorted.slice(0, 3));
        expect(await store.hintsFor('n2', 0)).toEqual([]);
        expect(await store.hintsFor('n9', 10)).toEqual([]);
        const n2b = (await store.hintsFor('n2', 100)).find((h) => h.key === 'b');
        expectSet(n2b!.set, lww(1));
        await expect(store.hintsFor('n2', -1)).rejects.toThrow(RangeError);
        await expect(store.addHint('n\u00002', 'k', lww(1))).rejects.toThrow(RangeError);
      });

      it('returns at most `bytesMax` bytes of keys and sets, but always the first hint', async () => {
        const store = await openStore();
        const set = lww(7, 0, 'n1', 'x'.repeat(1000));
        const keys = Array.from({ length: 10 }, (_, i) => `h${i}`);
        await Promise.all(keys.map((key) => store.addHint('n2', key, set)));
        const size = 2 + encodeSet(set).length;
        const read = async (limit: number, bytesMax: number) =>
          (await store.hintsFor('n2', limit, { bytesMax })).map((h) => h.key);
        expect(await read(100, 3 * size)).toEqual(keys.slice(0, 3));
        expect(await read(100, 3 * size - 1)).toEqual(keys.slice(0, 2));
        expect(await read(100, 1)).toEqual(keys.slice(0, 1));
        expect(await read(2, 100 * size)).toEqual(keys.slice(0, 2));
        expect(await read(100, 100 * size)).toEqual(keys);
        await expect(store.hintsFor('n2', 10, { bytesMax: 0 })).rejects.toThrow(RangeError);
        await expect(store.hintsFor('n2', 10, { bytesMax: Number.NaN })).rejects.toThrow(
          RangeError,
        );
      });

      it('reads on after a key: the hints past it, of that target only', async () => {
        const store = await openStore();
        const keys = ['a', 'b', 'c', 'd'];
        await Promise.all(keys.map((key) => store.addHint('n2', key, lww(1))));
        await store.addHint('n3', 'e', lww(1));
        const after = async (key: string, limit = 10) =>
          (await store.hintsFor('n2', limit, { after: key })).map((h) => h.key);
        expect(await after('a')).toEqual(['b', 'c', 'd']);
        expect(await after('b', 1)).toEqual(['c']);
        expect(await after('bb')).toEqual(['c', 'd']);
        expect(await after('')).toEqual(keys);
        expect(await after('d')).toEqual([]);
      });

      it('reads a budget of hints whose keys outweigh their values, in key order, whole', async () => {
        // LevelDB hands entries over in runs of about 16 KiB, keys included: this takes several.
        const store = await openStore();
        const keys = Array.from(
          { length: 500 },
          (_, i) => `${String(i).padStart(4, '0')}${'k'.repeat(300)}`,
        );
        await Promise.all(keys.map((key) => store.addHint('n2', key, lww(1))));
        const size = 304 + encodeSet(lww(1)).length;
        const hints = await store.hintsFor('n2', 1_000, { bytesMax: 400 * size });
        expect(hints.map((h) => h.key)).toEqual(keys.slice(0, 400));
        for (const hint of hints) expectSet(hint.set, lww(1));
      });

      it('deletes a hint it names, but not one that more was merged into meanwhile (lww)', async () => {
        const store = await openStore();
        await store.addHint('n2', 'k', lww(1));
        await store.addHint('n2', 'j', lww(1));
        const [j, k] = await store.hintsFor('n2', 10);
        await store.addHint('n2', 'k', lww(2));
        await store.deleteHint(k!);
        await store.deleteHint(j!);
        const left = await store.hintsFor('n2', 10);
        expect(left.map((h) => h.key)).toEqual(['k']);
        expectSet(left[0]!.set, lww(2));
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
        await store.deleteHint({ target: 'n2', key: 'absent', set: lww(1) });
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
      });

      it('deletes a hint it names, but not one that more was merged into meanwhile (siblings)', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        await store.addHint('n3', 'k', a);
        const [sent] = await store.hintsFor('n3', 10);
        await store.addHint('n3', 'k', b);
        await store.deleteHint(sent!);
        const [left] = await store.hintsFor('n3', 10);
        expectSet(left!.set, SIBLINGS.merge(a, b));
        expect(store.pendingHints().get('n3')).toBe(1);
        await store.deleteHint(left!);
        expect(await store.hintsFor('n3', 10)).toEqual([]);
        expect(store.pendingHints().size).toBe(0);
      });

      it('orders hint writes of one tick by arrival: add, delete, newer add leaves the newer', async () => {
        const store = await openStore();
        await Promise.all([
          store.addHint('n2', 'k', lww(1)),
          store.deleteHint({ target: 'n2', key: 'k', set: lww(1) }),
          store.addHint('n2', 'k', lww(2)),
          store.deleteHint({ target: 'n2', key: 'k', set: lww(1) }),
        ]);
        const hints = await store.hintsFor('n2', 10);
        expect(hints).toHaveLength(1);
        expectSet(hints[0]!.set, lww(2));
        expect(store.pendingHints().get('n2')).toBe(1);
      });

      it('counts pending hints per target and drops a target at zero', async () => {
        const store = await openStore();
        expect(store.pendingHints().size).toBe(0);
        await Promise.all([
          store.addHint('n2', 'a', lww(1)),
          store.addHint('n2', 'b', lww(1)),
          store.addHint('n3', 'a', lww(1)),
          store.addHint('n2', 'a', lww(2)),
        ]);
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 2, n3: 1 });
        for (const hint of await store.hintsFor('n3', 10)) await store.deleteHint(hint);
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 2 });
      });

      it('drops the hints of a key, for any target, that a set dominates, and keeps the rest (lww)', async () => {
        const store = await openStore();
        await Promise.all([
          store.addHint('n2', 'k', lww(1)),
          store.addHint('n3', 'k', lww(5)),
          store.addHint('n4', 'k', lww(9)),
          store.addHint('n2', 'j', lww(1)),
        ]);
        expect(await store.dropHintsCoveredBy('k', lww(5))).toBe(2);
        expect(await store.hintsFor('n2', 10)).toMatchObject([{ key: 'j' }]);
        expect(await store.hintsFor('n3', 10)).toEqual([]);
        const [kept] = await store.hintsFor('n4', 10);
        expectSet(kept!.set, lww(9));
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1, n4: 1 });
        expect(await store.dropHintsCoveredBy('k', lww(5))).toBe(0);
        expect(await store.dropHintsCoveredBy('nothing', lww(100))).toBe(0);
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1, n4: 1 });
      });

      it('drops the hints of a key that a set dominates, and keeps a concurrent one (siblings)', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        // Saw a and replaced it with a tombstone; never saw b.
        const gone = dotted({ n1: 2 }, [['n1', 2, tombstone(2, 'n1')]]);
        await store.addHint('n3', 'k', a);
        await store.addHint('n4', 'k', b);
        await store.addHint('n5', 'k', gone);
        expect(await store.dropHintsCoveredBy('k', gone)).toBe(2);
        expect(await store.hintsFor('n3', 10)).toEqual([]);
        expect(await store.hintsFor('n5', 10)).toEqual([]);
        const [kept] = await store.hintsFor('n4', 10);
        expectSet(kept!.set, b);
        expect(Object.fromEntries(store.pendingHints())).toEqual({ n4: 1 });
      });
    });

    describe('change listeners', () => {
      type Change = [string, unknown, unknown];

      it('hears each changed key once per batch, after commit, with before and after', async () => {
        const store = await openStore();
        const changes: Change[] = [];
        const readsInListener: Array<Promise<[VersionSet | undefined, VersionSet | undefined]>> =
          [];
        store.onChange((key, before, after) => {
          changes.push([key, plain(before), plain(after)]);
          // Started from inside the listener: the batch must already be in the database.
          readsInListener.push(store.get(key).then((now) => [now, after]));
        });
        await Promise.all([
          store.merge('k', lww(1)),
          store.merge('k', lww(3)),
          store.merge('k', lww(2)),
          store.merge('j', lww(1)),
          store.merge('j', lww(1)),
        ]);
        expect(changes).toEqual([
          ['k', undefined, plain(lww(3))],
          ['j', undefined, plain(lww(1))],
        ]);
        for (const [now, after] of await Promise.all(readsInListener))
          expect(plain(now)).toEqual(plain(after));

        changes.length = 0;
        expect(await store.merge('k', lww(2))).toBe(false);
        expect(await store.merge('k', lww(3))).toBe(false);
        expect(await store.purge('k', lww(1))).toBe(false);
        expect(changes).toEqual([]);

        expect(await store.merge('k', lww(4))).toBe(true);
        expect(await store.purge('k', lww(4))).toBe(true);
        expect(changes).toEqual([
          ['k', plain(lww(3)), plain(lww(4))],
          ['k', plain(lww(4)), undefined],
        ]);
      });

      it('tells every listener, and nothing for no-op merges, failed updates or hints (siblings)', async () => {
        const store = await openStore({ policy: SIBLINGS });
        const first: Change[] = [];
        const second: Change[] = [];
        store.onChange((key, before, after) => first.push([key, plain(before), plain(after)]));
        store.onChange((key, before, after) => second.push([key, plain(before), plain(after)]));
        const a = dotted({ n1: 1 }, [['n1', 1, version(1, 0, 'n1', 'a')]]);
        const b = dotted({ n2: 1 }, [['n2', 1, version(1, 0, 'n2', 'b')]]);
        await store.merge('k', a);
        await Promise.all([store.merge('k', a), store.merge('k', b), store.merge('k', b)]);
        await store.merge('k', a);
        await store.addHint('n9', 'k', a);
        await store
          .update('k', () => {
            throw new Error('no');
          })
          .catch(() => undefined);
        await store.purge('k', SIBLINGS.merge(a, b));
        const expected: Change[] = [
          ['k', undefined, plain(a)],
          ['k', plain(a), plain(SIBLINGS.merge(a, b))],
          ['k', plain(SIBLINGS.merge(a, b)), undefined],
        ];
        expect(first).toEqual(expected);
        expect(second).toEqual(expected);
      });

      it('a listener hears nothing once it unsubscribes, and the others still do', async () => {
        // A node restarted over the same store registers anew; the old one must stop hearing.
        const store = await openStore();
        const gone: string[] = [];
        const kept: string[] = [];
        const unsubscribe = store.onChange((key) => gone.push(key));
        store.onChange((key) => kept.push(key));
        await store.merge('a', lww(1));
        unsubscribe();
        unsubscribe();
        await store.merge('b', lww(1));
        expect(gone).toEqual(['a']);
        expect(kept).toEqual(['a', 'b']);
      });
    });

    describe('scans', () => {
      const keys = [
        ...Array.from({ length: 300 }, (_, i) => `key-${i}`),
        'ä',
        '日本',
        '',
        'a\u0000b',
      ];

      it('entries() yields every key with its set, in storage order', async () => {
        const store = await openStore();
        await Promise.all(keys.map((k, i) => store.merge(k, lww(i + 1, 0, 'n1', k))));
        const seen: Array<[string, VersionSet]> = [];
        for await (const entry of store.entries()) seen.push(entry);
        expect(seen.map(([k]) => k)).toEqual(
          [...keys].sort((a, b) => byteOrder(dataKeyOf(a), dataKeyOf(b))),
        );
        for (const [k, set] of seen) expectSet(set, lww(keys.indexOf(k) + 1, 0, 'n1', k));
      });

      it('scanPrefixRange(gte, lt) returns exactly the keys whose hash prefix is in [gte, lt)', async () => {
        const store = await openStore();
        await Promise.all(keys.map((k, i) => store.merge(k, lww(i + 1, 0, 'n1', k))));
        const prefix = (k: string): string => dataKeyOf(k).slice(0, 4);
        // The data key is the upper 16 bits of the key's hash, in lowercase hex, then the key.
        for (const k of keys) {
          expect(dataKeyOf(k)).toBe((hash32(k) >>> 16).toString(16).padStart(4, '0') + k);
        }
        const hexOf = (n: number): string => n.toString(16).padStart(4, '0');
        const p0 = prefix(keys[0]!);
        const ranges: Array<[string, string | undefined]> = [
          ['0000', '4000'],
          ['4000', '8000'],
          ['8000', 'c000'],
          ['c000', undefined],
          ['0000', undefined],
          [p0, parseInt(p0, 16) === 0xffff ? undefined : hexOf(parseInt(p0, 16) + 1)],
          ['a000', 'a000'],
          ['fffe', undefined],
        ];
        for (const [gte, lt] of ranges) {
          const got = await store.scanPrefixRange(gte, lt);
          const want = keys
            .filter((k) => prefix(k) >= gte && (lt === undefined || prefix(k) < lt))
            .sort((a, b) => byteOrder(dataKeyOf(a), dataKeyOf(b)));
          expect(
            got.map(([k]) => k),
            `[${gte}, ${lt})`,
          ).toEqual(want);
          for (const [k, set] of got) expectSet(set, lww(keys.indexOf(k) + 1, 0, 'n1', k));
        }
        expect((await store.scanPrefixRange(p0, undefined)).map(([k]) => k)).toContain(keys[0]);
        // Four quarters partition the keys.
        const quarters = await Promise.all(
          ranges.slice(0, 4).map(([g, l]) => store.scanPrefixRange(g, l)),
        );
        expect(quarters.flat().length).toBe(keys.length);
      });
    });

    it('stores metadata; an absent name reads as undefined', async () => {
      const store = await openStore();
      expect(await store.getMeta('node-id')).toBeUndefined();
      await store.putMeta('node-id', 'n1');
      await store.putMeta('node-id', 'n1-again');
      expect(await store.getMeta('node-id')).toBe('n1-again');
    });

    it('with fsync on, merges, updates and hints resolve once written', async () => {
      const store = await openStore({ fsync: true });
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.merge(`k${i % 7}`, lww(i))),
      );
      expect(results.filter(Boolean).length).toBeGreaterThanOrEqual(7);
      await store.addHint('n2', 'k', lww(1));
      expectSet(await store.update('u', () => lww(1)), lww(1));
      expectSet(await store.get('k6'), lww(97));
      expectSet(await store.get('u'), lww(1));
      expect(store.pendingHints().get('n2')).toBe(1);
    });

    it('close writes what is queued before it closes, and refuses writes after', async () => {
      const store = await openStore();
      const queued = store.merge('k', lww(1));
      await store.close();
      expect(await queued).toBe(true);
      await expect(store.merge('k', lww(2))).rejects.toThrow(/closed/);
      await expect(store.update('k', () => lww(2))).rejects.toThrow(/closed/);
      await expect(store.purge('k', lww(1))).rejects.toThrow(/closed/);
      await expect(store.addHint('n2', 'k', lww(2))).rejects.toThrow(/closed/);
    });

    it('a fresh store records format 2 and its conflict mode', async () => {
      const store = await openStore({ policy: SIBLINGS });
      expect(await store.getMeta('format')).toBe('2');
      expect(await store.getMeta('conflicts')).toBe('siblings');
    });

    it.runIf(caps.persistent)(
      'keeps data, hints and metadata across close and reopen, and recounts hints',
      async () => {
        const first = await openStore({ fsync: true });
        await Promise.all([
          first.merge('k', lww(3)),
          first.merge('gone', single(tombstone(4))),
          first.merge('purged', lww(1)),
          first.addHint('n2', 'a', lww(1)),
          first.addHint('n2', 'b', lww(1)),
          first.addHint('n3', 'a', lww(1)),
          first.addHint('n4', 'a', lww(1)),
          first.putMeta('ring', 'v7'),
        ]);
        await first.purge('purged', lww(1));
        await first.deleteHint({ target: 'n4', key: 'a', set: lww(1) });
        await first.addHint('n2', 'a', lww(2));
        // A write that is still queued at close must be written too.
        const queued = first.merge('late', lww(9));
        await first.close();
        expect(await queued).toBe(true);

        const second = await openStore();
        expectSet(await second.get('k'), lww(3));
        expectSet(await second.get('gone'), single(tombstone(4)));
        expectSet(await second.get('late'), lww(9));
        expect(await second.get('purged')).toBeUndefined();
        expect(await second.getMeta('ring')).toBe('v7');
        expect(Object.fromEntries(second.pendingHints())).toEqual({ n2: 2, n3: 1 });
        const n2 = await second.hintsFor('n2', 10);
        expect(n2.map((h) => h.key)).toEqual(['a', 'b']);
        expectSet(n2[0]!.set, lww(2));
        expect(await second.merge('k', lww(2))).toBe(false);
        // The rebuilt counts keep counting correctly.
        await second.deleteHint(n2[0]!);
        expect(await second.dropHintsCoveredBy('a', lww(5))).toBe(1);
        expect(Object.fromEntries(second.pendingHints())).toEqual({ n2: 1 });
      },
    );

    it.runIf(caps.persistent)('keeps siblings across close and reopen', async () => {
      const first = await openStore({ policy: SIBLINGS, fsync: true });
      await Promise.all([
        first.update('k', (s) => write(s, 'a')),
        first.update('k', (s) => write(s, 'b')),
      ]);
      const before = await first.get('k');
      await first.close();
      const second = await openStore({ policy: SIBLINGS });
      expectSet(await second.get('k'), before!);
      expect(values(await second.update('k', (s) => write(s, 'c')))).toEqual(['a', 'b', 'c']);
    });

    it.runIf(caps.persistent)('refuses to reopen under the other conflict mode', async () => {
      const first = await openStore({ policy: LWW });
      await first.merge('k', lww(1));
      await first.close();
      const other = makeOne({ policy: SIBLINGS });
      expect((await openError(other)).message).toMatch(/lww-mode data.*conflicts siblings/);
      const again = await openStore({ policy: LWW });
      expectSet(await again.get('k'), lww(1));
    });

    it.runIf(caps.persistent)(
      'refuses a data directory an older kvorum wrote (data, no format)',
      async () => {
        const raw = new Level<string, Buffer>(join(dir, 'db'), {
          keyEncoding: 'utf8',
          valueEncoding: 'buffer',
        });
        await raw
          .sublevel<string, Buffer>('data', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
          .put('k', encodeVersion(version(1)));
        await raw.close();
        const store = makeOne();
        expect((await openError(store)).message).toMatch(/older kvorum/);
      },
    );
  });
}

/** A one-sibling siblings-mode set. */
function dottedOne(): VersionSet {
  return dotted({ n1: 1 }, [['n1', 1, version(1)]]);
}

runReplicaStoreSuite('memory-level', (_dir, opts) => memoryStore(opts.policy), {
  persistent: false,
});
runReplicaStoreSuite('LevelDB on disk', (dir, opts) => openDiskStore(join(dir, 'db'), opts), {
  persistent: true,
});
// The same contract with every read going to LevelDB, and with a cache that evicts all the time.
runReplicaStoreSuite(
  'LevelDB on disk, no set cache',
  (dir, opts) => openDiskStore(join(dir, 'db'), { ...opts, cacheBytes: 0 }),
  { persistent: true },
);
runReplicaStoreSuite(
  'memory-level, a set cache of 2 KiB',
  (_dir, opts) => memoryStore(opts.policy, 2048),
  { persistent: false },
);

describe('LevelReplicaStore write pipeline', () => {
  let db: MemoryLevel<string, Buffer>;
  let store: LevelReplicaStore;

  function dataSublevel() {
    return db.sublevel<string, Buffer>('data', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  }

  async function openOver(policy: ConflictPolicy): Promise<void> {
    db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' });
    store = new LevelReplicaStore({ db, fsync: false, policy });
    await store.open();
  }

  beforeEach(async () => {
    await openOver(LWW);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
  });

  it('writes 500 concurrent merges in far fewer than 500 batches', async () => {
    const batch = vi.spyOn(db, 'batch');
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => store.merge(`k${i}`, lww(i + 1))),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(batch.mock.calls.length).toBeLessThanOrEqual(5);
  });

  it('keeps batching while a batch is being written (group commit)', async () => {
    const batch = vi.spyOn(db, 'batch');
    const writes: Promise<boolean>[] = [];
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < 20; i += 1) writes.push(store.merge(`k${i}`, lww(round * 20 + i + 1)));
      await tick();
    }
    expect((await Promise.all(writes)).every(Boolean)).toBe(true);
    expect(batch.mock.calls.length).toBeLessThan(1000 / 10);
    expectSet(await store.get('k19'), lww(1000));
  });

  it(`splits a queue longer than ${BATCH_WRITES_MAX} writes into several batches, in order`, async () => {
    const batch = vi.spyOn(db, 'batch');
    const count = BATCH_WRITES_MAX * 2 + 10;
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => store.merge('hot', lww(i + 1))),
    );
    expect(batch.mock.calls.length).toBeGreaterThanOrEqual(3);
    const sizes = batch.mock.calls.map((call) => ((call as unknown[])[0] as unknown[]).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(BATCH_WRITES_MAX);
    // Each write is newer than every one before it, across the batch boundaries too.
    expect(results.every(Boolean)).toBe(true);
    expectSet(await store.get('hot'), lww(count));
  });

  it('rejects every writer of a failed batch, tells no listener, and the next batch still works', async () => {
    await store.addHint('n2', 'old', lww(1));
    const changes: string[] = [];
    store.onChange((key) => changes.push(key));
    vi.spyOn(db, 'batch').mockRejectedValueOnce(new Error('disk full'));
    const failed = [
      store.merge('a', lww(1)),
      store.update('b', () => lww(1)),
      store.addHint('n2', 'x', lww(1)),
    ];
    const outcomes = await Promise.allSettled(failed);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toHaveProperty('message', 'disk full');
    }
    expect(await store.get('a')).toBeUndefined();
    expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
    expect(changes).toEqual([]);

    expect(await store.merge('a', lww(2))).toBe(true);
    expectSet(await store.get('a'), lww(2));
    expect(changes).toEqual(['a']);
  });

  it('rejects a set that cannot be encoded without failing the writes to other keys', async () => {
    const bad = single(version(2 ** 48)); // wallMs past the u48 the codec stores
    const outcomes = await Promise.allSettled([
      store.merge('k', bad),
      store.merge('j', lww(1)),
      store.update('u', () => bad),
      store.addHint('n2', 'h', bad),
      store.addHint('n2', 'g', lww(1)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(await store.get('k')).toBeUndefined();
    expect(await store.get('u')).toBeUndefined();
    expectSet(await store.get('j'), lww(1));
    expect((await store.hintsFor('n2', 10)).map((h) => h.key)).toEqual(['g']);
    expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
  });

  // Each write of a key is encoded on its own, so an unencodable one fails alone.
  it('rejects a set that cannot be encoded without failing earlier writes to the same key', async () => {
    const bad = single(version(2 ** 48));
    const outcomes = await Promise.allSettled([store.merge('k', lww(1)), store.merge('k', bad)]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: true });
    expect(outcomes[1]!.status).toBe('rejected');
    expectSet(await store.get('k'), lww(1));
  });

  // A merge the policy throws on (here a dot-less lww set sent to a siblings store) fails
  // only its own write, not the batch.
  it('a merge the policy cannot apply fails alone, not the writes to other keys', async () => {
    await store.close();
    await openOver(SIBLINGS);
    await store.merge('k', dottedOne());
    const outcomes = await Promise.allSettled([
      store.merge('k', lww(2)),
      store.merge('j', dottedOne()),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled']);
    expectSet(await store.get('j'), dottedOne());
  });

  // dropHintsCoveredBy also sees a hint for a new target queued earlier in the same tick.
  it('drops a covered hint that was added earlier in the same tick', async () => {
    const [, dropped] = await Promise.all([
      store.addHint('n5', 'k', lww(1)),
      store.dropHintsCoveredBy('k', lww(5)),
    ]);
    expect(dropped).toBe(1);
    expect(await store.hintsFor('n5', 10)).toEqual([]);
    expect(store.pendingHints().size).toBe(0);
  });

  it('rejects a read of a corrupt stored record with a clear error', async () => {
    await dataSublevel().put(dataKeyOf('k'), Buffer.from([1, 2, 3]));
    await expect(store.get('k')).rejects.toThrow(/corrupt stored version/);
    await dataSublevel().put(dataKeyOf('old'), encodeVersion(version(1)));
    await expect(store.get('old')).rejects.toThrow(/not a version set/);
  });

  it('rejects writes to a key whose stored record is corrupt; other keys in the batch succeed', async () => {
    await dataSublevel().put(dataKeyOf('bad'), Buffer.from([1, 2, 3]));
    const changes: string[] = [];
    store.onChange((key) => changes.push(key));
    const outcomes = await Promise.allSettled([
      store.merge('bad', lww(1)),
      store.merge('good', lww(1)),
      store.update('bad', () => lww(2)),
      store.purge('bad', lww(1)),
      store.update('other', () => lww(3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toHaveProperty(
      'name',
      'VersionCodecError',
    );
    expectSet(await store.get('good'), lww(1));
    expectSet(await store.get('other'), lww(3));
    expect(Buffer.from((await dataSublevel().get(dataKeyOf('bad')))!)).toEqual(
      Buffer.from([1, 2, 3]),
    );
    expect(changes.sort()).toEqual(['good', 'other']);
  });

  it('replaces a corrupt hint record with the next hint for it, and counts it once', async () => {
    await db
      .sublevel<string, Buffer>('hints', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
      .put('n2\u0000k', Buffer.from([9]));
    await store.close();
    store = new LevelReplicaStore({ db, fsync: false, policy: LWW });
    await store.open();
    expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
    await store.addHint('n2', 'k', lww(1));
    expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
    const [hint] = await store.hintsFor('n2', 10);
    expectSet(hint!.set, lww(1));
  });

  it('a read that a batch overtook does not leave its older set in the cache', async () => {
    await store.merge('k', lww(1));
    await store.close();
    store = new LevelReplicaStore({ db, fsync: false, policy: LWW });
    await store.open(); // a fresh cache: the next read goes to the database
    const data = (store as unknown as { data: { get(k: string): Promise<unknown> } }).data;
    const realGet = data.get.bind(data);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    data.get = async (k: string) => {
      const got = await realGet(k);
      await gate; // the read has its bytes (lww 1), and is held while a write lands
      return got;
    };
    const slowRead = store.get('k');
    await tick();
    expect(await store.merge('k', lww(2))).toBe(true);
    release();
    expectSet(await slowRead, lww(1)); // it was concurrent with the write: either answer is fine
    data.get = realGet;
    expectSet(await store.get('k'), lww(2)); // but the cache must hold the write
    expect(store.cacheStats().entries).toBe(1);
  });

  it('serves repeated reads and the read-before-write of a merge from the cache', async () => {
    await store.merge('k', lww(1));
    const getMany = vi.spyOn(db, 'getMany');
    const get = vi.spyOn(db, 'get');
    expect(await store.merge('k', lww(2))).toBe(true);
    expectSet(await store.get('k'), lww(2));
    expect(getMany).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(store.cacheStats().hits).toBeGreaterThanOrEqual(2);
  });

  it('accepts a database with view values', async () => {
    const viewDb = new MemoryLevel<string, Uint8Array>({
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    });
    const viewStore = new LevelReplicaStore({ db: viewDb, fsync: false });
    await viewStore.open();
    expect(await viewStore.merge('k', lww(1))).toBe(true);
    expectSet(await viewStore.get('k'), lww(1));
    await viewStore.addHint('n2', 'k', lww(1));
    expectSet((await viewStore.hintsFor('n2', 1))[0]!.set, lww(1));
    await viewStore.close();
  });
});

describe('LevelReplicaStore format checks', () => {
  const dbs: MemoryLevel<string, Buffer>[] = [];

  function freshDb(): MemoryLevel<string, Buffer> {
    const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' });
    dbs.push(db);
    return db;
  }

  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close();
  });

  it.each([LWW, SIBLINGS])('a fresh database gets format 2 and conflicts $mode', async (policy) => {
    const db = freshDb();
    const store = new LevelReplicaStore({ db, fsync: false, policy });
    await store.open();
    const meta = db.sublevel<string, string>('meta', {
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    });
    expect(await meta.get('format')).toBe('2');
    expect(await meta.get('conflicts')).toBe(policy.mode);
    await store.close();
    // Reopening under the same mode works, and keeps the data.
    const again = new LevelReplicaStore({ db, fsync: false, policy });
    await again.open();
    await again.close();
  });

  it.each([
    [LWW, SIBLINGS],
    [SIBLINGS, LWW],
  ])('refuses to reopen under the other mode ($mode data)', async (written, other) => {
    const db = freshDb();
    const first = new LevelReplicaStore({ db, fsync: false, policy: written });
    await first.open();
    await first.merge('k', written === LWW ? lww(1) : dottedOne());
    await first.close();
    const store = new LevelReplicaStore({ db, fsync: false, policy: other });
    expect((await openError(store)).message).toContain(`${written.mode}-mode data`);
    expect(db.status).toBe('closed');
    const back = new LevelReplicaStore({ db, fsync: false, policy: written });
    await back.open();
    expect(await back.get('k')).toBeDefined();
    await back.close();
  });

  it.each([
    ['data', 'data', 'k'],
    ['hints', 'hints', 'n2\u0000k'],
  ])('refuses a database with %s but no format (an older kvorum)', async (_name, sub, key) => {
    const db = freshDb();
    await db
      .sublevel<string, Buffer>(sub, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
      .put(key, encodeVersion(version(1)));
    const store = new LevelReplicaStore({ db, fsync: false });
    expect((await openError(store)).message).toMatch(/older kvorum/);
    expect(db.status).toBe('closed');
  });

  it('refuses a format it does not know', async () => {
    const db = freshDb();
    await db
      .sublevel<string, string>('meta', { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      .put('format', '3');
    const store = new LevelReplicaStore({ db, fsync: false });
    expect((await openError(store)).message).toMatch(/format 3/);
  });
});

describe('change listeners', () => {
  it('a listener that throws does not stop the store', async () => {
    const s = memoryStore();
    await s.open();
    let first = true;
    s.onChange(() => {
      if (first) {
        first = false;
        throw new Error('listener failed');
      }
    });
    const v = (wallMs: number) =>
      single({
        ts: { wallMs, logical: 0, node: 'n1' },
        tombstone: false,
        contentType: 't',
        value: new Uint8Array([wallMs]),
      });
    expect(await s.merge('k', v(1))).toBe(true);
    expect(await s.merge('k', v(2))).toBe(true);
    expect(s.listenerErrors).toBe(1);
    await s.close();
  });
});

describe('fsync on the on-disk store (classic-level)', () => {
  type BatchOptions = { sync?: boolean } | undefined;
  /** classic-level's private batch, the call that hands operations and options to LevelDB. */
  const levelPrototype = Level.prototype as unknown as {
    _batch(operations: unknown[], options: BatchOptions): Promise<void>;
  };
  let dir: string;
  let store: LevelReplicaStore | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvorum-fsync-'));
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it.each([true, false])(
    'with fsync %s, every batch of writes reaches LevelDB with that sync option',
    async (fsync) => {
      const batch = vi.spyOn(Level.prototype, 'batch');
      const native = vi.spyOn(levelPrototype, '_batch');
      store = openDiskStore(join(dir, 'db'), { fsync });
      await store.open();
      // Opening writes the format through a sublevel; what matters is the write pipeline.
      batch.mockClear();
      native.mockClear();
      await Promise.all([
        store.merge('k', lww(1)),
        store.update('u', () => lww(2)),
        store.addHint('n2', 'k', lww(1)),
        store.putMeta('ring', 'v1'),
      ]);
      await store.purge('k', lww(1));
      await store.deleteHint({ target: 'n2', key: 'k', set: lww(1) });

      // classic-level takes utf8 keys and buffers as they are, so the pipeline hands its
      // operations straight to the implementation's batch, skipping the public one.
      expect(batch).not.toHaveBeenCalled();
      expect(native.mock.calls.length).toBeGreaterThanOrEqual(3);
      for (const [operations, options] of native.mock.calls) {
        expect(Array.isArray(operations)).toBe(true);
        expect(options?.sync).toBe(fsync);
      }
      // And they wrote: the data is there.
      expect(await store.get('u')).toBeDefined();
      expect(await store.get('k')).toBeUndefined();
      expect(await store.getMeta('ring')).toBe('v1');
    },
  );

  it('writes the same keys and bytes that abstract-level sublevels read', async () => {
    store = openDiskStore(join(dir, 'db'), { fsync: false });
    await store.open();
    const set = lww(7);
    await Promise.all([
      store.merge('k', set),
      store.merge('gone', lww(1)),
      store.addHint('n2', 'h', set),
      store.putMeta('ring', 'v9'),
    ]);
    await store.purge('gone', lww(2));
    await store.close();
    store = undefined;

    const db = new Level<string, Buffer>(join(dir, 'db'), {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
    });
    try {
      const opts = { keyEncoding: 'utf8', valueEncoding: 'buffer' } as const;
      const data = db.sublevel<string, Buffer>('data', opts);
      const hints = db.sublevel<string, Buffer>('hints', opts);
      const meta = db.sublevel<string, string>('meta', {
        keyEncoding: 'utf8',
        valueEncoding: 'utf8',
      });
      expect(await data.keys().all()).toEqual([dataKeyOf('k')]);
      expect(Buffer.compare((await data.get(dataKeyOf('k'))) as Buffer, encodeSet(set))).toBe(0);
      expect(await hints.keys().all()).toEqual(['n2\u0000h']);
      expect(Buffer.compare((await hints.get('n2\u0000h')) as Buffer, encodeSet(set))).toBe(0);
      expect(await meta.get('ring')).toBe('v9');
    } finally {
      await db.close();
    }
  });
});
