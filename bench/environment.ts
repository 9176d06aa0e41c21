// Where the bench runs: the repository it measures (root, git commit) and the machine (CPU,
// cores, memory, Node version, load), as the report states them.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 5_000;

/** The kvorum checkout: the nearest directory above this file whose package.json is kvorum's. */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
      if (name === 'kvorum') return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the kvorum checkout above the bench');
    dir = up;
  }
}

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly date: string;
  readonly commit: string;
  /** Uncommitted changes in the checkout when the run started. */
  readonly dirty: boolean;
  /** 1-minute load average when the run started: above ~0.5 on an idle box, others were busy. */
  readonly loadAtStart: number;
}

async function git(root: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', args, { cwd: root, timeout: GIT_TIMEOUT_MS });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

export async function describeMachine(root: string): Promise<Machine> {
  const cpuList = cpus();
  const commit = (await git(root, ['rev-parse', 'HEAD'])) ?? 'unknown (not a git checkout)';
  const status = await git(root, ['status', '--porcelain', '--untracked-files=no']);
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    commit,
    dirty: status !== undefined && status !== '',
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** The 1-minute load average now, rounded; the report gives it at the start and the end. */
export function loadNow(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

/** Busy CPU time of the whole machine and of this process with its reaped children, seconds. */
export interface CpuSnapshot {
  readonly machineBusyS: number;
  readonly benchS: number;
}

/** USER_HZ: /proc counts CPU time in these ticks (100 on every Linux in practice). */
const TICKS_PER_S = 100;

/** Reads /proc/stat and /proc/self/stat; undefined off Linux. */
export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1);
    const [user, nice, system, , , irq, softirq, steal] = (cpu ?? []).map(Number);
    let machine = 0;
    for (const ticks of [user, nice, system, irq, softirq, steal]) machine += ticks ?? 0;
    const self = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime field 14.
    const fields = self
      .slice(self.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const [utime, stime, cutime, cstime] = fields.slice(11, 15);
    const bench = (utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0);
    return { machineBusyS: machine / TICKS_PER_S, benchS: bench / TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/**
 * CPU the rest of the machine used between two snapshots (everything but the bench and the
 * servers it started and reaped), as a share of all cores over that time.
 */
export function othersCpuShare(
  start: CpuSnapshot | undefined,
  end: CpuSnapshot | undefined,
  wallS: number,
  cores: number,
): number | undefined {
  if (!start || !end || wallS <= 0) return undefined;
  const others = end.machineBusyS - start.machineBusyS - (end.benchS - start.benchS);
  return Math.max(0, others) / (wallS * cores);
}
