// The checkers catch real bugs: with ABD's read write-back or its write read phase switched off
// (test-only flags on every node), a targeted schedule (a fixed fault, and clients routed to the
// nodes where the bug shows) makes the anomaly appear early in a short run (in the first 0.5 s
// for the read phase, the first 2 s for the write-back), and the history is rejected. The same
// schedule on a cluster without the flag must pass, so a flag that did nothing would fail the
// test. A run that happens to expose nothing is followed by another on the same cluster, up to
// RUNS_MAX runs; the test fails if none is rejected.

import { describe, expect, it } from 'vitest';
import { formatReport } from '../../src/verify/linearizability.js';
import { LocalCluster } from '../../src/verify/local-cluster.js';
import { blocksOf, schedulePlan, type PlannedFault } from '../../src/verify/nemesis-plan.js';
import type { RecordKind } from '../../src/verify/records.js';
import { runVerify, type VerifyOptions, type VerifyResult } from '../../src/verify/run-verify.js';
import type { WorkloadRoutes } from '../../src/verify/workload.js';

const RUN_MS = 2_000;
const RUNS_MAX = 4;
const CHECK_BUDGET_MS = 20_000;
const NODES = ['n1', 'n2', 'n3'];

interface Case {
  readonly unsafe: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
  /** Nodes restarted with their wall clock this far off before the runs (not a fault: setup). */
  readonly clockOffsetsMs?: Readonly<Record<string, number>>;
  readonly schedule: readonly PlannedFault[];
  readonly routes: WorkloadRoutes;
  readonly workload: Pick<VerifyOptions, 'clients' | 'keys' | 'mix'>;
  /** Operations a run must have completed (kind, through one of these nodes) to prove anything. */
  readonly exercised: readonly (readonly [RecordKind, readonly string[]])[];
}

const wholeRun = (lane: PlannedFault['lane'], fault: PlannedFault['fault']): PlannedFault => ({
  lane,
  startMs: 0,
  endMs: RUN_MS,
  fault,
});

/**
 * Writes go through n1 only, and n1 loses four in five of the messages it sends. Often a write
 * reaches no other replica and sits on n1 alone until its hint gets through. A read through n1
 * that gets one reply answers with n1's newest value, which only n1 holds; a read through n2 or
 * n3 soon after asks those two (n1 answers too rarely to be asked first) and answers with an
 * older value, from a write that had finished. ABD's write-back puts the first read's answer on
 * a quorum before it is given; without it (and with the repair after the answer lost or late)
 * the second read goes back in time.
 */
const NO_READ_WRITE_BACK: Case = {
  unsafe: { noReadWriteBack: true },
  schedule: [
    wholeRun('link', { kind: 'delay', node: 'n1', delay: {}, drop: { n2: 0.8, n3: 0.8 } }),
  ],
  routes: { writes: ['n1'] },
  workload: { clients: 16, keys: 1, mix: { add: 0, write: 0.15 } },
  exercised: [
    ['write', ['n1']],
    ['read', ['n1']],
    ['read', ['n2', 'n3']],
  ],
};

/**
 * n1's clock runs 5 s ahead, and a bridge partition keeps n1 and n3 apart (n2 talks to both).
 * Reads go through n1 only, so n3 never sees n1's stamps: a write through n3 that is stamped by
 * n3's clock alone lands below the write through n1 it follows, and the next read through n1
 * returns the older value. ABD's read phase makes n3 ask a quorum first (n2 holds n1's writes)
 * and stamp above what it found.
 */
const bridge = [
  ['n1', 'n2'],
  ['n2', 'n3'],
];
const NO_WRITE_READ_PHASE: Case = {
  unsafe: { noWriteReadPhase: true },
  clockOffsetsMs: { n1: 5_000 },
  schedule: [
    wholeRun('link', {
      kind: 'partition',
      shape: 'bridge',
      groups: bridge,
      blocks: blocksOf(NODES, bridge),
    }),
  ],
  routes: { reads: ['n1'], writes: ['n1', 'n3'] },
  workload: { clients: 6, keys: 1, mix: { add: 0, write: 0.5 } },
  exercised: [
    ['write', ['n1']],
    ['write', ['n3']],
    ['read', ['n1']],
  ],
};

/** A cluster of three real nodes with the case's flags (or none), set up for the case. */
async function withCluster<T>(
  c: Case,
  flags: 'unsafe' | 'safe',
  fn: (url: string) => Promise<T>,
): Promise<T> {
  const cluster = await LocalCluster.start({
    nodes: NODES.length,
    profile: 'cp',
    conflicts: 'lww',
    unsafe: flags === 'unsafe' ? c.unsafe : undefined,
  });
  try {
    for (const [node, offsetMs] of Object.entries(c.clockOffsetsMs ?? {})) {
      await cluster.kill(node);
      await cluster.start(node, offsetMs);
    }
    return await fn(cluster.nodes[0]!.url);
  } finally {
    await cluster.close();
  }
}

/** One short verify run of the case's schedule against the cluster at `url` (fresh keys). */
async function runOnce(url: string, c: Case, seed: number): Promise<VerifyResult> {
  const result = await runVerify({
    target: { kind: 'remote', url },
    durationMs: RUN_MS,
    nemesis: [],
    schedule: c.schedule,
    routes: c.routes,
    ...c.workload,
    seed,
    checkBudgetMs: CHECK_BUDGET_MS,
  });
  // The check can hold the event loop for seconds: let the connection pool see the sockets the
  // nodes closed meanwhile, or the next run's first request goes out on a dead one.
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}

function describeRun(seed: number, r: VerifyResult): string {
  const faultAtMs = r.events.find((e) => e.phase === 'start')?.atMs;
  const verdict = String(r.registers?.result.linearizable);
  return `run ${seed}: fault in force at ${faultAtMs?.toFixed(0)} ms, ${r.summary.all.ok} ok ops, linearizable ${verdict}, ${Math.round(r.totalMs)} ms`;
}

/** Runs until one history is rejected, or RUNS_MAX runs have passed. */
async function untilRejected(
  url: string,
  c: Case,
): Promise<{ rejected?: VerifyResult; runs: string[] }> {
  const runs: string[] = [];
  for (let seed = 1; seed <= RUNS_MAX; seed++) {
    const result = await runOnce(url, c, seed);
    runs.push(describeRun(seed, result));
    if (result.registers?.result.linearizable === false) return { rejected: result, runs };
  }
  return { runs };
}

/**
 * The operations of `c.exercised` the run did not complete. A rejected history may count a
 * write that timed out (`info`): the checker lets such a write take effect at any time after it
 * began or never, so a violation it finds with one is still a violation, and the write still went
 * through the node. The control must complete every kind, or its pass would prove nothing.
 */
function missing(c: Case, r: VerifyResult, accept: 'ok' | 'ok-or-info-write'): string[] {
  const counts = (f: RecordKind, outcome: string) =>
    outcome === 'ok' || (accept === 'ok-or-info-write' && f === 'write' && outcome === 'info');
  return c.exercised
    .filter(
      ([f, nodes]) =>
        !r.records.some((op) => op.f === f && counts(f, op.outcome) && nodes.includes(op.node)),
    )
    .map(
      ([f, nodes]) =>
        `no ${accept === 'ok' ? 'ok' : 'ok or info'} ${f} through ${nodes.join(' or ')}`,
    );
}

async function checkCase(c: Case): Promise<void> {
  // Side by side: the two clusters spend most of their time waiting, not computing.
  const [mutant, safe] = await Promise.allSettled([
    withCluster(c, 'unsafe', (url) => untilRejected(url, c)),
    withCluster(c, 'safe', (url) => runOnce(url, c, 1)),
  ]);
  if (mutant.status === 'rejected') throw mutant.reason;
  if (safe.status === 'rejected') throw safe.reason;
  const { rejected, runs } = mutant.value;
  expect(rejected, `no rejection in ${runs.join('; ')}`).toBeDefined();
  expect(rejected!.verdict.pass).toBe(false);
  expect(missing(c, rejected!, 'ok-or-info-write')).toEqual([]);
  console.log(`${runs.join('; ')}\n${formatReport(rejected!.registers!.result)}`);

  const control = safe.value;
  const report = formatReport(control.registers!.result);
  expect(control.registers?.result.linearizable, `without the flag: ${report}`).toBe(true);
  expect(control.verdict.pass).toBe(true);
  expect(missing(c, control, 'ok')).toEqual([]);
  console.log(`without the flag, ${describeRun(1, control)}`);
}

describe('the checker catches broken ABD', () => {
  it('rejects histories when reads skip the write-back (--unsafe-no-read-write-back); without the flag the same schedule passes', async () => {
    await checkCase(NO_READ_WRITE_BACK);
  }, 150_000);

  it('rejects histories when writes skip the read phase (--unsafe-no-write-read-phase); without the flag the same schedule passes', async () => {
    await checkCase(NO_WRITE_READ_PHASE);
  }, 150_000);
});

describe('a targeted schedule', () => {
  const plan = (faults: PlannedFault[]) =>
    schedulePlan({ seed: 1, durationMs: RUN_MS, nodes: NODES, faults });
  const partition = NO_WRITE_READ_PHASE.schedule[0]!;
  const skew: PlannedFault = {
    lane: 'process',
    startMs: 0,
    endMs: RUN_MS,
    fault: { kind: 'skew', node: 'n1', offsetMs: 5_000 },
  };

  it('is taken as given, ordered by start, with the kinds it uses', () => {
    const later = { ...partition, startMs: 500 };
    expect(plan([later, skew])).toEqual({
      seed: 1,
      durationMs: RUN_MS,
      kinds: ['partition', 'skew'],
      faults: [skew, later],
    });
  });

  it('refuses faults that overlap in a lane, leave the run, sit in the wrong lane or name unknown nodes', () => {
    expect(() => plan([partition, { ...partition, startMs: 1_000 }])).toThrow(/overlap/);
    expect(() => plan([{ ...partition, endMs: RUN_MS + 1 }])).toThrow(/within the run/);
    expect(() => plan([{ ...skew, lane: 'link' }])).toThrow(/process lane/);
    expect(() =>
      plan([{ ...skew, fault: { ...skew.fault, node: 'n9' } as PlannedFault['fault'] }]),
    ).toThrow(/unknown nodes n9/);
  });
});
