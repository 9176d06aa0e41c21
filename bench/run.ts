// `npm run bench`: measures kvorum against its baselines (a single replica, a 3-member etcd)
// on this machine and writes a Markdown report, a JSON file and an SVG chart under
// bench/results/. See USAGE in options.ts for the flags.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import { renderSoakChart } from './soak-chart.js';
import { analyze } from './analysis.js';
import { cpuSnapshot, describeMachine, loadNow, othersCpuShare, repoRoot } from './environment.js';
import { findEtcd, type EtcdBinary } from './etcd-cluster.js';
import { stopAllLoads } from './load.js';
import { parseSettings, USAGE, type BenchSettings } from './options.js';
import { installCleanup, stopAllProcesses } from './processes.js';
import { renderReport } from './report.js';
import type { BenchRun, EtcdInfo } from './results.js';
import { PhaseRunner } from './runner.js';
import { buildPhases, measuredScenarios, selectPhases } from './scenarios.js';

/** Per scenario beyond warm-up and duration: connecting, the worker, memory sampling. */
const SCENARIO_OVERHEAD_S = 0.5;
/** The whole run is stopped past 3× its estimate plus this (cluster starts, prefills, slack). */
const RUN_CAP_SLACK_S = 15 * 60;
/** Prefills are budgeted at this rate for the overall cap: far below any system measured here. */
const PREFILL_FLOOR_PER_S = 500;

async function stopEverything(): Promise<void> {
  await stopAllLoads();
  await stopAllProcesses();
}

/** A last-resort cap on the whole run: stops every process and exits 1. */
function startWatchdog(capS: number, log: (line: string) => void): void {
  setTimeout(() => {
    log(`bench: still running after its cap of ${Math.round(capS / 60)} min; stopping everything`);
    void stopEverything().finally(() => process.exit(1));
  }, capS * 1000).unref();
}

async function locateEtcd(settings: BenchSettings): Promise<[EtcdBinary | undefined, EtcdInfo]> {
  if (!settings.etcd)
    return [
      undefined,
      { version: undefined, path: undefined, leader: undefined, skipped: '--no-etcd' },
    ];
  const etcd = await findEtcd();
  if (!etcd)
    return [
      undefined,
      {
        version: undefined,
        path: undefined,
        leader: undefined,
        skipped: 'no etcd binary on the PATH (Debian/Ubuntu: apt-get install etcd-server)',
      },
    ];
  return [etcd, { version: etcd.version, path: etcd.path, leader: undefined, skipped: undefined }];
}

function settingsRecord(s: BenchSettings): Record<string, unknown> {
  return { ...s, only: s.only?.source };
}

async function main(): Promise<number> {
  const repo = repoRoot();
  let settings: BenchSettings | undefined;
  try {
    settings = parseSettings(process.argv.slice(2), join(repo, 'bench', 'results'));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (settings === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  installCleanup(stopEverything);
  const started = Date.now();
  const cpuAtStart = cpuSnapshot();
  const machine = await describeMachine(repo);
  const [etcdBinary, etcdInfo] = await locateEtcd(settings);
  const phases = selectPhases(buildPhases(settings, etcdBinary !== undefined), settings.only);
  const scenarios = measuredScenarios(phases);
  const estimateS = scenarios.reduce(
    (sum, s) => sum + settings.warmupS + (s.durationS ?? settings.durationS) + SCENARIO_OVERHEAD_S,
    0,
  );
  const runner = new PhaseRunner(settings, repo, etcdBinary, scenarios.length);
  const mode = settings.soak ? 'soak' : settings.quick ? 'quick' : 'full';
  runner.log(
    `kvorum bench (${mode}${settings.scaling ? ' + scaling' : ''}): ` +
      `${scenarios.length} scenarios in ${phases.length} phases, ~${(estimateS / 60).toFixed(1)} min ` +
      `of load plus cluster starts and prefills; ${machine.cpuModel}, ${machine.cores} cores, ` +
      `node ${machine.node}, load ${machine.loadAtStart}`,
  );
  if (etcdInfo.skipped) runner.log(`etcd baseline skipped: ${etcdInfo.skipped}`);
  const prefillKeys = phases.flatMap((p) => p.keySpaces).reduce((sum, k) => sum + k.keys, 0);
  startWatchdog(3 * estimateS + prefillKeys / PREFILL_FLOOR_PER_S + RUN_CAP_SLACK_S, (line) =>
    runner.log(line),
  );
  let leader: string | undefined;
  for (const phase of phases) {
    await runner.run(phase);
    leader ??= runner.etcdLeader;
  }
  const wallSeconds = Math.round((Date.now() - started) / 1000);
  const run: BenchRun = analyze({
    mode,
    scaling: settings.scaling,
    machine,
    loadAtEnd: loadNow(),
    settings: settingsRecord(settings),
    etcd: { ...etcdInfo, leader },
    othersCpuShare: othersCpuShare(cpuAtStart, cpuSnapshot(), wallSeconds, machine.cores),
    wallSeconds,
    ...runner.out,
  });
  const base = `${mode}${settings.scaling ? '-scaling' : ''}`;
  // A soak has no latency per level to chart; its chart is the RSS curve.
  const chart = settings.soak ? `${base}-rss.svg` : `${base}-latency.svg`;
  mkdirSync(settings.outDir, { recursive: true });
  const files = {
    json: join(settings.outDir, `${base}.json`),
    md: join(settings.outDir, `${base}.md`),
    svg: join(settings.outDir, chart),
  };
  writeFileSync(files.json, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(files.svg, settings.soak ? renderSoakChart(run) : renderChart(run));
  writeFileSync(files.md, renderReport(run, chart));
  const archive = join(settings.outDir, 'runs');
  mkdirSync(archive, { recursive: true });
  writeFileSync(
    join(archive, `${machine.date.replace(/[:.]/g, '-')}-${base}.json`),
    JSON.stringify(run),
  );
  runner.log(`wrote ${files.md}, ${files.json} and ${files.svg}`);
  for (const t of run.targets) runner.log(`target ${t.status}: ${t.target} (${t.measured})`);
  return 0;
}

main().then(
  async (code) => {
    await stopAllProcesses();
    process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    await stopEverything();
    process.exit(1);
  },
);
