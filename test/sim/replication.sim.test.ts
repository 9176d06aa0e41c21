// Replication under faults, simulated: the real Coordinator over a seeded network with
// delays, reordering, drops, partitions and crashes; then heal, replay hints and run
// anti-entropy until nothing changes, and check convergence and that no acknowledged write
// was lost. A failing seed replays exactly: run it alone with SIM_SEED=<seed> (every failure
// says which); checks over all the runs of a test name the seeds they covered.

import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../src/config.js';
import { setDigest } from '../../src/core/merkle.js';
import { checkAll } from './checks.js';
import { SimCluster, type SimOptions } from './sim-cluster.js';
import { forEachSeed, replayAll, replayOne, SIM_ONLY } from './sim-seeds.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const OPS = Number(process.env.SIM_OPS ?? 150);

interface Totals {
  runs: number;
  acked: number;
  indeterminate: number;
  failed: number;
  hintsReplayed: number;
  aeRepaired: number;
  maxRounds: number;
  events: number;
}

async function simulate(options: SimOptions, totals: Totals): Promise<void> {
  const c = new SimCluster(options);
  await c.runWorkload();
  const report = await c.healAndConverge();
  const problems = checkAll(c);
  if (!report.converged) problems.unshift(`no fixpoint after ${report.rounds} rounds`);
  // Without hinted handoff nothing keeps a hint, so none can be replayed: a per-run property.
  if (options.hintedHandoff === false && report.hintsReplayed > 0)
    problems.push(`${report.hintsReplayed} hints replayed with hinted handoff off`);
  const seed = options.seed;
  expect(
    problems,
    `seed ${seed} (${replayOne(seed)} replays it; ${options.mode}, ${options.nodes} nodes)`,
  ).toEqual([]);
  totals.runs += 1;
  for (const w of c.history.writes) {
    if (w.outcome === 'ok') totals.acked += 1;
    else if (w.outcome === 'indeterminate') totals.indeterminate += 1;
    else totals.failed += 1;
  }
  totals.hintsReplayed += report.hintsReplayed;
  totals.aeRepaired += report.aeRepaired + c.backgroundAeRepaired;
  totals.maxRounds = Math.max(totals.maxRounds, report.rounds);
  totals.events += c.sched.steps;
}

const zero = (): Totals => ({
  runs: 0,
  acked: 0,
  indeterminate: 0,
  failed: 0,
  hintsReplayed: 0,
  aeRepaired: 0,
  maxRounds: 0,
  events: 0,
});

/** Everything observable about a finished run, to compare two runs of one seed. */
async function fingerprint(options: SimOptions): Promise<string> {
  const c = new SimCluster(options);
  await c.runWorkload();
  await c.healAndConverge();
  const stores = [...c.replicas.values()].map((r) => [
    r.id,
    [...r.store].map(([k, set]) => [k, hex(setDigest(set))]),
  ]);
  const outcomes = c.history.writes.map((w) => [w.id, w.outcome, w.ackedAt]);
  return JSON.stringify({ steps: c.sched.steps, now: c.sched.now, stores, outcomes });
}

describe('the simulation', () => {
  it('replays exactly for a seed, and differs between seeds', async () => {
    const options: SimOptions = { seed: 42, mode: 'siblings', nodes: 5, sloppyQuorum: true };
    const first = await fingerprint(options);
    expect(await fingerprint(options), 'seed 42 ran differently the second time').toBe(first);
    expect(await fingerprint({ ...options, seed: 43 }), 'seeds 42 and 43 ran alike').not.toBe(
      first,
    );
  });
});

for (const mode of ['siblings', 'lww'] as ConflictMode[]) {
  describe(`replication under faults (${mode})`, () => {
    for (const nodes of [3, 5]) {
      it(`${nodes} nodes, N=3: converges and keeps every acknowledged write`, async () => {
        const totals = zero();
        const base = nodes * 1000;
        await forEachSeed(base, (seed) =>
          simulate(
            {
              seed,
              mode,
              nodes,
              ops: OPS,
              // Odd seeds also run with sloppy quorum (5 nodes) and, in lww mode, ABD-style
              // read repair before answering.
              sloppyQuorum: nodes > 3 && seed % 2 === 1,
              readRepair: mode === 'lww' && seed % 2 === 1 ? 'before' : 'after',
            },
            totals,
          ),
        );
        // The runs must exercise what they claim to: writes that count, and both repairs.
        if (SIM_ONLY === undefined) {
          const over = `${JSON.stringify(totals)} over ${replayAll(base)}`;
          expect(totals.acked, `acknowledged writes: ${over}`).toBeGreaterThan(totals.runs * 10);
          expect(totals.indeterminate, `indeterminate writes: ${over}`).toBeGreaterThan(0);
          expect(totals.hintsReplayed, `hints replayed: ${over}`).toBeGreaterThan(0);
          expect(totals.aeRepaired, `keys repaired by anti-entropy: ${over}`).toBeGreaterThan(0);
        }
        console.log(`${mode} ${nodes} nodes:`, JSON.stringify(totals));
      });
    }

    it('converges on two hot keys over a network about as slow as the timeouts', async () => {
      const totals = zero();
      await forEachSeed(9000, async (seed) => {
        const nodes = seed % 2 === 0 ? 3 : 5;
        await simulate(
          {
            seed,
            mode,
            nodes,
            ops: OPS,
            keys: 2,
            clients: 6,
            timeoutMs: 120,
            sloppyQuorum: nodes === 5 && seed % 4 === 1,
            readRepair: mode === 'lww' && seed % 3 === 0 ? 'before' : 'after',
            network: { delayMaxMs: 100, detectMinMs: 1, detectMaxMs: 400 },
          },
          totals,
        );
      });
      if (SIM_ONLY === undefined)
        expect(
          totals.acked,
          `acknowledged writes: ${JSON.stringify(totals)} over ${replayAll(9000)}`,
        ).toBeGreaterThan(totals.runs * 10);
      console.log(`${mode} hot keys:`, JSON.stringify(totals));
    });

    it('converges by anti-entropy alone when hinted handoff is off', async () => {
      const totals = zero();
      await forEachSeed(7000, (seed) =>
        simulate({ seed, mode, nodes: 5, ops: OPS, hintedHandoff: false }, totals),
      );
      if (SIM_ONLY === undefined)
        expect(
          totals.aeRepaired,
          `keys repaired by anti-entropy: ${JSON.stringify(totals)} over ${replayAll(7000)}`,
        ).toBeGreaterThan(totals.runs);
      console.log(`${mode} no hints:`, JSON.stringify(totals));
    });
  });
}
