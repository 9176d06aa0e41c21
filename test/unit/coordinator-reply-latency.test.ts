// The coordinator's onReplyLatency hook, the source of PBS's latency samples: every successful
// reply to a write or a read, this node's own replica included, with its round trip in
// (virtual) ms; failed replies and stand-ins' acks are not latencies a replica took to hold a key.

import { describe, expect, it } from 'vitest';
import { LWW } from '../../src/core/conflicts.js';
import { Coordinator } from '../../src/core/coordinator.js';
import { HybridClock } from '../../src/core/hlc.js';
import { ringPlacement } from '../../src/core/placement.js';
import { Ring } from '../../src/core/ring.js';
import { FakeLinks, flush } from '../support/fake-links.js';
import { Scheduler } from '../sim/scheduler.js';

const NODES = ['n1', 'n2', 'n3'];
const opts = (r: number, w: number) => ({ r, w, linearizable: false, timeoutMs: 100 });

function build(nodes = NODES, sloppyQuorum = false) {
  const sched = new Scheduler();
  const links = new FakeLinks('n1', nodes, { sched });
  const clock = { nowMs: () => 1_000, monotonicMs: () => sched.now };
  const replies: string[] = [];
  const coordinator = new Coordinator({
    placement: ringPlacement(new Ring(nodes, 16), 3),
    n: 3,
    links,
    hints: links,
    hlc: new HybridClock('n1', clock),
    clock,
    policy: LWW,
    readRepair: 'after',
    sloppyQuorum,
    onReplyLatency: (node, kind, ms) => replies.push(`${kind} ${node} ${ms}`),
  });
  return { sched, links, coordinator, replies };
}

const value = { value: new TextEncoder().encode('v'), contentType: 'text/plain', tombstone: false };

describe('coordinator: onReplyLatency', () => {
  it('reports each replica of a write and of a read with its round trip, this node included, also after the answer', async () => {
    const { sched, links, coordinator, replies } = build();
    links.delays.set('n2', 5);
    links.delays.set('n3', 9);
    await sched.run(coordinator.write('k', value, opts(2, 2)));
    // W=2 answered at n2's ack; n3's comes after and still counts.
    await flush();
    await sched.runFor(20);
    expect(replies.sort()).toEqual(['write n1 0', 'write n2 5', 'write n3 9']);
    replies.length = 0;
    await sched.run(coordinator.read('k', opts(3, 2)));
    expect(replies.sort()).toEqual(['read n1 0', 'read n2 5', 'read n3 9']);
  });

  it('leaves out replies that failed', async () => {
    const { sched, links, coordinator, replies } = build();
    links.modes.set('n3', 'fail');
    await sched.run(coordinator.write('k', value, opts(2, 2)));
    await sched.run(coordinator.read('k', opts(2, 2)));
    await flush();
    expect(replies.sort()).toEqual(['read n1 0', 'read n2 0', 'write n1 0', 'write n2 0']);
  });

  it("leaves out a stand-in's ack: it holds a hint, not the key", async () => {
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    const { sched, links, coordinator, replies } = build(nodes, true);
    const ring = new Ring(nodes, 16);
    const key = Array.from({ length: 200 }, (_, i) => `key${i}`).find((k) => {
      const pref = ring.preferenceList(k, 3);
      return pref.includes('n1') && !pref.includes('n4') && pref.includes('n3');
    }) as string;
    links.modes.set('n3', 'down');
    await sched.run(coordinator.write(key, value, opts(2, 3)));
    await flush();
    expect(links.handoffs.map((h) => `${h.node} for ${h.home}`)).toEqual(['n4 for n3']);
    expect(replies.sort()).toEqual(['write n1 0', 'write n2 0']);
  });
});
