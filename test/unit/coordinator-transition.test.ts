// The coordinator while two layout versions are live: a write must reach W replicas in the
// key's preference list of each version, reads (and ABD's read phase) ask the version reads
// use, a linearizable read writes its answer back to a quorum of every version, and sloppy
// stand-ins are not used. The placement is written by hand: old [n1 n2 n3], new [n1 n4 n5].

import { describe, expect, it } from 'vitest';
import { LWW, SIBLINGS, type ConflictPolicy } from '../../src/core/conflicts.js';
import { Coordinator } from '../../src/core/coordinator.js';
import { TimeoutError, UnavailableError } from '../../src/core/errors.js';
import { HybridClock } from '../../src/core/hlc.js';
import type { KeyPlacement } from '../../src/core/placement.js';
import { SetsWriteTally } from '../../src/core/tally.js';
import type { Version } from '../../src/core/version.js';
import { FakeLinks, flush } from '../support/fake-links.js';
import { Scheduler } from '../sim/scheduler.js';

const OLD = ['n1', 'n2', 'n3'];
const NEW = ['n1', 'n4', 'n5'];
const ALL = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
const TIMEOUT_MS = 50;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

function transition(): KeyPlacement {
  return {
    readSet: () => OLD,
    writeSets: () => [OLD, NEW],
    // What a settled cluster would offer as stand-ins: must not be used in a transition.
    walk: () => [...NEW, 'n2', 'n3', 'n6'],
  };
}

function build(sloppyQuorum = false, policy: ConflictPolicy = LWW) {
  const sched = new Scheduler();
  const links = new FakeLinks('n1', ALL, { sched, policy });
  const clock = { nowMs: () => 1_000, monotonicMs: () => sched.now };
  const coordinator = new Coordinator({
    placement: transition(),
    n: 3,
    links,
    hints: links,
    hlc: new HybridClock('n1', clock),
    clock,
    policy,
    readRepair: 'before',
    sloppyQuorum,
  });
  return { sched, links, coordinator };
}

const opts = (r: number, w: number, linearizable = false) => ({
  r,
  w,
  linearizable,
  timeoutMs: TIMEOUT_MS,
});

const put = (c: Coordinator, value: string, o = opts(2, 2)) =>
  c.write('k', { value: enc(value), contentType: 'text/plain', tombstone: false }, o);

const version = (wallMs: number, value: string): Version => ({
  ts: { wallMs, logical: 0, node: 'n2' },
  tombstone: false,
  contentType: 'text/plain',
  value: enc(value),
});

describe('SetsWriteTally', () => {
  it('counts a node in every set it is in, once however often it acks', () => {
    const t = new SetsWriteTally([OLD, NEW], new Set(['n1', 'n2', 'n4']), 2);
    t.addAck('n1');
    t.addAck('n1');
    expect(t.succeeded()).toBe(false);
    t.addAck('n2');
    expect(t.isDecided()).toBe(false);
    expect(t.ackCount).toBe(1);
    t.addAck('n4');
    expect(t.succeeded()).toBe(true);
    expect(t.ackCount).toBe(2);
  });

  it('is decided as failed once one set can no longer reach W, whatever the others have', () => {
    const t = new SetsWriteTally([OLD, NEW], new Set(['n1', 'n2', 'n3', 'n4']), 2);
    t.addAck('n1');
    t.addAck('n2');
    t.addAck('n3');
    expect(t.isDecided()).toBe(false);
    t.addFailure('n4');
    expect(t.isDecided()).toBe(true);
    expect(t.succeeded()).toBe(false);
  });
});

describe('coordinator during a layout transition', () => {
  it('answers 503 when the new version cannot reach W, though the old one could, and writes nothing', async () => {
    const { links, coordinator } = build();
    links.modes.set('n4', 'down');
    links.modes.set('n5', 'down');
    const err = await put(coordinator, 'v').then(
      () => expect.unreachable('the write should be refused'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).details()).toEqual({ needed: 2, reachable: 1 });
    expect(links.writesSeen).toEqual([]);
  });

  it('does not answer on W acks of the old version alone: it waits for W in the new one', async () => {
    const { links, coordinator, sched } = build();
    links.modes.set('n4', 'hold');
    links.modes.set('n5', 'hold');
    let settled = false;
    const write = put(coordinator, 'v').finally(() => (settled = true));
    await flush();
    expect(links.holding('k').sort()).toEqual(['n1', 'n2', 'n3']);
    expect(settled).toBe(false);
    links.release('n5');
    await flush();
    expect(settled).toBe(true);
    await write;
    expect(links.holding('k').sort()).toEqual(['n1', 'n2', 'n3', 'n5']);
    await sched.runFor(TIMEOUT_MS * 2);
  });

  it('times out (504) when the new version never gets its W, though every old replica acked', async () => {
    const { links, coordinator, sched } = build();
    links.modes.set('n4', 'hang');
    links.modes.set('n5', 'hang');
    const write = put(coordinator, 'v').then(
      () => expect.unreachable('the write should time out'),
      (e: unknown) => e,
    );
    await flush();
    await sched.runFor(TIMEOUT_MS + 1);
    expect(await write).toBeInstanceOf(TimeoutError);
  });

  it("asks only the read version's replicas in ABD's read phase", async () => {
    const { links, coordinator } = build();
    await put(coordinator, 'v', opts(2, 2, true));
    const asked = links.sent.filter((s) => s.kind === 'read').map((s) => s.node);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((n) => OLD.includes(n))).toBe(true);
  });

  it('a linearizable read writes its answer back to a quorum of the new version too', async () => {
    const { links, coordinator } = build();
    // A write that reached the old version's quorum and nothing of the new one.
    links.plant('n2', 'k', version(2_000, 'old-quorum'));
    links.plant('n3', 'k', version(2_000, 'old-quorum'));
    const read = await coordinator.read('k', opts(2, 2, true));
    expect(dec(read.set?.siblings[0]?.value)).toBe('old-quorum');
    const newHolders = NEW.filter((n) => dec(links.version(n, 'k')?.value) === 'old-quorum').length;
    expect(newHolders).toBeGreaterThanOrEqual(2);
  });

  it('uses no sloppy stand-ins: a down home gets a hint, not a handoff', async () => {
    const { links, coordinator } = build(true);
    links.modes.set('n3', 'down');
    await put(coordinator, 'v', opts(1, 2));
    expect(links.handoffs).toEqual([]);
    expect(links.hints.map((h) => h.target)).toContain('n3');
  });

  it('a siblings write is issued only by a replica of the read version; one not synced passes it on', async () => {
    const { links, coordinator } = build(false, SIBLINGS);
    // n1 (this node) says its layout does not have it synced for the key yet.
    links.notIssuers.add('n1');
    await put(coordinator, 'v');
    expect(links.updatesSeen).toEqual(['n2']);
    const issued = links.stores.get('n2')!.get('k')!;
    expect(issued.siblings.map((s) => s.dot?.node)).toEqual(['n2']);
    // With the read version's replicas all unable to issue, the write is refused, not issued
    // by a new owner whose store may lack its own earlier dots.
    links.notIssuers.add('n2');
    links.modes.set('n3', 'down');
    await expect(put(coordinator, 'w')).rejects.toBeInstanceOf(UnavailableError);
    expect(links.updatesSeen).toEqual(['n2']);
    expect(links.sent.filter((s) => s.kind === 'update').map((s) => s.node)).not.toContain('n4');
  });
});
