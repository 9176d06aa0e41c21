// kill -9 of one replica: the cluster keeps serving at quorum, `kvorum serve` brings the node
// back with its data, and hinted handoff gives it the writes it missed without user action.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from '../support/cluster.js';

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ profile: 'quorum' });
});
afterAll(async () => {
  await c?.stop();
});

describe('kill -9 and restart', () => {
  it('keeps quorum service, restarts with its data, and catches up on missed writes', async () => {
    for (let i = 0; i < 10; i++)
      expect((await c.put('n1', `old-${i}`, `old-value-${i}`, '?w=all')).status).toBe(204);

    await c.kill('n3'); // SIGKILL
    for (let i = 0; i < 20; i++) {
      const via = i % 2 === 0 ? 'n1' : 'n2';
      expect((await c.put(via, `missed-${i}`, `missed-value-${i}`)).status).toBe(204);
    }
    expect((await c.del('n1', 'old-0')).status).toBe(204);
    for (let i = 0; i < 20; i++)
      expect(await (await c.get('n2', `missed-${i}`)).text()).toBe(`missed-value-${i}`);

    const pending = (await c.status('n1')).hints.pending + (await c.status('n2')).hints.pending;
    expect(pending).toBeGreaterThanOrEqual(21);

    await c.restart('n3');
    await c.waitAllUp();
    await until(
      'hints to drain',
      async () => (await c.status('n1')).hints.pending + (await c.status('n2')).hints.pending === 0,
    );

    // Check n3's own copy: cut it off and read with r=one, so only its store can answer.
    await c.partition([['n1', 'n2'], ['n3']]);
    await c.waitSees('n3', 'down', ['n1', 'n2']);
    for (let i = 0; i < 20; i++)
      expect(await (await c.get('n3', `missed-${i}`, '?r=one')).text()).toBe(`missed-value-${i}`);
    for (let i = 1; i < 10; i++)
      expect(await (await c.get('n3', `old-${i}`, '?r=one')).text()).toBe(`old-value-${i}`);
    expect((await c.get('n3', 'old-0', '?r=one')).status).toBe(404);
    await c.heal();
  });
});

describe('a restart with the wall clock set back', () => {
  let one: TestCluster | undefined;
  afterAll(async () => {
    await one?.stop();
  });

  it('stamps new writes above the ones made before the restart', async () => {
    one = await TestCluster.start({ nodes: 1 });
    expect((await one.put('n1', 'k', 'before')).status).toBe(204);
    await one.kill('n1');
    // A minute behind: without the saved HLC mark, the next write would be stamped below
    // 'before', acknowledged, and then lose to it.
    await one.restart('n1', ['--clock-offset-ms', '-60000']);
    expect((await one.put('n1', 'k', 'after')).status).toBe(204);
    expect(await (await one.get('n1', 'k')).text()).toBe('after');
    expect(one.logs.get('n1')?.join('')).toMatch(/wall clock is behind the HLC mark/);
  });
});
