// Membership over a direct in-process network (each request calls the target's handler), on
// the sim scheduler's virtual time: changes are agreed once, a change that lost says so, the
// acceptor's promises survive a restart, trackers move a transition to its end, and a node
// that left learns it and says so.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LWW, single } from '../../src/core/conflicts.js';
import { ConflictError } from '../../src/core/errors.js';
import { isSettled, newestVersion, type LayoutNode } from '../../src/core/layout.js';
import type { PeerReplyBody, PeerRequestBody } from '../../src/net/messages.js';
import { Membership } from '../../src/replica/membership.js';
import { memoryStore, type LevelReplicaStore } from '../../src/storage/level-store.js';
import type { Version } from '../../src/core/version.js';
import { Scheduler } from '../sim/scheduler.js';
import { PeerError } from '../../src/core/errors.js';

const node = (i: number): LayoutNode => ({
  id: `n${i}`,
  http: `http://127.0.0.1:${7000 + i}`,
  peer: `127.0.0.1:${7100 + i}`,
});
const FIRST = [1, 2, 3].map(node);

const version = (wallMs: number): Version => ({
  ts: { wallMs, logical: 0, node: 'n1' },
  tombstone: false,
  contentType: 'text/plain',
  value: Buffer.from(`v${wallMs}`),
});

interface World {
  readonly sched: Scheduler;
  readonly stores: Map<string, LevelReplicaStore>;
  readonly members: Map<string, Membership>;
  readonly down: Set<string>;
  readonly left: string[];
  /** Every sync or hint push: who sent which key to whom. */
  readonly writes: { from: string; to: string; key: string }[];
  open(id: string): Promise<Membership>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    for (const m of w.members.values()) m.stop();
    for (const s of w.stores.values()) await s.close();
  }
});

function world(): World {
  const sched = new Scheduler(1);
  const stores = new Map<string, LevelReplicaStore>();
  const members = new Map<string, Membership>();
  const down = new Set<string>();
  const left: string[] = [];
  const writes: World['writes'] = [];
  const request = async (
    from: string,
    to: string,
    body: PeerRequestBody,
  ): Promise<PeerReplyBody> => {
    const target = members.get(to);
    if (target === undefined || down.has(to) || down.has(from)) {
      throw new PeerError(to, 'unreachable');
    }
    await new Promise<void>((resolve) => sched.at(1, resolve));
    if (body.type === 'layout')
      return { type: 'layoutReply', history: await target.gossip(from, body.history) };
    if (body.type === 'paxos')
      return { type: 'paxosReply', reply: await target.accept(from, body.req) };
    throw new Error(`not served here: ${body.type}`);
  };
  const w: World = {
    sched,
    stores,
    members,
    down,
    left,
    writes,
    async open(id) {
      let store = stores.get(id);
      if (store === undefined) {
        store = memoryStore(LWW);
        await store.open();
        stores.set(id, store);
      }
      const m = await Membership.open({
        self: id,
        n: 3,
        initial: FIRST,
        store,
        request: (to, body) => request(id, to, body),
        write: async (to, key) => {
          if (down.has(to)) throw new PeerError(to, 'unreachable');
          writes.push({ from: id, to, key });
        },
        holdPurges: () => () => undefined,
        timeoutMs: 100,
        timers: { after: (ms, fn) => sched.at(ms, fn) },
        random: () => 0.5,
        nowMs: () => 1_700_000_000_000 + sched.now,
        logger: pino({ level: 'silent' }),
        onChange: () => undefined,
        onLeft: () => left.push(id),
      });
      members.set(id, m);
      return m;
    },
  };
  worlds.push(w);
  return w;
}

/**
 * Waits for `p` on virtual time. The store (memory-level behind the store's batch pipeline)
 * settles over several event-loop turns, more than the scheduler's one per event: let them run
 * before each step of virtual time.
 */
async function run<T>(sched: Scheduler, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; !done; i++) {
    for (let k = 0; k < 50 && !done; k++) await new Promise((r) => setImmediate(r));
    if (done) break;
    if (i > 200_000) throw new Error('did not settle');
    await sched.runFor(1);
  }
  return p;
}

/** Runs every member's tick until `done`, or fails after `maxTicks` rounds. */
async function tickUntil(w: World, done: () => boolean, maxTicks = 200): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (done()) return;
    for (const [id, m] of w.members) if (!w.down.has(id)) await run(w.sched, m.tick());
  }
  throw new Error('did not get there');
}

describe('Membership', () => {
  it('a join is agreed once: every member learns it, and the transition runs to settled', async () => {
    const w = world();
    for (const n of FIRST) await w.open(n.id);
    await w.open('n4');
    // n4 knows the first layout only until the join answers; the change goes through n1.
    const h = await run(w.sched, w.members.get('n1')!.change({ kind: 'join', node: node(4) }));
    expect(newestVersion(h).nodes.map((m) => m.id)).toEqual(['n1', 'n2', 'n3', 'n4']);
    await tickUntil(w, () =>
      [...w.members.values()].every(
        (m) => isSettled(m.history()) && newestVersion(m.history()).version === 2,
      ),
    );
    for (const m of w.members.values()) expect(newestVersion(m.history()).version).toBe(2);
  });

  it('of two changes proposed for one version at two nodes, one wins and the other gets 409', async () => {
    const w = world();
    for (const n of FIRST) await w.open(n.id);
    const a = w.members.get('n1')!.change({ kind: 'join', node: node(4) });
    const b = w.members.get('n2')!.change({ kind: 'join', node: node(5) });
    const [ra, rb] = await run(w.sched, Promise.allSettled([a, b]));
    const won = [ra, rb].filter((r) => r.status === 'fulfilled');
    const lost = [ra, rb].filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const v2 = newestVersion(w.members.get('n1')!.history());
    expect(v2.version).toBe(2);
    // Both proposers apply the same decided version 2.
    expect(newestVersion(w.members.get('n2')!.history())).toEqual(v2);
  });

  it("an acceptor's promise survives a restart: a lower ballot is refused after it", async () => {
    const w = world();
    for (const n of FIRST) await w.open(n.id);
    const m = w.members.get('n3')!;
    const high = { round: 50, node: 'n1' };
    const first = await run(w.sched, m.accept('n1', { kind: 'prepare', slot: 2, ballot: high }));
    expect(first).toMatchObject({ kind: 'promise', ok: true });
    m.stop();
    const again = await w.open('n3');
    const low = await run(
      w.sched,
      again.accept('n2', { kind: 'prepare', slot: 2, ballot: { round: 10, node: 'n2' } }),
    );
    expect(low).toMatchObject({ kind: 'promise', ok: false, promised: high });
  });

  it('a node removed while alive learns that it left and says so', async () => {
    const w = world();
    for (const n of [...FIRST, node(4)]) await w.open(n.id);
    // Start from a 4-node layout: join n4 first.
    await run(w.sched, w.members.get('n1')!.change({ kind: 'join', node: node(4) }));
    await tickUntil(w, () =>
      [...w.members.values()].every(
        (m) => isSettled(m.history()) && newestVersion(m.history()).version === 2,
      ),
    );
    await run(w.sched, w.members.get('n2')!.change({ kind: 'leave', id: 'n1', dead: false }));
    await tickUntil(
      w,
      () =>
        w.members.get('n2')!.history().versions.length === 1 &&
        newestVersion(w.members.get('n2')!.history()).version === 3,
    );
    await tickUntil(w, () =>
      w.members
        .get('n1')!
        .history()
        .versions.every((v) => !v.nodes.some((x) => x.id === 'n1')),
    );
    await run(w.sched, w.members.get('n1')!.tick());
    await w.sched.runFor(10_000);
    expect(w.left).toEqual(['n1']);
  });

  it('a hint stored for a removed node after the sync pass goes to the key owners once settled', async () => {
    const w = world();
    for (const n of [...FIRST, node(4)]) await w.open(n.id);
    await run(w.sched, w.members.get('n1')!.change({ kind: 'join', node: node(4) }));
    const settledAt = (version: number) => () =>
      [...w.members]
        .filter(([id]) => !w.down.has(id))
        .every(([, m]) => isSettled(m.history()) && newestVersion(m.history()).version === version);
    await tickUntil(w, settledAt(2));
    // n4 dies and is removed; a write that began before n1 learned it stores a hint for n4 late.
    w.down.add('n4');
    await run(w.sched, w.members.get('n1')!.change({ kind: 'leave', id: 'n4', dead: true }));
    await tickUntil(w, settledAt(3));
    const store = w.stores.get('n1')!;
    await store.addHint('n4', 'k', single(version(1)));
    expect(store.pendingHints().get('n4')).toBe(1);
    w.writes.length = 0;
    await tickUntil(w, () => (store.pendingHints().get('n4') ?? 0) === 0, 20);
    expect(
      w.writes
        .filter((x) => x.key === 'k')
        .map((x) => x.to)
        .sort(),
    ).toEqual(['n1', 'n2', 'n3']);
  });

  it('a change is refused with 503 no_majority when most members are down, and nothing changes', async () => {
    const w = world();
    for (const n of FIRST) await w.open(n.id);
    w.down.add('n2');
    w.down.add('n3');
    const err = await run(
      w.sched,
      w.members.get('n1')!.change({ kind: 'join', node: node(4) }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe('no_majority');
    expect(newestVersion(w.members.get('n1')!.history()).version).toBe(1);
  });
});
