// What a refused or timed-out request says, over real processes. Reads count home replicas
// only (docs/limits.md, "Known gaps": reads are not sloppy), so a stand-in holding a hint never makes a
// read succeed; and a 504 says `indeterminate` exactly when something may have been written.

import { afterEach, describe, expect, it } from 'vitest';
import { parseServerTiming } from '../../console/src/server-timing.js';
import { LIMITS } from '../../src/config.js';
import { Ring } from '../../src/core/ring.js';
import { partitionBlocks } from '../../src/replica/cluster-faults.js';
import { TestCluster, until } from '../support/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

interface ErrorBody {
  error: string;
  needed?: number;
  reachable?: number;
  acked?: number;
  indeterminate?: boolean;
}

interface HintStatus {
  hints: { pending: number; byTarget: Record<string, number> };
}

/** Server-Timing as node -> desc, e.g. { n1: 'ok', n2: 'down' }, read as the console reads it. */
function timingsOf(res: Response): Record<string, string> {
  const entries = parseServerTiming(res.headers.get('server-timing'));
  return Object.fromEntries(entries.map((t) => [t.node, t.desc]));
}

async function hintsOf(cl: TestCluster, id: string): Promise<HintStatus['hints']> {
  return ((await cl.status(id)) as unknown as HintStatus).hints;
}

/** Sets node `id`'s whole fault spec (PUT /admin/faults on that node itself). */
async function setFaults(cl: TestCluster, id: string, spec: object): Promise<void> {
  const res = await cl.admin(id, 'PUT', '/admin/faults', spec);
  if (res.status !== 200) throw new Error(`faults on ${id}: ${res.status} ${await res.text()}`);
}

/** Node `id` cuts off `peers` (both directions, from its side) and nothing else. */
const block = (cl: TestCluster, id: string, peers: readonly string[]) =>
  setFaults(cl, id, { block: peers });

/**
 * The block lists POST /admin/partition would set, set on each node directly: no node relays
 * the call to the others, so a slow peer cannot make the partition half-applied.
 */
async function partition(cl: TestCluster, groups: string[][]): Promise<void> {
  const blocks = partitionBlocks({ groups }, cl.ids);
  await Promise.all([...blocks].map(([id, peers]) => block(cl, id, peers)));
}

describe('reads are not sloppy', () => {
  for (const conflicts of ['lww', 'siblings'] as const) {
    it(`ap/${conflicts}: a read never asks or counts a stand-in, even one that is up and holds the write as a hint`, async () => {
      c = await TestCluster.start({ nodes: 5, n: 3, profile: 'ap', conflicts });
      const cl = c;
      const ring = new Ring(cl.ids, LIMITS.vnodesPerNode);
      const key = Array.from({ length: 500 }, (_, i) => `user:${i}`).find(
        (k) => ring.preferenceList(k, 3)[0] === 'n1',
      ) as string;
      const [, homeB, homeC] = ring.preferenceList(key, 3) as [string, string, string];
      const standIns = ring.preferenceList(key, 5).slice(3) as [string, string];

      // 1. The other two homes cut off: w=all is met only by the two stand-ins taking hints.
      await partition(cl, [['n1', ...standIns], [homeB], [homeC]]);
      for (const id of ['n1', ...standIns]) await cl.waitSees(id, 'down', [homeB, homeC]);
      const write = await cl.put('n1', key, 'v', '?w=all');
      expect(write.status).toBe(204);
      // The homes are down, and each got the write as a hint kept by its stand-in.
      expect(timingsOf(write)).toEqual({
        n1: 'ok',
        [homeB]: 'hinted',
        [homeC]: 'hinted',
        [standIns[0]]: 'ok',
        [standIns[1]]: 'ok',
      });
      // Which stand-in keeps which home's hint.
      const standInFor = new Map<string, string>();
      for (const s of standIns) {
        const hints = await hintsOf(cl, s);
        expect(hints.pending, s).toBe(1);
        const [target] = Object.keys(hints.byTarget);
        standInFor.set(target as string, s);
      }
      expect([...standInFor.keys()].sort()).toEqual([homeB, homeC].sort());
      const standInB = standInFor.get(homeB) as string;
      const standInC = standInFor.get(homeC) as string;

      // Three nodes hold the write, but only one of them is a home: r=2 is refused, and the
      // 503 counts (and names) home replicas only.
      for (const via of ['n1', standInB]) {
        const res = await cl.get(via, key, '?r=2');
        expect(res.status, `r=2 via ${via}`).toBe(503);
        expect(await res.json()).toMatchObject({ error: 'unavailable', needed: 2, reachable: 1 });
        expect(timingsOf(res), `r=2 via ${via}`).toEqual({ [homeB]: 'down', [homeC]: 'down' });
      }
      // A read through a stand-in asks the one home that is up, not the hint it holds itself.
      const one = await cl.get(standInB, key, '?r=one');
      expect(one.status).toBe(200);
      expect(await one.text()).toBe('v');
      expect(timingsOf(one)).toEqual({ n1: 'ok', [homeB]: 'down', [homeC]: 'down' });

      // 2. n1 (the only home with the write) cut off; the other homes back, each still cut off
      // from its own stand-in so no hint is handed over, while homeC sees homeB's stand-in up.
      await block(cl, 'n1', [homeB, homeC, ...standIns]);
      await block(cl, homeB, ['n1', standInB]);
      await block(cl, homeC, ['n1', standInC]);
      await block(cl, standInB, ['n1', homeB]);
      await block(cl, standInC, ['n1', homeC]);
      await cl.waitSees(homeC, 'up', [homeB, standInB]);
      await cl.waitSees(homeC, 'down', ['n1', standInC]);
      // The homes that are up never got the write; the stand-in homeC can reach holds it.
      expect(await cl.local(homeB, key)).toBeUndefined();
      expect(await cl.local(homeC, key)).toBeUndefined();
      expect((await hintsOf(cl, standInB)).byTarget).toEqual({ [homeB]: 1 });
      const missed = await cl.get(homeC, key, '?r=2');
      expect(missed.status).toBe(404);
      expect(timingsOf(missed)).toEqual({ n1: 'down', [homeB]: 'ok', [homeC]: 'ok' });
      const all = await cl.get(homeC, key, '?r=all');
      expect(all.status).toBe(503);
      expect(await all.json()).toMatchObject({ error: 'unavailable', needed: 3, reachable: 2 });
      expect(timingsOf(all)).toEqual({ n1: 'down' });

      // 3. No home reachable at all: a read through a stand-in that holds a hint for the key is
      // refused at r=one, naming the three homes down.
      await partition(cl, [['n1'], [homeB], [homeC], standIns]);
      await cl.waitSees(standInB, 'down', ['n1', homeB, homeC]);
      expect((await hintsOf(cl, standInB)).byTarget).toEqual({ [homeB]: 1 });
      const none = await cl.get(standInB, key, '?r=one');
      expect(none.status).toBe(503);
      expect(await none.json()).toMatchObject({ error: 'unavailable', needed: 1, reachable: 0 });
      expect(timingsOf(none)).toEqual({ n1: 'down', [homeB]: 'down', [homeC]: 'down' });

      // The hints were real: healed, they reach the homes, and reads see the write.
      await partition(cl, [cl.ids]);
      await until(
        'the homes to receive their hints',
        async () => {
          for (const home of [homeB, homeC])
            if ((await cl.localValues(home, key)).join() !== 'v') return false;
          return true;
        },
        30_000,
      );
      await cl.waitSees(standInB, 'up', ['n1', homeB, homeC]);
      const healed = await cl.get(standInB, key, '?r=all');
      expect(healed.status).toBe(200);
      expect(await healed.text()).toBe('v');
    });
  }
});

/**
 * Messages n1 sends to its peers arrive this late: far past the requests' `?timeout=`, which
 * is itself long enough for n1's own replica to answer on a loaded machine.
 */
const DELAY_MS = 4_000;
const TIMEOUT_QUERY = '?timeout=1000';

const SLOW = { ms: DELAY_MS, jitterMs: 0 };
/** Delays everything n1 sends to n2 and n3 by DELAY_MS; their messages to n1 are on time. */
const delayFromN1 = (cl: TestCluster) => setFaults(cl, 'n1', { delay: { n2: SLOW, n3: SLOW } });

describe('504 outcomes', () => {
  it('a linearizable write whose read phase times out answers 504 without indeterminate, and no replica holds it once all n1 sent has arrived', async () => {
    c = await TestCluster.start({ profile: 'quorum' });
    const cl = c;
    await delayFromN1(cl);
    const res = await cl.put('n1', 'lin', 'never', `${TIMEOUT_QUERY}&consistency=linearizable`);
    expect(res.status).toBe(504);
    const body = (await res.json()) as ErrorBody;
    // Only n1's own read phase answered; nothing was sent to be written.
    expect(body).toMatchObject({ error: 'timeout', needed: 2, acked: 1 });
    expect(body.indeterminate).toBeUndefined();
    expect(timingsOf(res).n1).toBe('ok');

    // A marker sent through the same delayed links after the 504: once it has reached n2 and
    // n3, so has everything n1 sent them before it (same delay, FIFO timers, one TCP stream).
    expect((await cl.put('n1', 'marker', 'm', '?w=one')).status).toBe(204);
    await until(
      'the marker to cross the delayed links',
      async () =>
        (await cl.localValues('n2', 'marker')).join() === 'm' &&
        (await cl.localValues('n3', 'marker')).join() === 'm',
      DELAY_MS + 15_000,
    );
    await setFaults(cl, 'n1', {});
    // n1's hints (for the marker) drain too, so nothing of the write is left in flight.
    await until('n1 hints to drain', async () => (await hintsOf(cl, 'n1')).pending === 0);
    for (const id of cl.ids) expect(await cl.local(id, 'lin'), id).toBeUndefined();
  });

  it('a quorum write that reached only its coordinator before timing out answers 504 with indeterminate, and it was applied', async () => {
    c = await TestCluster.start({ profile: 'quorum' });
    const cl = c;
    await delayFromN1(cl);
    const res = await cl.put('n1', 'plain', 'maybe', TIMEOUT_QUERY);
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({
      error: 'timeout',
      needed: 2,
      acked: 1,
      indeterminate: true,
    });
    // The outcome really was unknown to the client: the coordinator applied it, and the
    // delayed messages and hints carry it to the others.
    expect(await cl.localValues('n1', 'plain')).toEqual(['maybe']);
    await setFaults(cl, 'n1', {});
    await until(
      'every replica to hold the timed-out write',
      async () =>
        (await cl.localValues('n2', 'plain')).join() === 'maybe' &&
        (await cl.localValues('n3', 'plain')).join() === 'maybe',
      DELAY_MS + 15_000,
    );
  });
});
