// A 503 `unavailable` means nothing was written: after the refusal, the heal, the hints
// draining and an anti-entropy exchange from every node, no node holds anything of the refused
// write (a fresh key stays absent, an older value stays exactly as it was) and no hint for it
// is pending. Checked in the quorum and cp profiles, and in ap with siblings and sloppy quorum.

import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, until, type ClusterOptions, type LocalCopy } from '../support/cluster.js';
import { Ring } from '../../src/core/ring.js';
import { LIMITS } from '../../src/config.js';

interface Hints {
  pending: number;
  byTarget: Record<string, number>;
}

async function hintsOf(cl: TestCluster, id: string): Promise<Hints> {
  const { pending, byTarget } = ((await cl.status(id)) as unknown as { hints: Hints }).hints;
  return { pending, byTarget };
}

interface Refusal {
  method: 'PUT' | 'DELETE';
  key: string;
  query: string;
  needed: number;
  reachable: number;
}

interface Scenario {
  name: string;
  options: ClusterOptions;
  /** The partition during which `via` refuses; `via` alone, or with too few others. */
  groups: string[][];
  via: string;
  /** Keys written (w=all) before the partition: a refused write must leave their value as is. */
  old: string[];
  /** Keys never written: a refused write must leave them absent everywhere. */
  fresh: string[];
  refusals: Refusal[];
}

const AP_IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];
const apRing = new Ring(AP_IDS, LIMITS.vnodesPerNode);
const candidates = Array.from({ length: 500 }, (_, i) => `ap-key:${i}`);
/** Keys n1 is a home replica of (`home`) or not (`away`), N=3 of 5. */
const [homeOld, homeFresh] = candidates.filter((k) => apRing.preferenceList(k, 3).includes('n1'));
const [awayOld, awayFresh] = candidates.filter((k) => !apRing.preferenceList(k, 3).includes('n1'));

/** The minority n3 of {n1,n2}|{n3}: every write it coordinates at w=quorum is refused. */
function minorityScenario(profile: 'quorum' | 'cp'): Scenario {
  return {
    name: `${profile}: n3 on the minority side of {n1,n2}|{n3}`,
    options: { profile, nodes: 3 },
    groups: [['n1', 'n2'], ['n3']],
    via: 'n3',
    old: ['old'],
    fresh: ['fresh'],
    refusals: [
      { method: 'PUT', key: 'fresh', query: '', needed: 2, reachable: 1 },
      { method: 'PUT', key: 'old', query: '', needed: 2, reachable: 1 },
      { method: 'DELETE', key: 'old', query: '', needed: 2, reachable: 1 },
    ],
  };
}

const SCENARIOS: Scenario[] = [
  minorityScenario('quorum'),
  minorityScenario('cp'),
  {
    // n1 cut off from everyone: for a key it is home of, it alone is reachable; for a key it is
    // not, it is its own stand-in (reachable 1), but in siblings mode only a home may issue the
    // write, so even w=one is refused (needed 1, reachable 0).
    name: 'ap with siblings and sloppy quorum (5 nodes, N=3): n1 isolated',
    options: { profile: 'ap', conflicts: 'siblings', nodes: 5, n: 3 },
    groups: [['n1'], ['n2', 'n3', 'n4', 'n5']],
    via: 'n1',
    old: [homeOld as string, awayOld as string],
    fresh: [homeFresh as string, awayFresh as string],
    refusals: [
      { method: 'PUT', key: homeFresh as string, query: '?w=2', needed: 2, reachable: 1 },
      { method: 'PUT', key: homeOld as string, query: '?w=all', needed: 3, reachable: 1 },
      { method: 'DELETE', key: homeOld as string, query: '?w=2', needed: 2, reachable: 1 },
      { method: 'PUT', key: awayFresh as string, query: '?w=2', needed: 2, reachable: 1 },
      { method: 'PUT', key: awayFresh as string, query: '', needed: 1, reachable: 0 },
      { method: 'PUT', key: awayOld as string, query: '', needed: 1, reachable: 0 },
      { method: 'DELETE', key: awayOld as string, query: '', needed: 1, reachable: 0 },
    ],
  },
];

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('a write refused with 503 leaves no trace', () => {
  for (const s of SCENARIOS) {
    it(`${s.name}: no node holds the refused write and no hint for it is pending`, async () => {
      c = await TestCluster.start(s.options);
      const cl = c;
      const keys = [...s.old, ...s.fresh];
      for (const key of s.old)
        expect((await cl.put('n2', key, `older-value-of-${key}`, '?w=all')).status).toBe(204);
      // What every node holds before the refusals: the exact copies they must still hold after.
      const before = new Map<string, LocalCopy | undefined>();
      for (const id of cl.ids)
        for (const key of keys) before.set(`${id}/${key}`, await cl.local(id, key));
      for (const key of s.old)
        expect(cl.ids.filter((id) => before.get(`${id}/${key}`) !== undefined)).toHaveLength(3);
      for (const key of s.fresh)
        for (const id of cl.ids) expect(before.get(`${id}/${key}`)).toBeUndefined();
      for (const id of cl.ids) expect(await hintsOf(cl, id)).toEqual({ pending: 0, byTarget: {} });

      await cl.partition(s.groups);
      const others = cl.ids.filter((id) => !s.groups.find((g) => g.includes(s.via))?.includes(id));
      await cl.waitSees(s.via, 'down', others);

      for (const r of s.refusals) {
        const res =
          r.method === 'PUT'
            ? await cl.put(s.via, r.key, `refused-${r.key}`, r.query)
            : await cl.del(s.via, r.key, r.query);
        const what = `${r.method} ${r.key}${r.query}`;
        expect(res.status, what).toBe(503);
        expect(await res.json(), what).toMatchObject({
          error: 'unavailable',
          needed: r.needed,
          reachable: r.reachable,
        });
      }
      // Refused at once: not even the coordinator kept a hint (or a stand-in's handoff).
      for (const id of cl.ids)
        expect(await hintsOf(cl, id), id).toEqual({ pending: 0, byTarget: {} });

      await cl.heal(s.via);
      await cl.waitAllUp();
      await until(
        'hints to drain on every node',
        async () => {
          for (const id of cl.ids) if ((await hintsOf(cl, id)).pending !== 0) return false;
          return true;
        },
        30_000,
      );
      // Every replica already agrees on every key, so no exchange finds anything to repair; a
      // trace of a refused write on any node would show here, and be spread by the exchange.
      for (const id of cl.ids) {
        const repair = await cl.repair(id);
        expect(Object.keys(repair.peers).sort(), `peers ${id} exchanged with`).toEqual(
          cl.ids.filter((o) => o !== id),
        );
        for (const [peer, result] of Object.entries(repair.peers))
          expect((result as { error?: string }).error, `${id} <-> ${peer}`).toBeUndefined();
        expect(repair.keysRepaired, `keys repaired from ${id}`).toBe(0);
      }

      for (const id of cl.ids) {
        expect(await hintsOf(cl, id), id).toEqual({ pending: 0, byTarget: {} });
        for (const key of keys)
          expect(await cl.local(id, key), `${id}'s copy of ${key}`).toEqual(
            before.get(`${id}/${key}`),
          );
      }
    });
  }
});
