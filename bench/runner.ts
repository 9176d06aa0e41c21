// Runs the phases: starts each phase's cluster, prefills its key spaces, walks its steps
// (measure, delay, partition, heal) and stops it; a profiled phase's CPU profiles are then
// summarized. A failure is recorded against the scenarios it hit and the run carries on;
// progress goes to stderr.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { coresOf, type TimeWindow } from './cpu.js';
import { EtcdCluster, type EtcdBinary } from './etcd-cluster.js';
import { KvorumCluster } from './kvorum-cluster.js';
import { runLoad } from './load.js';
import {
  describeSplit,
  rssFileBytes,
  RssSampler,
  rssNow,
  type MemorySplit,
  type RssSample,
} from './memory.js';
import type { BenchSettings } from './options.js';
import { makeTempDir, removeTempDir } from './processes.js';
import { summarizeProfiles, type CpuProfile } from './profile.js';
import type {
  CatchUpRecord,
  PhaseMemory,
  PrefillRecord,
  ProfileSummary,
  ScenarioResult,
} from './results.js';
import {
  GET_SHARE,
  MIB,
  describeSize,
  measuredScenarios,
  scenarioLabel,
  type KeySpace,
  type Level,
  type Phase,
  type Scenario,
  type Step,
} from './scenarios.js';
import type { LoadResult, LoadSpec, Workload } from './workload.js';

/** A request unanswered this long counts as a timeout error. */
const REQUEST_TIMEOUT_S = 10;
/** After a prefill, time for replication still in flight (w=one) to land. */
const SETTLE_MS = 1_000;
/** Bytes in flight during a prefill stay around this, whatever the value size. */
const PREFILL_BYTES_IN_FLIGHT = 16 * MIB;
/**
 * Before the idle RSS is read: kvorum asks V8 for a full collection after ~2 s without uploads
 * (src/replica/memory-return.ts), so by then what a quiet node would give back is given back.
 */
const IDLE_SETTLE_MS = 10_000;
/**
 * How long the catch-up after the partition is watched (a third of it with --quick): far past
 * its 10 s target, so a slow replay is measured rather than cut off, yet bounded.
 */
const CATCH_UP_CAP_S = 180;
/** Hints are replayed in rounds every 250 ms (src/config.ts hintReplayIntervalMs). */
const CATCH_UP_POLL_MS = 250;
/** `node --cpu-prof` names its files CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile. */
const PROFILE_FILE = /^CPU\.\d+\.\d+\.(\d+)\.\d+\.\d+\.cpuprofile$/;

/** One phase's servers, whichever system they are. */
interface Servers {
  urls(scenario: Scenario): string[];
  pids(): Map<string, number>;
  dead(): string[];
  /** Hints pending on each node; {} for a system without hints. */
  hintsPending(): Promise<Record<string, number>>;
  /** How each node's memory splits; {} for a system that does not say. */
  memorySplit(): Promise<Record<string, MemorySplit>>;
  beforeScenario(): Promise<void>;
  act(step: Exclude<Step, { kind: 'measure' }>): Promise<void>;
  stop(): Promise<void>;
}

function kvorumServers(cluster: KvorumCluster): Servers {
  return {
    urls: (s) => s.target.map((id) => cluster.url(id)),
    pids: () => cluster.pids(),
    dead: () => cluster.deadNodes(),
    hintsPending: () => cluster.hintsPending(),
    memorySplit: () => cluster.memorySplit(),
    beforeScenario: async () => undefined,
    act: async (step) => {
      if (step.kind === 'delay')
        await cluster.delayNode(step.node, { ms: step.ms, jitterMs: step.jitterMs });
      else if (step.kind === 'partition') await cluster.partition(step.groups);
      else await cluster.heal();
    },
    stop: () => cluster.stop(),
  };
}

function etcdServers(cluster: EtcdCluster): Servers {
  return {
    urls: () => [cluster.leaderUrl],
    pids: () => cluster.pids(),
    dead: () => cluster.deadMembers(),
    hintsPending: async () => ({}),
    memorySplit: async () => ({}),
    beforeScenario: () => cluster.checkHealthy(),
    act: async () => undefined,
    stop: () => cluster.stop(),
  };
}

function levelQuery(level: Level | undefined, param: 'r' | 'w'): string {
  if (level === undefined) return '';
  if (level === 'linearizable') return '?consistency=linearizable';
  return `?${param}=${level}`;
}

function workloadOf(s: Scenario): Workload {
  const common = {
    getShare: GET_SHARE[s.op],
    keyPrefix: s.keyPrefix,
    keys: s.keys,
    valueBytes: s.valueBytes,
  };
  if (s.system === 'etcd')
    return { system: 'etcd', ...common, serializable: s.etcdRead === 'serializable' };
  return {
    system: 'kvorum',
    ...common,
    readQuery: levelQuery(s.level, 'r'),
    writeQuery: levelQuery(s.level, 'w'),
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function ms(v: number | undefined): string {
  return v === undefined ? 'n/a' : v < 10 ? fmt(v, 2) : fmt(v, 1);
}

export function summaryLine(load: LoadResult): string {
  const lat = load.latency;
  const statuses = Object.entries(load.statusCounts)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  return (
    `${fmt(load.okPerS)} req/s (2xx)  p50 ${ms(lat?.p50Ms)}  p99 ${ms(lat?.p99Ms)}  ` +
    `p99.9 ${ms(lat?.p999Ms)} ms  errors ${load.errors}  non-2xx ${load.non2xx}` +
    (statuses ? ` (${statuses})` : '')
  );
}

export interface RunnerOutput {
  readonly results: ScenarioResult[];
  readonly prefills: PrefillRecord[];
  readonly memory: PhaseMemory[];
  readonly notes: string[];
  /** Set by the profiled phase, if one ran and its servers wrote profiles. */
  profile: ProfileSummary | undefined;
  /** Set by the heal after the partition. */
  catchUp: CatchUpRecord | undefined;
}

/**
 * Each .cpuprofile in `dir` with the node whose PID is in its name. Other files are skipped, and
 * so are unreadable ones (a node killed while writing): the other nodes' profiles still count.
 */
function readProfiles(
  dir: string,
  pids: ReadonlyMap<string, number>,
): Array<{ node: string; profile: CpuProfile }> {
  const byPid = new Map([...pids].map(([node, pid]) => [pid, node]));
  return readdirSync(dir).flatMap((file) => {
    const node = byPid.get(Number(PROFILE_FILE.exec(file)?.[1]));
    if (node === undefined) return [];
    try {
      return [{ node, profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile }];
    } catch {
      return [];
    }
  });
}

export class PhaseRunner {
  readonly out: RunnerOutput = {
    results: [],
    prefills: [],
    memory: [],
    notes: [],
    profile: undefined,
    catchUp: undefined,
  };
  /** The etcd member the load went to, once an etcd phase has started. */
  etcdLeader: string | undefined;
  private done = 0;
  /** Each scenario's memory split at its end, by scenario id. */
  private readonly endSplits = new Map<string, Record<string, MemorySplit>>();
  private readonly startedMs = Date.now();

  constructor(
    private readonly settings: BenchSettings,
    private readonly repo: string,
    private readonly etcd: EtcdBinary | undefined,
    private readonly total: number,
  ) {}

  log(line: string): void {
    const s = Math.round((Date.now() - this.startedMs) / 1000);
    const clock = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    process.stderr.write(`[${clock}] ${line}\n`);
  }

  async run(phase: Phase): Promise<void> {
    const profDir = phase.profile ? makeTempDir('kvorum-bench-prof-') : undefined;
    try {
      await this.runIn(phase, profDir);
    } finally {
      if (profDir !== undefined) removeTempDir(profDir);
    }
  }

  private async runIn(phase: Phase, profDir: string | undefined): Promise<void> {
    this.log(`phase ${phase.id}: starting ${phase.title}`);
    let servers: Servers;
    try {
      servers = await this.start(phase, profDir);
    } catch (err) {
      this.failPhase(phase, `could not start ${phase.title}: ${message(err)}`);
      return;
    }
    // The measured window (warm-up excluded) of the last scenario: the part of the profiles
    // that counts.
    let window: TimeWindow | undefined;
    try {
      const bootBytes = await rssNow(servers.pids());
      for (const space of phase.keySpaces) await this.prefill(phase, servers, space);
      const startBytes = await rssNow(servers.pids());
      const startSplit = await this.memorySplit(`${phase.id} after the prefill`, servers);
      // Set while a delay or partition that failed to apply is in force: its scenarios would
      // measure a healthy cluster under a faulty label, so they are not run.
      let faultFailure: string | undefined;
      for (const step of phase.steps) {
        if (step.kind !== 'measure') {
          const failure =
            step.kind === 'heal' && step.catchUp
              ? await this.healAndCatchUp(phase, servers, step)
              : await this.act(phase, servers, step);
          faultFailure = step.kind === 'heal' ? undefined : failure;
        } else if (faultFailure && (step.scenario.delayed || step.scenario.side)) {
          this.done += 1;
          this.record(step.scenario, undefined, `not run: ${faultFailure}`);
        } else window = await this.measure(servers, step.scenario);
      }
      await this.recordIdleMemory(phase, servers, bootBytes, startBytes, startSplit);
    } finally {
      await servers.stop();
    }
    // Profiles are written as the servers exit, so only now can they be read.
    if (profDir !== undefined) this.summarizeProfile(phase, profDir, servers.pids(), window);
  }

  private async recordIdleMemory(
    phase: Phase,
    servers: Servers,
    bootBytes: Record<string, number>,
    startBytes: Record<string, number>,
    startSplit: Record<string, MemorySplit>,
  ): Promise<void> {
    const settleMs = this.settings.quick ? IDLE_SETTLE_MS / 2 : IDLE_SETTLE_MS;
    this.log(`phase ${phase.id}: idle ${settleMs / 1000} s, then its RSS`);
    await new Promise((r) => setTimeout(r, settleMs));
    const ids = new Set(measuredScenarios([phase]).map((s) => s.id));
    const peakBytes: Record<string, number> = {};
    const anonPeakBytes: Record<string, number> = {};
    let busiest: { scenarioId: string; bytes: number } | undefined;
    for (const r of this.out.results) {
      if (!ids.has(r.scenario.id)) continue;
      for (const [name, bytes] of Object.entries(r.rssPeakBytes)) {
        peakBytes[name] = Math.max(bytes, peakBytes[name] ?? 0);
        if (bytes > (busiest?.bytes ?? 0)) busiest = { scenarioId: r.scenario.id, bytes };
      }
      for (const [name, bytes] of Object.entries(r.rssAnonPeakBytes ?? {}))
        anonPeakBytes[name] = Math.max(bytes, anonPeakBytes[name] ?? 0);
    }
    const idleBytes = await rssNow(servers.pids());
    const idleSplit = await this.memorySplit(`${phase.id} idle`, servers);
    const busiestSplit = busiest && this.endSplits.get(busiest.scenarioId);
    const splits =
      busiest &&
      busiestSplit &&
      Object.keys(startSplit).length > 0 &&
      Object.keys(idleSplit).length > 0
        ? {
            start: startSplit,
            busiest: { scenarioId: busiest.scenarioId, at: busiestSplit },
            idle: idleSplit,
          }
        : undefined;
    this.out.memory.push({
      phase: phase.id,
      title: phase.title,
      system: phase.system,
      keys: phase.keySpaces.reduce((sum, k) => sum + k.keys, 0),
      bootBytes,
      startBytes,
      peakBytes,
      anonPeakBytes,
      idleBytes,
      idleAfterS: settleMs / 1000,
      ...(splits ? { splits } : {}),
    });
  }

  /**
   * How each node's memory splits between V8's heap, buffers and the rest (native: LevelDB,
   * the allocator, code), logged and returned ({} when the system does not say, or on error):
   * what RSS alone cannot tell apart.
   */
  private async memorySplit(what: string, servers: Servers): Promise<Record<string, MemorySplit>> {
    let splits: Record<string, MemorySplit>;
    try {
      splits = await servers.memorySplit();
    } catch {
      return {};
    }
    const pids = servers.pids();
    for (const [id, split] of Object.entries(splits)) {
      const pid = pids.get(id);
      const rssFile = pid === undefined ? undefined : await rssFileBytes(pid);
      if (rssFile !== undefined) splits[id] = { ...split, rssFile };
    }
    const parts = Object.entries(splits).map(([id, m]) => `${id} ${describeSplit(m)}`);
    if (parts.length > 0) this.log(`${what}, MiB: ${parts.join(' · ')}`);
    return splits;
  }

  private summarizeProfile(
    phase: Phase,
    dir: string,
    pids: ReadonlyMap<string, number>,
    window: TimeWindow | undefined,
  ): void {
    const scenario = measuredScenarios([phase])[0];
    const result = this.out.results.find((r) => r.scenario.id === scenario?.id);
    try {
      const profiles = readProfiles(dir, pids);
      const missing = [...pids.keys()].filter((node) => !profiles.some((p) => p.node === node));
      if (missing.length > 0)
        this.out.notes.push(`${phase.id}: no readable CPU profile from ${missing.join(', ')}`);
      if (!result || profiles.length === 0) return;
      const summary = summarizeProfiles(profiles, window);
      this.out.profile = {
        scenarioId: result.scenario.id,
        label: result.label,
        reqPerS: result.load?.okPerS,
        cpuCores: result.cpuCores,
        files: profiles.length,
        ...summary,
      };
      this.log(
        `profile: ${profiles.length} files, ${(summary.all.busyMs / 1000).toFixed(1)} s busy ` +
          `(${summary.window === 'load' ? 'load window' : 'whole processes'})`,
      );
    } catch (err) {
      this.out.notes.push(`${phase.id}: could not summarize the CPU profiles: ${message(err)}`);
    }
  }

  private async start(phase: Phase, cpuProfDir: string | undefined): Promise<Servers> {
    if (phase.system === 'etcd') {
      if (!this.etcd) throw new Error('no etcd binary');
      const cluster = await EtcdCluster.start(this.etcd);
      this.etcdLeader = cluster.leaderName;
      this.log(`etcd healthy, leader ${cluster.leaderName} (${cluster.leaderUrl})`);
      return etcdServers(cluster);
    }
    const cluster = await KvorumCluster.start(this.repo, {
      nodes: phase.nodes,
      n: phase.n,
      fsync: this.settings.fsync,
      valueBytesMax: MIB,
      cpuProfDir,
    });
    this.log(`kvorum up: ${cluster.ids.map((id) => `${id} ${cluster.url(id)}`).join(', ')}`);
    return kvorumServers(cluster);
  }

  /** Applies a fault or heals; resolves to what went wrong, or undefined. */
  private async act(
    phase: Phase,
    servers: Servers,
    step: Exclude<Step, { kind: 'measure' }>,
  ): Promise<string | undefined> {
    const what =
      step.kind === 'delay'
        ? `delay ${step.ms} ± ${step.jitterMs} ms on every link of ${step.node}`
        : step.kind === 'partition'
          ? `partition ${step.groups.map((g) => `{${g.join(',')}}`).join(' | ')}`
          : 'heal';
    this.log(what);
    try {
      await servers.act(step);
      return undefined;
    } catch (err) {
      const note = `${phase.id}: ${what} failed: ${message(err)}`;
      this.out.notes.push(note);
      this.log(note);
      return note;
    }
  }

  /**
   * Heals with the load stopped, then polls every node's /admin/status until none has a hint
   * pending (or the cap passes). Resolves as act() does.
   */
  private async healAndCatchUp(
    phase: Phase,
    servers: Servers,
    step: Extract<Step, { kind: 'heal' }>,
  ): Promise<string | undefined> {
    let hintsAtHeal: Record<string, number> = {};
    let error: string | undefined;
    try {
      hintsAtHeal = await servers.hintsPending();
    } catch (err) {
      error = `hints pending at heal: ${message(err)}`;
    }
    const healedAt = performance.now();
    const since = () => (performance.now() - healedAt) / 1000;
    const failure = await this.act(phase, servers, step);
    const upAfterS = failure ? undefined : since();
    const capS = this.settings.quick ? CATCH_UP_CAP_S / 3 : CATCH_UP_CAP_S;
    const pending: Array<[number, number]> = [];
    let caughtUpAfterS: number | undefined;
    if (failure) error = failure;
    else if (error === undefined) {
      while (caughtUpAfterS === undefined && since() < capS) {
        try {
          const counts = Object.values(await servers.hintsPending());
          // Taken as the answers arrive: the count was read at most this long after the heal.
          const at = since();
          const total = counts.reduce((a, b) => a + b, 0);
          pending.push([Math.round(at * 1000) / 1000, total]);
          if (total === 0) caughtUpAfterS = at;
          error = undefined;
        } catch (err) {
          error = `polling hints: ${message(err)}`;
        }
        if (caughtUpAfterS === undefined) await sleep(CATCH_UP_POLL_MS);
      }
    }
    this.out.catchUp = {
      phase: phase.id,
      hintsAtHeal,
      upAfterS,
      caughtUpAfterS,
      capS,
      pending,
      error,
    };
    const atHeal = Object.values(hintsAtHeal).reduce((a, b) => a + b, 0);
    const left = pending.at(-1)?.[1];
    this.log(
      `catch-up: ${fmt(atHeal)} hints pending at heal; ` +
        (caughtUpAfterS !== undefined
          ? `none pending ${fmt(caughtUpAfterS, 2)} s after the heal`
          : `${left === undefined ? '?' : fmt(left)} still pending after ${capS} s`) +
        (error ? ` (${error})` : ''),
    );
    return failure;
  }

  private async prefill(phase: Phase, servers: Servers, space: KeySpace): Promise<void> {
    const connections = Math.max(
      1,
      Math.min(this.settings.connections, Math.floor(PREFILL_BYTES_IN_FLIGHT / space.valueBytes)),
    );
    const scenario = this.prefillScenario(phase, space, connections);
    const label = `${space.keys.toLocaleString('en-US')} keys of ${describeSize(space.valueBytes)}`;
    this.log(
      `prefill ${label} (${connections} connections${phase.system === 'kvorum' ? ', w=one' : ''})`,
    );
    const started = Date.now();
    const spec: LoadSpec = {
      urls: servers.urls(scenario),
      connections,
      warmupS: 0,
      durationS: 0,
      prefill: true,
      requestTimeoutS: REQUEST_TIMEOUT_S,
      workload: workloadOf(scenario),
    };
    const base = { phase: phase.id, prefix: space.prefix, keys: space.keys };
    try {
      const load = await runLoad(spec);
      const seconds = (Date.now() - started) / 1000;
      this.out.prefills.push({
        ...base,
        valueBytes: space.valueBytes,
        seconds,
        ok: load.ok,
        non2xx: load.non2xx,
        errors: load.errors,
        error: undefined,
      });
      this.log(
        `prefill done in ${fmt(seconds, 1)} s: ${fmt(load.ok / seconds)} writes/s, ` +
          `non-2xx ${load.non2xx}, errors ${load.errors}`,
      );
    } catch (err) {
      const seconds = (Date.now() - started) / 1000;
      this.out.prefills.push({
        ...base,
        valueBytes: space.valueBytes,
        seconds,
        ok: 0,
        non2xx: 0,
        errors: 0,
        error: message(err),
      });
      this.log(`prefill failed: ${message(err)}`);
    }
    await new Promise((r) => setTimeout(r, this.settings.quick ? SETTLE_MS / 2 : SETTLE_MS));
  }

  private prefillScenario(phase: Phase, space: KeySpace, connections: number): Scenario {
    return {
      id: `${phase.id}.prefill.${space.prefix}`,
      section: 'core',
      system: phase.system,
      nodes: phase.nodes,
      op: 'put',
      level: phase.system === 'kvorum' ? 'one' : undefined,
      etcdRead: undefined,
      valueBytes: space.valueBytes,
      keyPrefix: space.prefix,
      keys: space.keys,
      connections,
      target:
        phase.system === 'etcd'
          ? ['leader']
          : Array.from({ length: phase.nodes }, (_, i) => `n${i + 1}`),
      side: undefined,
      delayed: false,
    };
  }

  /** Resolves to the scenario's measured window, or undefined when it was not run. */
  private async measure(servers: Servers, scenario: Scenario): Promise<TimeWindow | undefined> {
    this.done += 1;
    const label = scenarioLabel(scenario);
    const tag = `[${this.done}/${this.total}] ${scenario.id} (${label})`;
    const dead = servers.dead();
    if (dead.length > 0) {
      this.record(scenario, undefined, `not run: ${dead.join('; ')}`);
      this.log(`${tag}: not run, a server is down`);
      return undefined;
    }
    const pids = servers.pids();
    const sampler = new RssSampler(pids, (scenario.rssEveryS ?? 1) * 1000);
    let load: LoadResult | undefined;
    let error: string | undefined;
    try {
      await servers.beforeScenario();
      load = await runLoad({
        urls: servers.urls(scenario),
        connections: scenario.connections,
        warmupS: this.settings.warmupS,
        durationS: scenario.durationS ?? this.settings.durationS,
        prefill: false,
        requestTimeoutS: REQUEST_TIMEOUT_S,
        workload: workloadOf(scenario),
        cpuPids: Object.fromEntries(pids),
      });
    } catch (err) {
      error = message(err);
    }
    const rss = await sampler.stop();
    const deadAfter = servers.dead();
    if (deadAfter.length > 0)
      error = [error, `server died: ${deadAfter.join('; ')}`].filter(Boolean).join('; ');
    this.record(
      scenario,
      load,
      error,
      rss,
      scenario.rssEveryS ? sampler.curve : undefined,
      sampler.anonPeakBytes,
    );
    this.log(`${tag}: ${load ? summaryLine(load) : ''}${error ? ` FAILED: ${error}` : ''}`);
    this.endSplits.set(scenario.id, await this.memorySplit(`${scenario.id} at its end`, servers));
    return load?.cpu?.window;
  }

  private record(
    scenario: Scenario,
    load: LoadResult | undefined,
    error: string | undefined,
    rssPeakBytes: Record<string, number> = {},
    rssCurve?: readonly RssSample[],
    rssAnonPeakBytes: Record<string, number> = {},
  ): void {
    const label = scenarioLabel(scenario);
    const cpuCores = load?.cpu ? coresOf(load.cpu) : {};
    const cpuSeconds = load?.cpu?.seconds ?? {};
    this.out.results.push({
      scenario,
      label,
      load,
      error,
      rssPeakBytes,
      rssAnonPeakBytes,
      cpuCores,
      cpuSeconds,
      ...(rssCurve ? { rssCurve } : {}),
    });
  }

  private failPhase(phase: Phase, error: string): void {
    this.log(error);
    this.out.notes.push(error);
    for (const step of phase.steps)
      if (step.kind === 'measure') {
        this.done += 1;
        this.record(step.scenario, undefined, error);
      }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
