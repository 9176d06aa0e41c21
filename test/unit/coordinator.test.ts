// The coordinator over fake replicas, on virtual time: every delay, timeout and speculation
// timer runs on a Scheduler the test steps, so the tests assert on states, reasons and order
// (what was asked, what answered, what was held) and never on how fast the machine is.

import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/core/coordinator.js';
import { TimeoutError, TooManySiblingsError, UnavailableError } from '../../src/core/errors.js';
import { HybridClock, compareHlc, type Hlc } from '../../src/core/hlc.js';
import { ringPlacement } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { LWW, SIBLINGS, newestVersion, type ConflictPolicy } from '../../src/core/conflicts.js';
import type { VClock, VersionSet } from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import { FakeLinks, flush } from '../support/fake-links.js';
import { Scheduler } from '../sim/scheduler.js';

const NODES = ['n1', 'n2', 'n3'];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const TIMEOUT_MS = 50;
const opts = (
  r: number,
  w: number,
  extra: { linearizable?: boolean; timeoutMs?: number } = {},
) => ({
  r,
  w,
  linearizable: extra.linearizable ?? false,
  timeoutMs: extra.timeoutMs ?? TIMEOUT_MS,
});

interface BuildOptions {
  self?: string;
  nodes?: readonly string[];
  policy?: ConflictPolicy;
  siblingsMax?: number;
  readRepair?: 'before' | 'after';
  sloppyQuorum?: boolean;
  nowMs?: () => number;
  /** Targeted reads on the scheduler's timers, speculating after this many virtual ms. */
  speculateMs?: number;
}

/** A coordinator on `self` over fake replicas `nodes` (N=3, 16 vnodes each), on virtual time. */
function build(o: BuildOptions = {}) {
  const self = o.self ?? 'n1';
  const nodes = o.nodes ?? NODES;
  const policy = o.policy ?? LWW;
  const ring = new Ring(nodes, 16);
  const sched = new Scheduler();
  const links = new FakeLinks(self, nodes, { policy, siblingsMax: o.siblingsMax ?? 100, sched });
  const clock = { nowMs: o.nowMs ?? (() => 1_000), monotonicMs: () => sched.now };
  /** `node:why` for every replica a targeted read asked beyond its first R. */
  const speculations: string[] = [];
  /** Every replica a read sent its merged state to (before or after answering). */
  const repairs: string[] = [];
  /** What each read's onStaleReplies said: `node:lagMs` of each stale reply. */
  const stale: string[][] = [];
  const coordinator = new Coordinator({
    placement: ringPlacement(ring, 3),
    n: 3,
    links,
    hints: links,
    hlc: new HybridClock(self, clock),
    clock,
    policy,
    readRepair: o.readRepair ?? 'after',
    sloppyQuorum: o.sloppyQuorum ?? false,
    onSpeculate: (node, why) => speculations.push(`${node}:${why}`),
    onReadRepair: (node) => repairs.push(node),
    onStaleReplies: (_opts, replies) =>
      stale.push(replies.map((r) => `${r.node}:${r.lagMs ?? 'none'}`)),
    ...(o.speculateMs === undefined
      ? {}
      : {
          targetedReads: {
            timers: { after: (ms: number, fn: () => void) => sched.at(ms, fn) },
            speculateMs: o.speculateMs,
          },
        }),
  });
  return { links, coordinator, ring, sched, speculations, repairs, stale };
}

/** The first of 200 candidate keys whose preference list satisfies `ok`. */
function keyWhere(ring: Ring, ok: (pref: string[]) => boolean): string {
  return Array.from({ length: 200 }, (_, i) => `key${i}`).find((k) =>
    ok(ring.preferenceList(k, 3)),
  ) as string;
}

function setup(readRepair: 'before' | 'after' = 'after', wallMs = 1_000) {
  let now = wallMs;
  const built = build({ readRepair, nowMs: () => now });
  return { ...built, setNow: (t: number) => (now = t) };
}

const put = (c: Coordinator, key: string, value: string, o = opts(2, 2), seen?: Hlc) =>
  c.write(
    key,
    { value: enc(value), contentType: 'text/plain', tombstone: false },
    o,
    seen === undefined ? undefined : { kind: 'lww', ts: seen },
  );

/** Watches a request without awaiting it, so a test can ask whether it has answered yet. */
function track<T>(p: Promise<T>): { readonly p: Promise<T>; readonly settled: boolean } {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return {
    p,
    get settled() {
      return settled;
    },
  };
}

/** What a request rejected with (fails the test if it resolved). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('the request should have failed'),
    (err: unknown) => err,
  );
}

/** Lets the requests already started reach the fakes (and arm their timers), then steps time. */
async function advance(sched: Scheduler, ms: number): Promise<void> {
  await flush();
  await sched.runFor(ms);
}

const descs = (timings: readonly { node: string; desc: string }[]) =>
  timings.map((t) => `${t.node}:${t.desc}`).sort();

const lwwVersion = (wallMs: number, value: string): Version => ({
  ts: { wallMs, logical: 0, node: 'n1' },
  tombstone: false,
  contentType: 'text/plain',
  value: enc(value),
});

describe('coordinator writes', () => {
  it('sends the write to all N and answers once W acks are in, before the last replica acks', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'hold');
    const write = track(put(coordinator, 'k', 'v1', opts(2, 2)));
    await flush();
    // No time passed and n3 has not answered: W=2 acks (n1, n2) were enough.
    expect(write.settled).toBe(true);
    const result = await write.p;
    const writesSent = links.sent.filter((s) => s.kind === 'write').map((s) => s.node);
    expect(writesSent.sort()).toEqual(NODES);
    expect(links.heldCount('n3')).toBe(1);
    expect(links.holding('k').sort()).toEqual(['n1', 'n2']);
    expect(descs(result.timings)).toEqual(['n1:ok', 'n2:ok', 'n3:pending']);
    expect(links.hints).toEqual([]);
    // The third replica still gets it when it answers.
    links.release('n3');
    await flush();
    expect(links.holding('k').sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('does not answer while fewer than W replicas have acked, and answers at the W-th ack', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n2', 'hold');
    links.modes.set('n3', 'hold');
    const write = track(put(coordinator, 'k', 'v1', opts(2, 2)));
    await flush();
    expect(write.settled).toBe(false);
    expect(links.holding('k')).toEqual(['n1']);
    expect(links.heldCount('n2') + links.heldCount('n3')).toBe(2);
    links.release('n2');
    await flush();
    expect(write.settled).toBe(true);
    expect(descs((await write.p).timings)).toEqual(['n1:ok', 'n2:ok', 'n3:pending']);
  });

  it('answers 503 at once when too few replicas are up, and writes nothing', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n2', 'down');
    links.modes.set('n3', 'down');
    await expect(put(coordinator, 'k', 'v')).rejects.toBeInstanceOf(UnavailableError);
    expect(links.sent).toEqual([]);
    expect(links.writesSeen).toEqual([]);
    expect(links.hints).toEqual([]);
    const err = await rejection(put(coordinator, 'k', 'v'));
    expect((err as UnavailableError).details()).toEqual({ needed: 2, reachable: 1 });
  });

  it('keeps a hint for a replica that is down', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v');
    expect(links.hints.map((h) => h.target)).toEqual(['n3']);
  });

  it('answers 504 with an indeterminate outcome when acks do not come within the timeout', async () => {
    const { links, coordinator, sched } = setup();
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    const write = track(put(coordinator, 'k', 'v'));
    await advance(sched, TIMEOUT_MS - 1);
    expect(write.settled).toBe(false);
    expect(links.hints).toEqual([]);
    await advance(sched, 1);
    const err = await rejection(write.p);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).details()).toEqual({ indeterminate: true, needed: 2, acked: 1 });
    expect(descs((err as TimeoutError).timings!)).toEqual(['n1:ok', 'n2:timeout', 'n3:timeout']);
    // The replicas that did not ack get hints, so they converge if the write did land.
    expect(links.hints.map((h) => h.target).sort()).toEqual(['n2', 'n3']);
  });

  it('a linearizable write stamps above the highest version a quorum holds, even with a slow clock', async () => {
    const a = setup('after', 5_000);
    await put(a.coordinator, 'k', 'from-the-future', opts(2, 2));
    const future = a.links.version('n2', 'k')!;
    // A second coordinator whose clock is far behind writes over the same replicas.
    const b = setup('before', 1_000);
    for (const [node, store] of a.links.stores) b.links.stores.set(node, new Map(store));
    await put(b.coordinator, 'k', 'later', opts(2, 2, { linearizable: true }));
    const after = b.links.version('n2', 'k')!;
    expect(dec(after.value)).toBe('later');
    expect(compareHlc(after.ts, future.ts)).toBeGreaterThan(0);
  });
});

describe('contexts', () => {
  it('a write carrying a context is stamped above it, even when this clock is behind', async () => {
    const { links, coordinator } = setup('after', 1_000);
    const seen = { wallMs: 50_000, logical: 3, node: 'n2' };
    await put(coordinator, 'k', 'after-read', opts(2, 2), seen);
    const stored = links.version('n1', 'k')!;
    expect(compareHlc(stored.ts, seen)).toBeGreaterThan(0);
  });

  it('reads feed the clock, so a later write from this node stamps above what it read', async () => {
    const { links, coordinator } = setup('after', 1_000);
    const future = { wallMs: 90_000, logical: 0, node: 'n3' };
    for (const node of NODES)
      links.plant(node, 'k', { ts: future, tombstone: false, contentType: 'x', value: enc('old') });
    await coordinator.read('k', opts(2, 2));
    await put(coordinator, 'k', 'new', opts(2, 2));
    expect(dec(links.version('n2', 'k')!.value)).toBe('new');
  });
});

describe('coordinator reads', () => {
  it('returns the newest version among R replies', async () => {
    const { links, coordinator, setNow } = setup();
    await put(coordinator, 'k', 'old', opts(3, 3));
    links.modes.set('n2', 'down');
    setNow(2_000);
    await put(coordinator, 'k', 'new', opts(2, 2));
    links.modes.set('n2', 'ok');
    links.modes.set('n3', 'hang'); // the read must use n1 (new) and n2 (old)
    const r = await coordinator.read('k', opts(2, 2));
    expect(dec(newestVersion(r.set)?.value)).toBe('new');
    // n2 answered with less than the answer: the coordinator repairs it, and says so.
    expect(descs(r.timings)).toEqual(['n1:ok', 'n2:ok;repaired', 'n3:pending']);
  });

  it('reports every stale reply once all asked replicas answered, with how far behind it was', async () => {
    const { links, coordinator, setNow, stale } = setup();
    await put(coordinator, 'k', 'old', opts(3, 3));
    links.modes.set('n2', 'down');
    setNow(3_500);
    await put(coordinator, 'k', 'new', opts(2, 2));
    links.modes.set('n2', 'ok');
    // n3 never had the key: stale with nothing to measure.
    links.stores.get('n3')!.delete('k');
    const r = await coordinator.read('k', opts(3, 3));
    expect(descs(r.timings)).toEqual(['n1:ok', 'n2:ok;repaired', 'n3:ok;repaired']);
    await flush();
    expect(stale.map((replies) => [...replies].sort())).toEqual([['n2:2500', 'n3:none']]);
    // Replicas that agree are not reported.
    await coordinator.read('k', opts(3, 3));
    await flush();
    expect(stale).toHaveLength(1);
  });

  it('says a write reached a replica that is down as a hint: hinted', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'down');
    const w = await put(coordinator, 'k', 'v', opts(2, 2));
    expect(descs(w.timings)).toEqual(['n1:ok', 'n2:ok', 'n3:hinted']);
    expect(links.hints.map((h) => h.target)).toEqual(['n3']);
  });

  it('repairs a stale replica after answering, without waiting for the repair (quorum profile)', async () => {
    const { links, coordinator, repairs } = setup('after');
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v', opts(2, 2));
    links.modes.set('n3', 'ok');
    links.writeModes.set('n3', 'hold'); // n3 answers the read but holds the repair
    expect(links.stores.get('n3')!.has('k')).toBe(false);
    const r = await coordinator.read('k', opts(2, 2));
    expect(dec(newestVersion(r.set)?.value)).toBe('v');
    await flush();
    expect(repairs).toEqual(['n3']);
    expect(links.heldCount('n3')).toBe(1);
    expect(links.stores.get('n3')!.has('k')).toBe(false);
    links.release('n3');
    await flush();
    expect(dec(links.version('n3', 'k')?.value)).toBe('v');
  });

  it('repairs stale replicas in its quorum before answering (cp profile)', async () => {
    const { links, coordinator, repairs } = setup('before');
    links.modes.set('n2', 'down');
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v', opts(1, 1));
    links.modes.set('n2', 'ok');
    links.modes.set('n3', 'ok');
    links.writeModes.set('n3', 'hold');
    // R=3: n2 and n3 are stale, so both must ack the write-back before the read answers.
    const read = track(coordinator.read('k', opts(3, 2)));
    await flush();
    expect(read.settled).toBe(false);
    expect(repairs.sort()).toEqual(['n2', 'n3']);
    links.release('n3');
    await flush();
    expect(read.settled).toBe(true);
    expect(dec(newestVersion((await read.p).set)?.value)).toBe('v');
    expect(links.holding('k').sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('reports a timing for every replica, including those it did not ask', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'down');
    const r = await coordinator.read('nope', opts(2, 2));
    expect(r.set).toBeUndefined();
    expect(descs(r.timings)).toEqual(['n1:ok', 'n2:ok', 'n3:down']);
  });

  it('answers 504 for a read when replies do not come within the timeout, with no indeterminate', async () => {
    const { links, coordinator, sched } = setup();
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    const read = track(coordinator.read('k', opts(2, 2)));
    await advance(sched, TIMEOUT_MS - 1);
    expect(read.settled).toBe(false);
    await advance(sched, 1);
    const err = await rejection(read.p);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).details()).toEqual({ needed: 2, acked: 1 });
  });
});

describe('504 outcomes of linearizable requests', () => {
  /** n1 holds a newer version than n2 and n3; n3 never answers, so the read's quorum is n1+n2. */
  function staleQuorum() {
    const built = setup('after');
    built.links.plant('n1', 'k', lwwVersion(2_000, 'new'));
    built.links.plant('n2', 'k', lwwVersion(1_000, 'old'));
    built.links.plant('n3', 'k', lwwVersion(1_000, 'old'));
    built.links.modes.set('n3', 'hang');
    return built;
  }
  const linearizableRead = (c: Coordinator) => c.read('k', opts(2, 2, { linearizable: true }));

  it('a linearizable read writes the newest version back to a quorum before answering', async () => {
    const { links, coordinator, sched } = staleQuorum();
    const r = await sched.run(linearizableRead(coordinator));
    expect(dec(newestVersion(r.set)?.value)).toBe('new');
    expect(dec(links.version('n2', 'k')?.value)).toBe('new');
    expect(sched.now).toBe(0);
  });

  it.each([
    ['fails', 'fail', 0],
    ['does not answer', 'hang', TIMEOUT_MS],
  ] as const)(
    'a linearizable read whose write-back %s answers 504 by its deadline, with no indeterminate',
    async (_what, mode, answeredAtMs) => {
      const { links, coordinator, sched } = staleQuorum();
      links.writeModes.set('n2', mode); // n2 answers reads, not writes
      const err = await rejection(sched.run(linearizableRead(coordinator)));
      expect(err).toBeInstanceOf(TimeoutError);
      const timeout = err as TimeoutError;
      expect([timeout.status, timeout.code]).toEqual([504, 'timeout']);
      // Only n1 holds the answer: a read changes nothing the client wrote, so its outcome is
      // not indeterminate (errors.ts: only writes say so).
      expect(timeout.details()).toEqual({ needed: 2, acked: 1 });
      expect(timeout.isWrite).toBe(false);
      // The write-back was tried on the stale replica of its quorum, and only there.
      expect(links.sent.filter((s) => s.kind === 'write')).toEqual([{ kind: 'write', node: 'n2' }]);
      expect(dec(links.version('n2', 'k')?.value)).toBe('old');
      expect(links.hints.map((h) => [h.target, dec(newestVersion(h.set)?.value)])).toEqual([
        ['n2', 'new'],
      ]);
      // One deadline for the whole request: a hung write-back ends at the read's timeout.
      expect(sched.now).toBe(answeredAtMs);
    },
  );

  it('a linearizable write whose read phase times out answers 504 with no indeterminate, and sends no write', async () => {
    const { links, coordinator, sched } = setup('before');
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    const err = await rejection(
      sched.run(put(coordinator, 'k', 'v', opts(2, 2, { linearizable: true }))),
    );
    expect(err).toBeInstanceOf(TimeoutError);
    // Nothing was written, so the outcome is known: not applied.
    expect((err as TimeoutError).details()).toEqual({ needed: 2, acked: 1 });
    expect(links.sent.filter((s) => s.kind !== 'read')).toEqual([]);
    expect(links.readsSeen.sort()).toEqual(['n1', 'n2', 'n3']);
    expect(links.holding('k')).toEqual([]);
    expect(links.hints).toEqual([]);
    expect(sched.now).toBe(TIMEOUT_MS);
  });
});

describe('targeted reads', () => {
  const SPECULATE_MS = 20;
  const targeted = () => build({ speculateMs: SPECULATE_MS });
  const write3 = (t: ReturnType<typeof targeted>, key: string) =>
    t.sched.run(
      t.coordinator.write(
        key,
        { value: enc('v'), contentType: 'text/plain', tombstone: false },
        opts(3, 3),
      ),
    );

  it('asks only R replicas, this node first, and one replica reads locally', async () => {
    const t = targeted();
    const { links, coordinator } = t;
    await write3(t, 'k');
    const two = await coordinator.read('k', opts(2, 2));
    expect(links.readsSeen[0]).toBe('n1');
    expect(links.readsSeen).toHaveLength(2);
    expect(two.timings.map((x) => x.node)).toHaveLength(2);
    links.readsSeen.length = 0;
    const one = await coordinator.read('k', opts(1, 2));
    expect(links.readsSeen).toEqual(['n1']);
    expect(one.timings.map((x) => `${x.node}:${x.desc}`)).toEqual(['n1:ok']);
    expect(t.speculations).toEqual([]);
  });

  it('asks the peer that has been answering faster', async () => {
    const t = targeted();
    const { links, coordinator } = t;
    links.delays.set('n2', 15);
    // Writes go to every replica, so they teach the coordinator who is slow.
    for (let i = 0; i < 3; i++) await write3(t, `k${i}`);
    expect(coordinator.latencies().get('n2')).toBeGreaterThan(coordinator.latencies().get('n3')!);
    links.readsSeen.length = 0;
    await t.sched.run(coordinator.read('k0', opts(2, 2)));
    expect(links.readsSeen.sort()).toEqual(['n1', 'n3']);
  });

  it('asks the next replica at once when one fails, before any time passes', async () => {
    const t = targeted();
    const { links, coordinator, sched } = t;
    links.delays.set('n3', 10); // so n2 is the one asked first
    await write3(t, 'k');
    links.delays.delete('n3');
    links.modes.set('n2', 'fail');
    links.readsSeen.length = 0;
    const startedAt = sched.now;
    const read = track(coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 })));
    await flush();
    expect(read.settled).toBe(true);
    expect(sched.now).toBe(startedAt);
    const r = await read.p;
    expect(dec(newestVersion(r.set)?.value)).toBe('v');
    expect(links.readsSeen).toEqual(['n1', 'n2', 'n3']);
    expect(t.speculations).toEqual(['n3:failed']);
    expect(descs(r.timings)).toEqual(['n1:ok', 'n2:unreachable', 'n3:ok']);
  });

  it('speculates past a replica that does not answer after speculateMs, long before the timeout', async () => {
    const t = targeted();
    const { links, coordinator, sched } = t;
    await write3(t, 'k');
    // Both peers look equally fast; whichever is asked first hangs.
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    links.readsSeen.length = 0;
    const read = track(coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 })));
    await flush();
    expect(links.readsSeen).toHaveLength(2);
    expect(links.readsSeen[0]).toBe('n1');
    const first = links.readsSeen[1] as string;
    const next = first === 'n2' ? 'n3' : 'n2';
    links.modes.set(next, 'ok');
    await advance(sched, SPECULATE_MS - 1);
    expect(read.settled).toBe(false);
    expect(links.readsSeen).not.toContain(next);
    await advance(sched, 1);
    expect(read.settled).toBe(true);
    expect(t.speculations).toEqual([`${next}:slow`]);
    const r = await read.p;
    expect(r.timings.find((x) => x.node === first)?.desc).toBe('pending');
    // The one that hung is now the slow one: the next read goes straight past it.
    links.modes.set(first, 'ok');
    links.readsSeen.length = 0;
    await sched.run(coordinator.read('k', opts(2, 2)));
    expect(links.readsSeen).not.toContain(first);
  });

  it('still fails fast when too few replicas can answer', async () => {
    const t = targeted();
    const { links, coordinator, sched } = t;
    links.modes.set('n2', 'fail');
    links.modes.set('n3', 'fail');
    const read = track(coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 })));
    await flush();
    expect(read.settled).toBe(true);
    expect(sched.now).toBe(0);
    const err = await rejection(read.p);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).details()).toEqual({ needed: 2, acked: 1 });
    expect(links.readsSeen.sort()).toEqual(['n1', 'n2', 'n3']);
    expect(t.speculations).toHaveLength(1);
    expect(t.speculations[0]).toMatch(/^n[23]:failed$/);
  });
});

describe('siblings mode', () => {
  const siblingsSetup = (self = 'n1', nodes = NODES, siblingsMax = 100) =>
    build({ self, nodes, siblingsMax, policy: SIBLINGS });
  const write = (c: Coordinator, value: string, clock?: VClock, o = opts(2, 2)) =>
    c.write(
      'k',
      { value: enc(value), contentType: 'text/plain', tombstone: false },
      o,
      clock === undefined ? undefined : { kind: 'clock', clock },
    );
  const values = (set: VersionSet | undefined) =>
    (set?.siblings ?? []).map((s) => dec(s.value)).sort();

  it('keeps concurrent writes as siblings and resolves them with a read context', async () => {
    const { coordinator } = siblingsSetup();
    await write(coordinator, 'a');
    await write(coordinator, 'b');
    const read = await coordinator.read('k', opts(2, 2));
    expect(values(read.set)).toEqual(['a', 'b']);
    await write(coordinator, 'resolved', read.set!.clock);
    expect(values((await coordinator.read('k', opts(3, 2))).set)).toEqual(['resolved']);
  });

  it('a write with an older context becomes a sibling instead of overwriting', async () => {
    const { coordinator } = siblingsSetup();
    await write(coordinator, 'v1');
    const old = (await coordinator.read('k', opts(2, 2))).set!.clock;
    await write(coordinator, 'v2', old);
    await write(coordinator, 'v3', old);
    expect(values((await coordinator.read('k', opts(3, 2))).set)).toEqual(['v2', 'v3']);
  });

  it('is issued by a replica of the key: the coordinator itself when it is one, else forwarded', async () => {
    const { coordinator } = siblingsSetup();
    const r = await write(coordinator, 'x', undefined, opts(3, 3));
    expect(r.set.siblings[0]!.dot?.node).toBe('n1');
    // A coordinator outside the preference list forwards to the first reachable replica.
    const outside = siblingsSetup('n5', ['n1', 'n2', 'n3', 'n4', 'n5']);
    const key = keyWhere(outside.ring, (p) => !p.includes('n5'));
    const pref = outside.ring.preferenceList(key, 3);
    outside.links.modes.set(pref[0]!, 'fail');
    const res = await outside.coordinator.write(
      key,
      { value: enc('y'), contentType: 'text/plain', tombstone: false },
      opts(1, 1),
    );
    expect(res.set.siblings[0]!.dot?.node).toBe(pref[1]);
  });

  it('refuses a write past the sibling cap with 409, and accepts the resolving write', async () => {
    const { coordinator } = siblingsSetup('n1', NODES, 2);
    await write(coordinator, 'a');
    await write(coordinator, 'b');
    const err = await write(coordinator, 'c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManySiblingsError);
    expect((err as TooManySiblingsError).status).toBe(409);
    const read = await coordinator.read('k', opts(3, 3));
    await write(coordinator, 'fixed', read.set!.clock, opts(3, 3));
    expect(values((await coordinator.read('k', opts(3, 3))).set)).toEqual(['fixed']);
  });
});

describe('sloppy quorum', () => {
  const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];
  function sloppySetup(sloppyQuorum: boolean) {
    const { links, coordinator, ring } = build({ nodes: FIVE, sloppyQuorum });
    const key = keyWhere(ring, (pref) => pref.includes('n1'));
    const pref = ring.preferenceList(key, 3);
    const down = pref.filter((n) => n !== 'n1');
    for (const n of down) links.modes.set(n, 'down');
    return { links, coordinator, key, down, ring };
  }
  const w = (c: Coordinator, key: string, o: ReturnType<typeof opts>) =>
    c.write(key, { value: enc('v'), contentType: 'text/plain', tombstone: false }, o);

  it('counts the next healthy nodes toward W when home replicas are down', async () => {
    const { links, coordinator, key, down, ring } = sloppySetup(true);
    await w(coordinator, key, opts(1, 3));
    const fallbacks = ring.preferenceList(key, 5).slice(3);
    expect(links.handoffs.map((h) => h.home).sort()).toEqual([...down].sort());
    expect(links.handoffs.map((h) => h.node).sort()).toEqual([...fallbacks].sort());
    expect(links.hints).toEqual([]);
  });

  it('without sloppy quorum the same write is unavailable', async () => {
    const { coordinator, key } = sloppySetup(false);
    await expect(w(coordinator, key, opts(1, 3))).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('review fixes', () => {
  const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];

  it('a siblings write whose issuer was sent it but dropped the link is a 504, never re-issued', async () => {
    const { links, coordinator, ring } = build({ self: 'n5', nodes: FIVE, policy: SIBLINGS });
    const key = keyWhere(ring, (pref) => !pref.includes('n5'));
    const first = ring.preferenceList(key, 3)[0]!;
    links.modes.set(first, 'lost');
    const err = await coordinator
      .write(key, { value: enc('v'), contentType: 't', tombstone: false }, opts(1, 1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).details()).toMatchObject({ indeterminate: true });
    expect(links.updatesSeen).toEqual([first]);
  });

  it('a linearizable write does not count stand-ins toward W, even in a sloppy profile', async () => {
    const { links, coordinator, ring } = build({
      nodes: FIVE,
      readRepair: 'before',
      sloppyQuorum: true,
    });
    const key = keyWhere(ring, (pref) => pref[0] === 'n1');
    links.modes.set(ring.preferenceList(key, 3)[2]!, 'down');
    links.modes.set(ring.preferenceList(key, 3)[1]!, 'down');
    const write = (linearizable: boolean) =>
      coordinator.write(
        key,
        { value: enc('v'), contentType: 't', tombstone: false },
        opts(2, 2, { linearizable }),
      );
    await expect(write(true)).rejects.toBeInstanceOf(UnavailableError);
    expect(links.handoffs).toEqual([]);
    // A plain write at the same level may use them (Dynamo's sloppy quorum).
    await write(false);
    expect(links.handoffs.length).toBe(2);
  });
});
