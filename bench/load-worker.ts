// Runs autocannon in a worker thread, so that collecting results never competes with the
// bench's main thread (which samples memory and talks to the admin API). One spec per worker:
// a warm-up run whose figures are dropped, then the measured run; posts one LoadResult.

import autocannon, { type Instance, type Result } from 'autocannon';
import { parentPort, workerData } from 'node:worker_threads';
import { CpuMeter, type CpuReading } from './cpu.js';
import { LatencyRecorder } from './latency.js';
import { requestSetup, type LoadResult, type LoadSpec } from './workload.js';

const ERROR_SAMPLES_MAX = 5;
const SAMPLE_EVERY_MS = 100;
/** HTTP statuses are three digits; anything else is counted as 599. */
const STATUS_SLOTS = 600;

interface Tally {
  readonly latency: LatencyRecorder;
  readonly latencyAll: LatencyRecorder;
  readonly statuses: Uint32Array;
  readonly errorSamples: Set<string>;
}

function newTally(): Tally {
  return {
    latency: new LatencyRecorder(),
    latencyAll: new LatencyRecorder(),
    statuses: new Uint32Array(STATUS_SLOTS),
    errorSamples: new Set(),
  };
}

function runOnce(spec: LoadSpec, durationS: number, tally: Tally): Promise<Result> {
  return new Promise((resolve, reject) => {
    const setupRequest = requestSetup(spec);
    let instance: Instance;
    try {
      instance = autocannon(
        {
          url: [...spec.urls],
          connections: spec.connections,
          pipelining: 1,
          // autocannon stops at its first sample after the duration: sample often, stop on time.
          sampleInt: SAMPLE_EVERY_MS,
          timeout: spec.requestTimeoutS,
          ...(spec.prefill ? { amount: spec.workload.keys } : { duration: durationS }),
          requests: [{ setupRequest }],
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
    } catch (err) {
      reject(err as Error);
      return;
    }
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      tally.latencyAll.record(ms);
      if (status >= 200 && status < 300) tally.latency.record(ms);
      tally.statuses[status > 0 && status < STATUS_SLOTS ? status : STATUS_SLOTS - 1]! += 1;
    });
    instance.on('reqError', (err: Error) => {
      if (tally.errorSamples.size < ERROR_SAMPLES_MAX) tally.errorSamples.add(err.message);
    });
  });
}

function summarize(result: Result, tally: Tally, cpu: CpuReading | undefined): LoadResult {
  const statusCounts: Record<string, number> = {};
  let responses = 0;
  let ok = 0;
  tally.statuses.forEach((count, status) => {
    if (count === 0) return;
    statusCounts[String(status)] = count;
    responses += count;
    if (status >= 200 && status < 300) ok += count;
  });
  const durationS = result.duration > 0 ? result.duration : 1;
  return {
    durationS,
    responses,
    ok,
    non2xx: responses - ok,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    errorSamples: [...tally.errorSamples],
    reqPerS: responses / durationS,
    okPerS: ok / durationS,
    latency: tally.latency.summary(),
    latencyAll: tally.latencyAll.summary(),
    cpu,
  };
}

async function main(): Promise<void> {
  const spec = workerData as LoadSpec;
  if (!spec.prefill && spec.warmupS > 0) await runOnce(spec, spec.warmupS, newTally());
  const tally = newTally();
  // Read here rather than in the main thread: this thread knows the instant the measured run
  // starts and ends, so the CPU and the responses it is divided by cover the same window.
  const meter = spec.cpuPids && new CpuMeter(new Map(Object.entries(spec.cpuPids)));
  const result = await runOnce(spec, spec.durationS, tally);
  parentPort?.postMessage(summarize(result, tally, meter?.stop()));
}

// A failure rejects here and reaches the main thread as the worker's 'error' event.
await main();
