// Every process and temp dir the bench creates is registered here and removed by PID at the
// end, on SIGINT/SIGTERM/SIGHUP, and (synchronously, as a last resort) when the process exits.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** After SIGTERM a process gets this long to exit before SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** Bytes of a process's log kept for error messages. */
const LOG_TAIL_BYTES = 2_000;

export interface Spawned {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<string>;
}

const children = new Set<Spawned>();
const dirs = new Set<string>();

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Starts a process whose stdout and stderr go to `logFile` (a pipe nobody reads would fill up). */
export function spawnLogged(
  name: string,
  command: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Spawned {
  const fd = openSync(logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd);
  }
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
    proc.once('error', (err) => resolve(`error ${err.message}`));
  });
  const spawned: Spawned = { name, proc, pid: proc.pid, logFile, exited };
  children.add(spawned);
  void exited.then(() => children.delete(spawned));
  return spawned;
}

export function isRunning(s: Spawned): boolean {
  return s.proc.exitCode === null && s.proc.signalCode === null;
}

/** "n2 exited (signal SIGKILL); its log ends: …" for a process that has exited. */
export function describeExit(s: Spawned): string {
  const how = s.proc.signalCode ? `signal ${s.proc.signalCode}` : `code ${s.proc.exitCode}`;
  const tail = logTail(s).slice(-500);
  return `${s.name} exited (${how})${tail ? `; its log ends: ${tail}` : ''}`;
}

export function logTail(s: Spawned): string {
  try {
    const text = readFileSync(s.logFile, 'utf8');
    return text.slice(-LOG_TAIL_BYTES).trim();
  } catch {
    return '';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL if it has not exited within the grace period. */
export async function stopProcess(s: Spawned, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isRunning(s)) return;
  signal(s.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)));
  const done = await Promise.race([s.exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (done) {
    signal(s.pid, 'SIGKILL');
    await s.exited;
  }
}

export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...children].map((s) => stopProcess(s)));
  for (const dir of [...dirs]) removeTempDir(dir);
}

/** Kills what is left and removes temp dirs, synchronously: the only thing 'exit' allows. */
function killSync(): void {
  for (const s of children) signal(s.pid, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * On SIGINT/SIGTERM/SIGHUP: runs `onSignal` (stop load, stop processes) then exits 130; a
 * second signal kills everything at once.
 */
export function installCleanup(onSignal: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) {
      killSync();
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\nbench: ${sig}, stopping every process it started…\n`);
    const hardStop = setTimeout(() => {
      killSync();
      process.exit(130);
    }, 2 * STOP_GRACE_MS);
    void onSignal()
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(hardStop);
        killSync();
        process.exit(130);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
  process.on('exit', killSync);
}
