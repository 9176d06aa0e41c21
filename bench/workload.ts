// What one load run sends (a serializable spec handed to the load worker) and how each request
// is built from it: a random key per request, a GET or a write by the mix, the level's query.

import type { RequestParams } from 'autocannon';
import type { CpuReading } from './cpu.js';
import type { LatencySummary } from './latency.js';

/** kvorum: GET /kv/<key><readQuery> and PUT /kv/<key><writeQuery> with a fixed-size value. */
export interface KvorumWorkload {
  readonly system: 'kvorum';
  /** Fraction of requests that are reads: 1 all GET, 0 all PUT, 0.9 a 90/10 mix. */
  readonly getShare: number;
  readonly keyPrefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  readonly readQuery: string;
  readonly writeQuery: string;
}

/** etcd through its v3 HTTP/JSON gateway: POST /v3/kv/range and /v3/kv/put, base64 in JSON. */
export interface EtcdWorkload {
  readonly system: 'etcd';
  readonly getShare: number;
  readonly keyPrefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  /** Serializable ranges are answered by the member's local store, without a quorum round. */
  readonly serializable: boolean;
}

export type Workload = KvorumWorkload | EtcdWorkload;

export interface LoadSpec {
  /** Connections are spread over these base URLs round-robin (autocannon's url list). */
  readonly urls: readonly string[];
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Prefill instead of a timed run: writes keys 0…keys-1 once each, in order. */
  readonly prefill: boolean;
  /** A request without an answer after this many seconds counts as a timeout error. */
  readonly requestTimeoutS: number;
  readonly workload: Workload;
  /** Processes (name → PID) whose CPU time the worker reads around the measured run. */
  readonly cpuPids?: Readonly<Record<string, number>>;
}

export interface LoadResult {
  readonly durationS: number;
  readonly responses: number;
  /** 2xx responses. */
  readonly ok: number;
  readonly non2xx: number;
  /** Responses by HTTP status, e.g. {"200": 123, "503": 4}. */
  readonly statusCounts: Record<string, number>;
  /** Connection errors and timeouts (no response at all); timeouts are also counted alone. */
  readonly errors: number;
  readonly timeouts: number;
  /** First few distinct error messages, to say what went wrong. */
  readonly errorSamples: readonly string[];
  readonly reqPerS: number;
  readonly okPerS: number;
  /** Latency of 2xx responses; undefined when there were none. */
  readonly latency: LatencySummary | undefined;
  /** Latency of every response, refusals included. */
  readonly latencyAll: LatencySummary | undefined;
  /** CPU over the measured run (warm-up excluded); undefined without `cpuPids`. */
  readonly cpu: CpuReading | undefined;
}

/** Pseudo-random bytes (incompressible, unlike a repeated byte) from a seeded xorshift. */
export function valueOfSize(bytes: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed | 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export type RequestSetup = (req: RequestParams) => RequestParams;

// Every request gets a new headers object: autocannon keeps the object a setupRequest was given
// for the next request and writes Content-Length into it, so a GET after a PUT would otherwise
// announce the PUT's body.

/** Picks the key: a uniformly random one, or the next in order for a prefill. */
function keyPicker(keys: number, sequential: boolean): () => number {
  if (!sequential) return () => Math.floor(Math.random() * keys);
  let next = 0;
  return () => next++ % keys;
}

const EMPTY = Buffer.alloc(0);

function kvorumSetup(w: KvorumWorkload, sequential: boolean): RequestSetup {
  const value = valueOfSize(w.valueBytes);
  const pick = keyPicker(w.keys, sequential);
  const base = `/kv/${encodeURIComponent(w.keyPrefix)}`;
  return (req) => {
    const key = pick();
    if (Math.random() < w.getShare) {
      req.method = 'GET';
      req.path = base + key + w.readQuery;
      req.headers = {};
      req.body = EMPTY;
    } else {
      req.method = 'PUT';
      req.path = base + key + w.writeQuery;
      req.headers = { 'content-type': 'application/octet-stream' };
      req.body = value;
    }
    return req;
  };
}

function etcdSetup(w: EtcdWorkload, sequential: boolean): RequestSetup {
  const value = valueOfSize(w.valueBytes).toString('base64');
  const pick = keyPicker(w.keys, sequential);
  // Keys in base64 are built once: the gateway wants them encoded, and kvorum's keys cost
  // no encoding either.
  const keys = Array.from({ length: w.keys }, (_, i) =>
    Buffer.from(`${w.keyPrefix}${i}`).toString('base64'),
  );
  const rangeTail = w.serializable ? '","serializable":true}' : '"}';
  return (req) => {
    const key = keys[pick()] as string;
    req.method = 'POST';
    req.headers = { 'content-type': 'application/json' };
    if (Math.random() < w.getShare) {
      req.path = '/v3/kv/range';
      req.body = `{"key":"${key}${rangeTail}`;
    } else {
      req.path = '/v3/kv/put';
      req.body = `{"key":"${key}","value":"${value}"}`;
    }
    return req;
  };
}

/** The setupRequest for a spec; a prefill writes every key once, in order. */
export function requestSetup(spec: LoadSpec): RequestSetup {
  const w = spec.workload;
  return w.system === 'kvorum' ? kvorumSetup(w, spec.prefill) : etcdSetup(w, spec.prefill);
}
