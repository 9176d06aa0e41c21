// Measured staleness with real processes: a read whose replicas disagree records how far the
// stale one was behind (kvorum_read_staleness_seconds, kvorum_stale_replies_total), and
// Server-Timing says which replicas the coordinator repaired.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from '../support/cluster.js';

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ profile: 'quorum' });
});
afterAll(async () => {
  await c?.stop();
});

/** The value of one sample line of n's /metrics, 0 when the series does not exist yet. */
async function metric(id: string, series: string): Promise<number> {
  const text = await (await c.admin(id, 'GET', '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const count = (level: string) => `kvorum_read_staleness_seconds_count{level="${level}"}`;
const stale = (level: string) => `kvorum_stale_replies_total{level="${level}"}`;

describe('measured staleness', () => {
  it('stays empty when R+W>N, and records a lagging replica written at w=one', async () => {
    // W=all, R=quorum: every replica holds each write before it is acknowledged.
    for (let i = 0; i < 20; i++) {
      expect((await c.put('n1', 'agreed', `v${i}`, '?w=all')).status).toBe(204);
      expect((await c.get('n2', 'agreed', '?r=quorum')).status).toBe(200);
      expect((await c.get('n2', 'agreed', '?r=all')).status).toBe(200);
    }
    for (const level of ['quorum', 'all']) {
      expect(await metric('n2', stale(level))).toBe(0);
      expect(await metric('n2', count(level))).toBe(0);
    }

    // n1's writes reach n3 300 ms late. A w=one write through n1, read at r=all through n2
    // right after, finds n3 still on the previous version.
    expect(
      (await c.admin('n1', 'PUT', '/admin/faults', { delay: { n3: { ms: 300, jitterMs: 0 } } }))
        .status,
    ).toBe(200);
    let repairedSeen = false;
    for (let i = 0; i < 5; i++) {
      expect((await c.put('n1', 'lagging', `v${i}`, '?w=one')).status).toBe(204);
      const read = await c.get('n2', 'lagging', '?r=all');
      expect(read.status).toBe(200);
      if (/n3;dur=[\d.]+;desc="ok;repaired"/.test(read.headers.get('server-timing') ?? ''))
        repairedSeen = true;
    }
    expect(repairedSeen, 'Server-Timing names n3 as repaired').toBe(true);
    await until(
      'the stale replies are counted',
      async () => (await metric('n2', stale('all'))) > 0,
    );
    // Replies holding an older version have a lag to record; the first, holding nothing, not.
    expect(await metric('n2', count('all'))).toBeGreaterThan(0);
    expect(await metric('n2', `kvorum_read_staleness_seconds_sum{level="all"}`)).toBeGreaterThan(0);
    expect((await c.admin('n1', 'PUT', '/admin/faults', {})).status).toBe(200);
  });

  it('says which replica a write reached as a hint: hinted', async () => {
    await c.partition([['n1', 'n2'], ['n3']]);
    await c.waitSees('n1', 'down', ['n3']);
    const w = await c.put('n1', 'hinted', 'v', '?w=quorum');
    expect(w.status).toBe(204);
    expect(w.headers.get('server-timing')).toMatch(/n3;dur=[\d.]+;desc="hinted"/);
    await c.heal();
  });
});
