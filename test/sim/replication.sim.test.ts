// Replication under faults, simulated over real nodes (src/node.ts: LocalReplica, Coordinator,
// HintReplayer, AntiEntropy, TombstoneGc over memory-level stores) on a seeded network with
// delays, reordering, drops, partitions, crashes and restarts and skewed clocks; then heal,
// replay hints and run anti-entropy until nothing changes, and check convergence and that no
// acknowledged write was lost. A failing seed replays exactly: run it alone with
// SIM_SEED=<seed> (every failure says which, with the last events of the run); checks over
// all the runs of a test name the seeds they covered.

import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../src/config.js';
import { setDigest } from '../../src/core/merkle.js';
import { checkAll } from './checks.js';
import { NodeCluster, type NodeClusterOptions } from './node-cluster.js';
import { forEachSeed, replayAll, seedsTimeoutMs, SIM_ONLY } from './sim-seeds.js';
import { WORKLOAD_DEFAULTS, Workload, type WorkloadOptions } from './workload.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const OPS = Number(process.env.SIM_OPS ?? WORKLOAD_DEFAULTS.ops);
const TIMEOUT_MS = seedsTimeoutMs(1_500);

interface Totals {
  runs: number;
  acked: number;
  indeterminate: number;
  failed: number;
  hintsReplayed: number;
  aeRepaired: number;
  purged: number;
  maxRounds: number;
  events: number;
}

const zero = (): Totals => ({
  runs: 0,
  acked: 0,
  indeterminate: 0,
  failed: 0,
  hintsReplayed: 0,
  aeRepaired: 0,
  purged: 0,
  maxRounds: 0,
  events: 0,
});

type RunOptions = NodeClusterOptions & Partial<WorkloadOptions>;

/** One run: the fault phase, heal, convergence; the cluster is stopped when it returns. */
async function runOnce(options: RunOptions) {
  const c = await NodeCluster.start(options);
  try {
    const work = new Workload(c, { ...WORKLOAD_DEFAULTS, ops: OPS, ...options });
    await work.run();
    await c.heal();
    const report = await c.converge();
    // Every client request has ended by now: its timeout has long passed.
    await c.sched.run(work.outstanding());
    return { c, report, final: await c.finalState() };
  } catch (err) {
    throw c.failed(err);
  } finally {
    await c.stop();
  }
}

async function simulate(options: RunOptions, totals: Totals): Promise<void> {
  const { c, report, final } = await runOnce(options);
  const problems = checkAll(c, final);
  if (!report.converged) problems.unshift(`no fixpoint after ${report.rounds} rounds`);
  // Without hinted handoff nothing keeps a hint, so none can be replayed: a per-run property.
  if (options.hintedHandoff === false && c.history.hintsDelivered > 0)
    problems.push(`${c.history.hintsDelivered} hints replayed with hinted handoff off`);
  if (problems.length > 0) {
    const what = `${options.mode}, ${options.nodes} nodes: ${problems.length} problem(s)`;
    throw c.sched.failure(`${what}\n  ${problems.slice(0, 12).join('\n  ')}`);
  }
  totals.runs += 1;
  for (const w of c.history.writes) {
    if (w.outcome === 'ok') totals.acked += 1;
    else if (w.outcome === 'indeterminate') totals.indeterminate += 1;
    else totals.failed += 1;
  }
  totals.hintsReplayed += c.history.hintsDelivered;
  totals.aeRepaired += c.aeRepairedTotal();
  totals.purged += new Set(c.history.purges.map((p) => `${p.key}@${p.at}`)).size;
  totals.maxRounds = Math.max(totals.maxRounds, report.rounds);
  totals.events += c.sched.steps;
}

/** Everything observable about a finished run, to compare two runs of one seed. */
async function fingerprint(options: RunOptions): Promise<string> {
  const { c, final } = await runOnce(options);
  const stores = [...final].map(([id, m]) => [id, [...m].map(([k, s]) => [k, hex(setDigest(s))])]);
  const outcomes = c.history.writes.map((w) => [w.id, w.outcome, w.ackedAt]);
  return JSON.stringify({ steps: c.sched.steps, now: c.sched.now, stores, outcomes });
}

describe('the simulation of real nodes', () => {
  it('replays exactly for a seed, and differs between seeds', async () => {
    const options: RunOptions = { seed: 42, mode: 'siblings', nodes: 5, sloppyQuorum: true };
    const first = await fingerprint(options);
    expect(await fingerprint(options), 'seed 42 ran differently the second time').toBe(first);
    expect(await fingerprint({ ...options, seed: 43 }), 'seeds 42 and 43 ran alike').not.toBe(
      first,
    );
  });
});

for (const mode of ['siblings', 'lww'] as ConflictMode[]) {
  describe(`replication under faults (${mode})`, { timeout: TIMEOUT_MS }, () => {
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
              // Some seeds run with sloppy quorum (5 nodes, the ap profile) and, in lww mode,
              // some with ABD-style read repair before answering (the cp profile).
              sloppyQuorum: nodes > 3 && seed % 4 === 1,
              readRepair: mode === 'lww' && seed % 4 === 3 ? 'before' : 'after',
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
            keys: 2,
            clients: 6,
            timeoutMs: 120,
            sloppyQuorum: nodes === 5 && seed % 4 === 1,
            readRepair: mode === 'lww' && seed % 4 === 3 ? 'before' : 'after',
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
        simulate({ seed, mode, nodes: 5, hintedHandoff: false }, totals),
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
