// Sloppy quorum, simulated: with two of a key's three home replicas down, writes still reach W
// nodes by handing off to the next healthy nodes on the ring, and once the homes are back,
// hint replay alone (no anti-entropy) gives them every write. A failure names its seed; run it
// alone with SIM_SEED=<seed>.

import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../src/config.js';
import { checkConvergence, checkRun } from './checks.js';
import { SimCluster, type WriteRecord } from './sim-cluster.js';
import { forEachSeed } from './sim-seeds.js';

async function scenario(seed: number, mode: ConflictMode): Promise<void> {
  const c = new SimCluster({
    seed,
    mode,
    nodes: 5,
    sloppyQuorum: true,
    faults: false,
    background: false,
    ops: 0,
  });
  const probe = c.preferenceList(`probe-${seed}`);
  const down = [probe[1]!, probe[2]!];
  const keys = Array.from({ length: 200 }, (_, i) => `k${seed}-${i}`)
    .filter((k) => down.every((d) => c.preferenceList(k).includes(d)))
    .slice(0, 6);
  expect(keys.length).toBeGreaterThanOrEqual(3);

  for (const d of down) c.net.crash(d);
  // Long enough for every failure detector to notice.
  await c.sched.runFor(300);
  const up = c.nodeIds.filter((id) => !down.includes(id));
  const writes: WriteRecord[] = [];
  for (const [i, key] of keys.entries()) {
    const w = 1 + (i % 3);
    const coordinator = up[(seed + i) % up.length]!;
    const { record, done } = c.write(
      coordinator,
      key,
      { r: 1, w, linearizable: false, timeoutMs: 300 },
      {},
    );
    await c.sched.run(done);
    expect(record.outcome, `write of ${key} at w=${w} via ${coordinator}`).toBe('ok');
    writes.push(record);
  }
  await c.sched.runUntilIdle();

  for (const record of writes) {
    // The homes that are down hold nothing yet; stand-ins hold the write for them as hints.
    for (const home of down) {
      expect(c.replicas.get(home)!.read(record.key)).toBeUndefined();
      const keeping = up.filter((id) => {
        const hint = c.replicas.get(id)!.hints.get(home)?.get(record.key);
        return hint !== undefined && c.policy.dominates(hint, record.result!);
      });
      expect(keeping.length, `hints for ${home} of ${record.key}`).toBeGreaterThan(0);
    }
    // Stand-ins keep hints, not data: no node outside the preference list stores the key.
    for (const id of up)
      if (!c.preferenceList(record.key).includes(id))
        expect(c.replicas.get(id)!.read(record.key)).toBeUndefined();
  }

  for (const d of down) c.net.restart(d);
  await c.sched.runFor(300);
  await c.sched.run(Promise.all([...c.replicas.values()].map((r) => r.replayHints())));
  await c.sched.runUntilIdle();

  for (const record of writes) {
    for (const home of c.preferenceList(record.key)) {
      const held = c.replicas.get(home)!.read(record.key);
      expect(
        held !== undefined && c.policy.dominates(held, record.result!),
        `${home} holds write ${record.id} of ${record.key}`,
      ).toBe(true);
    }
  }
  expect([...checkRun(c), ...checkConvergence(c)]).toEqual([]);
}

describe('sloppy quorum with two home replicas down', () => {
  for (const mode of ['siblings', 'lww'] as ConflictMode[]) {
    it(`writes at W=1..3 succeed via fallbacks, and hint replay brings the homes up to date (${mode})`, async () => {
      await forEachSeed(1, (seed) => scenario(seed, mode));
    });
  }
});
