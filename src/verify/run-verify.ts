// One `kvorum verify` run, start to finish: open the target (a fresh local cluster or an
// existing one), run the clients and the nemesis for the duration, heal everything, wait for
// the replicas to converge, read the final state, and hand the history to the checkers. Used
// by the CLI and by the tests under test/jepsen/. After membership changes, everything from
// the heal on asks the members at the end, on the ring of the final layout.

import {
  awaitConvergence,
  awaitRecovery,
  replicaPlacement,
  type ConvergenceResult,
} from './convergence.js';
import { PROFILES } from '../config.js';
import { presentAnywhere } from './final-state.js';
import { checkLostUpdates, checkSiblingsLoss, type RegisterLoss } from './loss-check.js';
import { LocalCluster } from './local-cluster.js';
import {
  LINK_KINDS,
  NEMESIS_KINDS,
  planNemesis,
  PROCESS_KINDS,
  schedulePlan,
  withSteadyDelay,
  type NemesisKind,
  type NemesisPlan,
  type PlannedFault,
  type SteadyDelay,
} from './nemesis-plan.js';
import { NemesisRunner, type NemesisEvent } from './nemesis-runner.js';
import { NodeApi } from './node-api.js';
import type { PbsComparison } from './pbs-compare.js';
import { askEveryNode, comparisonOf } from './pbs-run.js';
import { checkRegisters, type RegisterCheck } from './register-check.js';
import { HistoryRecorder, summarize, type OpRecord, type RecordSummary } from './records.js';
import { SeededRng } from './rng.js';
import { checkSet, type SetCheck } from './set-check.js';
import { sleep } from './sleep.js';
import { countStaleReads, type StaleReads } from './stale-reads.js';
import {
  deadRemovals,
  excuseLostWithNode,
  type DeadRemoval,
  type LostWithNode,
} from './lost-with-node.js';
import type { VerifyTarget } from './target.js';
import { judge, type Verdict } from './verdict.js';
import { VERIFY_LIMITS } from './verify-limits.js';
import { finalRead, runClients, type WorkloadMix, type WorkloadRoutes } from './workload.js';

export type Profile = 'cp' | 'quorum' | 'ap';
export type ConflictMode = 'lww' | 'siblings';

export type TargetOptions =
  | {
      readonly kind: 'local';
      readonly nodes: number;
      readonly profile: Profile;
      readonly conflicts: ConflictMode;
      /** Test-only breakages on every node, to show that the checkers catch them. */
      readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
    }
  | {
      readonly kind: 'remote';
      readonly url: string;
      readonly adminToken?: string;
      /** Checked against the cluster's own settings, when given. */
      readonly profile?: Profile;
      readonly conflicts?: ConflictMode;
    };

export interface VerifyOptions {
  readonly target: TargetOptions;
  readonly durationMs: number;
  readonly nemesis: readonly NemesisKind[];
  /**
   * The nemesis plan given in full instead of drawn from `seed` and `nemesis`: a targeted
   * schedule, for tests that need one fault pattern every time.
   */
  readonly schedule?: readonly PlannedFault[];
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  /** Operations per second over all clients. */
  readonly rate?: number;
  /** Shares of set adds and register writes; the rest are reads. */
  readonly mix?: WorkloadMix;
  /** Node ids reads and writes go to (any node when absent): for targeted schedules. */
  readonly routes?: WorkloadRoutes;
  /** `?timeout=` of every client request (and a local cluster's default timeout). */
  readonly timeoutMs?: number;
  /**
   * What the first node sends to the second is delayed for the whole run (see withSteadyDelay);
   * the nemesis may then have no link faults of its own, nor may a schedule be given.
   */
  readonly steadyDelay?: SteadyDelay;
  /**
   * Once the workload stops, ask every member GET /admin/pbs and compare its prediction with
   * the stale reads measured, by time since the write (VerifyResult.pbs).
   */
  readonly comparePbs?: boolean;
  readonly checkBudgetMs?: number;
  /** Aborting stops the run and cleans up; runVerify then rejects with VerifyInterruptedError. */
  readonly signal?: AbortSignal;
  /** Called once the target is up and the plan is made, before the workload starts. */
  readonly onStart?: (settings: VerifySettings, plan: NemesisPlan) => void;
  readonly onProgress?: (progress: Progress) => void;
  readonly onNemesisEvent?: (event: NemesisEvent) => void;
}

export interface Progress {
  readonly phase: 'running' | 'healing' | 'converging' | 'checking';
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly inFlight: number;
  readonly faults: readonly string[];
}

export interface VerifySettings {
  readonly where: string;
  readonly profile: Profile;
  readonly conflicts: ConflictMode;
  readonly nodes: readonly string[];
  readonly n: number;
  readonly clients: number;
  readonly keys: readonly string[];
  readonly durationMs: number;
  readonly rate: number;
  /** `?timeout=` of every client request. */
  readonly timeoutMs: number;
  readonly seed: number;
  readonly nemesis: readonly NemesisKind[];
  /** A delay on what `from` sends to `to`, held for the whole run. */
  readonly steadyDelay?: SteadyDelay & { readonly from: string; readonly to: string };
  readonly unsafe: readonly string[];
}

export interface VerifyResult {
  readonly settings: VerifySettings;
  readonly plan: NemesisPlan;
  readonly events: readonly NemesisEvent[];
  readonly records: readonly OpRecord[];
  readonly summary: RecordSummary;
  /** The members at the end (the starting nodes unless a membership nemesis changed them). */
  readonly members: readonly string[];
  /** Faults that could not be undone, and nodes that did not see each other again. */
  readonly recoveryProblems: readonly string[];
  readonly convergence: ConvergenceResult;
  /** lww only: siblings are not a register. */
  readonly registers?: RegisterCheck;
  readonly set: SetCheck;
  readonly loss: RegisterLoss;
  /** Acknowledged at w=one through a node later killed and removed, and absent: not lost. */
  readonly lostWithNode: readonly LostWithNode[];
  readonly stale: StaleReads;
  /** --compare-pbs: PBS's prediction against the stale reads measured. */
  readonly pbs?: PbsComparison;
  readonly verdict: Verdict;
  /** Wall time of the whole run, including start-up, heal and checks. */
  readonly totalMs: number;
}

/** The run was interrupted (SIGINT); the cluster it started has been stopped and removed. */
export class VerifyInterruptedError extends Error {
  override readonly name = 'VerifyInterruptedError';
}

/** A setting that does not fit the target (process faults on a remote cluster, a profile mismatch). */
export class VerifySetupError extends Error {
  override readonly name = 'VerifySetupError';
}

const PROGRESS_EVERY_MS = 1_000;

async function openTarget(o: TargetOptions, timeoutMs: number): Promise<VerifyTarget> {
  if (o.kind === 'local') {
    return LocalCluster.start({
      nodes: o.nodes,
      profile: o.profile,
      conflicts: o.conflicts,
      unsafe: o.unsafe,
      opTimeoutMs: timeoutMs,
    });
  }
  const entry = new NodeApi('?', o.url.replace(/\/+$/, ''), o.adminToken, timeoutMs);
  const status = await entry.status();
  for (const [what, wanted, actual] of [
    ['profile', o.profile, status.profile],
    ['conflicts', o.conflicts, status.conflicts],
  ] as const) {
    if (wanted !== undefined && wanted !== actual) {
      throw new VerifySetupError(
        `--${what} ${wanted} was asked for, but the cluster at ${o.url} runs ${what} ${actual}`,
      );
    }
  }
  const nodes = status.nodes.map(
    (node) => new NodeApi(node.id, node.http, o.adminToken, timeoutMs),
  );
  return {
    where: `existing cluster at ${o.url}`,
    nodes,
    profile: status.profile,
    conflicts: status.conflicts,
    n: status.n,
    close: async () => {},
  };
}

export async function runVerify(opts: VerifyOptions): Promise<VerifyResult> {
  const startedAt = performance.now();
  if (opts.target.kind === 'remote') {
    const kinds = opts.schedule?.map((f) => f.fault.kind) ?? opts.nemesis;
    const needs = [...new Set(kinds)].filter((k) => PROCESS_KINDS.includes(k));
    if (needs.length > 0) {
      throw new VerifySetupError(
        `--nemesis ${needs.join(',')} needs control of the node processes; against --url only partition and delay work`,
      );
    }
  }
  const target = await openTarget(opts.target, opts.timeoutMs ?? VERIFY_LIMITS.opTimeoutMs);
  try {
    return await runOn(target, opts, startedAt);
  } finally {
    await target.close();
  }
}

async function runOn(
  target: VerifyTarget,
  opts: VerifyOptions,
  startedAt: number,
): Promise<VerifyResult> {
  // Keys of earlier runs on an existing cluster must not mix with this run's.
  const prefix =
    opts.target.kind === 'remote' ? `verify-${opts.seed}-${Date.now().toString(36)}/` : '';
  const settings = settingsOf(target, opts, prefix);
  const routed = [...(opts.routes?.reads ?? []), ...(opts.routes?.writes ?? [])];
  const unknown = routed.filter((id) => !settings.nodes.includes(id));
  if (unknown.length > 0 || opts.routes?.reads?.length === 0 || opts.routes?.writes?.length === 0) {
    throw new VerifySetupError(
      `routes must name nodes of the cluster (${settings.nodes.join(', ')}); got ${JSON.stringify(opts.routes)}`,
    );
  }
  const plan = planOf(opts, settings);
  opts.onStart?.(settings, plan);

  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const recorder = new HistoryRecorder();
  const runner = new NemesisRunner(plan, target, now, opts.onNemesisEvent);
  let healed = false;
  const checkInterrupt = () => {
    if (opts.signal?.aborted === true) throw new VerifyInterruptedError('interrupted');
  };
  let phase: Progress['phase'] = 'running';
  const progress = () =>
    opts.onProgress?.({
      phase,
      elapsedMs: now(),
      durationMs: opts.durationMs,
      ...recorder.outcomeCounts(),
      inFlight: recorder.inFlight,
      faults: runner.active(),
    });
  const ticker = setInterval(progress, PROGRESS_EVERY_MS);
  try {
    const stop = new AbortController();
    const clients = runClients(
      {
        clients: opts.clients,
        keys: settings.keys,
        setKeyPrefix: `${prefix}s`,
        nodes: () => runner.members.list(),
        mode: target.conflicts,
        rate: settings.rate,
        mix: opts.mix,
        routes: opts.routes,
        rng: new SeededRng(opts.seed),
        recorder,
        now,
      },
      stop.signal,
    );
    const nemesis = runner.run(stop.signal);
    await sleep(opts.durationMs, opts.signal);
    stop.abort();
    await Promise.all([clients, nemesis]);
    checkInterrupt();
    // Before the heal: a node restarted now would have forgotten what it measured.
    const predicted = opts.comparePbs
      ? await askEveryNode(runner.members.list(), target)
      : undefined;
    checkInterrupt();

    phase = 'healing';
    const recoveryProblems = await runner.recover(opts.signal);
    healed = true;
    const members = runner.members.list();
    const lagging = await awaitRecovery(members, opts.signal);
    if (lagging.length > 0) {
      recoveryProblems.push(`${lagging.join(', ')} did not see every node up after the heal`);
    }
    checkInterrupt();

    phase = 'converging';
    const setKeys = recorder
      .records(now())
      .filter((r) => r.f === 'add')
      .map((r) => r.key);
    const convergence = await awaitConvergence({
      nodes: members,
      keys: [...settings.keys, ...setKeys],
      replicasOf: replicaPlacement(
        members.map((node) => node.id),
        target.n,
      ),
      signal: opts.signal,
    });
    checkInterrupt();
    // Final reads pin each register's last value into the history: a write lost after it was
    // acknowledged then shows up as a read the checker cannot place.
    if (target.conflicts === 'lww') {
      for (const key of settings.keys) {
        await Promise.all(
          members.map((node, i) => finalRead({ recorder, now }, opts.clients + i, key, node)),
        );
      }
    }

    phase = 'checking';
    progress();
    const records = recorder.records(now());
    return {
      settings,
      plan,
      events: runner.events,
      records,
      summary: summarize(records),
      members: members.map((node) => node.id),
      recoveryProblems,
      convergence,
      ...runCheckers(target, records, convergence, {
        removals: deadRemovals(
          plan,
          runner.events,
          members.map((node) => node.id),
        ),
        checkBudgetMs: opts.checkBudgetMs,
      }),
      ...(predicted === undefined
        ? {}
        : { pbs: comparisonOf(records, target.conflicts, predicted) }),
      totalMs: performance.now() - startedAt,
    };
  } finally {
    clearInterval(ticker);
    // A cluster we do not own must not be left partitioned; one we started is about to go.
    if (!healed && target.processes === undefined) await runner.recover().catch(() => []);
  }
}

/** The nemesis plan: drawn from the seed or given in full, with the steady delay if asked. */
function planOf(opts: VerifyOptions, settings: VerifySettings): NemesisPlan {
  if (opts.steadyDelay !== undefined) {
    if (opts.schedule !== undefined) {
      throw new VerifySetupError('a steady delay and a full schedule cannot be combined');
    }
    const linkKinds = opts.nemesis.filter((k) => LINK_KINDS.includes(k));
    if (linkKinds.length > 0) {
      throw new VerifySetupError(
        `a steady delay holds the links for the whole run: leave ${linkKinds.join(',')} out of the nemesis`,
      );
    }
    if (settings.nodes.length < 2) throw new VerifySetupError('a steady delay needs two nodes');
  }
  const plan =
    opts.schedule === undefined
      ? planNemesis({
          seed: opts.seed,
          durationMs: opts.durationMs,
          kinds: opts.nemesis,
          nodes: settings.nodes,
          n: settings.n,
        })
      : schedulePlan({
          seed: opts.seed,
          durationMs: opts.durationMs,
          nodes: settings.nodes,
          faults: opts.schedule,
        });
  return opts.steadyDelay === undefined
    ? plan
    : withSteadyDelay(plan, settings.nodes, opts.steadyDelay);
}

function settingsOf(target: VerifyTarget, opts: VerifyOptions, prefix: string): VerifySettings {
  const unsafe = opts.target.kind === 'local' ? opts.target.unsafe : undefined;
  const [from, to] = target.nodes.map((node) => node.id);
  return {
    where: target.where,
    profile: target.profile,
    conflicts: target.conflicts,
    nodes: target.nodes.map((node) => node.id),
    n: target.n,
    clients: opts.clients,
    keys: Array.from({ length: opts.keys }, (_, i) => `${prefix}r${i}`),
    durationMs: opts.durationMs,
    rate: opts.rate ?? VERIFY_LIMITS.rateDefault,
    timeoutMs: opts.timeoutMs ?? VERIFY_LIMITS.opTimeoutMs,
    seed: opts.seed,
    nemesis:
      opts.schedule === undefined
        ? opts.nemesis
        : NEMESIS_KINDS.filter((k) => opts.schedule!.some((f) => f.fault.kind === k)),
    ...(opts.steadyDelay !== undefined && from !== undefined && to !== undefined
      ? { steadyDelay: { ...opts.steadyDelay, from, to } }
      : {}),
    unsafe: [
      ...(unsafe?.noReadWriteBack ? ['no-read-write-back'] : []),
      ...(unsafe?.noWriteReadPhase ? ['no-write-read-phase'] : []),
    ],
  };
}

/** Every checker over the finished history and the final state, and the profile's verdict. */
function runCheckers(
  target: VerifyTarget,
  records: readonly OpRecord[],
  convergence: ConvergenceResult,
  o: { removals: readonly DeadRemoval[]; checkBudgetMs?: number | undefined },
): Pick<VerifyResult, 'registers' | 'set' | 'loss' | 'lostWithNode' | 'stale' | 'verdict'> {
  const present = (key: string) => presentAnywhere(convergence.snapshot, key);
  const siblings = target.conflicts === 'siblings';
  // A key holding siblings is not a register: linearizability is checked in lww mode only.
  const registers = siblings
    ? undefined
    : checkRegisters(records, o.checkBudgetMs ?? VERIFY_LIMITS.checkBudgetMs);
  let set = checkSet(records, present);
  let loss = siblings ? checkSiblingsLoss(records, present) : checkLostUpdates(records, present);
  const lostWithNode: LostWithNode[] = [];
  // The workload writes at the profile's level: only ap's w=one leaves a write on one node.
  if (PROFILES[target.profile].w === 'one') {
    const fromSet = excuseLostWithNode(set.lost, records, o.removals);
    const fromRegisters = excuseLostWithNode(loss.lost, records, o.removals);
    set = { ...set, lost: fromSet.lost };
    loss = { ...loss, lost: fromRegisters.lost };
    lostWithNode.push(...fromSet.excused, ...fromRegisters.excused);
  }
  const stale = countStaleReads(records, target.conflicts);
  const verdict = judge({
    profile: target.profile,
    conflicts: target.conflicts,
    registers,
    set,
    loss,
    convergence,
  });
  return { registers, set, loss, lostWithNode, stale, verdict };
}
