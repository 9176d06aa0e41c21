// What the console (GET /admin/console) learns from this replica: its own live figures, what
// it knows of the cluster (profile, layout, ring), and the other nodes' figures, asked of each
// over its admin HTTP API, which faults on the peer protocol leave alone: a partitioned node
// still shows, with its blocked links.

import { KvorumClient } from '../client/kvorum-client.js';
import {
  LIMITS,
  PROFILES,
  PROFILE_NAMES,
  consistencyDefaults,
  type ClusterConfig,
} from '../config.js';
import type { Clock } from '../core/clock.js';
import type {
  ConsoleClusterFacts,
  ConsoleNodeEntry,
  ConsoleNodeFacts,
} from '../core/console-view.js';
import { isSettled, newestVersion, nodeStates, ringOf } from '../core/layout.js';
import { RING_SIZE, ringShares, type Ring } from '../core/ring.js';
import type { KvorumNode } from '../node.js';
import { CpuMeter } from './cpu-meter.js';
import { LinkProbe } from './link-probe.js';

export interface ConsoleSourceOptions {
  readonly node: KvorumNode;
  readonly clock: Clock;
  /** Sent to the other nodes' admin API, as partition and heal do. */
  readonly adminToken: string | undefined;
  /** With TLS, the other nodes are trusted through the cluster CA alone. */
  readonly ca?: Buffer;
}

type RingFacts = ConsoleClusterFacts['ring'];

export class ConsoleSource {
  private readonly probe: LinkProbe;
  private readonly cpu: CpuMeter;
  /** A ring's arcs and shares change only with the layout: computed once per ring. */
  private readonly ringFacts = new WeakMap<Ring, RingFacts>();

  constructor(private readonly o: ConsoleSourceOptions) {
    const { node } = o;
    this.probe = new LinkProbe({
      transport: node.transport,
      peers: () => node.membership.peers().map((p) => p.id),
      clock: o.clock,
      intervalMs: LIMITS.linkProbeIntervalMs,
      timeoutMs: LIMITS.linkProbeTimeoutMs,
      historyMax: LIMITS.linkProbeHistory,
    });
    this.cpu = new CpuMeter(o.clock, LIMITS.cpuSampleMinMs);
  }

  /** This node's figures; also starts the next round of pings, whose results the next call shows. */
  nodeFacts(): ConsoleNodeFacts {
    const { node } = this.o;
    this.probe.poke();
    const rtt = this.probe.snapshot();
    const replyMs = node.coordinator.latencies();
    const peers: Record<string, ConsoleNodeFacts['peers'][string]> = {};
    for (const { id } of node.membership.peers()) {
      const r = rtt[id];
      peers[id] = {
        up: node.transport.isUp(id),
        rttMs: r?.rttMs ?? null,
        pingsSent: r?.sent ?? 0,
        pingsLost: r?.lost ?? 0,
        unreachable: r?.unreachable ?? false,
        replyMs: replyMs.get(id) ?? null,
      };
    }
    let hintsPending = 0;
    for (const count of node.store.pendingHints().values()) hintsPending += count;
    const memory = process.memoryUsage();
    return {
      id: node.id,
      pid: process.pid,
      at: this.o.clock.nowMs(),
      keys: node.keys(),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      cpuPercent: this.cpu.percent(),
      hintsPending,
      layoutVersion: newestVersion(node.membership.history()).version,
      faults: node.transport.faults(),
      peers,
      staleness: {
        windowMs: LIMITS.stalenessWindowMs,
        levels: node.staleness.snapshot(this.o.clock.monotonicMs()),
      },
    };
  }

  clusterFacts(): ConsoleClusterFacts {
    const { config } = this.o.node;
    const h = this.o.node.membership.history();
    const profile = PROFILES[config.profile];
    return {
      cluster: config.cluster,
      profile: config.profile,
      n: config.n,
      r: profile.r,
      w: profile.w,
      conflicts: config.conflicts,
      profiles: profileTable(config),
      layout: {
        version: newestVersion(h).version,
        settled: isSettled(h),
        nodes: nodeStates(h).map(({ id, http, state }) => ({ id, http, state })),
      },
      ring: this.ringOf(ringOf(newestVersion(h)), config),
    };
  }

  /**
   * Every other node's own figures (`GET /admin/console?scope=node`), asked at once, each
   * given consoleFanOutTimeoutMs; at most consoleFanOutNodesMax nodes with this one.
   */
  async peerViews(): Promise<ConsoleNodeEntry[]> {
    const others = this.o.node.membership.peers();
    const asked = others.slice(0, LIMITS.consoleFanOutNodesMax - 1);
    const notAsked = others.slice(asked.length).map((p) => ({
      id: p.id,
      error: `not asked: one console view asks at most ${LIMITS.consoleFanOutNodesMax} nodes`,
    }));
    const answers = await Promise.all(
      asked.map(async (p): Promise<ConsoleNodeEntry> => {
        const client = new KvorumClient(p.http, {
          adminToken: this.o.adminToken,
          requestTimeoutMs: LIMITS.consoleFanOutTimeoutMs,
          responseBytesMax: LIMITS.consoleFanOutReplyBytesMax,
          ...(this.o.ca !== undefined ? { ca: this.o.ca } : {}),
        });
        try {
          return { id: p.id, view: await client.console('node') };
        } catch (err) {
          return { id: p.id, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    return [...answers, ...notAsked];
  }

  private ringOf(ring: Ring, config: ClusterConfig): RingFacts {
    const known = this.ringFacts.get(ring);
    if (known !== undefined) return known;
    const arcs = ring.arcs(Math.min(config.n, ring.nodes.length));
    // Drawn by primary: neighbouring arcs with one primary are one stretch on the picture.
    const byPrimary: Array<{ from: number; to: number; primary: string }> = [];
    for (const a of arcs) {
      const primary = a.replicas[0] as string;
      const last = byPrimary[byPrimary.length - 1];
      if (last !== undefined && last.primary === primary && last.to === a.from) last.to = a.to;
      else byPrimary.push({ from: a.from, to: a.to, primary });
    }
    const facts: RingFacts = {
      size: RING_SIZE,
      arcs: byPrimary.length <= LIMITS.consoleRingArcsMax ? byPrimary : null,
      shares: Object.fromEntries(ringShares(arcs, ring.nodes)),
    };
    this.ringFacts.set(ring, facts);
    return facts;
  }
}

/** PROFILES with whether each is linearizable by default, from the same rule requests use. */
function profileTable(config: ClusterConfig): ConsoleClusterFacts['profiles'] {
  return Object.fromEntries(
    PROFILE_NAMES.map((name) => [
      name,
      {
        ...PROFILES[name],
        linearizable: consistencyDefaults({ ...config, profile: name }).linearizable,
      },
    ]),
  );
}
