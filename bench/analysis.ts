// Turns raw results into what the report states: each figure as a ratio to the baselines
// measured in the same run, and the issues' targets as PASS / FALL SHORT.

import { LOAD_GENERATOR } from './cpu.js';
import type {
  BenchRun,
  Ratios,
  ScenarioResult,
  RssEnvelope,
  SoakNodeGrowth,
  SoakSummary,
  TargetVerdict,
} from './results.js';
import type { LatencySummary } from './latency.js';

type Input = Omit<BenchRun, 'kind' | 'schema' | 'results' | 'targets' | 'soak'> & {
  readonly results: readonly ScenarioResult[];
};

/** Baseline names, as the report's column headers use them. */
export const BASELINE = Object.freeze({
  single: '1 replica',
  etcd: 'etcd',
  undelayed: 'no delay',
  core: 'core (3 replicas)',
  smallValues: '100 B values',
});

const SMALL = 100;

function byId(results: readonly ScenarioResult[]): Map<string, ScenarioResult> {
  return new Map(results.map((r) => [r.scenario.id, r]));
}

function suffixOf(r: ScenarioResult): string {
  const s = r.scenario;
  const size = s.valueBytes === SMALL ? '' : s.valueBytes === 10 * 1024 ? '10k' : undefined;
  return size === undefined ? '' : `${s.op}${size}`;
}

/** Ids of the scenarios a result is compared with, by baseline name. */
function baselinesOf(r: ScenarioResult): Array<[string, string]> {
  const s = r.scenario;
  const out: Array<[string, string]> = [];
  const singleOp = suffixOf(r);
  if (s.section !== 'single' && singleOp !== '') out.push([BASELINE.single, `single.${singleOp}`]);
  if (s.system === 'kvorum' && s.valueBytes === SMALL && (s.op === 'put' || s.op === 'get'))
    out.push([BASELINE.etcd, s.op === 'put' ? 'etcd.put' : 'etcd.range-lin']);
  if (s.section === 'delay') out.push([BASELINE.undelayed, `core.${s.op}.${s.level}`]);
  if (s.section === 'scale-keys' || s.section === 'scale-nodes')
    out.push([BASELINE.core, `core.${s.op}.${s.level}`]);
  if (s.section === 'scale-values')
    out.push([BASELINE.smallValues, `scale-values.100B.${s.op}.${s.level}`]);
  return out.filter(([, id]) => id !== s.id);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  return a / b;
}

/** Server CPU µs per response of the measured run: every server process, not the load generator. */
export function cpuUsPerOp(r: ScenarioResult): number | undefined {
  const servers = Object.entries(r.cpuSeconds).filter(([name]) => name !== LOAD_GENERATOR);
  const responses = r.load?.responses ?? 0;
  if (servers.length === 0 || responses === 0) return undefined;
  return (servers.reduce((sum, [, s]) => sum + s, 0) * 1e6) / responses;
}

export function ratiosOf(r: ScenarioResult, base: ScenarioResult): Omit<Ratios, 'baseline'> {
  const a = r.load;
  const b = base.load;
  return {
    reqPerS: ratio(a?.okPerS, b?.okPerS),
    p50: ratio(a?.latency?.p50Ms, b?.latency?.p50Ms),
    p99: ratio(a?.latency?.p99Ms, b?.latency?.p99Ms),
    p999: ratio(a?.latency?.p999Ms, b?.latency?.p999Ms),
    cpuPerOp: ratio(cpuUsPerOp(r), cpuUsPerOp(base)),
  };
}

function fmtRate(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function fmtUs(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function fmtMs(v: number): string {
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

const MIB = 1024 * 1024;
/** The key count issue 14's RSS comparison with etcd is stated for. */
const RSS_TARGET_KEYS = 100_000;
/** Idle RSS after the run, as a multiple of the RSS at its start, at most. */
const IDLE_RSS_MAX = 1.5;

function mib(bytes: number): string {
  return `${Math.round(bytes / MIB).toLocaleString('en-US')} MiB`;
}

/** The largest per-process peak RSS over a section's scenarios, with where it was seen. */
function sectionPeak(
  results: Iterable<ScenarioResult>,
  section: string,
): { bytes: number; process: string; scenario: string } | undefined {
  let peak: { bytes: number; process: string; scenario: string } | undefined;
  for (const r of results)
    if (r.scenario.section === section)
      for (const [name, bytes] of Object.entries(r.rssPeakBytes))
        if (bytes > (peak?.bytes ?? 0)) peak = { bytes, process: name, scenario: r.scenario.id };
  return peak;
}

function memoryTargets(input: Input, results: Map<string, ScenarioResult>): TargetVerdict[] {
  const peakTarget = `peak RSS per node in the core scenarios ≤ etcd member's peak RSS (${RSS_TARGET_KEYS.toLocaleString('en-US')} keys)`;
  const kvorum = sectionPeak(results.values(), 'core');
  const etcd = sectionPeak(results.values(), 'etcd');
  const keys = Number(input.settings.keys);
  const keysNote =
    keys === RSS_TARGET_KEYS ? '' : `; at ${keys.toLocaleString('en-US')} keys, not the target's`;
  const peak: TargetVerdict =
    kvorum && etcd
      ? {
          target: peakTarget,
          scenario: kvorum.scenario,
          status: kvorum.bytes <= etcd.bytes ? 'PASS' : 'FALL SHORT',
          measured:
            `${(kvorum.bytes / etcd.bytes).toFixed(2)}× (${kvorum.process} ${mib(kvorum.bytes)} in ` +
            `${kvorum.scenario} vs ${etcd.process} ${mib(etcd.bytes)} in ${etcd.scenario}${keysNote})`,
        }
      : {
          target: peakTarget,
          scenario: kvorum?.scenario ?? '',
          status: 'NOT MEASURED',
          measured: [kvorum ? '' : 'no core RSS', etcd ? '' : 'no etcd RSS']
            .filter(Boolean)
            .join(', '),
        };
  const idleTarget = `idle RSS after the run ≤ ${IDLE_RSS_MAX}× RSS at its start, every node of the 3-replica phase`;
  const phase = input.memory.find((m) => m.phase === 'kvorum-3');
  const growth = Object.entries(phase?.idleBytes ?? {}).flatMap(([name, idle]) => {
    const start = phase?.startBytes[name];
    return start ? [{ name, idle, start, x: idle / start }] : [];
  });
  const worst = growth.sort((a, b) => b.x - a.x)[0];
  const idle: TargetVerdict =
    phase && worst
      ? {
          target: idleTarget,
          scenario: phase.phase,
          status: worst.x <= IDLE_RSS_MAX ? 'PASS' : 'FALL SHORT',
          measured:
            `${worst.x.toFixed(2)}× at most (${worst.name}: ${mib(worst.start)} after the prefill, ` +
            `${mib(worst.idle)} ${phase.idleAfterS} s after the last step)`,
        }
      : {
          target: idleTarget,
          scenario: 'kvorum-3',
          status: 'NOT MEASURED',
          measured: phase ? 'no RSS readings (no /proc)' : 'the 3-replica phase did not run',
        };
  return [peak, idle];
}

/** Seconds from the heal after the partition until no node has a hint pending, at most. */
const CATCH_UP_MAX_S = 10;

function catchUpTarget(input: Input): TargetVerdict {
  const target = `catch-up: no hint pending on any node within ${CATCH_UP_MAX_S} s of the heal after the partition`;
  const c = input.catchUp;
  const verdict = (status: TargetVerdict['status'], measured: string): TargetVerdict => ({
    target,
    scenario: 'partition',
    status,
    measured,
  });
  if (!c) return verdict('NOT MEASURED', 'no partition scenario ran');
  const atHeal = Object.values(c.hintsAtHeal).reduce((a, b) => a + b, 0);
  const hints = `${atHeal.toLocaleString('en-US')} hints pending at heal`;
  if (c.caughtUpAfterS !== undefined)
    return verdict(
      c.caughtUpAfterS <= CATCH_UP_MAX_S ? 'PASS' : 'FALL SHORT',
      `${c.caughtUpAfterS.toFixed(1)} s (${hints}; peers up again after ${c.upAfterS?.toFixed(1)} s)`,
    );
  const left = c.pending.at(-1)?.[1];
  if (c.error !== undefined || left === undefined)
    return verdict('NOT MEASURED', c.error ?? 'no poll answered');
  return verdict(
    'FALL SHORT',
    `not within ${c.capS} s: ${left.toLocaleString('en-US')} still pending (${hints})`,
  );
}

/** RSS growth over the soak's last half, at most: below it, memory has plateaued. */
const SOAK_GROWTH_MAX = 0.05;
/** What issue 14 asks the soak to run: minutes of load, keys written over. */
const SOAK_TARGET = { minutes: 10, keys: 1_000_000 };

/** The floor and ceiling of `points` (bytes). */
function envelope(points: readonly number[]): RssEnvelope {
  return { floorBytes: Math.min(...points), ceilingBytes: Math.max(...points) };
}

/**
 * Each node's RSS growth over the last half of the soak: the floor (RSS after the collections)
 * and the ceiling (just before them) of the last quarter against those of the quarter before.
 * RSS under load is a sawtooth with a period of a minute or two: a line fitted through it, or
 * any two samples, reads the phase of the last swing as growth (the first soak's line said
 * +14.9% on a curve that did not climb), while a leak lifts the floor and the ceiling both.
 */
export function summarizeSoak(results: readonly ScenarioResult[]): SoakSummary | undefined {
  const r = results.find((v) => v.scenario.section === 'soak' && v.rssCurve);
  const curve = r?.rssCurve;
  if (!r || !curve) return undefined;
  const toS = curve.at(-1)?.atS ?? 0;
  const half = curve.filter((sample) => sample.atS >= toS / 2);
  const splitS = (toS / 2 + toS) / 2;
  const names = Object.keys(r.rssPeakBytes).sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const nodes = names.flatMap((node): SoakNodeGrowth[] => {
    const of = (keep: (atS: number) => boolean) =>
      half.flatMap((sample) => {
        const bytes = sample.bytes[node];
        return bytes === undefined || !keep(sample.atS) ? [] : [bytes];
      });
    const earlyPoints = of((atS) => atS < splitS);
    const latePoints = of((atS) => atS >= splitS);
    if (earlyPoints.length === 0 || latePoints.length === 0) return [];
    const early = envelope(earlyPoints);
    const late = envelope(latePoints);
    const growth = Math.max(
      late.floorBytes / early.floorBytes - 1,
      late.ceilingBytes / early.ceilingBytes - 1,
    );
    return [{ node, early, late, growth, peakBytes: r.rssPeakBytes[node] ?? 0 }];
  });
  return {
    scenarioId: r.scenario.id,
    fromS: half[0]?.atS ?? toS,
    splitS,
    toS,
    samples: half.length,
    nodes,
  };
}

function soakTarget(
  input: Input,
  results: Map<string, ScenarioResult>,
  soak: SoakSummary | undefined,
): TargetVerdict {
  const target =
    `soak: RSS of every node (its floor and its ceiling) grows < ${SOAK_GROWTH_MAX * 100}% over the last half ` +
    `(${SOAK_TARGET.minutes} min of PUT w=quorum over ${SOAK_TARGET.keys.toLocaleString('en-US')} keys)`;
  const verdict = (status: TargetVerdict['status'], measured: string): TargetVerdict => ({
    target,
    scenario: soak?.scenarioId ?? 'soak.put.quorum',
    status,
    measured,
  });
  if (!soak) return verdict('NOT MEASURED', 'measured by a --soak run');
  const error = results.get(soak.scenarioId)?.error;
  if (error) return verdict('NOT MEASURED', `the soak failed: ${error}`);
  const worst = [...soak.nodes].sort((a, b) => b.growth - a.growth)[0];
  if (!worst) return verdict('NOT MEASURED', 'fewer than 2 RSS samples in the last half');
  const minutes = Number(input.settings.soakMinutes);
  const keys = Number(input.settings.soakKeys);
  const shorter =
    minutes === SOAK_TARGET.minutes && keys === SOAK_TARGET.keys
      ? ''
      : `; ${minutes} min over ${keys.toLocaleString('en-US')} keys, not the target's`;
  const sign = worst.growth >= 0 ? '+' : '';
  return verdict(
    worst.growth < SOAK_GROWTH_MAX ? 'PASS' : 'FALL SHORT',
    `${sign}${(worst.growth * 100).toFixed(1)}% at most (${worst.node}: floor ` +
      `${mib(worst.early.floorBytes)} → ${mib(worst.late.floorBytes)}, ceiling ` +
      `${mib(worst.early.ceilingBytes)} → ${mib(worst.late.ceilingBytes)}, ` +
      `${soak.fromS.toFixed(0)}-${soak.splitS.toFixed(0)} s against ${soak.splitS.toFixed(0)}-` +
      `${soak.toS.toFixed(0)} s, ${soak.samples} samples${shorter})`,
  );
}

/** Targets of issues #5 and #14, each evaluated from the results of this run. */
function evaluateTargets(
  input: Input,
  results: Map<string, ScenarioResult>,
  soak: SoakSummary | undefined,
): TargetVerdict[] {
  // A soak run measures nothing else.
  if (input.mode === 'soak') return [soakTarget(input, results, soak)];
  const ok = (id: string) => {
    const r = results.get(id);
    return r?.load && r.load.ok > 0 && r.error === undefined ? r.load : undefined;
  };
  const missing = (...ids: string[]) =>
    ids
      .filter((id) => !ok(id))
      .map((id) => {
        const error = results.get(id)?.error;
        return error ? `${id} failed` : `${id} not run`;
      })
      .join(', ');
  const throughput = (target: string, id: string, baseId: string, min: number): TargetVerdict => {
    const a = ok(id);
    const b = ok(baseId);
    if (!a || !b)
      return { target, scenario: id, status: 'NOT MEASURED', measured: missing(id, baseId) };
    const x = a.okPerS / b.okPerS;
    const non2xx = a.non2xx + b.non2xx > 0 ? `; non-2xx ${a.non2xx} / ${b.non2xx}` : '';
    return {
      target,
      scenario: id,
      status: x >= min ? 'PASS' : 'FALL SHORT',
      measured: `${x.toFixed(2)}× (${fmtRate(a.okPerS)} vs ${fmtRate(b.okPerS)} req/s${non2xx})`,
    };
  };
  const p99Below = (target: string, id: string, baseId: string): TargetVerdict => {
    const a = ok(id)?.latency;
    const b = ok(baseId)?.latency;
    if (!a || !b)
      return { target, scenario: id, status: 'NOT MEASURED', measured: missing(id, baseId) };
    return {
      target,
      scenario: id,
      status: a.p99Ms < b.p99Ms ? 'PASS' : 'FALL SHORT',
      measured: `${(a.p99Ms / b.p99Ms).toFixed(2)}× (${fmtMs(a.p99Ms)} vs ${fmtMs(b.p99Ms)} ms)`,
    };
  };
  const p50Within = (target: string, id: string, baseId: string, maxMs: number): TargetVerdict => {
    const a: LatencySummary | undefined = ok(id)?.latency;
    const b: LatencySummary | undefined = ok(baseId)?.latency;
    if (!a || !b)
      return { target, scenario: id, status: 'NOT MEASURED', measured: missing(id, baseId) };
    const d = a.p50Ms - b.p50Ms;
    return {
      target,
      scenario: id,
      status: d <= maxMs ? 'PASS' : 'FALL SHORT',
      measured: `${d >= 0 ? '+' : ''}${d.toFixed(2)} ms (${fmtMs(b.p50Ms)} → ${fmtMs(a.p50Ms)} ms; ${(a.p50Ms / b.p50Ms).toFixed(2)}×)`,
    };
  };
  const cpuAtMost = (target: string, id: string, baseId: string, max: number): TargetVerdict => {
    const a = ok(id) && cpuUsPerOp(results.get(id) as ScenarioResult);
    const b = ok(baseId) && cpuUsPerOp(results.get(baseId) as ScenarioResult);
    if (!a || !b) {
      const noCpu = ok(id) && ok(baseId) ? 'no CPU reading (no /proc)' : missing(id, baseId);
      return { target, scenario: id, status: 'NOT MEASURED', measured: noCpu };
    }
    const x = a / b;
    return {
      target,
      scenario: id,
      status: x <= max ? 'PASS' : 'FALL SHORT',
      measured: `${x.toFixed(2)}× (${fmtUs(a)} vs ${fmtUs(b)} µs per request)`,
    };
  };
  return [
    throughput('quorum PUT ≥ 2.5× etcd put', 'core.put.quorum', 'etcd.put', 2.5),
    throughput('quorum PUT ≥ 0.6× single-replica PUT', 'core.put.quorum', 'single.put', 0.6),
    throughput('linearizable PUT ≥ 1.5× etcd put', 'core.put.linearizable', 'etcd.put', 1.5),
    throughput(
      'linearizable GET ≥ 2× etcd linearizable range',
      'core.get.linearizable',
      'etcd.range-lin',
      2,
    ),
    throughput('one GET ≥ 0.8× single-replica GET', 'core.get.one', 'single.get', 0.8),
    p99Below('p99 of PUT w=one below etcd put p99', 'core.put.one', 'etcd.put'),
    p99Below('p99 of PUT w=quorum below etcd put p99', 'core.put.quorum', 'etcd.put'),
    p99Below(
      'p99 of GET r=one below etcd linearizable range p99',
      'core.get.one',
      'etcd.range-lin',
    ),
    p99Below(
      'p99 of GET r=quorum below etcd linearizable range p99',
      'core.get.quorum',
      'etcd.range-lin',
    ),
    p50Within(
      '20 ms delay on n3: PUT w=quorum p50 within 2 ms of no delay',
      'delay.put.quorum',
      'core.put.quorum',
      2,
    ),
    p50Within(
      '20 ms delay on n3: GET r=quorum p50 within 2 ms of no delay',
      'delay.get.quorum',
      'core.get.quorum',
      2,
    ),
    cpuAtMost(
      'server CPU per PUT w=quorum (3 nodes together) ≤ 1.8× single-replica PUT',
      'core.put.quorum',
      'single.put',
      1.8,
    ),
    cpuAtMost(
      'server CPU per PUT w=quorum ≤ 0.5× etcd put (3 members together)',
      'core.put.quorum',
      'etcd.put',
      0.5,
    ),
    cpuAtMost(
      'server CPU per 10 KiB PUT w=quorum ≤ 2× single-replica 10 KiB PUT',
      'core.put10k.quorum',
      'single.put10k',
      2,
    ),
    cpuAtMost(
      'server CPU per GET r=one (3 nodes together) ≤ 1.15× single-replica GET',
      'core.get.one',
      'single.get',
      1.15,
    ),
    ...memoryTargets(input, results),
    catchUpTarget(input),
    soakTarget(input, results, soak),
  ];
}

export function analyze(input: Input): BenchRun {
  const results = byId(input.results);
  const soak = summarizeSoak(input.results);
  return {
    kind: 'kvorum-bench',
    schema: 1,
    ...input,
    results: input.results.map((r) => ({
      ...r,
      ratios: baselinesOf(r).flatMap(([baseline, id]) => {
        const base = results.get(id);
        return base ? [{ baseline, ...ratiosOf(r, base) }] : [];
      }),
      cpuUsPerOp: cpuUsPerOp(r),
    })),
    targets: evaluateTargets(input, results, soak),
    soak,
  };
}
