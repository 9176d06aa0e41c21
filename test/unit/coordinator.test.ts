import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/core/coordinator.js';
import { TimeoutError, TooManySiblingsError, UnavailableError } from '../../src/core/errors.js';
import { HybridClock, compareHlc, type Hlc } from '../../src/core/hlc.js';
import { Ring } from '../../src/core/ring.js';
import { LWW, SIBLINGS, newestVersion, type ConflictPolicy } from '../../src/core/conflicts.js';
import type { VClock, VersionSet } from '../../src/core/version-set.js';
import { FakeLinks } from '../support/fake-links.js';

const NODES = ['n1', 'n2', 'n3'];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const opts = (
  r: number,
  w: number,
  extra: { linearizable?: boolean; timeoutMs?: number } = {},
) => ({
  r,
  w,
  linearizable: extra.linearizable ?? false,
  timeoutMs: extra.timeoutMs ?? 50,
});

interface BuildOptions {
  self?: string;
  nodes?: readonly string[];
  policy?: ConflictPolicy;
  siblingsMax?: number;
  readRepair?: 'before' | 'after';
  sloppyQuorum?: boolean;
  nowMs?: () => number;
  /** Targeted reads with real timers, speculating after this many ms. */
  speculateMs?: number;
}

/** A coordinator on `self` over fake replicas `nodes` (N=3, 16 vnodes each). */
function build(o: BuildOptions = {}) {
  const self = o.self ?? 'n1';
  const nodes = o.nodes ?? NODES;
  const policy = o.policy ?? LWW;
  const ring = new Ring(nodes, 16);
  const links = new FakeLinks(self, nodes, policy, o.siblingsMax ?? 100);
  const clock = { nowMs: o.nowMs ?? (() => 1_000), monotonicMs: () => performance.now() };
  const coordinator = new Coordinator({
    ring,
    n: 3,
    links,
    hints: links,
    hlc: new HybridClock(self, clock),
    clock,
    policy,
    readRepair: o.readRepair ?? 'after',
    sloppyQuorum: o.sloppyQuorum ?? false,
    ...(o.speculateMs === undefined
      ? {}
      : {
          targetedReads: {
            timers: {
              after: (ms: number, fn: () => void) => {
                const t = setTimeout(fn, ms);
                return { cancel: () => clearTimeout(t) };
              },
            },
            speculateMs: o.speculateMs,
          },
        }),
  });
  return { links, coordinator, ring };
}

/** The first of 200 candidate keys whose preference list satisfies `ok`. */
function keyWhere(ring: Ring, ok: (pref: string[]) => boolean): string {
  return Array.from({ length: 200 }, (_, i) => `key${i}`).find((k) =>
    ok(ring.preferenceList(k, 3)),
  ) as string;
}

function setup(readRepair: 'before' | 'after' = 'after', wallMs = 1_000) {
  let now = wallMs;
  const { links, coordinator } = build({ readRepair, nowMs: () => now });
  return { links, coordinator, setNow: (t: number) => (now = t) };
}

const put = (c: Coordinator, key: string, value: string, o = opts(2, 2), seen?: Hlc) =>
  c.write(
    key,
    { value: enc(value), contentType: 'text/plain', tombstone: false },
    o,
    seen === undefined ? undefined : { kind: 'lww', ts: seen },
  );

async function until(cond: () => boolean, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('coordinator writes', () => {
  it('writes to all N and answers after W acks', async () => {
    const { links, coordinator } = setup();
    await put(coordinator, 'k', 'v1');
    await until(() => links.holding('k').length === 3);
  });

  it('answers 503 at once when too few replicas are up, and writes nothing', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n2', 'down');
    links.modes.set('n3', 'down');
    await expect(put(coordinator, 'k', 'v')).rejects.toBeInstanceOf(UnavailableError);
    expect(links.writesSeen).toEqual([]);
    expect(links.hints).toEqual([]);
    const err = await put(coordinator, 'k', 'v').catch((e: UnavailableError) => e);
    expect((err as UnavailableError).details()).toEqual({ needed: 2, reachable: 1 });
  });

  it('keeps a hint for a replica that is down', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v');
    expect(links.hints.map((h) => h.target)).toEqual(['n3']);
  });

  it('answers 504 with an indeterminate outcome when acks do not come in time', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    const err = await put(coordinator, 'k', 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).details()).toMatchObject({
      indeterminate: true,
      needed: 2,
      acked: 1,
    });
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
  });

  it('repairs a stale replica after answering (quorum profile)', async () => {
    const { links, coordinator } = setup('after');
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v', opts(2, 2));
    links.modes.set('n3', 'ok');
    expect(links.stores.get('n3')!.has('k')).toBe(false);
    await coordinator.read('k', opts(2, 2));
    await until(() => links.stores.get('n3')!.has('k'));
  });

  it('repairs stale replicas in its quorum before answering (cp profile)', async () => {
    const { links, coordinator } = setup('before');
    links.modes.set('n2', 'down');
    links.modes.set('n3', 'down');
    await put(coordinator, 'k', 'v', opts(1, 1));
    links.modes.set('n2', 'ok');
    links.modes.set('n3', 'ok');
    await coordinator.read('k', opts(3, 2));
    // Before the read resolved, every replica in its quorum holds the value.
    expect(links.holding('k').sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('reports a timing for every replica, including those it did not ask', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n3', 'down');
    const r = await coordinator.read('nope', opts(2, 2));
    expect(r.set).toBeUndefined();
    expect(r.timings.map((t) => `${t.node}:${t.desc}`).sort()).toEqual([
      'n1:ok',
      'n2:ok',
      'n3:down',
    ]);
  });

  it('answers 504 for a read when replies do not come in time', async () => {
    const { links, coordinator } = setup();
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    await expect(coordinator.read('k', opts(2, 2))).rejects.toBeInstanceOf(TimeoutError);
  });
});

describe('targeted reads', () => {
  const targeted = () => build({ speculateMs: 20 });
  const write3 = (c: Coordinator, key: string) =>
    c.write(key, { value: enc('v'), contentType: 'text/plain', tombstone: false }, opts(3, 3));

  it('asks only R replicas, this node first, and one replica reads locally', async () => {
    const { links, coordinator } = targeted();
    await write3(coordinator, 'k');
    const two = await coordinator.read('k', opts(2, 2));
    expect(links.readsSeen[0]).toBe('n1');
    expect(links.readsSeen).toHaveLength(2);
    expect(two.timings.map((t) => t.node)).toHaveLength(2);
    links.readsSeen.length = 0;
    const one = await coordinator.read('k', opts(1, 2));
    expect(links.readsSeen).toEqual(['n1']);
    expect(one.timings.map((t) => `${t.node}:${t.desc}`)).toEqual(['n1:ok']);
  });

  it('asks the peer that has been answering faster', async () => {
    const { links, coordinator } = targeted();
    links.delays.set('n2', 15);
    // Writes go to every replica, so they teach the coordinator who is slow.
    for (let i = 0; i < 3; i++) await write3(coordinator, `k${i}`);
    links.readsSeen.length = 0;
    await coordinator.read('k0', opts(2, 2));
    expect(links.readsSeen.sort()).toEqual(['n1', 'n3']);
  });

  it('asks the next replica at once when one fails', async () => {
    const { links, coordinator } = targeted();
    links.delays.set('n3', 10); // so n2 is the one asked first
    await write3(coordinator, 'k');
    links.delays.delete('n3');
    links.modes.set('n2', 'fail');
    const started = performance.now();
    const r = await coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 }));
    expect(dec(newestVersion(r.set)?.value)).toBe('v');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.timings.map((t) => `${t.node}:${t.desc}`).sort()).toEqual([
      'n1:ok',
      'n2:unreachable',
      'n3:ok',
    ]);
  });

  it('speculates past a replica that does not answer, long before the timeout', async () => {
    const { links, coordinator } = targeted();
    await write3(coordinator, 'k');
    // Both peers look equally fast; whichever is asked first hangs.
    links.modes.set('n2', 'hang');
    links.modes.set('n3', 'hang');
    const asked = coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 }));
    await until(() => links.readsSeen.filter((n) => n !== 'n1').length >= 1);
    const first = links.readsSeen.find((n) => n !== 'n1') as string;
    links.modes.set(first === 'n2' ? 'n3' : 'n2', 'ok');
    const started = performance.now();
    const r = await asked;
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.timings.find((t) => t.node === first)?.desc).toBe('pending');
    // The one that hung is now the slow one: the next read goes straight past it.
    links.modes.set(first, 'ok');
    links.readsSeen.length = 0;
    await coordinator.read('k', opts(2, 2));
    expect(links.readsSeen).not.toContain(first);
  });

  it('still fails fast when too few replicas can answer', async () => {
    const { links, coordinator } = targeted();
    links.modes.set('n2', 'fail');
    links.modes.set('n3', 'fail');
    await expect(coordinator.read('k', opts(2, 2, { timeoutMs: 5_000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
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
