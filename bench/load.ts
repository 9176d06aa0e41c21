// Runs one LoadSpec in a worker thread, with a hard cap on how long it may take: a stuck run
// is terminated and reported as an error, never left to hang the bench.

import { Worker } from 'node:worker_threads';
import type { LoadResult, LoadSpec } from './workload.js';

const WORKER_URL = new URL('./load-worker.js', import.meta.url);
/** Beyond warm-up and duration, time for connections, the last timeouts and the result. */
const CAP_SLACK_MS = 30_000;

const running = new Set<Worker>();

/** Rough time a prefill may take: 500 keys/s is far below any system measured here. */
function capMs(spec: LoadSpec): number {
  const seconds = spec.prefill ? spec.workload.keys / 500 : spec.warmupS + spec.durationS;
  return seconds * 1000 + CAP_SLACK_MS + spec.requestTimeoutS * 1000;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: spec });
    running.add(worker);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(cap);
      running.delete(worker);
      fn();
    };
    const cap = setTimeout(() => {
      settle(() => reject(new Error(`load run did not finish within ${capMs(spec)} ms`)));
      void worker.terminate();
    }, capMs(spec));
    worker.once('message', (result: LoadResult) => settle(() => resolve(result)));
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) =>
      settle(() => reject(new Error(`load worker exited with code ${code} before its result`))),
    );
  });
}

/** For shutdown on a signal: stops every load run in flight. */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
  running.clear();
}
