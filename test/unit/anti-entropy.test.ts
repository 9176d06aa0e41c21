import { describe, expect, it } from 'vitest';
import {
  exchange,
  keyDigests,
  type ExchangeLocal,
  type ExchangeRemote,
} from '../../src/core/anti-entropy.js';
import { LWW, SIBLINGS, single, type ConflictPolicy } from '../../src/core/conflicts.js';
import type { Hlc } from '../../src/core/hlc.js';
import { HashTree, segmentOf, setDigest } from '../../src/core/merkle.js';
import { updateDotted, type VClock, type VersionSet } from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import { seededRng } from '../support/rng.js';

const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const version = (ts: Hlc, value: string): Version => ({
  ts,
  tombstone: false,
  contentType: 'text/plain',
  value: enc(value),
});

/** A replica with a Map store whose tree follows every change, as the real store's feed does. */
class MemReplica {
  readonly store = new Map<string, VersionSet>();
  readonly tree: HashTree;

  constructor(
    readonly id: string,
    readonly policy: ConflictPolicy,
    segments?: number,
    perGroup?: number,
  ) {
    this.tree = new HashTree(segments, perGroup);
  }

  apply(key: string, set: VersionSet): void {
    const before = this.store.get(key);
    const after = this.policy.merge(before, set);
    if (this.policy.equals(before, after)) return;
    this.store.set(key, after);
    this.tree.update(key, before && setDigest(before), setDigest(after));
  }

  keys(segments: readonly number[]) {
    const wanted = new Set(segments);
    const entries = [...this.store]
      .filter(([k]) => wanted.has(segmentOf(k, this.tree.segments)))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return keyDigests(entries);
  }

  local(): ExchangeLocal {
    return {
      tree: this.tree,
      keys: async (segments) => this.keys(segments),
      get: async (keys) => keys.map((k) => this.store.get(k)),
      merge: async (key, set) => this.apply(key, set),
    };
  }

  /** This replica as the peer, counting (and recording the size of) every request. */
  remote(calls: Array<[string, number]> = []): ExchangeRemote {
    return {
      groups: async () => {
        calls.push(['groups', 0]);
        return this.tree.groupHashes();
      },
      leaves: async (groups) => {
        calls.push(['leaves', groups.length]);
        return this.tree.leafHashes(groups);
      },
      keys: async (segments) => {
        calls.push(['keys', segments.length]);
        return this.keys(segments);
      },
      fetch: async (keys) => {
        calls.push(['fetch', keys.length]);
        return keys.map((k) => this.store.get(k) ?? null);
      },
      push: async (key, set) => {
        calls.push(['push', 1]);
        this.apply(key, set);
      },
    };
  }
}

/** Time for the writers below: every write, from any writer, is stamped later than the last. */
let tick = 0;

/** Writes drawn from a seed: lww stamps, or dotted updates issued by the replica written to. */
function writer(policy: ConflictPolicy, seed: number) {
  const rng = seededRng(seed);
  const contexts: VClock[] = [[]];
  return (r: MemReplica, key: string): void => {
    const t = (tick += 1);
    if (policy === LWW) {
      // Stamps rise with every write, so whichever side wrote a key last holds the winner.
      const ts = { wallMs: t, logical: Math.floor(rng() * 3), node: r.id };
      r.apply(key, single(version(ts, `${r.id}-${t}`)));
      return;
    }
    const context =
      rng() < 0.5
        ? (r.store.get(key)?.clock ?? [])
        : contexts[Math.floor(rng() * contexts.length)]!;
    const next = updateDotted(
      r.store.get(key),
      context,
      r.id,
      version({ wallMs: t, logical: 0, node: r.id }, `${r.id}-${t}`),
    );
    contexts.push(next.clock);
    r.apply(key, next);
  };
}

function pair(policy: ConflictPolicy, segments?: number, perGroup?: number) {
  return [
    new MemReplica('a', policy, segments, perGroup),
    new MemReplica('b', policy, segments, perGroup),
  ] as const;
}

/** A shared history, then independent writes on each side: the state after partitions heal. */
function diverge(policy: ConflictPolicy, seed: number, keys: number, divergent: number) {
  const [a, b] = pair(policy);
  const write = writer(policy, seed);
  const rng = seededRng(seed + 1);
  for (let i = 0; i < keys; i++) {
    write(a, `k${i}`);
    b.apply(`k${i}`, a.store.get(`k${i}`)!);
  }
  for (let i = 0; i < divergent; i++) {
    const key = `k${Math.floor(rng() * keys * 1.5)}`;
    write(rng() < 0.5 ? a : b, key);
  }
  return { a, b };
}

function expectConverged(a: MemReplica, b: MemReplica, policy: ConflictPolicy): void {
  const keys = new Set([...a.store.keys(), ...b.store.keys()]);
  for (const k of keys) expect(policy.equals(a.store.get(k), b.store.get(k)), k).toBe(true);
  expect(hex(a.tree.groupHashes())).toBe(hex(b.tree.groupHashes()));
}

for (const policy of [LWW, SIBLINGS]) {
  describe(`anti-entropy exchange (${policy.mode})`, () => {
    it('makes both sides hold the join of their sets after one exchange', async () => {
      for (let seed = 1; seed <= 15; seed++) {
        const { a, b } = diverge(policy, seed, 300, 40 + seed * 4);
        const expected = new Map<string, VersionSet>();
        for (const k of new Set([...a.store.keys(), ...b.store.keys()])) {
          const x = a.store.get(k);
          const y = b.store.get(k);
          expected.set(k, y === undefined ? x! : policy.merge(x, y));
        }
        const r = await exchange(a.local(), b.remote(), policy);
        expectConverged(a, b, policy);
        for (const [k, set] of expected) expect(policy.equals(a.store.get(k), set)).toBe(true);
        expect(r.keysRepaired).toBeGreaterThan(0);
        expect(r.keysRepaired).toBe(r.keysDiffering);
        expect(r.pulled + r.pushed).toBeGreaterThanOrEqual(r.keysRepaired);
        expect(r.truncated).toBe(false);

        const calls: Array<[string, number]> = [];
        const again = await exchange(a.local(), b.remote(calls), policy);
        expect(calls).toEqual([['groups', 0]]);
        expect(again).toEqual({
          groupsDiffering: 0,
          segmentsDiffering: 0,
          keysDiffering: 0,
          keysRepaired: 0,
          pulled: 0,
          pushed: 0,
          truncated: false,
        });
      }
    });

    it('makes exactly one remote call when the trees agree', async () => {
      const { a, b } = diverge(policy, 7, 200, 0);
      const calls: Array<[string, number]> = [];
      await exchange(a.local(), b.remote(calls), policy);
      expect(calls).toEqual([['groups', 0]]);
      const [c, d] = pair(policy);
      const empty: Array<[string, number]> = [];
      await exchange(c.local(), d.remote(empty), policy);
      expect(empty).toEqual([['groups', 0]]);
    });

    it('pulls what only the peer holds and pushes what only this node holds', async () => {
      const [a, b] = pair(policy);
      const write = writer(policy, 3);
      write(a, 'mine');
      write(b, 'theirs');
      const r = await exchange(a.local(), b.remote(), policy);
      expect(r).toMatchObject({ keysDiffering: 2, keysRepaired: 2, pulled: 1, pushed: 1 });
      expectConverged(a, b, policy);
    });

    it('asks only about what differs, and at most itemsPerMessage items per request', async () => {
      const { a, b } = diverge(policy, 11, 2000, 0);
      const write = writer(policy, 12);
      for (let i = 0; i < 6; i++) write(b, `k${i * 97}`);
      const calls: Array<[string, number]> = [];
      const r = await exchange(a.local(), b.remote(calls), policy, { itemsPerMessage: 2 });
      expectConverged(a, b, policy);
      expect(r.keysRepaired).toBe(6);
      for (const [, n] of calls) expect(n).toBeLessThanOrEqual(2);
      const asked = (what: string) =>
        calls.filter(([c]) => c === what).reduce((sum, [, n]) => sum + n, 0);
      expect(asked('leaves')).toBe(r.groupsDiffering);
      expect(asked('keys')).toBe(r.segmentsDiffering);
      expect(asked('fetch')).toBe(6);
      expect(r.segmentsDiffering).toBeLessThanOrEqual(6);
    });

    it('goes on when the peer answers a fetch with only a prefix of the keys (its byte budget)', async () => {
      const { a, b } = diverge(policy, 21, 300, 60);
      const remote = b.remote();
      const calls: number[] = [];
      const r = await exchange(
        a.local(),
        {
          ...remote,
          fetch: async (keys) => {
            calls.push(keys.length);
            return (await remote.fetch(keys)).slice(0, 1);
          },
        },
        policy,
      );
      expectConverged(a, b, policy);
      expect(calls.length).toBe(r.keysDiffering);
    });

    it('repairs at most keysMax keys per exchange and says so', async () => {
      const { a, b } = diverge(policy, 5, 100, 0);
      const write = writer(policy, 6);
      for (let i = 0; i < 23; i++) write(i % 2 === 0 ? a : b, `k${i}`);
      let rounds = 0;
      for (;;) {
        const r = await exchange(a.local(), b.remote(), policy, {
          keysMax: 5,
          itemsPerMessage: 3,
        });
        rounds += 1;
        expect(r.keysRepaired).toBeLessThanOrEqual(5);
        if (!r.truncated) break;
        expect(r.keysRepaired).toBe(5);
        expect(rounds).toBeLessThan(10);
      }
      expect(rounds).toBe(5);
      expectConverged(a, b, policy);
    });
  });
}

describe('anti-entropy exchange, defensive', () => {
  it('refuses a peer whose tree has another shape', async () => {
    const a = new MemReplica('a', LWW);
    const b = new MemReplica('b', LWW, 512, 32);
    await expect(exchange(a.local(), b.remote(), LWW)).rejects.toThrow(/groups/);
  });

  it('refuses bad options', async () => {
    const [a, b] = pair(LWW);
    await expect(exchange(a.local(), b.remote(), LWW, { keysMax: 0 })).rejects.toThrow(RangeError);
    await expect(exchange(a.local(), b.remote(), LWW, { itemsPerMessage: 1.5 })).rejects.toThrow(
      RangeError,
    );
  });

  it('ignores keys a peer lists outside the segments asked', async () => {
    const [a, b] = pair(LWW);
    const write = writer(LWW, 9);
    write(b, 'k1');
    const remote = b.remote();
    const stray = single(version({ wallMs: 1, logical: 0, node: 'b' }, 'stray'));
    const r = await exchange(
      a.local(),
      {
        ...remote,
        keys: async (segments) => {
          const real = await remote.keys(segments);
          const extra = keyDigests([['not-asked-' + segments.join(), stray]]);
          const mine = segmentOf('not-asked-' + segments.join(), 1024);
          if (segments.includes(mine)) return real;
          return {
            keys: [...real.keys, ...extra.keys],
            digests: Buffer.concat([real.digests, extra.digests]),
          };
        },
      },
      LWW,
    );
    expect(r.keysDiffering).toBe(1);
    expect([...a.store.keys()]).toEqual(['k1']);
  });

  it('rejects when the peer does not answer, so the next exchange retries', async () => {
    const { a, b } = diverge(LWW, 2, 50, 10);
    const remote = b.remote();
    await expect(
      exchange(a.local(), { ...remote, fetch: () => Promise.reject(new Error('peer down')) }, LWW),
    ).rejects.toThrow('peer down');
    await exchange(a.local(), remote, LWW);
    expectConverged(a, b, LWW);
  });
});
