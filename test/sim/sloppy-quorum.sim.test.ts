// Sloppy quorum, simulated over real nodes: with two of a key's three home replicas down,
// writes still reach W nodes by handing off to the next healthy nodes on the ring, and once the
// homes are back, each node's own hint replay (no anti-entropy runs) gives them every write. A
// failure names its seed; run it alone with SIM_SEED=<seed>.

import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../src/config.js';
import { checkConvergence, checkRun } from './checks.js';
import type { WriteRecord } from './history.js';
import { NodeCluster } from './node-cluster.js';
import { forEachSeed, seedsTimeoutMs } from './sim-seeds.js';

const TIMEOUT_MS = seedsTimeoutMs(1_000);

async function scenario(seed: number, mode: ConflictMode): Promise<void> {
  const c = await NodeCluster.start({
    seed,
    mode,
    nodes: 5,
    sloppyQuorum: true,
    antiEntropyIntervalMs: 0,
  });
  try {
    await run(c, seed);
  } catch (err) {
    throw c.failed(err);
  } finally {
    await c.stop();
  }
}

async function run(c: NodeCluster, seed: number): Promise<void> {
  const probe = c.preferenceList(`probe-${seed}`);
  const down = [probe[1]!, probe[2]!];
  const keys = Array.from({ length: 200 }, (_, i) => `k${seed}-${i}`)
    .filter((k) => down.every((d) => c.preferenceList(k).includes(d)))
    .slice(0, 6);
  expect(keys.length).toBeGreaterThanOrEqual(3);

  for (const d of down) c.crash(d);
  // Long enough for every failure detector to notice.
  await c.sched.runFor(c.net.config.detectMaxMs * 2);
  const up = c.ids.filter((id) => !down.includes(id));
  const writes: WriteRecord[] = [];
  for (const [i, key] of keys.entries()) {
    const w = 1 + (i % 3);
    const coordinator = up[(seed + i) % up.length]!;
    const { record, done } = c.write(coordinator, key, { r: 1, w });
    await c.sched.run(done);
    expect(record.outcome, `write of ${key} at w=${w} via ${coordinator}`).toBe('ok');
    writes.push(record);
  }
  // Writes acknowledged early (W=1) reach the other nodes in the background.
  await c.sched.runFor(c.config.timeoutMs * 2);

  for (const record of writes) {
    // The homes that are down hold nothing yet; stand-ins hold the write for them as hints.
    for (const home of down) {
      expect(await c.store(home).get(record.key)).toBeUndefined();
      let keeping = 0;
      for (const id of up) {
        const hint = (await c.store(id).hintsFor(home, 1_000)).find((h) => h.key === record.key);
        if (hint !== undefined && c.policy.dominates(hint.set, record.result!)) keeping += 1;
      }
      expect(keeping, `hints for ${home} of ${record.key}`).toBeGreaterThan(0);
    }
    // Stand-ins keep hints, not data: no node outside the preference list stores the key.
    for (const id of up)
      if (!c.preferenceList(record.key).includes(id))
        expect(await c.store(id).get(record.key), `${id} stores ${record.key}`).toBeUndefined();
  }

  for (const d of down) await c.restart(d);
  // Detectors notice the homes, and the nodes' hint replay timers deliver.
  await c.sched.runFor(c.net.config.detectMaxMs * 2 + 4 * c.config.timeoutMs);

  for (const record of writes) {
    for (const home of c.preferenceList(record.key)) {
      const held = await c.store(home).get(record.key);
      expect(
        held !== undefined && c.policy.dominates(held, record.result!),
        `${home} holds write ${record.id} of ${record.key}`,
      ).toBe(true);
    }
  }
  expect(c.aeRepairedTotal(), 'anti-entropy repaired keys, but none ran').toBe(0);
  expect([...checkRun(c), ...checkConvergence(c, await c.finalState())]).toEqual([]);
}

describe('sloppy quorum with two home replicas down', { timeout: TIMEOUT_MS }, () => {
  for (const mode of ['siblings', 'lww'] as ConflictMode[]) {
    it(`writes at W=1..3 succeed via fallbacks, and hint replay brings the homes up to date (${mode})`, async () => {
      await forEachSeed(1, (seed) => scenario(seed, mode));
    });
  }
});
