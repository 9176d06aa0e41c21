// A typed HTTP client for one kvorum node (DESIGN 1.2 and 1.3), used by the CLI, tests and
// benchmarks. Key-value calls return the HTTP status instead of throwing, because 404, 503 and
// 504 are answers a caller branches on; only a network failure throws (KvorumNetworkError).

import { LIMITS } from '../config.js';
import type { ConsoleClusterView, ConsoleNodeView } from '../core/console-view.js';
import { fetchWithCa } from './fetch-with-ca.js';

/** `one`, `quorum`, `all`, or a replica count 1…N. */
export type ReplicaCount = 'one' | 'quorum' | 'all' | number;
/** `linearizable` asks for single-key linearizability (DESIGN 2.4). */
export type Consistency = 'linearizable' | 'default';

export interface ReadOptions {
  readonly r?: ReplicaCount;
  readonly consistency?: Consistency;
  /** How long the coordinator may wait for replicas (`?timeout=`); the cluster default otherwise. */
  readonly timeoutMs?: number;
}

export interface WriteOptions {
  readonly w?: ReplicaCount;
  readonly consistency?: Consistency;
  readonly timeoutMs?: number;
  /** The `X-Kvorum-Context` of an earlier read: the write supersedes exactly what it saw. */
  readonly context?: string;
}

export interface PutOptions extends WriteOptions {
  /** Stored and returned with the value; application/octet-stream when not given. */
  readonly contentType?: string;
}

export interface GetResult {
  readonly status: number;
  /** The value's bytes, on 200. */
  readonly value?: Buffer;
  readonly contentType?: string;
  /** Opaque causal context; sent on every GET answer, including 404 and 300. */
  readonly context?: string;
  /** One entry per replica asked, e.g. `n2;dur=1.8;desc="ok"`. */
  readonly serverTiming?: string;
  /** The parsed JSON body when it is not a value: siblings on 300, the error on 4xx/5xx. */
  readonly body?: unknown;
}

export interface WriteResult {
  readonly status: number;
  readonly serverTiming?: string;
  /** The parsed JSON error body on 4xx/5xx. */
  readonly body?: unknown;
}

/** The body of a 300 answer with `--conflicts siblings`. */
export interface SiblingsBody {
  readonly siblings: readonly {
    readonly value: string;
    readonly contentType: string;
    /** A concurrent delete (value and contentType are empty). */
    readonly deleted?: boolean;
  }[];
}

/** `GET /admin/layout`: the newest layout version, each node's part in it, and whether it settled. */
export interface LayoutStatus {
  readonly version: number;
  readonly nodes: readonly {
    readonly id: string;
    readonly http: string;
    readonly peer: string;
    readonly state: 'joining' | 'member' | 'leaving';
  }[];
  readonly settled: boolean;
}

/** `POST /admin/leave`: the layout after the change, and how the node was treated. */
export interface LeaveResult extends LayoutStatus {
  /** The node was down when asked (its data is rebuilt from the other replicas). */
  readonly dead: boolean;
  /**
   * Dead, during another change: excused from that change rather than removed. A node still
   * in the layout then needs a leave of its own once the layout has settled.
   */
  readonly excused: boolean;
}

/** `POST /admin/join`: the layout (wire form) and the cluster settings a joining node starts with. */
export interface JoinResult {
  readonly layout: unknown;
  readonly config: Record<string, unknown>;
  /** Node ids the cluster has known, departed ones included: their dots stay in clocks. */
  readonly known?: readonly string[];
}

/** `POST /admin/repair`: per peer, what this node's anti-entropy exchange found and repaired. */
export interface RepairResult {
  readonly keysRepaired: number;
  readonly peers: Readonly<
    Record<
      string,
      {
        readonly at: string;
        readonly durationMs: number;
        readonly keysDiffering: number;
        readonly keysRepaired: number;
        readonly truncated: boolean;
        readonly error?: string;
      }
    >
  >;
}

/** `GET /admin/pbs`: predicted staleness for every (R, W), from the asked node's measurements. */
export interface PbsResult {
  /** The node whose measurements these are: it coordinated the writes and reads modelled. */
  readonly node: string;
  readonly n: number;
  readonly tMs: number;
  readonly k: number;
  readonly trials: number;
  /** Every member's latencies come from enough of its own replies. */
  readonly enoughSamples: boolean;
  /** What stood in for what was not measured, and what is thin. */
  readonly notes: readonly string[];
  readonly samples: Readonly<
    Record<
      string,
      {
        readonly writes: number;
        readonly reads: number;
        readonly writeFrom: string;
        readonly readFrom: string;
      }
    >
  >;
  readonly predictions: readonly {
    readonly r: number;
    readonly w: number;
    readonly strictQuorum: boolean;
    /** null until the node has measured replies (a strict quorum is 1 all the same). */
    readonly pConsistent: number | null;
    readonly pWithinK: number | null;
    readonly readMs: { readonly p50: number; readonly p99: number } | null;
    readonly writeMs: { readonly p50: number; readonly p99: number } | null;
  }[];
}

export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export interface LinkFaults {
  readonly block?: readonly string[];
  readonly delay?: Readonly<Record<string, { readonly ms: number; readonly jitterMs?: number }>>;
  readonly drop?: Readonly<Record<string, number>>;
}

export interface NodeStatus {
  readonly id: string;
  readonly http: string;
  readonly peer: string;
  readonly state: 'up' | 'down';
}

export interface AdminStatus {
  readonly id: string;
  readonly pid: number;
  readonly profile: string;
  readonly n: number;
  readonly r: string | number;
  readonly w: string | number;
  readonly conflicts: string;
  readonly nodes: readonly NodeStatus[];
  readonly faults: LinkFaults;
  readonly hints: { readonly pending: number };
}

/** A node that could not apply a cluster-wide fault change: its id, or its id with the reason. */
export type FaultFailure =
  string | { readonly id: string; readonly error?: string; readonly message?: string };

export interface ClusterFaultResult {
  readonly applied: readonly string[];
  readonly failed: readonly FaultFailure[];
}

export interface KvorumClientOptions {
  /** Sent as `Authorization: Bearer <token>` on every request when set. */
  readonly adminToken?: string;
  /** Client-side cap on one HTTP exchange, beyond the server's own `?timeout=`. */
  readonly requestTimeoutMs?: number;
  /**
   * PEM of the CA that signed the nodes' certificates (`--cacert`, e.g. `<data>/tls/ca.pem`):
   * trusted alone for this client's https requests.
   */
  readonly ca?: string | Buffer;
  /**
   * The most bytes of an answer this client reads; a longer one fails as a network error
   * instead of growing without bound (the console's fan-out sets it: one view is small).
   */
  readonly responseBytesMax?: number;
}

/** The node could not be reached, or did not answer at all in time. */
export class KvorumNetworkError extends Error {
  override readonly name = 'KvorumNetworkError';
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`cannot reach ${url}: ${reason}`);
  }
}

/** An admin call the node answered with an error status; `body` is the parsed error. */
export class KvorumHttpError extends Error {
  override readonly name = 'KvorumHttpError';
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(describeHttpFailure(status, body));
  }
}

/** Room for the server to give up at the longest `?timeout=` and still send its 504. */
const RESPONSE_MARGIN_MS = 5_000;

export function isErrorBody(body: unknown): body is ErrorBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as ErrorBody).error === 'string' &&
    typeof (body as ErrorBody).message === 'string'
  );
}

/** One line for a person: the server's message and code, or what little the status says. */
export function describeHttpFailure(status: number, body: unknown): string {
  if (isErrorBody(body)) return `${body.message} (${status} ${body.error})`;
  const text = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 200) : '';
  return `the node answered HTTP ${status}${text === '' ? '' : `: ${text}`}`;
}

interface Exchange {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Buffer;
}

export class KvorumClient {
  readonly baseUrl: string;
  private readonly adminToken: string | undefined;
  private readonly requestTimeoutMs: number;
  private readonly ca: string | Buffer | undefined;
  private readonly responseBytesMax: number | undefined;

  constructor(baseUrl: string, opts: KvorumClientOptions = {}) {
    const url = new URL(baseUrl); // throws TypeError on a malformed URL, before any request
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`kvorum node URL must be http or https, got ${baseUrl}`);
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.adminToken = opts.adminToken;
    this.ca = opts.ca;
    this.responseBytesMax = opts.responseBytesMax;
    this.requestTimeoutMs =
      opts.requestTimeoutMs ?? LIMITS.requestTimeoutMsMax + RESPONSE_MARGIN_MS;
  }

  /** The path of a key: the whole key is one segment, so `/` in a key travels as %2F. */
  static keyPath(key: string): string {
    return `/kv/${encodeURIComponent(key)}`;
  }

  async get(key: string, opts: ReadOptions = {}): Promise<GetResult> {
    const query = { r: opts.r, consistency: opts.consistency, timeout: opts.timeoutMs };
    const res = await this.exchange('GET', KvorumClient.keyPath(key), query, opts.timeoutMs);
    const common = {
      status: res.status,
      context: res.headers.get('x-kvorum-context') ?? undefined,
      serverTiming: res.headers.get('server-timing') ?? undefined,
    };
    const contentType = res.headers.get('content-type') ?? undefined;
    if (res.status === 200) return { ...common, value: res.bytes, contentType };
    return { ...common, contentType, body: parseBody(res) };
  }

  async put(key: string, value: Buffer | string, opts: PutOptions = {}): Promise<WriteResult> {
    const headers = { 'content-type': opts.contentType ?? 'application/octet-stream' };
    const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.write('PUT', key, opts, headers, body);
  }

  async del(key: string, opts: WriteOptions = {}): Promise<WriteResult> {
    return this.write('DELETE', key, opts, {}, undefined);
  }

  /** The status of `GET /health`: 200 when the node serves. */
  async health(): Promise<number> {
    return (await this.exchange('GET', '/health', {}, undefined)).status;
  }

  async status(): Promise<AdminStatus> {
    return (await this.admin('GET', '/admin/status')) as AdminStatus;
  }

  async getFaults(): Promise<LinkFaults> {
    return (await this.admin('GET', '/admin/faults')) as LinkFaults;
  }

  /** Replaces this node's link faults; answers with the faults now in force. */
  async setFaults(spec: LinkFaults): Promise<LinkFaults> {
    return (await this.admin('PUT', '/admin/faults', spec)) as LinkFaults;
  }

  /** Cluster-wide: every node blocks every node outside its group. */
  async partition(groups: readonly (readonly string[])[]): Promise<ClusterFaultResult> {
    return (await this.admin('POST', '/admin/partition', { groups })) as ClusterFaultResult;
  }

  /** Cluster-wide: clears every node's faults. */
  async heal(): Promise<ClusterFaultResult> {
    return (await this.admin('POST', '/admin/heal', {})) as ClusterFaultResult;
  }

  async layout(): Promise<LayoutStatus> {
    return (await this.admin('GET', '/admin/layout')) as LayoutStatus;
  }

  /** Asks the cluster to add a node; resolves once the change is agreed. */
  async join(node: { id: string; http: string; peer: string }): Promise<JoinResult> {
    return (await this.admin('POST', '/admin/join', node)) as JoinResult;
  }

  /** Asks the cluster to remove a node; resolves once the change is agreed (not yet settled). */
  async leave(id: string): Promise<LeaveResult> {
    return (await this.admin('POST', '/admin/leave', { id })) as LeaveResult;
  }

  /** Predicted staleness for a read `tMs` after a write, within `k` versions (defaults: 0, 1). */
  async pbs(opts: { readonly tMs?: number; readonly k?: number } = {}): Promise<PbsResult> {
    return (await this.admin('GET', '/admin/pbs', undefined, {
      t: opts.tMs,
      k: opts.k,
    })) as PbsResult;
  }

  /** Anti-entropy with every peer the node sees up, now. */
  async repair(): Promise<RepairResult> {
    return (await this.admin('POST', '/admin/repair', {})) as RepairResult;
  }

  /**
   * `GET /admin/console`: the cluster view (every node's live figures, gathered by this node),
   * or with `node` this node's own figures only.
   */
  async console(scope?: 'cluster'): Promise<ConsoleClusterView>;
  async console(scope: 'node'): Promise<ConsoleNodeView>;
  async console(scope: 'cluster' | 'node' = 'cluster'): Promise<unknown> {
    return this.admin('GET', `/admin/console?scope=${scope}`);
  }

  private async write(
    method: 'PUT' | 'DELETE',
    key: string,
    opts: WriteOptions,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<WriteResult> {
    const query = { w: opts.w, consistency: opts.consistency, timeout: opts.timeoutMs };
    const allHeaders =
      opts.context === undefined ? headers : { ...headers, 'x-kvorum-context': opts.context };
    const res = await this.exchange(
      method,
      KvorumClient.keyPath(key),
      query,
      opts.timeoutMs,
      allHeaders,
      body,
    );
    return {
      status: res.status,
      serverTiming: res.headers.get('server-timing') ?? undefined,
      body: res.bytes.length === 0 ? undefined : parseBody(res),
    };
  }

  /** Admin calls answer JSON on success; anything else is a KvorumHttpError. */
  private async admin(
    method: string,
    path: string,
    json?: unknown,
    query: Record<string, string | number | undefined> = {},
  ): Promise<unknown> {
    const headers: Record<string, string> =
      json === undefined ? {} : { 'content-type': 'application/json' };
    const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const res = await this.exchange(method, path, query, undefined, headers, body);
    const parsed = parseBody(res);
    if (res.status < 200 || res.status > 299) {
      throw new KvorumHttpError(this.baseUrl + path, res.status, parsed);
    }
    return parsed;
  }

  private async exchange(
    method: string,
    path: string,
    query: Record<string, string | number | undefined>,
    serverTimeoutMs: number | undefined,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Exchange> {
    const params = new URLSearchParams();
    for (const [name, v] of Object.entries(query)) if (v !== undefined) params.set(name, String(v));
    const qs = params.size === 0 ? '' : `?${params.toString()}`;
    const url = `${this.baseUrl}${path}${qs}`;
    if (this.adminToken !== undefined)
      headers = { ...headers, authorization: `Bearer ${this.adminToken}` };
    // A request that names its own timeout may outlast the default cap; allow it that long.
    // One that names none keeps the cap it was given (the console's fan-out relies on it).
    const capMs =
      serverTimeoutMs === undefined
        ? this.requestTimeoutMs
        : Math.max(this.requestTimeoutMs, serverTimeoutMs + RESPONSE_MARGIN_MS);
    try {
      const init = { method, headers, body, signal: AbortSignal.timeout(capMs) };
      const res =
        this.ca === undefined ? await fetch(url, init) : await fetchWithCa(url, init, this.ca);
      const bytes =
        this.responseBytesMax === undefined
          ? Buffer.from(await res.arrayBuffer())
          : await readCapped(res, this.responseBytesMax);
      return { status: res.status, headers: res.headers, bytes };
    } catch (err) {
      throw new KvorumNetworkError(`${this.baseUrl}${path}`, networkReason(err, capMs));
    }
  }
}

class AnswerTooLargeError extends Error {
  override readonly name = 'AnswerTooLargeError';
}

/** The body of `res`, read until `max` bytes; a longer one is cut off and fails. */
async function readCapped(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw new AnswerTooLargeError(`its answer is ${declared} bytes, more than ${max} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body !== null) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > max) throw new AnswerTooLargeError(`its answer is more than ${max} bytes`);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, total);
}

function parseBody(res: Exchange): unknown {
  if (res.bytes.length === 0) return undefined;
  const text = res.bytes.toString('utf8');
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // A body that says JSON but is not is still worth showing to a person, as text.
    }
  }
  return text;
}

/** OpenSSL's verdicts on a certificate chain that does not lead to a trusted root. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** fetch hides the socket error in `cause`; ECONNREFUSED tells a user far more than "fetch failed". */
function networkReason(err: unknown, capMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${capMs} ms`;
  }
  const cause =
    err instanceof Error
      ? (err.cause as { code?: unknown; message?: unknown } | undefined)
      : undefined;
  // The message usually holds the code ("connect ECONNREFUSED 127.0.0.1:7001"), but an
  // AggregateError from trying IPv6 and IPv4 has only the code.
  if (typeof cause?.code === 'string' && UNTRUSTED_CERTIFICATE_CODES.has(cause.code)) {
    return `${String(cause.message)}: the node's certificate is not signed by a CA this client trusts; give the cluster's CA (--cacert <data>/tls/ca.pem)`;
  }
  if (cause !== undefined && typeof cause.message === 'string' && cause.message !== '') {
    return cause.message;
  }
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
