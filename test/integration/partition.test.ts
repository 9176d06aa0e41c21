// A partition {n1,n2}|{n3} through the real admin API: what the quorum profile answers on each
// side, what w=one/r=one accepts, and that every node reads the latest value after heal.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerTiming } from '../../console/src/server-timing.js';
import { TestCluster, until } from '../support/cluster.js';

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ profile: 'quorum' });
});
afterAll(async () => {
  await c?.stop();
});

describe('partition {n1,n2} | {n3} at quorum', () => {
  it('runs the whole partition and heal scenario', async () => {
    expect((await c.put('n1', 'p', 'before', '?w=all')).status).toBe(204);

    await c.partition([['n1', 'n2'], ['n3']]);
    await c.waitSees('n3', 'down', ['n1', 'n2']);
    await c.waitSees('n1', 'down', ['n3']);

    // The minority side refuses at once and writes nothing. With 30 s to wait for replicas, a
    // refusal that waited would be a 504; a 503 that counts one reachable replica of the two
    // needed, and names the others down without asking them, did not wait for anyone.
    const t0 = performance.now();
    const refused = await c.put('n3', 'minority-only', 'should-not-exist', '?timeout=30000');
    expect(refused.status).toBe(503);
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(await refused.json()).toMatchObject({ error: 'unavailable', needed: 2, reachable: 1 });
    // Nobody was asked; Server-Timing says who was down.
    const refusedTiming = refused.headers.get('server-timing') ?? '';
    expect(refusedTiming).toMatch(/n1;dur=0\.0;desc="down"/);
    expect(refusedTiming).toMatch(/n2;dur=0\.0;desc="down"/);
    expect((await c.put('n3', 'p', 'minority')).status).toBe(503);
    expect((await c.get('n3', 'p')).status).toBe(503);

    // The majority keeps serving.
    expect((await c.put('n1', 'p', 'majority')).status).toBe(204);
    expect(await (await c.get('n2', 'p')).text()).toBe('majority');

    // At w=one / r=one both sides accept writes (the AP trade).
    expect((await c.put('n3', 'split', 'minority-side', '?w=one')).status).toBe(204);
    const minorityRead = await c.get('n3', 'split', '?r=one');
    expect(await minorityRead.text()).toBe('minority-side');
    // The client saw the minority's write, and sends that read's context with the next write:
    // n1 must stamp it above what the read saw, whatever either node's clock says.
    const seen = minorityRead.headers.get('x-kvorum-context');
    expect(seen).toBeTruthy();
    expect(
      (
        await c.put('n1', 'split', 'majority-side', '?w=one', {
          'x-kvorum-context': seen as string,
        })
      ).status,
    ).toBe(204);
    // w=one answers after the first ack; n2's own copy may lag by a moment (that is r=one).
    await until(
      'n2 to read the majority-side write at r=one',
      async () => (await (await c.get('n2', 'split', '?r=one')).text()) === 'majority-side',
    );

    await c.heal();
    await c.waitAllUp();

    // Every node reads the latest value (last write wins by HLC) ...
    for (const id of c.ids) {
      expect(await (await c.get(id, 'p')).text()).toBe('majority');
      expect(await (await c.get(id, 'split')).text()).toBe('majority-side');
      // ... and the refused write never appears.
      expect((await c.get(id, 'minority-only', '?r=all')).status).toBe(404);
    }
    // Hinted handoff and read repair bring each node's own copy up to date.
    await until('every node to hold the latest copies', async () => {
      for (const id of c.ids) {
        if ((await (await c.get(id, 'split', '?r=one')).text()) !== 'majority-side') return false;
        if ((await (await c.get(id, 'p', '?r=one')).text()) !== 'majority') return false;
      }
      return true;
    });
  });

  it('with one replica delayed, quorum reads answer from the two fast ones', async () => {
    for (let i = 0; i < 3; i++)
      expect((await c.put('n1', `fast${i}`, 'v', '?w=all')).status).toBe(204);
    const res0 = await c.admin('n1', 'PUT', '/admin/faults', {
      delay: { n3: { ms: 1_000, jitterMs: 0 } },
    });
    expect(res0.status).toBe(200);
    try {
      // A write reaches every replica, so it shows n1 that n3 is slow.
      expect((await c.put('n1', 'teach', 'v', '?w=all&timeout=30000')).status).toBe(204);
      for (let i = 0; i < 3; i++) {
        const res = await c.get('n1', `fast${i}`, '?r=quorum');
        expect(res.status).toBe(200);
        // Server-Timing says who answered: n1 and n2. n3 is either not asked or still pending
        // (a read asks one more replica when one is slow): never waited for.
        const desc = Object.fromEntries(
          parseServerTiming(res.headers.get('server-timing')).map((t) => [t.node, t.desc]),
        );
        expect(desc).toMatchObject({ n1: 'ok', n2: 'ok' });
        expect([undefined, 'pending']).toContain(desc.n3);
      }
    } finally {
      await c.heal();
    }
  });

  it('a 504 carries Server-Timing: who answered, and who did not in time', async () => {
    const slow = { ms: 1_000, jitterMs: 0 };
    const res0 = await c.admin('n1', 'PUT', '/admin/faults', { delay: { n2: slow, n3: slow } });
    expect(res0.status).toBe(200);
    try {
      const res = await c.put('n1', 'slow', 'v', '?w=all&timeout=200');
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ error: 'timeout', indeterminate: true, acked: 1 });
      const timing = res.headers.get('server-timing') ?? '';
      expect(timing).toMatch(/n1;dur=[\d.]+;desc="ok"/);
      expect(timing).toMatch(/n2;dur=[\d.]+;desc="(pending|timeout)"/);
    } finally {
      await c.heal();
    }
  });
});
