// One running replica: opens the store, joins the peer mesh, and serves the HTTP API, wiring
// the pure coordinator to real I/O. Also the HttpBackend the routes call.

import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import {
  ConfigError,
  LIMITS,
  PROFILES,
  consistencyDefaults,
  httpHostPort,
  peerHostPort,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import { Admission } from '../core/admission.js';
import type { Clock, Timers } from '../core/clock.js';
import { policyFor } from '../core/conflicts.js';
import { parseContext, type ParsedContext } from '../core/context.js';
import { Coordinator, type ReadResult, type WriteResult } from '../core/coordinator.js';
import { parseFaultSpec, type FaultSpec } from '../core/faults.js';
import { InvalidArgumentError, TooManySiblingsError } from '../core/errors.js';
import {
  resolveRequestOptions,
  type ConsistencyDefaults,
  type RequestParams,
} from '../core/quorum.js';
import type { VersionSet } from '../core/version-set.js';
import type { HttpBackend, PartitionResult } from '../http/backend.js';
import { buildHttpApp } from '../http/app.js';
import type { PbsCurveQuery, PbsQuery } from '../http/pbs-query.js';
import { RateLimitedLog } from '../net/rate-limited-log.js';
import { TcpTransport } from '../net/tcp-transport.js';
import type { Transport } from '../net/transport.js';
import type { TlsMaterial } from '../net/tls-identity.js';
import { openDiskStore } from '../storage/level-store.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { AntiEntropy } from './anti-entropy.js';
import { ClusterFaults } from './cluster-faults.js';
import { ConsoleSource } from './console-source.js';
import { nodeOfActor } from './actor.js';
import { MemoryReturn } from './memory-return.js';
import { pbsCurveAnswer, type PbsCurveAnswer } from './pbs-curve-report.js';
import { pbsModel, PbsPredictor, type PbsAnswer } from './pbs-report.js';
import { ReplicaMetrics } from './metrics.js';
import { createNode, type KvorumNode } from '../node.js';
import {
  isSettled,
  liveNodes,
  layoutToWire,
  newestVersion,
  nodeStates,
  proposedFromWire,
  type LayoutHistory,
} from '../core/layout.js';
import { TombstoneGc } from './tombstone-gc.js';

export interface ReplicaOptions {
  readonly config: ClusterConfig;
  readonly id: string;
  /** Where this node keeps its LevelDB files. */
  readonly dataDir: string;
  /** Address to bind HTTP and peer listeners to; defaults to the hosts in the config (docker uses 0.0.0.0). */
  readonly listenHost?: string;
  readonly adminToken?: string;
  readonly clusterSecret?: string;
  /** HTTPS on the client port and mutual TLS between peers; the config's URLs must be https. */
  readonly tls?: TlsMaterial;
  readonly logLevel?: string;
  /** Test-only: shifts this node's wall clock, to exercise clock skew. */
  readonly clockOffsetMs?: number;
  /** Test-only protocol breakages, to show the checker catches what they cause. */
  readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
  /** Where logs go; defaults to stdout. */
  readonly logger?: Logger;
  /** This node's addresses, when it is not in `config.nodes` (it joined a running cluster). */
  readonly self?: NodeAddress;
  /** The layout to start from when the data directory holds none (what a join answered). */
  readonly initialLayout?: LayoutHistory;
  /** Node ids the cluster has known, departed ones included (what a join answered). */
  readonly knownNodes?: readonly string[];
  /** Called once this node has left the layout (`kvorum leave`): the process should exit. */
  readonly onLeft?: () => void;
}

export interface RunningReplica {
  readonly id: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

interface Background {
  readonly antiEntropy: AntiEntropy;
  readonly tombstones: TombstoneGc;
}

class ReplicaBackend implements HttpBackend {
  readonly valueBytesMax: number;
  readonly conflicts: ClusterConfig['conflicts'];
  readonly defaults: ConsistencyDefaults;
  readonly memoryReturn: MemoryReturn;
  private readonly predictor: PbsPredictor;

  constructor(
    readonly id: string,
    readonly admission: Admission,
    readonly adminToken: string | undefined,
    private readonly config: ClusterConfig,
    private readonly coordinator: Coordinator,
    private readonly transport: Transport,
    private readonly store: ReplicaStore,
    private readonly node: KvorumNode,
    private readonly clusterFaults: ClusterFaults,
    private readonly meter: ReplicaMetrics,
    private readonly background: Background,
    private readonly clock: Clock,
    private readonly logger: Logger,
    readonly console: ConsoleSource,
  ) {
    this.valueBytesMax = config.valueBytesMax;
    this.conflicts = config.conflicts;
    this.memoryReturn = new MemoryReturn(this.admission);
    this.defaults = consistencyDefaults(config);
    this.predictor = new PbsPredictor(
      () =>
        pbsModel({
          self: id,
          members: newestVersion(node.membership.history()).nodes.map((n) => n.id),
          n: config.n,
          roundTrips: (peer) => node.wars.roundTrips(peer),
          random: Math.random,
        }),
      () => clock.monotonicMs(),
    );
  }

  get(key: string, params: RequestParams): Promise<ReadResult> {
    return this.measure('get', () => this.coordinator.read(key, this.options(params)));
  }

  put(
    key: string,
    value: Uint8Array,
    contentType: string,
    params: RequestParams,
    context: string | undefined,
  ): Promise<WriteResult> {
    return this.measure('put', () =>
      this.written(
        key,
        this.coordinator.write(
          key,
          { value, contentType, tombstone: false },
          this.options(params),
          this.seenBy(context),
        ),
      ),
    );
  }

  del(key: string, params: RequestParams, context: string | undefined): Promise<WriteResult> {
    return this.measure('delete', () =>
      this.written(
        key,
        this.coordinator.write(
          key,
          { value: new Uint8Array(0), contentType: '', tombstone: true },
          this.options(params),
          this.seenBy(context),
        ),
      ),
    );
  }

  private options(params: RequestParams) {
    const opts = resolveRequestOptions(params, this.defaults);
    if (opts.linearizable && this.config.conflicts === 'siblings') {
      throw new InvalidArgumentError(
        'consistency=linearizable needs conflicts lww: a linearizable register has one value, not siblings',
      );
    }
    return opts;
  }

  /** Says which key hit the sibling cap, in the log and the metrics, before answering 409. */
  private async written(key: string, write: Promise<WriteResult>): Promise<WriteResult> {
    try {
      return await write;
    } catch (err) {
      if (err instanceof TooManySiblingsError) {
        this.meter.siblingCapRefusals.inc();
        this.logger.warn(
          { key, siblings: err.siblings, limit: err.limit },
          'write refused: key is at its sibling cap',
        );
      }
      throw err;
    }
  }

  /**
   * lww: the version a read saw; the write is stamped above it. siblings: the clock a read saw;
   * the write supersedes what it covers. A context of the other mode is accepted and ignored.
   */
  private seenBy(context: string | undefined): ParsedContext | undefined {
    if (context === undefined) return undefined;
    const seen = parseContext(context);
    // A write is stamped above its context: one far ahead would move this node's clock (and,
    // through its stamps, every peer's) by as much. Only the cluster's clock offset may.
    const aheadMs = seen.kind === 'lww' ? seen.ts.wallMs - this.clock.nowMs() : 0;
    if (aheadMs > this.config.maxClockOffsetMs) {
      throw new InvalidArgumentError(
        `X-Kvorum-Context is stamped ${aheadMs} ms ahead of this node's clock, more than the cluster's maxClockOffsetMs (${this.config.maxClockOffsetMs}); send back the context a GET returned`,
      );
    }
    // Only this cluster's nodes issue dots, those that left included (their dots stay in
    // clocks): a clock naming others did not come from a read here.
    if (
      seen.kind === 'clock' &&
      seen.clock.some(([actor]) => !this.node.membership.known(nodeOfActor(actor)))
    ) {
      throw new InvalidArgumentError(
        'X-Kvorum-Context names nodes that are not in this cluster; send back the context a GET of this cluster returned',
      );
    }
    return seen;
  }

  status(): Record<string, unknown> {
    const profile = PROFILES[this.config.profile];
    const pending: Record<string, number> = {};
    let total = 0;
    for (const [target, count] of this.store.pendingHints()) {
      if (count > 0) pending[target] = count;
      total += count;
    }
    return {
      id: this.id,
      pid: process.pid,
      cluster: this.config.cluster,
      profile: this.config.profile,
      n: this.config.n,
      r: profile.r,
      w: profile.w,
      conflicts: this.config.conflicts,
      nodes: liveNodes(this.node.membership.history()).map((node: NodeAddress) => ({
        id: node.id,
        http: node.http,
        peer: node.peer,
        state: node.id === this.id || this.transport.isUp(node.id) ? 'up' : 'down',
      })),
      keys: this.node.keys(),
      layout: { version: newestVersion(this.node.membership.history()).version },
      faults: this.transport.faults(),
      hints: { pending: total, byTarget: pending, handoff: this.config.hintedHandoff },
      antiEntropy: this.background.antiEntropy.status(),
      tombstones: this.background.tombstones.status(),
      cache: this.store.cacheStats(),
      inFlight: {
        ...this.admission.status(),
        bytesMax: LIMITS.inFlightBytesMax,
        requestsMax: LIMITS.inFlightRequestsMax,
      },
      memory: process.memoryUsage(),
      memoryReturn: this.memoryReturn.collections,
    };
  }

  localKey(key: string): Promise<VersionSet | undefined> {
    return this.store.get(key);
  }

  async repair(): Promise<Record<string, unknown>> {
    const results = await this.background.antiEntropy.repairNow();
    let keysRepaired = 0;
    for (const r of results.values()) keysRepaired += r.keysRepaired;
    return { keysRepaired, peers: Object.fromEntries(results) };
  }

  getFaults(): FaultSpec {
    return this.transport.faults();
  }

  setFaults(raw: unknown): FaultSpec {
    const spec = parseFaultSpec(
      raw,
      this.node.membership.peers().map((n) => n.id),
      this.id,
    );
    this.transport.setFaults(spec);
    return this.transport.faults();
  }

  layout(): Record<string, unknown> {
    const h = this.node.membership.history();
    return {
      version: newestVersion(h).version,
      nodes: nodeStates(h),
      settled: isSettled(h),
      versions: h.versions.map((v) => v.version),
      trackers: layoutToWire(h).trackers,
    };
  }

  pbs(query: PbsQuery): PbsAnswer {
    return this.predictor.answer(query.tMs, query.k);
  }

  pbsCurve(query: PbsCurveQuery): PbsCurveAnswer {
    return pbsCurveAnswer(this.predictor.model(), query.tMs);
  }

  /** POST /admin/join: puts the new node to consensus; answers what it needs to start. */
  async join(raw: unknown): Promise<Record<string, unknown>> {
    const node = parseJoinRequest(raw);
    const h = await this.node.membership.change({ kind: 'join', node });
    const { nodes: _nodes, clusterSecret: _secret, data: _data, ...settings } = this.config;
    return { layout: layoutToWire(h), config: settings, known: this.node.membership.knownIds() };
  }

  /** POST /admin/leave: removes a member; a dead one's data is rebuilt from the others. */
  async leave(raw: unknown): Promise<Record<string, unknown>> {
    const id = parseLeaveRequest(raw);
    const dead = id !== this.id && !this.transport.isUp(id);
    const before = this.node.membership.history();
    const h = await this.node.membership.change({ kind: 'leave', id, dead });
    // Dead, during a transition: excused from it rather than removed (see Membership.change).
    const excused = dead && !isSettled(before);
    return { ...this.layout(), dead, excused, version: newestVersion(h).version };
  }

  partition(raw: unknown): Promise<PartitionResult> {
    return this.clusterFaults.partition(raw);
  }

  heal(): Promise<PartitionResult> {
    return this.clusterFaults.heal();
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    return {
      contentType: this.meter.registry.contentType,
      body: await this.meter.registry.metrics(),
    };
  }

  private async measure<T>(op: string, run: () => Promise<T>): Promise<T> {
    const end = this.meter.latency.startTimer({ op });
    let status = 'ok';
    try {
      return await run();
    } catch (err) {
      status = (err as { code?: string }).code ?? 'error';
      throw err;
    } finally {
      end();
      this.meter.requests.inc({ op, status });
    }
  }
}

export async function startReplica(opts: ReplicaOptions): Promise<RunningReplica> {
  // The node's timers are unref'd so that none holds a process that is stopping. Until the
  // listeners open, nothing else holds the event loop either: a startup wait on a node timer
  // (for the saved HLC mark) left it empty, and Node ended the process with exit code 13.
  const hold = setInterval(() => undefined, 2 ** 30);
  try {
    return await openReplica(opts);
  } finally {
    clearInterval(hold);
  }
}

async function openReplica(opts: ReplicaOptions): Promise<RunningReplica> {
  const { config, id } = opts;
  const self = opts.self ?? config.nodes.find((n) => n.id === id);
  if (self === undefined) {
    throw new ConfigError(
      `node id ${id} is not in the cluster config (ids: ${config.nodes.map((n) => n.id).join(', ')})`,
    );
  }
  const logger = opts.logger ?? pino({ level: opts.logLevel ?? 'info', base: { node: id } });
  const offsetMs = opts.clockOffsetMs ?? 0;
  const clock: Clock = { nowMs: () => Date.now() + offsetMs, monotonicMs: () => performance.now() };
  const nodeTimers: Timers = {
    after: (ms, fn) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
  const store = openDiskStore(opts.dataDir, {
    fsync: config.fsync,
    policy: policyFor(config.conflicts),
  });
  await store.open();
  const peerAddr = peerHostPort(self);
  const httpAddr = httpHostPort(self);
  // Made before the node, whose hint replay backs off while clients wait; the transport it
  // counts frames of is made with the node.
  const made: { node?: KvorumNode } = {};
  const admission = new Admission(
    {
      bytesMax: LIMITS.inFlightBytesMax,
      writeBytesMax: LIMITS.writeBytesInFlightMax,
      requestsMax: LIMITS.inFlightRequestsMax,
      retryAfterS: LIMITS.overloadRetryAfterS,
    },
    () => made.node?.transport.queuedBytes() ?? 0,
  );
  const node = await createNode({
    id,
    config,
    store,
    clock,
    timers: nodeTimers,
    random: Math.random,
    logger,
    busy: () => admission.requestsInFlight > 0,
    ...(opts.unsafe ? { unsafe: opts.unsafe } : {}),
    ...(opts.initialLayout !== undefined ? { initialLayout: opts.initialLayout } : {}),
    ...(opts.knownNodes !== undefined ? { knownNodes: opts.knownNodes } : {}),
    ...(opts.onLeft !== undefined ? { onLeft: opts.onLeft } : {}),
    makeTransport: (onRequest, peers) =>
      new TcpTransport({
        self: id,
        cluster: config.cluster,
        listen: { host: opts.listenHost ?? peerAddr.host, port: peerAddr.port },
        peers,
        ...(opts.clusterSecret !== undefined ? { secret: opts.clusterSecret } : {}),
        ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
        logger,
        onRequest,
      }),
  });
  made.node = node;
  const transport = node.transport;
  const clusterFaults = new ClusterFaults({
    self: id,
    nodes: () => liveNodes(node.membership.history()),
    adminToken: opts.adminToken,
    ...(opts.tls !== undefined ? { ca: opts.tls.ca } : {}),
    getLocal: () => transport.faults(),
    setLocal: (spec) => transport.setFaults(spec),
  });
  const backend = new ReplicaBackend(
    id,
    admission,
    opts.adminToken,
    config,
    node.coordinator,
    transport,
    store,
    node,
    clusterFaults,
    node.metrics,
    { antiEntropy: node.antiEntropy, tombstones: node.tombstones },
    clock,
    logger,
    new ConsoleSource({
      node,
      clock,
      adminToken: opts.adminToken,
      ...(opts.tls !== undefined ? { ca: opts.tls.ca } : {}),
    }),
  );
  const app = await buildHttpApp(backend, logger, opts.tls);
  if (opts.tls !== undefined) {
    // A client that fails the TLS handshake (plain HTTP, an untrusting client) never reaches a
    // route; say so, a few lines a second, as for refused peers.
    const clientWarnings = new RateLimitedLog(logger);
    app.server.on('tlsClientError', (err: Error, socket: { remoteAddress?: string }) =>
      clientWarnings.warn(
        'https-refused',
        { remote: socket.remoteAddress, reason: err.message.slice(0, 200) },
        'client TLS handshake refused',
      ),
    );
  }

  try {
    await node.start();
    await app.listen({ host: opts.listenHost ?? httpAddr.host, port: httpAddr.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    await node.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
  backend.memoryReturn.start();
  logger.info(
    {
      id,
      pid: process.pid,
      http: self.http,
      peer: self.peer,
      profile: config.profile,
      conflicts: config.conflicts,
      n: config.n,
      fsync: config.fsync,
      dataDir: opts.dataDir,
      peersAuthenticated: opts.clusterSecret !== undefined,
      tls: opts.tls !== undefined,
      ...(opts.unsafe?.noReadWriteBack || opts.unsafe?.noWriteReadPhase
        ? { unsafe: opts.unsafe }
        : {}),
    },
    'replica started',
  );
  if (opts.clusterSecret === undefined) {
    logger.warn(
      { peer: self.peer },
      'peers are not authenticated (--insecure-peers): any process that reaches the peer port can act as a node, write any key and take over a link',
    );
  }

  let closing: Promise<void> | undefined;
  return {
    id,
    httpUrl: self.http,
    close() {
      closing ??= (async () => {
        backend.memoryReturn.stop();
        await app.close();
        await node.stop();
        await store.close();
        logger.info({ id }, 'replica stopped');
      })();
      return closing;
    },
  };
}

function parseJoinRequest(raw: unknown): NodeAddress {
  const body = raw as Record<string, unknown> | null | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError(
      'the body must be {"id": "n4", "http": "http://host:port", "peer": "host:port"}',
    );
  }
  const extra = Object.keys(body).filter((k) => !['id', 'http', 'peer'].includes(k));
  if (extra.length > 0) throw new InvalidArgumentError(`unknown field ${JSON.stringify(extra[0])}`);
  // The layout codec checks ids and addresses as it checks every version it is sent.
  const probe = proposedFromWire({
    next: { version: 1, nodes: [{ id: body.id, http: body.http, peer: body.peer }] },
    excused: [],
  });
  return probe.next.nodes[0] as NodeAddress;
}

function parseLeaveRequest(raw: unknown): string {
  const body = raw as Record<string, unknown> | null | undefined;
  if (
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    typeof body.id !== 'string' ||
    Object.keys(body).length !== 1
  ) {
    throw new InvalidArgumentError('the body must be {"id": "n3"}');
  }
  return body.id;
}
