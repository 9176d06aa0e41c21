// Config schema, defaults, and every limit kvorum enforces, as named constants in one place.
// docs/limits.md's table is generated from LIMITS: every entry needs a doc comment, whose first
// sentence is its row (npm run docs:limits; a test fails when the page and this file disagree).

import type { ConsistencyDefaults } from './core/quorum.js';

const FRAME_BYTES_MAX = 16 * 1024 * 1024 + 64 * 1024;

export const LIMITS = Object.freeze({
  /** A key is at most this many bytes of UTF-8 (414 key_too_long past it). */
  keyBytesMax: 1024,
  /** Default cap on a value's size (413 value_too_large past it); `--value-bytes-max` changes it. */
  valueBytesMaxDefault: 1024 * 1024,
  /** No configured value limit may exceed this: a value must fit in one peer frame. */
  valueBytesCeiling: 16 * 1024 * 1024,
  /** Peer frames larger than this close the connection that sent them. */
  frameBytesMax: FRAME_BYTES_MAX,
  /** Requests a peer connection may have in flight before new ones fail fast. */
  peerInFlightMax: 65_536,
  /** Open peer connections per node (both directions, handshaking included); more inbound are closed. */
  peerConnectionsMax: 256,
  /** Handshake must complete within this, or the connection is closed. */
  handshakeTimeoutMs: 2_000,
  /** Heartbeat period on every peer link. */
  heartbeatIntervalMs: 200,
  /** A peer that sent nothing for this long is considered down. */
  peerDownAfterMs: 1_000,
  /** Reconnect backoff bounds (doubles from min to max, with jitter). */
  reconnectBackoffMinMs: 50,
  /** The longest wait between reconnect attempts. */
  reconnectBackoffMaxMs: 2_000,
  /** Default time a request may wait for replicas (`?timeout=`, `--timeout-ms`). */
  requestTimeoutMsDefault: 2_000,
  /**
   * A read asks only R replicas, fastest first; when one has not answered within this, it also
   * asks the next (speculative retry). Low enough to hide a stalled replica, high enough that a
   * busy one is not doubled up on.
   */
  readSpeculateMs: 10,
  /** Decoded version sets of recently used keys each node keeps in memory (LRU). */
  storeCacheBytes: 64 * 1024 * 1024,
  /** A set whose record is larger than this is not kept in that cache. */
  storeCacheEntryBytesMax: 64 * 1024,
  /** The largest `?timeout=` a client may ask for. */
  requestTimeoutMsMax: 60_000,
  /** How often each node tries to replay its hints to replicas that are up again. */
  hintReplayIntervalMs: 250,
  /**
   * Hints replayed to one target per round while clients are waiting on the node (one frame),
   * so a backlog does not compete with them; an idle node drains the whole backlog each round.
   */
  hintReplayBatchMax: 256,
  /**
   * A hint replay frame (writeBatch) carries at most writeBatchEntriesMax hints and this many
   * bytes of keys and stored sets (but always one hint), so one frame does not hold a peer link,
   * or the replica's store, for long.
   */
  hintReplayFrameBytes: 1024 * 1024,
  /**
   * Replay frames in flight to one target at a time, so the replica merges one while the next
   * is read and sent. With the one being read, at most this many plus one frames of hints are
   * in a node's memory.
   */
  hintReplayFramesInFlightMax: 4,
  /**
   * Entries one writeBatch frame may carry; a frame with more is malformed. Well under
   * storeBatchWritesMax, so the merges of one frame go to disk in one LevelDB batch, or two.
   */
  writeBatchEntriesMax: 1_024,
  /**
   * Replicated writes to one peer in one event-loop turn leave as one writeBatch frame of at
   * most writeBatchEntriesMax writes and about this many bytes.
   */
  peerWriteCoalesceBytesMax: 64 * 1024,
  /**
   * A replicated write larger than this goes to its peer alone, not in a writeBatch: batching
   * spares small writes per-frame costs, but large values gain nothing and were measured slower.
   */
  peerWriteCoalesceEntryBytesMax: 4 * 1024,
  /** Virtual nodes per node on the ring. */
  vnodesPerNode: 128,
  /** Replication factor bounds. */
  nMax: 7,
  /** Nodes in one layout version, so in a cluster; a join past it is refused (409 conflict). */
  layoutNodesMax: 256,
  /** A node's http or peer address in a layout is at most this many characters. */
  layoutAddressCharsMax: 256,
  /**
   * Admission: bytes a node holds in flight, request bodies (reserved at their Content-Length
   * before they are read) plus replication frames queued to peers; past it, 503 overloaded.
   */
  inFlightBytesMax: 256 * 1024 * 1024,
  /**
   * Admission: bodies of writes being served at once (503 overloaded past it). Each is sent to
   * every replica, so this is the most a write's frame can wait behind on a peer link.
   */
  writeBytesInFlightMax: 4 * 1024 * 1024,
  /** Admission: client requests on /kv a node serves at once; past it, 503 overloaded. */
  inFlightRequestsMax: 1_024,
  /**
   * After this many bytes of uploads (admitted or refused), a node that goes quiet asks V8 for a
   * full collection, so the buffers of a burst go back to the system.
   */
  memoryReturnAfterBytes: 8 * 1024 * 1024,
  /**
   * After its RSS, or the V8 heap it uses, grew by this much since its last full collection, a
   * node that goes quiet asks V8 for one, so a burst's garbage goes back to the system within
   * seconds, not minutes.
   */
  memoryReturnGrowthBytes: 32 * 1024 * 1024,
  /**
   * How often a node looks whether it is quiet; two quiet looks in a row run that collection.
   */
  memoryReturnQuietMs: 1_000,
  /**
   * Quiet, for the memory return: the event loop busy less than this share of a look, and no
   * client request in flight.
   */
  memoryReturnBusyMax: 0.1,
  /** Retry-After (seconds) on 503 overloaded. */
  overloadRetryAfterS: 1,
  /** HTTP: concurrent client connections per replica; more are refused. */
  httpConnectionsMax: 4_096,
  /** HTTP: a whole request (headers and body) must arrive within this (408 past it). */
  httpRequestTimeoutMs: 30_000,
  /** HTTP: how often the server looks for requests past httpRequestTimeoutMs (Node's default is 30 s). */
  httpTimeoutCheckIntervalMs: 1_000,
  /** HTTP: request line and headers together (Node's parser limit; 414 for a key, else 431). */
  httpHeaderBytesMax: 16 * 1024,
  /**
   * HTTP: a request the parser refused (bad HTTP, headers too large, too slow) gets its error,
   * then what it still sends is read and dropped this long before the socket goes, so the
   * client reads the error instead of a reset.
   */
  httpRefusedDrainMs: 1_000,
  /** HTTP: idle keep-alive connections are closed after this. */
  httpKeepAliveTimeoutMs: 10_000,
  /** Admin JSON bodies are small; anything larger is refused. */
  adminBodyBytesMax: 64 * 1024,
  /** Faults: the longest delay and jitter a link may be given. */
  faultDelayMsMax: 60_000,
  /** A stored Content-Type is at most this long (400 past it). */
  contentTypeCharsMax: 256,
  /** An X-Kvorum-Context header is at most this long (400 past it). */
  contextCharsMax: 1024,
  /** Writes in one LevelDB batch; a longer queue is split so one batch never grows unbounded. */
  storeBatchWritesMax: 4096,
  /**
   * Warnings of one kind about what other hosts send (refused handshakes, malformed frames) per
   * second; the rest are counted and the count is logged.
   */
  logLinesPerKindPerSecond: 3,
  /** A cluster secret (config field or flag) is at most this long. */
  clusterSecretCharsMax: 1024,
  /** Frames before a completed handshake are at most this large. */
  handshakeFrameBytesMax: 4096,
  /** A peer that stops reading is cut off once this much output is buffered for it. */
  peerWriteBufferBytesMax: 16 * FRAME_BYTES_MAX,
  /** Partition and heal calls to each node's /admin/faults give up after this. */
  adminCallTimeoutMs: 3_000,
  /** `kvorum cluster` starts at most this many local nodes. */
  localNodesMax: 16,
  /** `kvorum cluster`: every node must answer /health within this after start. */
  supervisorHealthDeadlineMs: 15_000,
  /** `kvorum cluster`: after SIGTERM a replica gets this long to close before SIGKILL. */
  supervisorStopGraceMs: 5_000,
  /**
   * Timestamps observed from peers or clients more than this ahead of the local clock do not
   * drag the local HLC forward, and contexts that far ahead are refused (400).
   */
  clockAheadMsMax: 300_000,
  /**
   * Default `maxClockOffsetMs`: the most a client's X-Kvorum-Context may be ahead of the node's
   * clock (400 past it), so no client can drag the cluster's clocks forward by more.
   */
  maxClockOffsetMsDefault: 500,
  /** Siblings mode: default cap on concurrent values per key (409 too_many_siblings past it). */
  siblingsMaxDefault: 100,
  /** The largest sibling cap a cluster may configure. */
  siblingsMaxCeiling: 10_000,
  /**
   * Siblings mode: a key's values together stay below this, so its set always fits in one peer
   * frame (413 for a write that would pass it without resolving anything).
   */
  setBytesMax: FRAME_BYTES_MAX - 32 * 1024,
  /** A version set on the wire holds at most this many siblings (merges may pass the cap). */
  siblingsWireMax: 65_536,
  /**
   * Dot counters are reserved on disk this many at a time (one meta write per block; a restart
   * skips the rest of the block). Must exceed twice storeBatchWritesMax: see DotCounter.
   */
  dotCounterBlock: 1 << 20,
  /** A version vector holds at most this many entries (only a key's replicas issue dots). */
  clockEntriesMax: 64,
  /** Anti-entropy: default period between exchanges with each peer (jittered by +-20%). */
  antiEntropyIntervalMsDefault: 30_000,
  /** The longest anti-entropy period a cluster may configure (a day). */
  antiEntropyIntervalMsMax: 86_400_000,
  /** Anti-entropy: hash tree leaves (segments) per peer tree; a power of two. */
  aeSegments: 1024,
  /** Anti-entropy: leaves under each top-level group of the tree. */
  aeSegmentsPerGroup: 32,
  /** Anti-entropy: groups, segments or keys one request may name. */
  aeItemsPerMessageMax: 1024,
  /** Anti-entropy: segments per key-listing request, so a listing fits in one frame. */
  aeSegmentsPerKeysRequest: 32,
  /** Anti-entropy: a fetch reply carries sets up to about this many bytes (at least one set). */
  aeFetchBytesMax: 4 * 1024 * 1024,
  /** Anti-entropy: differing keys repaired per exchange; the rest wait for the next one. */
  aeKeysPerExchangeMax: 10_000,
  /** Anti-entropy: one request of an exchange gives up after this. */
  aeRequestTimeoutMs: 10_000,
  /** Tombstones are purged this long after the delete (default), once every replica holds them. */
  tombstoneGraceMsDefault: 86_400_000,
  /** How often each node looks for tombstones it may purge (keys it is first replica of). */
  tombstoneSweepIntervalMs: 5_000,
  /** Tombstones one sweep examines, so a mass delete does not stall a node. */
  tombstoneSweepKeysMax: 1_000,
  /**
   * Tries at purging a tombstone on the nodes that have not yet taken the purge, before the
   * sweep gives up on the key: one lost purge otherwise undoes the others (anti-entropy brings
   * the tombstone back from the first replica to the nodes that had dropped it).
   */
  tombstonePurgeAttemptsMax: 3,
  /**
   * The HLC's wall part is saved this far ahead of what it has issued (one meta write per
   * period of stamping). A restart waits until the wall clock has passed the saved mark, so
   * this is also the longest such a wait is; kept below maxClockOffsetMsDefault.
   */
  hlcMarkAheadMs: 250,
  /**
   * A restart whose saved HLC mark is further ahead of the wall clock than this does not wait
   * for it: the clock was set back, and the node stamps from the mark (and says so).
   */
  hlcRestartWaitMaxMs: 2_000,
  /** HTTPS: a client must finish the TLS handshake within this, or its connection is closed. */
  httpsHandshakeTimeoutMs: 10_000,
  /** `kvorum cluster --tls`: days the generated CA and node certificates are valid (825: what browsers accept). */
  tlsCertValidDays: 825,
  /** `kvorum cluster --tls`: one openssl run (key or certificate) must finish within this. */
  opensslTimeoutMs: 30_000,
  /** Test-only clock skew (`serve --clock-offset-ms`) is bounded by a day. */
  clockOffsetMsMax: 86_400_000,
  /**
   * Consensus on layout changes: how long a proposer waits for each acceptor's answer to one
   * prepare or accept. A layout change is rare and may wait; a member that has not answered in
   * a second is likely down (peerDownAfterMs).
   */
  consensusTimeoutMs: 1_000,
  /**
   * Consensus: ballots a proposer tries before it gives up (503 no_majority). A proposal that
   * cannot win gives up within 8 ballots of two 1 s phases plus 2.3 s of backoff, about 18 s.
   */
  consensusAttemptsMax: 8,
  /**
   * Consensus: backoff between a proposer's ballots (doubles from min to max, with jitter), so
   * two proposers that keep outbidding each other drift apart and one of them wins.
   */
  consensusBackoffMinMs: 20,
  /** Consensus: the longest backoff between a proposer's ballots. */
  consensusBackoffMaxMs: 1_000,
  /**
   * Membership: how often a node gossips its layout history and moves its own trackers (ack,
   * sync, syncAck) along. During a transition it gossips to every member each tick; settled,
   * to one random member.
   */
  layoutTickMs: 250,
  /**
   * Membership: keys a node pushes per second to their new owners while a layout changes, so a
   * transition does not starve client traffic (one push in flight at a time as well).
   */
  layoutSyncKeysPerSecondMax: 5_000,
  /**
   * Membership: ticks a version this node accepted (as a Paxos acceptor) may wait to appear in
   * any history before the node proposes it again, to finish a change whose proposer died.
   */
  layoutRecoverAfterTicks: 8,
  /**
   * Membership: keys written to a node that does not own them (in a settled layout) it
   * remembers, to hand them to their owners; past this many it makes a full pass instead.
   */
  layoutStraysMax: 10_000,
  /** Membership: a node that has left keeps answering gossip this long, then exits. */
  layoutLeaveLingerMs: 3_000,
  /**
   * Console traffic figures (`GET /admin/console`): requests per second, p50/p99 and the share
   * of 2xx/503/504 cover the client requests of this last stretch of time, kept in slots of
   * trafficSlotMs so memory stays fixed however many requests come.
   */
  trafficWindowMs: 10_000,
  /** Console traffic figures: the window's slot, so its memory is the window over this. */
  trafficSlotMs: 1_000,
  /**
   * Distinct (operation, level) rows the traffic window keeps (read/write at one, quorum,
   * all, each count up to nMax, linearizable, invalid: 20 at most); more fold into one row.
   */
  trafficLevelsMax: 32,
  /**
   * Console staleness figures (`GET /admin/console`): the stale read replies of this last
   * stretch of time, per read level, and how far behind they were. Longer than the traffic
   * window: stale replies are rare next to requests, and a fault's aftermath should stay in view.
   */
  stalenessWindowMs: 60_000,
  /** Console staleness figures: the window's slot, so its memory is the window over this. */
  stalenessSlotMs: 5_000,
  /** Console: a peer whose `GET /admin/console?scope=node` has not answered in this shows as unreachable. */
  consoleFanOutTimeoutMs: 1_000,
  /**
   * Console: the most bytes of a peer's `GET /admin/console?scope=node` answer a cluster view
   * reads (one is a few KiB); a longer one counts as no answer.
   */
  consoleFanOutReplyBytesMax: 256 * 1024,
  /** Console: nodes one cluster view asks (itself included); the rest are listed without figures. */
  consoleFanOutNodesMax: 32,
  /**
   * Console: a cluster view this young is answered again instead of asking every peer anew,
   * so several open consoles cost each node about one fan-out per poll period.
   */
  consoleViewReuseMs: 250,
  /** Console: arcs of the ring a cluster view lists for drawing; past it, only the shares. */
  consoleRingArcsMax: 4_096,
  /**
   * Link round trips: a console view pings each peer at most once per this period (pings run
   * only while someone polls the console), and a ping unanswered after the timeout is lost.
   */
  linkProbeIntervalMs: 1_000,
  /** Link round trips: a console ping unanswered after this counts as lost. */
  linkProbeTimeoutMs: 2_000,
  /** Link round trips: the outcomes of this many recent pings per peer make its loss figure. */
  linkProbeHistory: 10,
  /** CPU figure: process CPU time over at least this long, so one poll's jitter does not show. */
  cpuSampleMinMs: 1_000,
  /**
   * PBS: Monte Carlo trials behind each GET /admin/pbs answer. A predicted probability p is off
   * by sqrt(p(1-p)/trials) (one standard error), at most 0.005 at 10,000; running them takes
   * about 10 ms of a core for N=3 and 50 ms for N=7.
   */
  pbsTrials: 10_000,
  /**
   * PBS: a node answers GET /admin/pbs and /admin/pbs/curve from the same trials for this long,
   * whatever is asked, so the points of a curve agree and cost one run; newer samples wait for
   * the next.
   */
  pbsModelReuseMs: 1_000,
  /**
   * PBS: reply round trips a node keeps per peer and kind (write, read) for the model, and the
   * most samples any one of its latency distributions may hold.
   */
  pbsSamplesPerPeer: 1_024,
  /**
   * PBS: replies one reservoir weighs. Until a peer has answered this many of a kind the
   * reservoir is a uniform sample of them all; after, each reply replaces a random sample with
   * probability pbsSamplesPerPeer / pbsSampleHorizon, so samples are on average this many
   * replies old and a link that slows down shows in the predictions within about as many.
   */
  pbsSampleHorizon: 4_096,
  /** PBS: a latency distribution with fewer samples than this is thin, and the answer says so. */
  pbsSamplesMin: 32,
  /** PBS: the latest read, in ms after the write was acknowledged, GET /admin/pbs predicts for (`t`). */
  pbsTMsMax: 60_000,
  /** PBS: the most versions a read may be behind that GET /admin/pbs predicts for (`k`). */
  pbsKMax: 100,
  /**
   * PBS: the most values of t one GET /admin/pbs/curve answers for, so its answer stays small.
   * The points themselves cost little (a binary search each per (R, W)); sorting each pair's
   * trials once costs about as much as running them, whatever the number of points.
   */
  pbsCurvePointsMax: 100,
});

/**
 * Environment every replica process is started with (by `kvorum cluster`, verify and the tests;
 * the Dockerfile sets it too). glibc's malloc raises its mmap threshold to the size of each large
 * block it frees, so after a burst of 1 MiB values later ones come from its heap, which it
 * rarely gives back: RSS stayed at the burst's peak. A fixed threshold keeps every block of
 * 128 KiB or more in its own mapping, returned to the system when freed. Other allocators
 * ignore the variable.
 */
export const REPLICA_PROCESS_ENV = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '131072' });

export const PROFILES = Object.freeze({
  cp: { r: 'quorum', w: 'quorum', readRepair: 'before', hintedHandoff: true, sloppyQuorum: false },
  quorum: {
    r: 'quorum',
    w: 'quorum',
    readRepair: 'after',
    hintedHandoff: true,
    sloppyQuorum: false,
  },
  ap: { r: 'one', w: 'one', readRepair: 'after', hintedHandoff: true, sloppyQuorum: true },
} as const);
export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.freeze(Object.keys(PROFILES) as ProfileName[]);

export const CONFLICT_MODES = Object.freeze(['lww', 'siblings'] as const);
export type ConflictMode = (typeof CONFLICT_MODES)[number];

export interface NodeAddress {
  readonly id: string;
  /** Base URL of the node's HTTP API, e.g. http://127.0.0.1:7001 */
  readonly http: string;
  /** host:port of the node's peer protocol listener, e.g. 127.0.0.1:7101 */
  readonly peer: string;
}

/** The shape of `<data>/cluster.json`, shared by `kvorum cluster`, `kvorum serve` and docker. */
export interface ClusterConfig {
  readonly cluster: string;
  readonly profile: ProfileName;
  readonly conflicts: ConflictMode;
  readonly n: number;
  /** Each node keeps its data under `<data>/<id>` unless `kvorum serve --data` says otherwise. */
  readonly data: string;
  readonly timeoutMs: number;
  readonly valueBytesMax: number;
  readonly fsync: boolean;
  readonly nodes: readonly NodeAddress[];
  /** Siblings mode: concurrent values a key may hold before writes are refused (409). */
  readonly siblingsMax: number;
  /** Tombstones older than this are purged once every replica of the key holds them. */
  readonly tombstoneGraceMs: number;
  /** Period of anti-entropy exchanges with each peer; 0 turns the schedule off (repair on demand). */
  readonly antiEntropyIntervalMs: number;
  /** Test switch: false stops hints (and so sloppy quorum), to show anti-entropy alone converges. */
  readonly hintedHandoff: boolean;
  /**
   * The largest clock offset between nodes the cluster expects: a context stamped further ahead
   * of a node's clock is refused (400) instead of moving its hybrid logical clock.
   */
  readonly maxClockOffsetMs: number;
  /**
   * The secret every node proves in the peer handshake. `kvorum cluster` generates one and
   * keeps this file private (0600); `--cluster-secret` / KVORUM_CLUSTER_SECRET override it.
   */
  readonly clusterSecret?: string;
}

/** The request defaults a cluster's profile gives (what ?r=, ?w= and ?consistency= override). */
export function consistencyDefaults(config: ClusterConfig): ConsistencyDefaults {
  const profile = PROFILES[config.profile];
  return {
    n: config.n,
    r: profile.r,
    w: profile.w,
    linearizable: config.profile === 'cp',
    timeoutMs: config.timeoutMs,
    timeoutMsMax: LIMITS.requestTimeoutMsMax,
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function fail(message: string): never {
  throw new ConfigError(message);
}

function parseHostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${what} must be host:port, got ${JSON.stringify(s)}`);
  }
  return { host: s.slice(0, i), port };
}

export function peerHostPort(node: NodeAddress): { host: string; port: number } {
  return parseHostPort(node.peer, `node ${node.id} peer`);
}

export function httpHostPort(node: NodeAddress): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(node.http);
  } catch {
    return fail(`node ${node.id} http must be a URL like http://127.0.0.1:7001`);
  }
  return { host: url.hostname, port: Number(url.port || 80) };
}

/** Validates a parsed cluster.json and fills defaults; throws ConfigError with one clear line. */
export function parseClusterConfig(raw: unknown): ClusterConfig {
  if (typeof raw !== 'object' || raw === null) fail('cluster config must be a JSON object');
  const o = raw as Record<string, unknown>;
  const nodesRaw = o.nodes;
  if (!Array.isArray(nodesRaw) || nodesRaw.length === 0)
    fail('cluster config needs a non-empty "nodes" array');
  const nodes: NodeAddress[] = nodesRaw.map((x, i) => {
    const n = x as Record<string, unknown>;
    if (typeof n !== 'object' || n === null) fail(`nodes[${i}] must be an object`);
    if (typeof n.id !== 'string' || !NODE_ID.test(n.id))
      fail(`nodes[${i}].id must match ${NODE_ID}`);
    if (typeof n.http !== 'string') fail(`nodes[${i}].http must be a URL string`);
    if (typeof n.peer !== 'string') fail(`nodes[${i}].peer must be a host:port string`);
    const node = { id: n.id, http: n.http.replace(/\/+$/, ''), peer: n.peer };
    httpHostPort(node);
    peerHostPort(node);
    return node;
  });
  const ids = new Set(nodes.map((x) => x.id));
  if (ids.size !== nodes.length) fail('node ids in cluster config must be unique');
  const profile = (o.profile ?? 'quorum') as ProfileName;
  if (!PROFILE_NAMES.includes(profile)) fail(`profile must be one of ${PROFILE_NAMES.join(', ')}`);
  const conflicts = (o.conflicts ?? 'lww') as ConflictMode;
  if (!CONFLICT_MODES.includes(conflicts))
    fail(`conflicts must be one of ${CONFLICT_MODES.join(', ')}`);
  // Linearizability is defined for a register with one value; siblings are several.
  if (conflicts === 'siblings' && profile === 'cp')
    fail('profile "cp" needs conflicts "lww": a linearizable register has one value, not siblings');
  const n = o.n ?? Math.min(3, nodes.length);
  if (
    !Number.isInteger(n) ||
    (n as number) < 1 ||
    (n as number) > nodes.length ||
    (n as number) > LIMITS.nMax
  ) {
    fail(`n must be an integer from 1 to ${Math.min(nodes.length, LIMITS.nMax)} (the node count)`);
  }
  const timeoutMs = o.timeoutMs ?? LIMITS.requestTimeoutMsDefault;
  if (
    !Number.isInteger(timeoutMs) ||
    (timeoutMs as number) < 1 ||
    (timeoutMs as number) > LIMITS.requestTimeoutMsMax
  ) {
    fail(`timeoutMs must be an integer from 1 to ${LIMITS.requestTimeoutMsMax}`);
  }
  const valueBytesMax = o.valueBytesMax ?? LIMITS.valueBytesMaxDefault;
  if (
    !Number.isInteger(valueBytesMax) ||
    (valueBytesMax as number) < 1 ||
    (valueBytesMax as number) > LIMITS.valueBytesCeiling
  ) {
    fail(`valueBytesMax must be an integer from 1 to ${LIMITS.valueBytesCeiling}`);
  }
  const fsync = o.fsync ?? false;
  if (typeof fsync !== 'boolean') fail('fsync must be true or false');
  const cluster = o.cluster ?? 'kvorum';
  if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 128)
    fail('cluster must be a name of 1-128 characters');
  const data = o.data ?? './data';
  if (typeof data !== 'string') fail('data must be a directory path');
  const siblingsMax = intIn(
    o.siblingsMax,
    LIMITS.siblingsMaxDefault,
    1,
    LIMITS.siblingsMaxCeiling,
    'siblingsMax',
  );
  const tombstoneGraceMs = intIn(
    o.tombstoneGraceMs,
    LIMITS.tombstoneGraceMsDefault,
    0,
    Number.MAX_SAFE_INTEGER,
    'tombstoneGraceMs',
  );
  const antiEntropyIntervalMs = intIn(
    o.antiEntropyIntervalMs,
    LIMITS.antiEntropyIntervalMsDefault,
    0,
    LIMITS.antiEntropyIntervalMsMax,
    'antiEntropyIntervalMs',
  );
  const hintedHandoff = o.hintedHandoff ?? true;
  if (typeof hintedHandoff !== 'boolean') fail('hintedHandoff must be true or false');
  const maxClockOffsetMs = intIn(
    o.maxClockOffsetMs,
    LIMITS.maxClockOffsetMsDefault,
    1,
    LIMITS.clockAheadMsMax,
    'maxClockOffsetMs',
  );
  const clusterSecret = o.clusterSecret;
  if (
    clusterSecret !== undefined &&
    (typeof clusterSecret !== 'string' ||
      clusterSecret.length === 0 ||
      clusterSecret.length > LIMITS.clusterSecretCharsMax)
  ) {
    fail(`clusterSecret must be a string of 1-${LIMITS.clusterSecretCharsMax} characters`);
  }
  return {
    cluster,
    profile,
    conflicts,
    n: n as number,
    data,
    timeoutMs: timeoutMs as number,
    valueBytesMax: valueBytesMax as number,
    fsync,
    nodes,
    siblingsMax,
    tombstoneGraceMs,
    antiEntropyIntervalMs,
    hintedHandoff,
    maxClockOffsetMs,
    ...(clusterSecret === undefined ? {} : { clusterSecret }),
  };
}

function intIn(x: unknown, dflt: number, min: number, max: number, what: string): number {
  const v = x ?? dflt;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    fail(`${what} must be an integer from ${min} to ${max}`);
  return v as number;
}
