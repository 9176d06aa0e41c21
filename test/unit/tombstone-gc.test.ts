// Tombstone GC's rules, driven one sweep at a time on a 5-node ring (N=3) whose nodes are
// memory-level stores behind fake links: a test marks nodes down or makes their purges fail,
// and moves the clock by hand.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { LWW, single } from '../../src/core/conflicts.js';
import { PeerError } from '../../src/core/errors.js';
import { Ring } from '../../src/core/ring.js';
import type { VersionSet } from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import { TombstoneGc, type HeldBack, type TombstoneLinks } from '../../src/replica/tombstone-gc.js';
import { memoryStore, type LevelReplicaStore } from '../../src/storage/level-store.js';

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const N = 3;
const GRACE_MS = 1_000;
const DELETED_AT_MS = 1_000_000;

const ring = new Ring(NODES, LIMITS.vnodesPerNode);
/** A key n1 (the node under test) is first replica of. */
const KEY = Array.from({ length: 500 }, (_, i) => `gone-${i}`).find(
  (k) => ring.preferenceList(k, N)[0] === 'n1',
) as string;
const REPLICAS = ring.preferenceList(KEY, N);
const [, REPLICA_B, REPLICA_C] = REPLICAS as [string, string, string];
const NON_REPLICAS = NODES.filter((node) => !REPLICAS.includes(node));

function version(wallMs: number, tombstone: boolean, value = ''): Version {
  return {
    ts: { wallMs, logical: 0, node: 'n1' },
    tombstone,
    contentType: tombstone ? '' : 'text/plain',
    value: Buffer.from(value),
  };
}

const TOMBSTONE = single(version(DELETED_AT_MS, true));
const OLD_VALUE = single(version(DELETED_AT_MS - 10, false, 'old'));
const NEWER_VALUE = single(version(DELETED_AT_MS + 10, false, 'newer'));

/**
 * Each node a memory-level store, reached directly. A node marked down is reported down and
 * unreachable; a node in `purgeFails` answers reads and writes but a purge sent to it fails
 * before it purges anything (as a timeout on a busy peer would), so it keeps its copy.
 */
class StoreLinks implements TombstoneLinks {
  readonly stores = new Map(NODES.map((node) => [node, memoryStore(LWW)] as const));
  readonly down = new Set<string>();
  readonly purgeFails = new Set<string>();
  /** Nodes that refuse a purge (as one handing the key over does): an answer, not a loss. */
  readonly purgeRefuses = new Set<string>();
  /** Purges that fail this many more times on a node, then succeed (a slow link). */
  readonly purgeFailsFor = new Map<string, number>();
  readonly reads: string[] = [];
  readonly writes: string[] = [];
  readonly purges: string[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  store(node: string): LevelReplicaStore {
    return this.stores.get(node) as LevelReplicaStore;
  }

  isUp(node: string): boolean {
    return !this.down.has(node);
  }

  read(node: string, key: string): Promise<VersionSet | undefined> {
    this.reads.push(node);
    return this.track(this.reach(node).then(() => this.store(node).get(key)));
  }

  write(node: string, key: string, set: VersionSet): Promise<void> {
    this.writes.push(node);
    return this.track(
      this.reach(node).then(async () => void (await this.store(node).merge(key, set))),
    );
  }

  purge(node: string, key: string, set: VersionSet): Promise<boolean> {
    this.purges.push(node);
    return this.track(
      this.reach(node).then(async () => {
        if (this.purgeFails.has(node)) throw new PeerError(node, 'timeout');
        if (this.purgeRefuses.has(node)) throw new PeerError(node, 'remote', 'held');
        const left = this.purgeFailsFor.get(node) ?? 0;
        if (left > 0) {
          this.purgeFailsFor.set(node, left - 1);
          throw new PeerError(node, 'timeout');
        }
        const purged = await this.store(node).purge(key, set);
        await this.store(node).dropHintsCoveredBy(key, set);
        return purged;
      }),
    );
  }

  /** Waits for every request sent so far, including the ones GC does not wait for. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Which nodes hold anything for `key`. */
  async holding(key: string): Promise<string[]> {
    const held = await Promise.all(
      NODES.map(async (node) => [node, await this.store(node).get(key)] as const),
    );
    return held.filter(([, set]) => set !== undefined).map(([node]) => node);
  }

  private async reach(node: string): Promise<void> {
    await Promise.resolve();
    if (this.down.has(node)) throw new PeerError(node, 'unreachable');
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }
}

let links: StoreLinks;
let nowMs: number;
let purgedReported: number[];
let gc: TombstoneGc;

function status(): { purged: number; pending: number; sweeps: number; heldBack: HeldBack } {
  return gc.status() as never;
}

/** One sweep, then every request it left in flight (the tombstone pushed to a replica). */
async function sweep(): Promise<number> {
  const count = await gc.sweep();
  await links.settled();
  return count;
}

/** Whether the layout is settled, as membership would say. */
let settled = true;

const NONE_HELD_BACK: HeldBack = {
  inGrace: 0,
  layoutChanging: 0,
  nodeDown: 0,
  notEverywhere: 0,
  readFailed: 0,
  purgeFailed: 0,
};

beforeEach(async () => {
  settled = true;
  links = new StoreLinks();
  await Promise.all(NODES.map((node) => links.store(node).open()));
  nowMs = DELETED_AT_MS + GRACE_MS;
  purgedReported = [];
  gc = new TombstoneGc({
    self: 'n1',
    ring: () => ring,
    settled: () => settled,
    n: N,
    store: links.store('n1'),
    policy: LWW,
    links,
    graceMs: GRACE_MS,
    timeoutMs: 100,
    nowMs: () => nowMs,
    // The tests sweep by hand; a timer armed here would be a sweep they did not ask for.
    timers: {
      after: () => {
        throw new Error('the tombstone tests sweep by hand');
      },
    },
    logger: pino({ level: 'silent' }),
    onPurged: (count) => purgedReported.push(count),
  });
  // Every replica holds the tombstone; the change feed has told GC of it.
  for (const node of REPLICAS) await links.store(node).merge(KEY, TOMBSTONE);
  gc.track(KEY, REPLICAS, TOMBSTONE);
});

afterEach(async () => {
  gc.stop();
  await links.settled();
  await Promise.all(NODES.map((node) => links.store(node).close()));
});

describe('TombstoneGc', () => {
  it('the key under test has two replicas besides n1 and two nodes that are not replicas', () => {
    expect(REPLICAS[0]).toBe('n1');
    expect(REPLICAS).toHaveLength(3);
    expect(NON_REPLICAS).toHaveLength(2);
  });

  it('keeps a tombstone through its grace period, and purges it from every node once it is over', async () => {
    nowMs = DELETED_AT_MS + GRACE_MS - 1;
    expect(await sweep()).toBe(0);
    expect(status()).toMatchObject({ sweeps: 1, pending: 1, purged: 0 });
    expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, inGrace: 1 });
    expect(links.reads).toEqual([]);
    expect(links.purges).toEqual([]);
    expect(await links.holding(KEY)).toEqual(REPLICAS.slice().sort());

    nowMs = DELETED_AT_MS + GRACE_MS;
    expect(await sweep()).toBe(1);
    expect(await links.holding(KEY)).toEqual([]);
    expect(status()).toMatchObject({ sweeps: 2, pending: 1, purged: 1 });
    expect(purgedReported).toEqual([1]);
    // Every node is told to purge (a non-replica may hold a hint), n1 itself last.
    expect(links.purges.slice(0, -1).sort()).toEqual(NODES.filter((node) => node !== 'n1'));
    expect(links.purges.at(-1)).toBe('n1');
  });

  it('holds every purge back while the layout is changing, and purges once it has settled', async () => {
    settled = false;
    nowMs = DELETED_AT_MS + 10 * GRACE_MS;
    for (let i = 0; i < 2; i++) expect(await sweep()).toBe(0);
    expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, layoutChanging: 2 });
    expect(links.reads).toEqual([]);
    expect(links.purges).toEqual([]);
    settled = true;
    expect(await sweep()).toBe(1);
    expect(await links.holding(KEY)).toEqual([]);
  });

  const downCases = [
    ['a replica', REPLICA_B],
    ['a node that is not a replica of the key', NON_REPLICAS[0] as string],
  ] as const;
  for (const [what, node] of downCases) {
    it(`holds the purge back while ${what} is down, past the grace period, and purges once it is up`, async () => {
      links.down.add(node);
      nowMs = DELETED_AT_MS + 10 * GRACE_MS;
      for (let i = 0; i < 3; i++) expect(await sweep()).toBe(0);
      expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, nodeDown: 3 });
      expect(links.purges).toEqual([]);
      expect(await links.holding(KEY)).toEqual(REPLICAS.slice().sort());

      links.down.delete(node);
      expect(await sweep()).toBe(1);
      expect(await links.holding(KEY)).toEqual([]);
      expect(status()).toMatchObject({ sweeps: 4, purged: 1 });
    });
  }

  it('a replica that missed the delete is sent the tombstone, not purged, and the key goes on a later sweep', async () => {
    await links.store(REPLICA_B).purge(KEY, TOMBSTONE);
    await links.store(REPLICA_B).merge(KEY, OLD_VALUE);
    await links.store(REPLICA_C).purge(KEY, TOMBSTONE);

    expect(await sweep()).toBe(0);
    expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, notEverywhere: 1 });
    expect(links.purges).toEqual([]);
    expect(links.writes.sort()).toEqual([REPLICA_B, REPLICA_C].sort());
    for (const node of REPLICAS)
      expect(LWW.equals(await links.store(node).get(KEY), TOMBSTONE), node).toBe(true);

    expect(await sweep()).toBe(1);
    expect(await links.holding(KEY)).toEqual([]);
  });

  it('a replica holding a newer write keeps it: the key is never purged', async () => {
    await links.store(REPLICA_C).merge(KEY, NEWER_VALUE);
    for (let i = 0; i < 3; i++) expect(await sweep()).toBe(0);
    expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, notEverywhere: 3 });
    expect(links.purges).toEqual([]);
    expect(LWW.equals(await links.store(REPLICA_C).get(KEY), NEWER_VALUE)).toBe(true);
    expect(LWW.equals(await links.store('n1').get(KEY), TOMBSTONE)).toBe(true);
  });

  it('asks a node whose purge was lost again, within the sweep: one lost purge does not undo the rest', async () => {
    links.purgeFailsFor.set(REPLICA_C, LIMITS.tombstonePurgeAttemptsMax - 1);
    expect(await sweep()).toBe(1);
    expect(status().heldBack).toEqual(NONE_HELD_BACK);
    expect(await links.holding(KEY)).toEqual([]);
    expect(links.purges.filter((n) => n === REPLICA_C)).toHaveLength(
      LIMITS.tombstonePurgeAttemptsMax,
    );
  });

  it('does not ask a node that refused the purge again: the sweep gives up and keeps its tombstone', async () => {
    links.purgeRefuses.add(REPLICA_C);
    expect(await sweep()).toBe(0);
    expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, purgeFailed: 1 });
    expect(links.purges.filter((n) => n === REPLICA_C)).toHaveLength(1);
    expect(LWW.equals(await links.store('n1').get(KEY), TOMBSTONE)).toBe(true);
  });

  const failCases = [
    ['a replica', REPLICA_C],
    ['a node that is not a replica of the key', NON_REPLICAS[0] as string],
  ] as const;
  for (const [what, failing] of failCases) {
    it(`when ${what} fails to purge, n1 keeps its tombstone and a later sweep purges everywhere once it accepts`, async () => {
      links.purgeFails.add(failing);
      expect(await sweep()).toBe(0);
      expect(status().heldBack).toEqual({ ...NONE_HELD_BACK, purgeFailed: 1 });
      expect(status().purged).toBe(0);
      expect(purgedReported).toEqual([]);
      // n1 never purged its own copy; the failed peer keeps whatever it held; the replicas
      // that accepted did purge.
      expect(links.purges).not.toContain('n1');
      const keptBy = REPLICAS.filter((node) => node === 'n1' || node === failing);
      expect(await links.holding(KEY)).toEqual(keptBy.sort());

      // The peer keeps failing: nothing more is purged, n1 still holds the tombstone.
      links.purges.length = 0;
      for (let i = 0; i < 2; i++) expect(await sweep()).toBe(0);
      expect(links.purges).not.toContain('n1');
      expect(LWW.equals(await links.store('n1').get(KEY), TOMBSTONE)).toBe(true);

      // Once it accepts, a later sweep purges the key from every node: the replicas that had
      // purged are first sent the tombstone again (a sweep held back as notEverywhere), then
      // every node purges it.
      links.purgeFails.delete(failing);
      links.writes.length = 0;
      let sweeps = 0;
      while (status().purged === 0 && sweeps < 3) {
        await sweep();
        sweeps += 1;
      }
      expect(status().purged).toBe(1);
      expect(await links.holding(KEY)).toEqual([]);
      expect(purgedReported).toEqual([1]);
      const purgedFirstTime = REPLICAS.filter((node) => !keptBy.includes(node));
      expect([...new Set(links.writes)].sort()).toEqual(purgedFirstTime.sort());
    });
  }
});
