// Replicas converge without hints: anti-entropy (Merkle-tree exchange) repairs what a partition
// left behind, deletes stay deleted when a replica that missed them returns, tombstones go
// after their grace period, and sloppy quorum keeps an ap cluster writable with homes down.

import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, isAssertionError, until, type TombstoneStatus } from '../support/cluster.js';
import { Ring } from '../../src/core/ring.js';
import { LIMITS } from '../../src/config.js';
import { execFile } from 'node:child_process';
import { BIN } from '../support/cluster.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Anti-entropy runs every second here; convergence is asserted within this stated time. */
const AE_INTERVAL_MS = 1_000;
const CONVERGE_WITHIN_MS = 10_000;

interface Status {
  hints: { pending: number; byTarget: Record<string, number> };
  antiEntropy: {
    exchanges: number;
    keysRepaired: number;
    peers: Record<string, { at: string; keysRepaired: number; error?: string }>;
  };
  tombstones: TombstoneStatus;
}

/**
 * Watches deleted keys from their delete to the end of a test, polling in the background: no
 * node ever answers a read of one (r=all, or r=quorum while a node is down) with a value, and
 * no node's own copy holds a live value once it has been seen without one. A node that missed
 * the delete (`behind`) may hold the old value until it is first seen without it. A request
 * that fails (a node starting or stopping) tells nothing and is not counted; polls counts the
 * rounds in which every request was answered.
 */
class NeverBack {
  readonly down = new Set<string>();
  /** key -> node -> whether the node's copy has been seen without a live value. */
  private readonly seenGone = new Map<string, Map<string, boolean>>();
  private polls = 0;
  private failure: unknown;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly cl: TestCluster) {
    this.loop = this.run();
  }

  /** Call once the delete of `key` is acknowledged. */
  watch(key: string, behind: readonly string[] = []): void {
    this.seenGone.set(key, new Map(this.cl.ids.map((id) => [id, !behind.includes(id)])));
  }

  /** Rethrows the first violation seen so far. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for `count` more complete rounds over every watched key and up node. */
  async polled(count: number): Promise<void> {
    const target = this.polls + count;
    await until(`${count} more rounds of never-back checks`, () => {
      this.check();
      return this.polls >= target;
    });
  }

  seenGoneEverywhere(): boolean {
    return [...this.seenGone.values()].every((nodes) => [...nodes.values()].every(Boolean));
  }

  /** Ends the watch, and rethrows the first violation seen. */
  async stop(): Promise<void> {
    this.halt();
    await this.loop;
    this.check();
  }

  /** Ends the watch after the round in progress (a test that failed already). */
  halt(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.failure === undefined) {
      try {
        await this.round();
        this.polls += 1;
      } catch (err) {
        if (isAssertionError(err)) this.failure = err;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async round(): Promise<void> {
    const query = this.down.size === 0 ? '?r=all' : '?r=quorum';
    for (const [key, seenGone] of this.seenGone) {
      for (const id of this.cl.ids) {
        if (this.down.has(id)) continue;
        const res = await this.cl.get(id, key, query);
        const body = await res.text();
        // 503/504: too few replicas answered, which says nothing of the value.
        expect([404, 503, 504], `GET ${key}${query} on ${id} answered ${body}`).toContain(
          res.status,
        );
        const values = await this.cl.localValues(id, key);
        if (values.length === 0) seenGone.set(id, true);
        else
          expect(seenGone.get(id), `${id}'s own copy of ${key} holds ${values.join()} again`).toBe(
            false,
          );
      }
    }
  }
}

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

const KEYS = Array.from({ length: 40 }, (_, i) => `item-${i}`);

describe('anti-entropy', () => {
  for (const conflicts of ['lww', 'siblings'] as const) {
    it(`${conflicts}: replicas diverged by a partition converge without hints within ${CONVERGE_WITHIN_MS} ms`, async () => {
      c = await TestCluster.start({
        conflicts,
        hintedHandoff: false,
        antiEntropyIntervalMs: AE_INTERVAL_MS,
      });
      const cl = c;
      await cl.partition([['n1', 'n2'], ['n3']]);
      await cl.waitSees('n1', 'down', ['n3']);
      for (const key of KEYS) expect((await cl.put('n1', key, `v-${key}`)).status).toBe(204);
      // No hints were kept, and n3 has none of it.
      expect(((await cl.status('n1')) as unknown as Status).hints.pending).toBe(0);
      expect(await cl.local('n3', KEYS[0] as string)).toBeUndefined();

      await cl.heal();
      const healedAt = Date.now();
      await until(
        'n3 to hold every key',
        async () => {
          for (const key of KEYS) {
            const values = await cl.localValues('n3', key);
            if (values.join() !== `v-${key}`) return false;
          }
          return true;
        },
        CONVERGE_WITHIN_MS,
      );
      expect(Date.now() - healedAt).toBeLessThan(CONVERGE_WITHIN_MS);
      // Reported in status: which peer, when, and how many keys.
      const statuses = await Promise.all(cl.ids.map((id) => cl.status(id)));
      const repaired = statuses.reduce(
        (sum, s) => sum + (s as unknown as Status).antiEntropy.keysRepaired,
        0,
      );
      expect(repaired).toBeGreaterThanOrEqual(KEYS.length);
      // Every node's schedule reaches every peer (the last exchange with each is reported).
      const n3 = await until('n3 to report exchanges with both peers', async () => {
        const s = (await cl.status('n3')) as unknown as Status;
        return Object.keys(s.antiEntropy.peers).length === 2 ? s : false;
      });
      expect(Object.keys(n3.antiEntropy.peers).sort()).toEqual(['n1', 'n2']);
      expect(n3.antiEntropy.peers.n1?.at).toMatch(/^\d{4}-\d\d-\d\dT/);

      // Once in sync, an exchange finds nothing to do.
      const again = await cl.repair('n3');
      expect(again.keysRepaired).toBe(0);
    });
  }

  it('POST /admin/repair exchanges at once, and merges siblings made on both sides', async () => {
    c = await TestCluster.start({ conflicts: 'siblings', hintedHandoff: false });
    const cl = c;
    await cl.partition([['n1', 'n2'], ['n3']]);
    await cl.waitSees('n3', 'down', ['n1', 'n2']);
    await cl.put('n1', 'k', 'left', '?w=one');
    await cl.put('n3', 'k', 'right', '?w=one');
    await cl.heal();
    await cl.waitAllUp();
    // The CLI runs the same exchange and says what it found.
    const cli = await run(['repair', '--url', cl.url('n3')]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^n1: 1 keys differed, 1 repaired in \d+ ms$/m);
    // n3 exchanged with both peers; n1 got right, and n3 got left.
    expect(await cl.localValues('n3', 'k')).toEqual(['left', 'right']);
    expect(await cl.localValues('n1', 'k')).toEqual(['left', 'right']);
  });
});

describe('anti-entropy with large values', () => {
  it('repairs a backlog larger than a peer frame, a few sets per reply', async () => {
    c = await TestCluster.start({ hintedHandoff: false });
    const cl = c;
    await cl.partition([['n1', 'n2'], ['n3']]);
    await cl.waitSees('n1', 'down', ['n3']);
    const big = Buffer.alloc(900 * 1024, 7);
    const keys = Array.from({ length: 24 }, (_, i) => `big-${i}`);
    for (const key of keys) expect((await cl.put('n1', key, big)).status).toBe(204);
    await cl.heal();
    await cl.waitAllUp();
    // n3 pulls about 21 MB: more than one frame carries, so it must come in several replies.
    const result = await cl.repair('n3');
    expect(
      Object.values(result.peers).every((p) => (p as { error?: string }).error === undefined),
    ).toBe(true);
    for (const key of keys) {
      const copy = await cl.local('n3', key);
      expect(Buffer.from(copy?.siblings[0]?.value ?? '', 'base64').length, key).toBe(big.length);
    }
  });
});

describe('tombstones', () => {
  it('a deleted key does not come back when a replica that missed the delete returns', async () => {
    c = await TestCluster.start({ hintedHandoff: false, antiEntropyIntervalMs: AE_INTERVAL_MS });
    const cl = c;
    expect((await cl.put('n1', 'gone', 'value', '?w=all')).status).toBe(204);
    await cl.kill('n3');
    await cl.waitSees('n1', 'down', ['n3']);
    expect((await cl.del('n1', 'gone')).status).toBe(204);
    await cl.restart('n3');
    await cl.waitAllUp();
    // n3 comes back holding the old value; anti-entropy brings it the tombstone, not the
    // other way round.
    await until(
      'n3 to learn of the delete',
      async () => (await cl.local('n3', 'gone'))?.siblings.every((s) => s.tombstone) === true,
      CONVERGE_WITHIN_MS,
    );
    for (const id of cl.ids) {
      expect((await cl.get(id, 'gone', '?r=all')).status).toBe(404);
      expect(await cl.localValues(id, 'gone')).toEqual([]);
    }
  });

  it('purges tombstones after the grace period, once every replica holds them, and never while one is down', async () => {
    c = await TestCluster.start({ tombstoneGraceMs: 1_000, antiEntropyIntervalMs: AE_INTERVAL_MS });
    const cl = c;
    // A key's first replica decides its purge: n2 for a, n1 (which stays up) for b, so each
    // node's sweep counters speak of one key.
    const ring = new Ring(cl.ids, LIMITS.vnodesPerNode);
    const a = KEYS.find((k) => ring.preferenceList(k, 3)[0] === 'n2') as string;
    const b = KEYS.find((k) => ring.preferenceList(k, 3)[0] === 'n1') as string;
    await cl.put('n1', a, 'x', '?w=all');
    await cl.put('n1', b, 'y', '?w=all');
    const neverBack = new NeverBack(cl);
    try {
      expect((await cl.del('n2', a, '?w=all')).status).toBe(204);
      neverBack.watch(a);
      await until(
        `the tombstone of ${a} to be purged everywhere`,
        async () => {
          neverBack.check();
          for (const id of cl.ids) if ((await cl.local(id, a)) !== undefined) return false;
          return true;
        },
        CONVERGE_WITHIN_MS,
      );
      // Only n2 purged. (A read racing with the purge can repair the tombstone back onto a
      // node that had purged, and n2 then purges it again: purged counts purges, not keys.)
      expect((await cl.tombstones('n2')).purged).toBeGreaterThanOrEqual(1);
      for (const id of ['n1', 'n3']) expect((await cl.tombstones(id)).purged, id).toBe(0);

      // With a replica down, a tombstone stays past its grace period: n1 sweeps it, past the
      // grace period, and holds it back because a node is down.
      neverBack.down.add('n3');
      await cl.kill('n3');
      await cl.waitSees('n1', 'down', ['n3']);
      expect((await cl.del('n1', b)).status).toBe(204);
      neverBack.watch(b, ['n3']);
      const before = await cl.tombstones('n1');
      const heldBack = await until(
        `n1 to hold back the purge of ${b} twice because n3 is down`,
        async () => {
          neverBack.check();
          const t = await cl.tombstones('n1');
          return t.heldBack.nodeDown >= before.heldBack.nodeDown + 2 ? t : false;
        },
        CONVERGE_WITHIN_MS,
      );
      expect(heldBack).toMatchObject({ pending: 1, purged: before.purged });
      for (const id of ['n1', 'n2'])
        expect(
          (await cl.local(id, b))?.siblings.map((s) => s.tombstone),
          id,
        ).toEqual([true]);
      await neverBack.polled(2);

      // n3 returns with the old value: it learns of the delete (hint or anti-entropy), and only
      // then is the tombstone purged.
      await cl.restart('n3');
      await cl.waitAllUp();
      neverBack.down.delete('n3');
      await until(
        `the tombstone of ${b} to be purged everywhere`,
        async () => {
          neverBack.check();
          for (const id of cl.ids) if ((await cl.local(id, b)) !== undefined) return false;
          return true;
        },
        CONVERGE_WITHIN_MS,
      );
      expect((await cl.tombstones('n1')).purged).toBeGreaterThan(before.purged);

      // And it stays gone: more sweeps on n1, and anti-entropy exchanges on every node, until
      // no node holds anything for either key (a tombstone a racing read repaired back goes on
      // its first replica's next sweep).
      const sweepsAfter = (await cl.tombstones('n1')).sweeps;
      const exchangesAfter = await Promise.all(
        cl.ids.map(
          async (id) => ((await cl.status(id)) as unknown as Status).antiEntropy.exchanges,
        ),
      );
      await until(
        'two more sweeps on n1, two more anti-entropy exchanges on every node, and no copy left',
        async () => {
          neverBack.check();
          if ((await cl.tombstones('n1')).sweeps < sweepsAfter + 2) return false;
          for (const [i, id] of cl.ids.entries()) {
            const s = (await cl.status(id)) as unknown as Status;
            if (s.antiEntropy.exchanges < (exchangesAfter[i] as number) + 2) return false;
            for (const key of [a, b]) if ((await cl.local(id, key)) !== undefined) return false;
          }
          return true;
        },
        CONVERGE_WITHIN_MS,
      );
      await neverBack.polled(2);
      await neverBack.stop();
      expect(neverBack.seenGoneEverywhere()).toBe(true);
      for (const key of [a, b])
        for (const id of cl.ids) {
          expect((await cl.get(id, key, '?r=all')).status, `${key} on ${id}`).toBe(404);
          expect(await cl.localValues(id, key), `${key} on ${id}`).toEqual([]);
        }
      // n3, first replica of neither key, never purged anything.
      expect((await cl.tombstones('n3')).purged).toBe(0);
    } finally {
      neverBack.halt();
    }
  });
});

describe('sloppy quorum', () => {
  it('a 5-node ap cluster with N=3 takes writes for a key whose two home replicas are down, and hands them over', async () => {
    c = await TestCluster.start({ nodes: 5, n: 3, profile: 'ap' });
    const cl = c;
    const ring = new Ring(cl.ids, LIMITS.vnodesPerNode);
    const key = Array.from({ length: 500 }, (_, i) => `user:${i}`).find(
      (k) => ring.preferenceList(k, 3)[0] === 'n1',
    ) as string;
    const [, homeB, homeC] = ring.preferenceList(key, 3) as [string, string, string];
    const fallbacks = ring.preferenceList(key, 5).slice(3);
    await cl.kill(homeB);
    await cl.kill(homeC);
    await cl.waitSees('n1', 'down', [homeB, homeC]);

    // w=all: only sloppy quorum can find three nodes to take it.
    const res = await cl.put('n1', key, 'while-away', '?w=all');
    expect(res.status).toBe(204);
    expect(res.headers.get('server-timing')).toContain(fallbacks[0] as string);
    for (const f of fallbacks) {
      const s = (await cl.status(f)) as unknown as Status;
      expect(Object.keys(s.hints.byTarget).length).toBe(1);
    }

    await cl.restart(homeB);
    await cl.restart(homeC);
    await until(
      'the home replicas to hold the write',
      async () =>
        (await cl.localValues(homeB, key)).join() === 'while-away' &&
        (await cl.localValues(homeC, key)).join() === 'while-away',
      CONVERGE_WITHIN_MS,
    );
    // The fallbacks dropped their hints once handed off, and never stored the key as their own.
    await until(
      'fallback hints to drain',
      async () => {
        for (const f of fallbacks)
          if (((await cl.status(f)) as unknown as Status).hints.pending !== 0) return false;
        return true;
      },
      CONVERGE_WITHIN_MS,
    );
    for (const f of fallbacks) expect(await cl.local(f, key)).toBeUndefined();
  });
});
