// Tombstone GC, simulated over real nodes: a workload heavy in deletes under the usual faults
// (crashes and restarts included, so each restarted node rebuilds its GC candidates from its
// store), then, once healed, half the keys are deleted with the context of a read that saw
// everything. Once every tombstone is past its grace period, GC must have purged every deleted
// key on every node, and nothing it purged may come back: the acknowledged-write checks of the
// replication runs hold across the purges. A failure names its seed; SIM_SEED=<seed> replays it.

import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../src/config.js';
import { newestVersion } from '../../src/core/conflicts.js';
import type { ParsedContext } from '../../src/core/context.js';
import { checkAll, checkPurged } from './checks.js';
import { NodeCluster } from './node-cluster.js';
import { forEachSeed, replayAll, seedsTimeoutMs, SIM_ONLY } from './sim-seeds.js';
import { WORKLOAD_DEFAULTS, Workload } from './workload.js';

const TIMEOUT_MS = seedsTimeoutMs(1_500);

/**
 * Deletes every other key that is present (the workload may have deleted some already), each
 * with the context of a read of every replica.
 */
async function deleteHalf(c: NodeCluster, keys: readonly string[]): Promise<number> {
  const n = c.config.n;
  let deleted = 0;
  let present = 0;
  for (const [i, key] of keys.entries()) {
    const via = c.ids[i % c.ids.length]!;
    const set = await c.sched.run(c.read(via, key, { r: n, w: n }));
    if (set instanceof Error) throw set;
    if (set === undefined || set.siblings.every((s) => s.tombstone)) continue;
    if (present++ % 2 === 1) continue;
    const context: ParsedContext =
      c.policy.mode === 'siblings'
        ? { kind: 'clock', clock: set.clock }
        : { kind: 'lww', ts: newestVersion(set)!.ts };
    const { record, done } = c.write(via, key, { r: n, w: n }, { tombstone: true, context });
    await c.sched.run(done);
    expect(record.outcome, `delete of ${key} via ${via}`).toBe('ok');
    deleted += 1;
  }
  return deleted;
}

async function scenario(seed: number, mode: ConflictMode): Promise<number> {
  const nodes = seed % 2 === 0 ? 3 : 5;
  const c = await NodeCluster.start({ seed, mode, nodes, tombstoneGraceMs: 1_000 });
  try {
    const work = new Workload(c, { ...WORKLOAD_DEFAULTS, ops: 100, deleteRate: 0.4 });
    await work.run();
    await c.heal();
    await c.converge();
    expect(await deleteHalf(c, work.keys), 'keys deleted').toBeGreaterThan(0);
    await c.ageTombstones();
    const report = await c.converge();
    await c.sched.run(work.outstanding());
    const final = await c.finalState();
    const problems = [...checkAll(c, final), ...checkPurged(c, final)];
    if (!report.converged) problems.unshift(`no fixpoint after ${report.rounds} rounds`);
    expect(problems, `${mode}, ${nodes} nodes`).toEqual([]);
    return new Set(c.history.purges.map((p) => `${p.key}@${p.at}`)).size;
  } catch (err) {
    throw c.failed(err);
  } finally {
    await c.stop();
  }
}

describe('tombstone GC under faults', { timeout: TIMEOUT_MS }, () => {
  for (const mode of ['siblings', 'lww'] as ConflictMode[]) {
    it(`purges every deleted key once past grace, and nothing purged comes back (${mode})`, async () => {
      let purged = 0;
      await forEachSeed(11_000, async (seed) => {
        purged += await scenario(seed, mode);
      });
      if (SIM_ONLY === undefined)
        expect(purged, `keys purged over ${replayAll(11_000)}`).toBeGreaterThan(0);
    });
  }
});
