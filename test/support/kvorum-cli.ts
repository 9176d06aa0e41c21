// Runs the real `kvorum` binary as a child process for tests, and finds processes a run may
// have left behind. Every child started here is tracked so a test can kill what is left.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = resolve(import.meta.dirname, '../../bin/kvorum.js');

export interface CliRun {
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is complete. */
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
  /** Resolves with the first stderr line that matches, or rejects if the process ends first. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray>;
}

const running = new Set<ChildProcess>();

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of Object.keys(childEnv)) {
    if (name.startsWith('KVORUM_') && !(name in env)) delete childEnv[name];
  }
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: {
    pattern: RegExp;
    resolve: (m: RegExpExecArray) => void;
    reject: (e: Error) => void;
  }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (line) => {
    stderr += `${line}\n`;
    for (const w of [...waiters]) {
      const m = w.pattern.exec(line);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolveDone) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      for (const w of waiters.splice(0)) {
        w.reject(
          new Error(`kvorum ${args.join(' ')} ended before printing ${w.pattern}:\n${stderr}`),
        );
      }
      resolveDone({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitForStderr: (pattern) =>
      new Promise((res, rej) => waiters.push({ pattern, resolve: res, reject: rej })),
  };
}

/** Grace a child gets after SIGINT to stop its cluster and remove its data. */
const INTERRUPT_GRACE_MS = 10_000;

/**
 * Stops every child still running, for afterEach: SIGINT first, so `kvorum verify` removes the
 * cluster it started, then SIGKILL for any that did not exit in time.
 */
export async function stopRunningClis(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), INTERRUPT_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }),
  );
  running.clear();
}

/** Command lines of running processes that mention `text` (e.g. a temp dir in their --config). */
export function processesMentioning(text: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}
