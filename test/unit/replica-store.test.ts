// One contract suite every ReplicaStore backend passes (memory-level and LevelDB on disk), plus
// the batching and failure behaviour of the level pipeline, observed through a spied database.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compareHlc } from '../../src/core/hlc.js';
import type { Version } from '../../src/core/version.js';
import {
  BATCH_WRITES_MAX,
  LevelReplicaStore,
  memoryStore,
  openDiskStore,
} from '../../src/storage/level-store.js';
import type { ReplicaStore } from '../../src/storage/replica-store.js';
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

function expectVersion(actual: Version | undefined, expected: Version): void {
  expect(actual).toBeDefined();
  expect(actual!.ts).toEqual(expected.ts);
  expect(actual!.tombstone).toBe(expected.tombstone);
  expect(actual!.contentType).toBe(expected.contentType);
  expect(Buffer.from(actual!.value).equals(Buffer.from(expected.value))).toBe(true);
}

type MakeStore = (dir: string, opts: { fsync: boolean }) => ReplicaStore;

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

    async function openStore(opts = { fsync: false }): Promise<ReplicaStore> {
      const store = makeStore(dir, opts);
      opened.push(store);
      await store.open();
      return store;
    }

    it('reads an absent key as undefined', async () => {
      const store = await openStore();
      expect(await store.get('nope')).toBeUndefined();
    });

    it('stores a newer version and answers true; a get after the apply sees it', async () => {
      const store = await openStore();
      expect(await store.apply('k', version(10))).toBe(true);
      expectVersion(await store.get('k'), version(10));
      expect(await store.apply('k', version(10, 1))).toBe(true);
      expectVersion(await store.get('k'), version(10, 1));
      expect(await store.apply('k', version(10, 1, 'n2'))).toBe(true);
      expectVersion(await store.get('k'), version(10, 1, 'n2'));
    });

    it('answers false to an older or identical version and changes nothing', async () => {
      const store = await openStore();
      await store.apply('k', version(20, 5, 'n2'));
      for (const older of [
        version(19, 9, 'n9'),
        version(20, 4, 'n9'),
        version(20, 5, 'n1'),
        version(20, 5, 'n2', 'other'),
      ]) {
        expect(await store.apply('k', older)).toBe(false);
        expectVersion(await store.get('k'), version(20, 5, 'n2'));
      }
    });

    it('stores tombstones, which an older value cannot resurrect', async () => {
      const store = await openStore();
      await store.apply('k', version(1));
      expect(await store.apply('k', tombstone(2))).toBe(true);
      expectVersion(await store.get('k'), tombstone(2));
      expect(await store.apply('k', version(1, 5))).toBe(false);
      expectVersion(await store.get('k'), tombstone(2));
      expect(await store.apply('fresh', tombstone(3))).toBe(true);
      expectVersion(await store.get('fresh'), tombstone(3));
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
          ...version(1),
          value: Buffer.from('{"a":"ü"}'),
          contentType: 'application/json; charset=utf-8',
        },
      ];
      await Promise.all(cases.map((v, i) => store.apply(`bin-${i}`, v)));
      for (const [i, v] of cases.entries()) expectVersion(await store.get(`bin-${i}`), v);
    });

    it('1000 concurrent applies of random versions to 10 keys leave the newest version of each', async () => {
      const store = await openStore();
      const rng = seededRng(42);
      const writes = Array.from({ length: 1000 }, (_, i) => ({
        key: `key-${Math.floor(rng() * 10)}`,
        // Distinct logical counters keep every version distinct, so "newest" is one write.
        version: version(Math.floor(rng() * 50), i, `n${Math.floor(rng() * 3)}`),
      }));
      const results = await Promise.all(writes.map((w) => store.apply(w.key, w.version)));
      const newestByKey = new Map<string, { version: Version; index: number }>();
      writes.forEach((w, index) => {
        const best = newestByKey.get(w.key);
        if (best === undefined || compareHlc(w.version.ts, best.version.ts) > 0)
          newestByKey.set(w.key, { version: w.version, index });
      });
      expect(newestByKey.size).toBe(10);
      for (const [key, { version: newest, index }] of newestByKey) {
        expectVersion(await store.get(key), newest);
        expect(results[index], `the newest write to ${key} is told it was stored`).toBe(true);
      }
      // Writes of one tick are one batch, which stores one version per key: ten are told true.
      expect(results.filter(Boolean).length).toBe(10);
    });

    it.each([
      ['older first', [version(1), version(2)], [false, true]],
      ['newer first', [version(2), version(1)], [true, false]],
      ['the same version twice', [version(3), version(3)], [true, false]],
    ])(
      'two applies of one key in the same tick, %s: only the newer is stored and told true',
      async (_name, [a, b], expected) => {
        const store = await openStore();
        const results = await Promise.all([store.apply('k', a!), store.apply('k', b!)]);
        expect(results).toEqual(expected);
        expectVersion(await store.get('k'), expected[0] ? a! : b!);
      },
    );

    it('keeps one hint per (target, key): a newer one replaces it, an older one does not', async () => {
      const store = await openStore();
      await store.addHint('n2', 'k', version(5));
      await store.addHint('n2', 'k', version(6));
      await store.addHint('n2', 'k', version(4));
      await store.addHint('n3', 'k', version(1));
      const hints = await store.hintsFor('n2', 10);
      expect(hints).toHaveLength(1);
      expect(hints[0]!.target).toBe('n2');
      expect(hints[0]!.key).toBe('k');
      expectVersion(hints[0]!.version, version(6));
      expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1, n3: 1 });
    });

    it('lists at most `limit` hints of one target, in key order, and none of other targets', async () => {
      const store = await openStore();
      const keys = ['b', 'a', 'c/1', 'c', 'ä', 'a\u0000b', ''];
      await Promise.all(keys.map((key, i) => store.addHint('n2', key, version(i + 1))));
      await store.addHint('n1', 'x', version(1));
      await store.addHint('n22', 'x', version(1));
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect((await store.hintsFor('n2', 100)).map((h) => h.key)).toEqual(sorted);
      expect((await store.hintsFor('n2', 3)).map((h) => h.key)).toEqual(sorted.slice(0, 3));
      expect(await store.hintsFor('n2', 0)).toEqual([]);
      expect(await store.hintsFor('n9', 10)).toEqual([]);
      const n2b = (await store.hintsFor('n2', 100)).find((h) => h.key === 'b');
      expectVersion(n2b!.version, version(1));
    });

    it('deletes a hint it names, but not one that a newer version replaced meanwhile', async () => {
      const store = await openStore();
      await store.addHint('n2', 'k', version(1));
      await store.addHint('n2', 'j', version(1));
      const [j, k] = await store.hintsFor('n2', 10);
      await store.addHint('n2', 'k', version(2));
      await store.deleteHint(k!);
      await store.deleteHint(j!);
      const left = await store.hintsFor('n2', 10);
      expect(left.map((h) => h.key)).toEqual(['k']);
      expectVersion(left[0]!.version, version(2));
      expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
      await store.deleteHint({ target: 'n2', key: 'absent', version: version(1) });
      expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });
    });

    it('orders hint writes of one tick by arrival: add, delete, newer add leaves the newer', async () => {
      const store = await openStore();
      await Promise.all([
        store.addHint('n2', 'k', version(1)),
        store.deleteHint({ target: 'n2', key: 'k', version: version(1) }),
        store.addHint('n2', 'k', version(2)),
        store.deleteHint({ target: 'n2', key: 'k', version: version(1) }),
      ]);
      const hints = await store.hintsFor('n2', 10);
      expect(hints).toHaveLength(1);
      expectVersion(hints[0]!.version, version(2));
      expect(store.pendingHints().get('n2')).toBe(1);
    });

    it('counts pending hints per target and drops a target at zero', async () => {
      const store = await openStore();
      expect(store.pendingHints().size).toBe(0);
      await Promise.all([
        store.addHint('n2', 'a', version(1)),
        store.addHint('n2', 'b', version(1)),
        store.addHint('n3', 'a', version(1)),
        store.addHint('n2', 'a', version(2)),
      ]);
      expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 2, n3: 1 });
      for (const hint of await store.hintsFor('n3', 10)) await store.deleteHint(hint);
      expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 2 });
    });

    it('stores metadata; an absent name reads as undefined', async () => {
      const store = await openStore();
      expect(await store.getMeta('node-id')).toBeUndefined();
      await store.putMeta('node-id', 'n1');
      await store.putMeta('node-id', 'n1-again');
      expect(await store.getMeta('node-id')).toBe('n1-again');
    });

    it('with fsync on, applies and hints resolve once written', async () => {
      const store = await openStore({ fsync: true });
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.apply(`k${i % 7}`, version(i))),
      );
      expect(results.filter(Boolean).length).toBeGreaterThanOrEqual(7);
      await store.addHint('n2', 'k', version(1));
      expectVersion(await store.get('k6'), version(97));
      expect(store.pendingHints().get('n2')).toBe(1);
    });

    it('close writes what is queued before it closes, and refuses writes after', async () => {
      const store = await openStore();
      const queued = store.apply('k', version(1));
      await store.close();
      expect(await queued).toBe(true);
      await expect(store.apply('k', version(2))).rejects.toThrow(/closed/);
    });

    it.runIf(caps.persistent)(
      'keeps data, hints and metadata across close and reopen, and recounts hints',
      async () => {
        const first = await openStore({ fsync: true });
        await Promise.all([
          first.apply('k', version(3)),
          first.apply('gone', tombstone(4)),
          first.addHint('n2', 'a', version(1)),
          first.addHint('n2', 'b', version(1)),
          first.addHint('n3', 'a', version(1)),
          first.putMeta('ring', 'v7'),
        ]);
        // A write that is still queued at close must be written too.
        const queued = first.apply('late', version(9));
        await first.close();
        expect(await queued).toBe(true);

        const second = await openStore();
        expectVersion(await second.get('k'), version(3));
        expectVersion(await second.get('gone'), tombstone(4));
        expectVersion(await second.get('late'), version(9));
        expect(await second.getMeta('ring')).toBe('v7');
        expect(Object.fromEntries(second.pendingHints())).toEqual({ n2: 2, n3: 1 });
        expect((await second.hintsFor('n2', 10)).map((h) => h.key)).toEqual(['a', 'b']);
        expect(await second.apply('k', version(2))).toBe(false);
      },
    );
  });
}

runReplicaStoreSuite('memory-level', () => memoryStore(), { persistent: false });
runReplicaStoreSuite('LevelDB on disk', (dir, opts) => openDiskStore(join(dir, 'db'), opts), {
  persistent: true,
});

describe('LevelReplicaStore write pipeline', () => {
  let db: MemoryLevel<string, Buffer>;
  let store: LevelReplicaStore;

  beforeEach(async () => {
    db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' });
    store = new LevelReplicaStore({ db, fsync: false });
    await store.open();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
  });

  it('writes 500 concurrent applies in far fewer than 500 batches', async () => {
    const batch = vi.spyOn(db, 'batch');
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => store.apply(`k${i}`, version(i + 1))),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(batch.mock.calls.length).toBeLessThanOrEqual(5);
  });

  it('keeps batching while a batch is being written (group commit)', async () => {
    const batch = vi.spyOn(db, 'batch');
    const writes: Promise<boolean>[] = [];
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < 20; i += 1)
        writes.push(store.apply(`k${i}`, version(round * 20 + i + 1)));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    expect(batch.mock.calls.length).toBeLessThan(1000 / 10);
    expectVersion(await store.get('k19'), version(1000));
  });

  it(`splits a queue longer than ${BATCH_WRITES_MAX} writes into several batches, still newest-wins`, async () => {
    const batch = vi.spyOn(db, 'batch');
    const count = BATCH_WRITES_MAX * 2 + 10;
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => store.apply('hot', version(i + 1))),
    );
    expect(batch.mock.calls.length).toBeGreaterThanOrEqual(3);
    expectVersion(await store.get('hot'), version(count));
    expect(results[count - 1]).toBe(true);
    // One winner per batch: the last write of each slice of the queue.
    expect(results.filter(Boolean).length).toBe(batch.mock.calls.length);
  });

  it('rejects every writer of a failed batch, and the next batch still works', async () => {
    await store.addHint('n2', 'old', version(1));
    vi.spyOn(db, 'batch').mockRejectedValueOnce(new Error('disk full'));
    const failed = [
      store.apply('a', version(1)),
      store.apply('b', version(1)),
      store.addHint('n2', 'x', version(1)),
    ];
    const outcomes = await Promise.allSettled(failed);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toHaveProperty('message', 'disk full');
    }
    expect(await store.get('a')).toBeUndefined();
    expect(Object.fromEntries(store.pendingHints())).toEqual({ n2: 1 });

    expect(await store.apply('a', version(2))).toBe(true);
    expectVersion(await store.get('a'), version(2));
  });

  it('rejects a version that cannot be encoded without failing the writes beside it', async () => {
    const [bad, good] = await Promise.allSettled([
      store.apply('k', version(-1)),
      store.apply('k', version(1)),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: true });
  });

  it('rejects a read of a corrupt stored version with a clear error', async () => {
    await db
      .sublevel<string, Buffer>('data', { valueEncoding: 'buffer' })
      .put('k', Buffer.from([0xff]));
    await expect(store.get('k')).rejects.toThrow(/corrupt stored version/);
  });

  it('accepts a database with view values', async () => {
    const viewDb = new MemoryLevel<string, Uint8Array>({
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    });
    const viewStore = new LevelReplicaStore({ db: viewDb, fsync: false });
    await viewStore.open();
    expect(await viewStore.apply('k', version(1))).toBe(true);
    expectVersion(await viewStore.get('k'), version(1));
    await viewStore.close();
  });
});
