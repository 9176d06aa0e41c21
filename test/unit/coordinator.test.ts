import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/core/coordinator.js';
import { TimeoutError, UnavailableError } from '../../src/core/errors.js';
import { HybridClock, compareHlc, type Hlc } from '../../src/core/hlc.js';
import { Ring } from '../../src/core/ring.js';
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

function setup(readRepair: 'before' | 'after' = 'after', wallMs = 1_000) {
  const links = new FakeLinks('n1', NODES);
  let now = wallMs;
  const clock = { nowMs: () => now, monotonicMs: () => performance.now() };
  const coordinator = new Coordinator({
    ring: new Ring(NODES, 16),
    n: 3,
    links,
    hints: links,
    hlc: new HybridClock('n1', clock),
    clock,
    readRepair,
  });
  return { links, coordinator, setNow: (t: number) => (now = t) };
}

const put = (c: Coordinator, key: string, value: string, o = opts(2, 2), seen?: Hlc) =>
  c.write(key, { value: enc(value), contentType: 'text/plain', tombstone: false }, o, seen);

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
    const future = a.links.stores.get('n2')!.get('k')!;
    // A second coordinator whose clock is far behind writes over the same replicas.
    const b = setup('before', 1_000);
    for (const [node, store] of a.links.stores) b.links.stores.set(node, new Map(store));
    await put(b.coordinator, 'k', 'later', opts(2, 2, { linearizable: true }));
    const after = b.links.stores.get('n2')!.get('k')!;
    expect(dec(after.value)).toBe('later');
    expect(compareHlc(after.ts, future.ts)).toBeGreaterThan(0);
  });
});

describe('contexts', () => {
  it('a write carrying a context is stamped above it, even when this clock is behind', async () => {
    const { links, coordinator } = setup('after', 1_000);
    const seen = { wallMs: 50_000, logical: 3, node: 'n2' };
    await put(coordinator, 'k', 'after-read', opts(2, 2), seen);
    const stored = links.stores.get('n1')!.get('k')!;
    expect(compareHlc(stored.ts, seen)).toBeGreaterThan(0);
  });

  it('reads feed the clock, so a later write from this node stamps above what it read', async () => {
    const { links, coordinator } = setup('after', 1_000);
    const future = { wallMs: 90_000, logical: 0, node: 'n3' };
    for (const s of links.stores.values())
      s.set('k', { ts: future, tombstone: false, contentType: 'x', value: enc('old') });
    await coordinator.read('k', opts(2, 2));
    await put(coordinator, 'k', 'new', opts(2, 2));
    expect(dec(links.stores.get('n2')!.get('k')!.value)).toBe('new');
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
    expect(dec(r.version?.value)).toBe('new');
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
    expect(r.version).toBeUndefined();
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
