// One running replica: opens the store, joins the peer mesh, and serves the HTTP API, wiring
// the pure coordinator to real I/O. Also the HttpBackend the routes call.

import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import {
  ConfigError,
  LIMITS,
  PROFILES,
  httpHostPort,
  peerHostPort,
  type ClusterConfig,
  type NodeAddress,
} from '../config.js';
import type { Clock } from '../core/clock.js';
import { parseContext } from '../core/context.js';
import { Coordinator, type ReadResult, type WriteResult } from '../core/coordinator.js';
import { parseFaultSpec, type FaultSpec } from '../core/faults.js';
import { HybridClock, type Hlc } from '../core/hlc.js';
import { InvalidArgumentError } from '../core/errors.js';
import {
  resolveRequestOptions,
  type ConsistencyDefaults,
  type RequestParams,
} from '../core/quorum.js';
import { Ring } from '../core/ring.js';
import type { HttpBackend, PartitionResult } from '../http/backend.js';
import { buildHttpApp } from '../http/app.js';
import { TcpTransport } from '../net/tcp-transport.js';
import { openDiskStore } from '../storage/level-store.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { ClusterFaults } from './cluster-faults.js';
import { HintReplayer } from './hint-replayer.js';
import { TransportLinks } from './links.js';
import { ReplicaMetrics } from './metrics.js';
import { makePeerHandler } from './peer-handler.js';

export interface ReplicaOptions {
  readonly config: ClusterConfig;
  readonly id: string;
  /** Where this node keeps its LevelDB files. */
  readonly dataDir: string;
  /** Address to bind HTTP and peer listeners to; defaults to the hosts in the config (docker uses 0.0.0.0). */
  readonly listenHost?: string;
  readonly adminToken?: string;
  readonly clusterSecret?: string;
  readonly logLevel?: string;
  /** Test-only: shifts this node's wall clock, to exercise clock skew. */
  readonly clockOffsetMs?: number;
  /** Where logs go; defaults to stdout. */
  readonly logger?: Logger;
}

export interface RunningReplica {
  readonly id: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

class ReplicaBackend implements HttpBackend {
  readonly valueBytesMax: number;
  private readonly defaults: ConsistencyDefaults;

  constructor(
    readonly id: string,
    readonly adminToken: string | undefined,
    private readonly config: ClusterConfig,
    private readonly coordinator: Coordinator,
    private readonly transport: TcpTransport,
    private readonly store: ReplicaStore,
    private readonly clusterFaults: ClusterFaults,
    private readonly meter: ReplicaMetrics,
  ) {
    this.valueBytesMax = config.valueBytesMax;
    const profile = PROFILES[config.profile];
    this.defaults = {
      n: config.n,
      r: profile.r,
      w: profile.w,
      linearizable: config.profile === 'cp',
      timeoutMs: config.timeoutMs,
      timeoutMsMax: LIMITS.requestTimeoutMsMax,
    };
  }

  get(key: string, params: RequestParams): Promise<ReadResult> {
    return this.measure('get', () =>
      this.coordinator.read(key, resolveRequestOptions(params, this.defaults)),
    );
  }

  put(
    key: string,
    value: Uint8Array,
    contentType: string,
    params: RequestParams,
    context: string | undefined,
  ): Promise<WriteResult> {
    return this.measure('put', () => {
      const opts = resolveRequestOptions(params, this.defaults);
      return this.coordinator.write(
        key,
        { value, contentType, tombstone: false },
        opts,
        this.seenBy(context),
      );
    });
  }

  del(key: string, params: RequestParams, context: string | undefined): Promise<WriteResult> {
    return this.measure('delete', () => {
      const opts = resolveRequestOptions(params, this.defaults);
      return this.coordinator.write(
        key,
        { value: new Uint8Array(0), contentType: '', tombstone: true },
        opts,
        this.seenBy(context),
      );
    });
  }

  /** In lww mode a context names the version a read saw; the write is stamped above it. */
  private seenBy(context: string | undefined): Hlc | undefined {
    if (context === undefined) return undefined;
    const seen = parseContext(context);
    if (seen.wallMs > Date.now() + LIMITS.clockAheadMsMax) {
      throw new InvalidArgumentError(
        'X-Kvorum-Context names a time too far in the future; send back the context a GET returned',
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
      nodes: this.config.nodes.map((node: NodeAddress) => ({
        id: node.id,
        http: node.http,
        peer: node.peer,
        state: node.id === this.id || this.transport.isUp(node.id) ? 'up' : 'down',
      })),
      faults: this.transport.faults(),
      hints: { pending: total, byTarget: pending },
    };
  }

  getFaults(): FaultSpec {
    return this.transport.faults();
  }

  setFaults(raw: unknown): FaultSpec {
    const spec = parseFaultSpec(
      raw,
      this.config.nodes.map((n) => n.id).filter((id) => id !== this.id),
      this.id,
    );
    this.transport.setFaults(spec);
    return this.transport.faults();
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
  const { config, id } = opts;
  const self = config.nodes.find((n) => n.id === id);
  if (self === undefined) {
    throw new ConfigError(
      `node id ${id} is not in the cluster config (ids: ${config.nodes.map((n) => n.id).join(', ')})`,
    );
  }
  const logger = opts.logger ?? pino({ level: opts.logLevel ?? 'info', base: { node: id } });
  const offsetMs = opts.clockOffsetMs ?? 0;
  const clock: Clock = { nowMs: () => Date.now() + offsetMs, monotonicMs: () => performance.now() };
  const hlc = new HybridClock(id, clock, LIMITS.clockAheadMsMax);
  const store = openDiskStore(opts.dataDir, { fsync: config.fsync });
  await store.open();

  const peerAddr = peerHostPort(self);
  const httpAddr = httpHostPort(self);
  const transport = new TcpTransport({
    self: id,
    cluster: config.cluster,
    listen: { host: opts.listenHost ?? peerAddr.host, port: peerAddr.port },
    peers: config.nodes.filter((n) => n.id !== id).map((n) => ({ id: n.id, ...peerHostPort(n) })),
    ...(opts.clusterSecret !== undefined ? { secret: opts.clusterSecret } : {}),
    logger,
    onRequest: makePeerHandler(store, hlc),
  });
  const links = new TransportLinks(id, store, transport);
  const metrics = new ReplicaMetrics({
    pendingHints: () => [...store.pendingHints().values()].reduce((a, b) => a + b, 0),
    peersUp: () => transport.peerStates().filter((p) => p.up).length,
  });
  const coordinator = new Coordinator({
    ring: new Ring(
      config.nodes.map((n) => n.id),
      LIMITS.vnodesPerNode,
    ),
    n: config.n,
    links,
    hints: {
      addHint: (target, key, version) =>
        store
          .addHint(target, key, version)
          .catch((err: unknown) => logger.error({ err, target }, 'could not store hint')),
    },
    hlc,
    clock,
    readRepair: PROFILES[config.profile].readRepair,
    onReadRepair: () => metrics.readRepairs.inc(),
    onBackgroundError: (what, err) => logger.debug({ err, what }, 'background repair failed'),
  });
  const replayer = new HintReplayer({
    store,
    links,
    logger,
    intervalMs: LIMITS.hintReplayIntervalMs,
    batchMax: LIMITS.hintReplayBatchMax,
    timeoutMs: config.timeoutMs,
    onReplayed: (_target, count) => metrics.hintsReplayed.inc(count),
  });
  const clusterFaults = new ClusterFaults({
    self: id,
    nodes: config.nodes,
    adminToken: opts.adminToken,
    getLocal: () => transport.faults(),
    setLocal: (spec) => transport.setFaults(spec),
  });
  const backend = new ReplicaBackend(
    id,
    opts.adminToken,
    config,
    coordinator,
    transport,
    store,
    clusterFaults,
    metrics,
  );
  const app = await buildHttpApp(backend, logger);

  try {
    await transport.start();
    await app.listen({ host: opts.listenHost ?? httpAddr.host, port: httpAddr.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    await transport.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
  replayer.start();
  logger.info(
    {
      id,
      pid: process.pid,
      http: self.http,
      peer: self.peer,
      profile: config.profile,
      n: config.n,
      fsync: config.fsync,
      dataDir: opts.dataDir,
    },
    'replica started',
  );

  let closing: Promise<void> | undefined;
  return {
    id,
    httpUrl: self.http,
    close() {
      closing ??= (async () => {
        replayer.stop();
        await app.close();
        await transport.stop();
        await store.close();
        logger.info({ id }, 'replica stopped');
      })();
      return closing;
    },
  };
}
