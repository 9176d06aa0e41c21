// The composition root of one kvorum node: it wires the replication parts (the local replica,
// the coordinator, hinted handoff, anti-entropy, tombstone GC) to a store, a transport, a clock
// and timers it is given. The process edge (src/replica/replica.ts) gives it LevelDB, TCP and
// real time and puts the HTTP API in front; the simulator gives it memory-level, a seeded
// network and virtual time. Nothing here opens a file or a socket or reads the time itself.

import type { Logger } from 'pino';
import { LIMITS, PROFILES, peerHostPort, type ClusterConfig } from './config.js';
import type { Clock, Timers } from './core/clock.js';
import { policyFor, type ConflictPolicy } from './core/conflicts.js';
import { Coordinator } from './core/coordinator.js';
import { HybridClock } from './core/hlc.js';
import { majority, type RequestOptions } from './core/quorum.js';
import type { KeyPlacement } from './core/placement.js';
import {
  isSettled,
  liveNodes,
  newestVersion,
  ringOf,
  type LayoutHistory,
  type LayoutNode,
} from './core/layout.js';
import { StalenessWindow } from './core/staleness-window.js';
import type { VersionSet } from './core/version-set.js';
import type { PeerAddress, PeerRequestHandler, Transport } from './net/transport.js';
import { actorFor } from './replica/actor.js';
import { AntiEntropy } from './replica/anti-entropy.js';
import { DotCounter } from './replica/dot-counter.js';
import { HintReplayer } from './replica/hint-replayer.js';
import { persistClock } from './replica/hlc-mark.js';
import { TransportLinks } from './replica/links.js';
import { LocalReplica } from './replica/local-replica.js';
import { Membership } from './replica/membership.js';
import { ReplicaMetrics } from './replica/metrics.js';
import { makePeerHandler } from './replica/peer-handler.js';
import { TombstoneGc } from './replica/tombstone-gc.js';
import { WarsRecorder } from './replica/wars-recorder.js';
import type { ReplicaStore } from './storage/replica-store.js';

export interface NodeDeps {
  readonly id: string;
  readonly config: ClusterConfig;
  /** Open, and made with the policy of `config.conflicts`. */
  readonly store: ReplicaStore;
  /**
   * Makes the node's transport around the handler that serves its peers' requests, connected
   * to `peers` (the other nodes of the layout this node starts with).
   */
  readonly makeTransport: (
    onRequest: PeerRequestHandler,
    peers: readonly PeerAddress[],
  ) => Transport;
  /**
   * The layout a node starts from when its data holds none: what the cluster it joins sent
   * (`serve --join`). Without it, the nodes of `config` are version 1.
   */
  readonly initialLayout?: LayoutHistory;
  /** Node ids the cluster has known, departed ones included (a join's answer carries them). */
  readonly knownNodes?: readonly string[];
  /** This node has been removed from the layout (it left, and its ranges have moved). */
  readonly onLeft?: () => void;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  readonly logger: Logger;
  /**
   * Whether clients are waiting on this node now (admission has requests in flight): hint
   * replay then sends one batch per round instead of draining its backlog. Never, by default.
   */
  readonly busy?: () => boolean;
  /** Test-only protocol breakages, to show the checker catches what they cause. */
  readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
}

/** One node's parts, wired; `start` runs its transport and background work. */
export interface KvorumNode {
  readonly id: string;
  readonly config: ClusterConfig;
  readonly policy: ConflictPolicy;
  readonly store: ReplicaStore;
  readonly transport: Transport;
  readonly coordinator: Coordinator;
  readonly local: LocalReplica;
  readonly antiEntropy: AntiEntropy;
  readonly tombstones: TombstoneGc;
  readonly hints: HintReplayer;
  readonly metrics: ReplicaMetrics;
  readonly membership: Membership;
  readonly clock: Clock;
  /** Round trips of the replies this node's coordinator measured, per peer: PBS's input. */
  readonly wars: WarsRecorder;
  /** Stale read replies its coordinator met, per read level, lately: the console's figures. */
  readonly staleness: StalenessWindow;
  /** Keys this node stores (not counting hints). */
  keys(): number;
  /** Starts the transport (resolves once it listens), then the background tasks. */
  start(): Promise<void>;
  /** Stops the background tasks and the transport; the store stays open (its owner closes it). */
  stop(): Promise<void>;
}

export async function createNode(deps: NodeDeps): Promise<KvorumNode> {
  const { id, config, store, clock, timers, logger } = deps;
  const policy = policyFor(config.conflicts);
  const hlc = new HybridClock(id, clock, LIMITS.clockAheadMsMax);
  await persistClock(
    hlc,
    store,
    () => clock.nowMs(),
    logger,
    (ms) => new Promise<void>((resolve) => timers.after(ms, resolve)),
  );
  const dots = new DotCounter(store);
  await dots.open();
  const local = new LocalReplica({
    self: id,
    actor: await actorFor(store, id),
    store,
    hlc,
    policy,
    siblingsMax: config.siblingsMax,
    setBytesMax: LIMITS.setBytesMax,
    dots,
    // The coordinator's placement, made once the membership is: read sets come from the layout.
    mayIssue: (key) => made.placement === undefined || made.placement.readSet(key).includes(id),
  });
  // Made before membership, whose layout changes prune it.
  const wars = new WarsRecorder({
    samplesMax: LIMITS.pbsSamplesPerPeer,
    horizon: LIMITS.pbsSampleHorizon,
    random: deps.random,
  });
  // The transport, the links over it and membership refer to one another (membership pushes
  // keys over the links and gossips over the transport, the transport serves membership): each
  // reaches the others only once the node is built.
  const made: { transport?: Transport; links?: TransportLinks; placement?: KeyPlacement } = {};
  const net = (): Transport => {
    if (made.transport === undefined) throw new Error('the transport is not made yet');
    return made.transport;
  };
  const membership = await Membership.open({
    self: id,
    n: config.n,
    initial: deps.initialLayout ?? config.nodes,
    ...(deps.knownNodes !== undefined ? { known: deps.knownNodes } : {}),
    store,
    request: (peer, body, timeoutMs) => net().request(peer, body, timeoutMs),
    write: (node, key, set, timeoutMs) => {
      if (made.links === undefined) throw new Error('the links are not made yet');
      return made.links.write(node, key, set, timeoutMs);
    },
    holdPurges: (key) => local.holdPurges(key),
    timeoutMs: config.timeoutMs,
    timers,
    random: deps.random,
    nowMs: () => clock.nowMs(),
    logger,
    onChange: (h, prev) => onLayoutChange(h, prev),
    ...(deps.onLeft !== undefined ? { onLeft: deps.onLeft } : {}),
  });
  const placement = membership.placement();
  made.placement = placement;
  /** Anti-entropy, tombstone GC and stand-ins follow the newest layout version. */
  const ring = () => ringOf(newestVersion(membership.history()));
  const metrics = new ReplicaMetrics({
    pendingHints: () => [...store.pendingHints().values()].reduce((a, b) => a + b, 0),
    peersUp: () =>
      net()
        .peerStates()
        .filter((p) => p.up).length,
  });
  const antiEntropy = new AntiEntropy({
    self: id,
    ring,
    n: config.n,
    store,
    local,
    policy,
    request: (peer, body, timeoutMs) => net().request(peer, body, timeoutMs),
    isUp: (peer) => net().isUp(peer),
    logger,
    intervalMs: config.antiEntropyIntervalMs,
    random: deps.random,
    nowMs: () => clock.nowMs(),
    timers,
    onRepaired: (_peer, keys) => metrics.keysRepaired.inc(keys),
  });
  const transport = deps.makeTransport(
    makePeerHandler(local, antiEntropy, membership, (key, siblings) =>
      // The coordinator that asked counts and logs the refusal; the issuer only notes it.
      logger.debug({ key, siblings }, 'refused to issue a write past the sibling cap'),
    ),
    membership.linkPeers().map(peerAddress),
  );
  made.transport = transport;
  const links = new TransportLinks(id, local, transport);
  made.links = links;
  const tombstones = new TombstoneGc({
    self: id,
    ring,
    settled: () => isSettled(membership.history()),
    n: config.n,
    store,
    policy,
    links,
    graceMs: config.tombstoneGraceMs,
    timeoutMs: config.timeoutMs,
    nowMs: () => clock.nowMs(),
    timers,
    logger,
    onPurged: (count) => metrics.tombstonesPurged.inc(count),
  });
  // One pass over the data builds the anti-entropy trees, the tombstone index and the key
  // count; from then on the store's change feed keeps them current.
  let keys = 0;
  const index = (key: string, before: VersionSet | undefined, after: VersionSet | undefined) => {
    const pref = ring().preferenceList(key, config.n);
    antiEntropy.track(key, pref, before, after);
    tombstones.track(key, pref, after);
    return pref;
  };
  const track = (key: string, before: VersionSet | undefined, after: VersionSet | undefined) => {
    keys += (after !== undefined ? 1 : 0) - (before !== undefined ? 1 : 0);
    const pref = index(key, before, after);
    // Settled, the newest ring is the only one: a key it does not give this node is a stray.
    if (after !== undefined && !pref.includes(id) && membership.settled()) {
      membership.noteStray(key);
    }
  };
  for await (const [key, set] of store.entries()) track(key, undefined, set);
  store.onListenerError = (err) => logger.error({ err }, 'store change listener failed');
  const stopTracking = store.onChange(track);

  // A new newest version moves ownership: the trees and the tombstone index are rebuilt from
  // a pass over the data. A write racing the pass can leave a tree leaf wrong; that costs that
  // segment an extra comparison each round (exchanges compare keys read fresh from the store),
  // never a missed repair, until the next rebuild.
  let reindexing = 0;
  const reindex = async (): Promise<void> => {
    const generation = ++reindexing;
    antiEntropy.resetPeers();
    for await (const [key, set] of store.entries()) {
      if (generation !== reindexing) return;
      index(key, undefined, set);
    }
  };
  function onLayoutChange(h: LayoutHistory, prev: LayoutHistory): void {
    made.transport?.setPeers(membership.linkPeers().map(peerAddress));
    wars.retain(new Set(liveNodes(h).map((n) => n.id)));
    if (newestVersion(h).version !== newestVersion(prev).version) {
      void reindex().catch((err: unknown) =>
        logger.error({ err }, 'reindex after a layout change failed'),
      );
    }
  }

  const hintSink = config.hintedHandoff
    ? {
        addHint: (target: string, key: string, set: VersionSet) =>
          store.addHint(target, key, set).then(
            () => true,
            (err: unknown) => {
              logger.error({ err, target }, 'could not store hint');
              return false;
            },
          ),
      }
    : { addHint: async () => false };
  // The same reports as the metrics below, kept for the console over a sliding window.
  const staleness = new StalenessWindow(
    {
      windowMs: LIMITS.stalenessWindowMs,
      slotMs: LIMITS.stalenessSlotMs,
      // Read levels (one, quorum, all, linearizable, or a count up to nMax) are fewer.
      levelsMax: LIMITS.trafficLevelsMax,
    },
    clock.monotonicMs(),
  );
  const profile = PROFILES[config.profile];
  const coordinator = new Coordinator({
    placement,
    n: config.n,
    links,
    hints: hintSink,
    hlc,
    clock,
    policy,
    readRepair: profile.readRepair,
    sloppyQuorum: profile.sloppyQuorum && config.hintedHandoff,
    ...(deps.unsafe ? { unsafe: deps.unsafe } : {}),
    targetedReads: { timers, speculateMs: LIMITS.readSpeculateMs },
    onSpeculate: () => metrics.readSpeculations.inc(),
    onReadRepair: () => metrics.readRepairs.inc(),
    onStaleReplies: (opts, stale) => {
      const level = readLevel(opts, config.n);
      metrics.staleReplies.inc({ level }, stale.length);
      for (const { lagMs } of stale)
        if (lagMs !== undefined) metrics.readStaleness.observe({ level }, lagMs / 1000);
      staleness.record(level, stale, clock.monotonicMs());
    },
    onReplyLatency: (node, kind, ms) => wars.record(node, kind, ms),
    onBackgroundError: (what, err) => logger.debug({ err, what }, 'background repair failed'),
  });
  const hints = new HintReplayer({
    store,
    links,
    logger,
    intervalMs: LIMITS.hintReplayIntervalMs,
    timeoutMs: config.timeoutMs,
    timers,
    ...(deps.busy !== undefined ? { busy: deps.busy } : {}),
    onReplayed: (_target, count) => metrics.hintsReplayed.inc(count),
  });

  const node: KvorumNode = {
    id,
    config,
    policy,
    store,
    transport,
    coordinator,
    local,
    antiEntropy,
    tombstones,
    hints,
    metrics,
    membership,
    clock,
    wars,
    staleness,
    keys: () => keys,
    async start() {
      await node.transport.start();
      membership.start();
      hints.start();
      antiEntropy.start();
      tombstones.start();
    },
    async stop() {
      membership.stop();
      hints.stop();
      antiEntropy.stop();
      tombstones.stop();
      stopTracking();
      await node.transport.stop();
    },
  };
  return node;
}

function peerAddress(node: LayoutNode): PeerAddress {
  return { id: node.id, ...peerHostPort(node) };
}

/** A read's level as the API names it, for metric labels: one, quorum, all, linearizable, or R. */
function readLevel(opts: RequestOptions, n: number): string {
  if (opts.linearizable) return 'linearizable';
  if (opts.r === 1) return 'one';
  if (opts.r === n) return 'all';
  if (opts.r === majority(n)) return 'quorum';
  return String(opts.r);
}
