// GET /admin/console against real processes: one poll of any node shows every node's figures,
// the links with their measured round trips and faults, the ring, and the traffic per level,
// so a partition's 503s show on the minority; a dead node shows as such without holding the
// poll up. The page itself (GET /) is public and carries nothing of the cluster.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import type { ConsoleClusterView, ConsoleNodeView } from '../../src/core/console-view.js';
import { TestCluster, until } from '../support/cluster.js';
import { makeStaleReply } from '../support/stale-reply.js';

const TOKEN = 'console-admin-token';
let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ adminToken: TOKEN });
});
afterAll(async () => {
  await c?.stop();
});

async function clusterView(via: string): Promise<ConsoleClusterView> {
  const res = await c.admin(via, 'GET', '/admin/console');
  if (res.status !== 200) throw new Error(`console of ${via}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ConsoleClusterView;
}

function nodeOf(view: ConsoleClusterView, id: string): ConsoleNodeView {
  const entry = view.nodes.find((e) => e.id === id);
  if (entry?.view === undefined) throw new Error(`${id} has no figures: ${entry?.error}`);
  return entry.view;
}

function level(view: ConsoleNodeView, name: string) {
  return view.traffic.levels.find((f) => f.level === name);
}

describe('the console API on a real cluster', () => {
  it('serves the page without the token, and the figures only with it', async () => {
    const page = await fetch(`${c.url('n2')}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('kvorum console');
    for (const id of c.ids) expect(html).not.toContain(id);
    const refused = await fetch(`${c.url('n2')}/admin/console`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      error: 'unauthorized',
      message: expect.stringMatching(/admin token/),
    });
    const bad = await c.admin('n2', 'GET', '/admin/console?scope=all');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_argument' });
  });

  it('one poll of any node shows every node, the ring and measured round trips', async () => {
    // Round trips come from pings the polls start: the first poll sends them, a later one shows them.
    const view = await until('every link to have a measured round trip', async () => {
      const v = await clusterView('n2');
      const measured = c.ids.every((id) =>
        Object.values(nodeOf(v, id).peers).every((p) => p.rttMs !== null),
      );
      return measured ? v : false;
    });
    expect(view).toMatchObject({ self: 'n2', profile: 'quorum', n: 3, r: 'quorum', w: 'quorum' });
    expect(view.layout.nodes.map((n) => [n.id, n.state])).toEqual([
      ['n1', 'member'],
      ['n2', 'member'],
      ['n3', 'member'],
    ]);
    expect(view.nodes.map((e) => e.id)).toEqual(['n1', 'n2', 'n3']);
    let primary = 0;
    for (const id of c.ids) {
      const v = nodeOf(view, id);
      expect(v.id).toBe(id);
      expect(v.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(v.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(Object.keys(v.peers).sort()).toEqual(c.ids.filter((o) => o !== id));
      for (const p of Object.values(v.peers)) {
        expect(p).toMatchObject({ up: true, unreachable: false });
        // Loopback: well under a second even on a busy machine.
        expect(p.rttMs).toBeLessThan(1_000);
      }
      const share = view.ring.shares[id];
      expect(share?.ranges).toBeGreaterThan(0);
      expect(share?.replica).toBeCloseTo(1, 9); // N = 3 nodes: every node holds every key
      primary += share?.primary ?? 0;
    }
    expect(primary).toBeCloseTo(1, 9);
    expect(view.ring.arcs?.length).toBeGreaterThan(3);
  });

  it('a delay on a link shows in its round trip; heal takes it away', async () => {
    const set = await c.admin('n1', 'PUT', '/admin/faults', {
      delay: { n2: { ms: 150, jitterMs: 0 } },
    });
    expect(set.status).toBe(200);
    try {
      const v = await until('n1 to measure the delayed link to n2', async () => {
        const n1 = nodeOf(await clusterView('n1'), 'n1');
        return (n1.peers.n2?.rttMs ?? 0) >= 150 ? n1 : false;
      });
      expect(v.faults.delay).toEqual({ n2: { ms: 150, jitterMs: 0 } });
      // Only what n1 sends is delayed: n1's link to n3 keeps its loopback round trip.
      expect(v.peers.n3?.rttMs).toBeLessThan(150);
    } finally {
      await c.heal();
    }
    await until('the round trip to n2 to be fast again', async () => {
      const n1 = nodeOf(await clusterView('n1'), 'n1');
      return (n1.peers.n2?.rttMs ?? Infinity) < 150;
    });
  });

  it("counts traffic per level, and shows the minority's writes turning to 503 in a partition", async () => {
    for (let i = 0; i < 5; i++) expect((await c.put('n3', `before-${i}`, 'v')).status).toBe(204);
    expect((await c.get('n3', 'before-0', '?r=one')).status).toBe(200);
    // A view up to consoleViewReuseMs old may be answered again: poll until it shows the writes.
    const before = await until('n3 to count its writes', async () => {
      const n3 = nodeOf(await clusterView('n1'), 'n3');
      return (level(n3, 'write quorum')?.statuses['2xx'] ?? 0) >= 5 ? n3 : false;
    });
    expect(level(before, 'write quorum')?.statuses['503']).toBe(0);
    expect(level(before, 'read one')?.statuses['2xx']).toBeGreaterThanOrEqual(1);

    await c.partition([['n1', 'n2'], ['n3']]);
    try {
      await c.waitSees('n3', 'down', ['n1', 'n2']);
      for (let i = 0; i < 5; i++) expect((await c.put('n3', `during-${i}`, 'v')).status).toBe(503);
      expect((await c.put('n1', 'majority', 'v')).status).toBe(204);

      const view = await until('the partition and the 503s to show from n1', async () => {
        const v = await clusterView('n1');
        const refused = level(nodeOf(v, 'n3'), 'write quorum')?.statuses['503'] ?? 0;
        return nodeOf(v, 'n1').peers.n3?.unreachable && refused >= 5 ? v : false;
      });
      const n3 = nodeOf(view, 'n3');
      expect(level(n3, 'write quorum')?.statuses['503']).toBeGreaterThanOrEqual(5);
      expect(n3.faults.block).toEqual(['n1', 'n2']);
      expect(n3.peers.n1?.up).toBe(false);
      // n1's writes still succeed: its 2xx count grew, it has no 503.
      expect(level(nodeOf(view, 'n1'), 'write quorum')?.statuses).toMatchObject({ '503': 0 });
      // The admin API is untouched by the partition: n3 still answers the poll.
      expect(view.nodes.every((e) => e.view !== undefined)).toBe(true);
    } finally {
      await c.heal();
    }
    await c.waitAllUp();
  });

  it('shows the stale replies a node met, per read level, as its /metrics counts them', async () => {
    await makeStaleReply(c, 'console-stale', 60);
    const n2 = await until('n2 to show its stale reply', async () => {
      const v = nodeOf(await clusterView('n1'), 'n2');
      return v.staleness.levels.some((f) => f.level === 'all') ? v : false;
    });
    expect(n2.staleness.windowMs).toBe(LIMITS.stalenessWindowMs);
    const all = n2.staleness.levels.find((f) => f.level === 'all');
    expect(all).toMatchObject({ total: 1, replies: 1, lagged: 1 });
    expect(all?.perSecond).toBeGreaterThan(0);
    // 60 ms of wall time between the writes, within a histogram bucket (a quarter octave).
    expect(all?.lagP50Ms).toBeGreaterThanOrEqual(60 / 2 ** 0.25);
    expect(all?.lagP99Ms).toBe(all?.lagP50Ms);
    const metrics = await (await c.admin('n2', 'GET', '/metrics')).text();
    expect(metrics).toMatch(/^kvorum_stale_replies_total\{level="all"\} 1$/m);
    expect(metrics).toMatch(/^kvorum_read_staleness_seconds_count\{level="all"\} 1$/m);
    // The read went through n2: the other nodes met nothing stale at that level.
    const n1 = nodeOf(await clusterView('n1'), 'n1');
    expect(n1.staleness.levels.find((f) => f.level === 'all')).toBeUndefined();
  });

  it('a node that hangs holds a poll up for the fan-out timeout, no longer', async () => {
    const n2 = c.procs.get('n2');
    n2?.kill('SIGSTOP');
    try {
      let pollMs = 0;
      const view = await until('n1 to show n2 without figures', async () => {
        const started = performance.now();
        const v = await clusterView('n1');
        pollMs = performance.now() - started;
        return v.nodes.find((e) => e.id === 'n2')?.view === undefined ? v : false;
      });
      expect(view.nodes.find((e) => e.id === 'n2')?.error).toMatch(
        new RegExp(`no answer within ${LIMITS.consoleFanOutTimeoutMs} ms`),
      );
      expect(pollMs).toBeGreaterThanOrEqual(LIMITS.consoleFanOutTimeoutMs - 50);
      expect(pollMs).toBeLessThan(LIMITS.consoleFanOutTimeoutMs + 2_000);
      expect(nodeOf(view, 'n3').id).toBe('n3');
    } finally {
      n2?.kill('SIGCONT');
    }
    await c.waitAllUp();
  });

  it('a node that is down shows with the reason, and does not hold the poll up', async () => {
    await c.kill('n3');
    // A view from just before the kill may be answered again for consoleViewReuseMs.
    let pollMs = 0;
    const view = await until('n1 to show n3 without figures', async () => {
      const started = performance.now();
      const v = await clusterView('n1');
      pollMs = performance.now() - started;
      return v.nodes.find((e) => e.id === 'n3')?.view === undefined ? v : false;
    });
    expect(pollMs).toBeLessThan(LIMITS.consoleFanOutTimeoutMs + 2_000);
    const n3 = view.nodes.find((e) => e.id === 'n3');
    expect(n3?.error).toMatch(/cannot reach/);
    expect(nodeOf(view, 'n2').id).toBe('n2');
    // Still in the layout: it is a member that is down, not a departed node.
    expect(view.layout.nodes.map((n) => n.id)).toContain('n3');
  });
});
