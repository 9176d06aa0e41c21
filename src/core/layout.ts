// Layout history: which nodes own the ring in each layout version, and how far every node has
// moved from one version to the next. Pure; src/replica drives the transitions it describes.
//
// Nodes join and leave a serving cluster, so for a while two rings are live: the old one, which
// holds the data, and the new one, which will. After Garage's layout history, every node keeps
// the live versions plus three watermarks per node (trackers), and gossips the whole as a
// state-based CRDT. A version moves through three steps, each waiting for every tracked node:
//
//   ack[node] = v      node knows v: every write it coordinates from now on goes to every live
//                      version (W in each), and the writes it started under an older history
//                      have finished.
//   sync[node] = v     node has pushed every key it stores to that key's owners in v. A node
//                      starts only once every tracked node has acked v, so no write can slip
//                      past the push: each later write reaches v's owners by itself.
//   syncAck[node] = v  node has seen that every tracked node synced v, and reads from v (or
//                      newer) from now on. Once every tracked node has, nobody reads older
//                      versions and they are pruned.
//
// Tracked nodes are the nodes of the live versions minus `excused`: dead nodes being removed,
// whose data the surviving replicas push instead (each key has N-1 other holders), and dead
// nodes an operator excused from a transition already under way (see excuse): a joiner that
// never started, or a member that died mid-transition. Nobody waits for an excused node, and
// nobody pushes to it; one that is in the new version stays a member, down, until removed.
//
// A joining node gets no trackers from applyDecided: each is a promise only the node can make.
// It acks once it holds the history; it holds no data from before v, so its sync is empty, but
// it reports it under the same rule as everyone (once all have acked v), which costs nothing
// because no other node can sync earlier either. A joiner that never starts therefore holds the
// transition at "joining", visible in GET /admin/layout, instead of silently owning ranges.
//
// At most two versions are live: proposeChange refuses while a transition is in progress, so
// version v+1 exists only if its proposer had already pruned v-1, which took every tracked
// node's syncAck of v. A history that learns v+1 may drop v-1 at once. That bound keeps merge a
// join: the live versions, the max of each tracker and the excused ids of the newest transition
// only grow, and pruning forgets only what no later state can need (see prune), so merge is
// commutative, associative and idempotent on the histories these functions return.

import { LIMITS, httpHostPort, peerHostPort, type NodeAddress } from '../config.js';
import { ConflictError, InvalidArgumentError, LayoutDivergedError } from './errors.js';
import { Ring } from './ring.js';

export type LayoutNode = NodeAddress;

export interface LayoutVersion {
  readonly version: number;
  /** The owners in this version, sorted by id. */
  readonly nodes: readonly LayoutNode[];
}

export const TRACKERS = Object.freeze(['ack', 'sync', 'syncAck'] as const);
export type Tracker = (typeof TRACKERS)[number];

export interface LayoutHistory {
  /** Live versions, ascending and consecutive: one when settled, two during a transition. */
  readonly versions: readonly LayoutVersion[];
  /** Node id -> the highest version it reported, per tracker (null-prototype records). */
  readonly trackers: Readonly<Record<Tracker, Readonly<Record<string, number>>>>;
  /**
   * Dead nodes the current transition does not wait for: those it removes, and those excused
   * while it was under way. Empty when settled.
   */
  readonly excused: readonly string[];
}

export type LayoutChange =
  | { readonly kind: 'join'; readonly node: LayoutNode }
  | { readonly kind: 'leave'; readonly id: string; readonly dead: boolean };

/** What to put to consensus: the next version, and the dead nodes it removes. */
export interface ProposedLayout {
  readonly next: LayoutVersion;
  readonly excused: readonly string[];
}

export interface LayoutNodeState extends LayoutNode {
  readonly state: 'joining' | 'member' | 'leaving';
}

export interface ReplicaSets {
  /** The key's preference list in the read version. */
  readonly read: string[];
  /** One preference list per live version, oldest first; a write needs W acks in each. */
  readonly write: string[][];
}

/** See the module header: a third version needs a settled proposer, so it ends the first. */
const LIVE_VERSIONS_MAX = 2;

/** The node-id rule of parseClusterConfig (src/config.ts); a test holds the two together. */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

type Counts = Record<string, number>;
const emptyCounts = (): Counts => Object.create(null) as Counts;
const byId = (a: LayoutNode, b: LayoutNode): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const holds = (v: LayoutVersion, id: string): boolean => v.nodes.some((n) => n.id === id);

function countOf(c: Readonly<Counts>, id: string): number | undefined {
  // Node ids may be "__proto__" or "constructor": read only own entries.
  const x = Object.hasOwn(c, id) ? c[id] : undefined;
  return typeof x === 'number' ? x : undefined;
}

export function oldestVersion(h: LayoutHistory): LayoutVersion {
  return h.versions[0] as LayoutVersion;
}

export function newestVersion(h: LayoutHistory): LayoutVersion {
  return h.versions[h.versions.length - 1] as LayoutVersion;
}

export function isSettled(h: LayoutHistory): boolean {
  return h.versions.length === 1;
}

export function isMember(h: LayoutHistory, id: string): boolean {
  return h.versions.some((v) => holds(v, id));
}

/** Version 1 with the given nodes, every tracker of every node at 1. */
export function initialHistory(nodes: readonly LayoutNode[]): LayoutHistory {
  const invalid = (where: string, problem: string): never => {
    throw new InvalidArgumentError(`${where} ${problem}`);
  };
  const sorted = checkNodes([...nodes].sort(byId), 'initial nodes', invalid);
  const ones = emptyCounts();
  for (const n of sorted) ones[n.id] = 1;
  return prune({
    versions: [{ version: 1, nodes: sorted }],
    trackers: { ack: ones, sync: ones, syncAck: ones },
    excused: [],
  });
}

/** The nodes whose trackers a transition waits for, sorted. */
export function trackedNodes(h: LayoutHistory): string[] {
  const ids = new Set<string>();
  for (const v of h.versions) for (const n of v.nodes) ids.add(n.id);
  for (const id of h.excused) ids.delete(id);
  return [...ids].sort();
}

/** The lowest report of a tracker among tracked nodes; a node without one counts as the oldest. */
export function minTracker(h: LayoutHistory, t: Tracker): number {
  const lo = oldestVersion(h).version;
  let min = newestVersion(h).version;
  for (const id of trackedNodes(h)) min = Math.min(min, countOf(h.trackers[t], id) ?? lo);
  return Math.max(min, lo);
}

// Histories are immutable, so the read version of one is computed once: every request asks.
const readVersions = new WeakMap<LayoutHistory, LayoutVersion>();

/** The newest version every tracked node has synced; reads use its replicas only. */
export function readVersion(h: LayoutHistory): LayoutVersion {
  if (h.versions.length === 1) return oldestVersion(h);
  let read = readVersions.get(h);
  if (read === undefined) {
    const synced = minTracker(h, 'sync');
    read = [...h.versions].reverse().find((v) => v.version <= synced) ?? oldestVersion(h);
    readVersions.set(h, read);
  }
  return read;
}

/** Every live version: until the old owners are pruned, a write must reach W in each. */
export function writeVersions(h: LayoutHistory): readonly LayoutVersion[] {
  return h.versions;
}

export function replicaSets(h: LayoutHistory, key: string, n: number): ReplicaSets {
  const write = h.versions.map((v) => ringOf(v).preferenceList(key, n));
  // The read version is one of the live ones: its list is already among the write lists.
  return { read: write[h.versions.indexOf(readVersion(h))] as string[], write };
}

/** The key's preference list in the read version alone (a read's path needs no more). */
export function readSet(h: LayoutHistory, key: string, n: number): string[] {
  return ringOf(readVersion(h)).preferenceList(key, n);
}

/** Every node of every live version, each once, sorted by id. */
export function liveNodes(h: LayoutHistory): LayoutNode[] {
  const seen = new Map<string, LayoutNode>();
  for (const v of h.versions) for (const m of v.nodes) seen.set(m.id, m);
  return [...seen.values()].sort(byId);
}

// A ring is built once per node set: looked up by object first (the per-request path), then by
// content, because a history decoded from a peer brings new objects for the same versions. At
// most two versions are live, so a handful of entries covers a node and its simulated peers.
const RINGS_CACHED_MAX = 8;
const ringsByVersion = new WeakMap<LayoutVersion, Ring>();
const ringsByNodes = new Map<string, Ring>();

export function ringOf(v: LayoutVersion): Ring {
  let ring = ringsByVersion.get(v);
  if (ring !== undefined) return ring;
  const ids = v.nodes.map((n) => n.id);
  const key = ids.join(',');
  ring = ringsByNodes.get(key);
  if (ring === undefined) {
    ring = new Ring(ids, LIMITS.vnodesPerNode);
    if (ringsByNodes.size >= RINGS_CACHED_MAX) {
      ringsByNodes.delete(ringsByNodes.keys().next().value as string);
    }
    ringsByNodes.set(key, ring);
  }
  ringsByVersion.set(v, ring);
  return ring;
}

/**
 * Raises one node's tracker to `version`. Never lowers one; a version that is not live is
 * ignored. Returns `h` itself when nothing changed, so callers can tell whether to gossip.
 */
export function advance(
  h: LayoutHistory,
  node: string,
  tracker: Tracker,
  version: number,
): LayoutHistory {
  const lo = oldestVersion(h).version;
  if (!Number.isSafeInteger(version) || version < lo || version > newestVersion(h).version) {
    return h;
  }
  if ((countOf(h.trackers[tracker], node) ?? 0) >= version) return h;
  const counts = Object.assign(emptyCounts(), h.trackers[tracker]);
  counts[node] = version;
  const out = prune({ ...h, trackers: { ...h.trackers, [tracker]: counts } });
  return sameHistory(out, h) ? h : out;
}

/**
 * The join of two histories: versions by number (the same number with other nodes throws
 * LayoutDivergedError), the max of every tracker, the excused ids of the newest transition;
 * then pruned. Returns `a` itself when `b` adds nothing.
 */
export function merge(a: LayoutHistory, b: LayoutHistory): LayoutHistory {
  const byNumber = new Map<number, LayoutVersion>();
  for (const v of [...a.versions, ...b.versions]) {
    const seen = byNumber.get(v.version);
    if (seen === undefined) byNumber.set(v.version, v);
    else checkSame(seen, v);
  }
  // Pruned versions stay pruned: the history whose oldest is newer has seen them retired.
  const lo = Math.max(oldestVersion(a).version, oldestVersion(b).version);
  const versions = [...byNumber.values()]
    .filter((v) => v.version >= lo)
    .sort((x, y) => x.version - y.version);
  const trackers = { ack: emptyCounts(), sync: emptyCounts(), syncAck: emptyCounts() };
  for (const t of TRACKERS) {
    for (const src of [a.trackers[t], b.trackers[t]]) {
      for (const id of Object.keys(src)) {
        const v = countOf(src, id) as number;
        trackers[t][id] = Math.max(countOf(trackers[t], id) ?? 0, v);
      }
    }
  }
  // Excused ids belong to the transition into the newest version; an older history's are over.
  const ha = newestVersion(a).version;
  const hb = newestVersion(b).version;
  const excused = ha > hb ? a.excused : hb > ha ? b.excused : [...a.excused, ...b.excused];
  const out = prune({ versions, trackers, excused });
  return sameHistory(out, a) ? a : out;
}

/**
 * The canonical form of a history. Keeps the last two versions (see the module header), then
 * drops the older one once every tracked node has syncAcked the newer. Of the trackers it keeps
 * only reports a later state can still use: those of nodes in a live version, at or above the
 * first live version that holds the node (a joiner's older report means nothing, and a node
 * that left and rejoins starts afresh). Excused ids stay only while their node is leaving.
 * Each rule forgets only what stays forgotten in every larger state, which keeps merge a join.
 */
export function prune(h: LayoutHistory): LayoutHistory {
  checkConsecutive(h.versions);
  const out = canonical(h.versions.slice(-LIVE_VERSIONS_MAX), h);
  if (out.versions.length > 1 && minTracker(out, 'syncAck') >= newestVersion(out).version) {
    return canonical(out.versions.slice(-1), out);
  }
  return out;
}

function canonical(versions: readonly LayoutVersion[], from: LayoutHistory): LayoutHistory {
  const first = new Map<string, number>();
  for (const v of versions) {
    for (const n of v.nodes) if (!first.has(n.id)) first.set(n.id, v.version);
  }
  const ids = [...first.keys()].sort();
  const hi = (versions[versions.length - 1] as LayoutVersion).version;
  const trackers = { ack: emptyCounts(), sync: emptyCounts(), syncAck: emptyCounts() };
  for (const t of TRACKERS) {
    for (const id of ids) {
      const v = countOf(from.trackers[t], id);
      if (v !== undefined && v >= (first.get(id) as number) && v <= hi) trackers[t][id] = v;
    }
  }
  // Excused ids last as long as the transition: a settled history has none.
  const excused = versions.length > 1 ? ids.filter((id) => from.excused.includes(id)) : [];
  return { versions, trackers, excused };
}

/**
 * Excuses a dead node from the transition under way: its trackers are no longer waited for and
 * no sync pushes to it, so the transition can finish without it. For a node the transition
 * removes, that is a dead removal; a node in the new version (a joiner that never started, a
 * member that died) stays a member, down, to be removed by a leave once the layout settles.
 * A gossiped fact, not a decision: excused ids of one transition only grow, so merge keeps them.
 * Refuses (ConflictError, InvalidArgumentError) outside a transition or for a non-member.
 */
export function excuse(h: LayoutHistory, id: string): LayoutHistory {
  if (isSettled(h)) {
    throw new ConflictError('no layout change is in progress: nothing to excuse a node from');
  }
  if (!trackedNodes(h).includes(id) && !h.excused.includes(id)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(id).slice(0, 70)} is not in layout versions ` +
        `${oldestVersion(h).version}..${newestVersion(h).version}`,
    );
  }
  if (h.excused.includes(id)) return h;
  return prune({ ...h, excused: [...h.excused, id].sort() });
}

/** Appends a decided version. Idempotent; a version already known with other nodes throws. */
export function applyDecided(
  h: LayoutHistory,
  next: LayoutVersion,
  excused: readonly string[],
): LayoutHistory {
  const lo = oldestVersion(h).version;
  const hi = newestVersion(h).version;
  if (next.version < lo) return h;
  if (next.version <= hi) {
    checkSame(h.versions[next.version - lo] as LayoutVersion, next);
    return h;
  }
  if (next.version !== hi + 1) {
    throw new Error(`layout version ${next.version} cannot follow ${hi}; merge a peer's history`);
  }
  const last = newestVersion(h);
  for (let i = 1; i < next.nodes.length; i++) {
    if (byId(next.nodes[i - 1]!, next.nodes[i]!) >= 0) {
      throw new Error(`layout version ${next.version}: nodes must be sorted by id, each once`);
    }
  }
  if (next.nodes.length === 0) throw new Error(`layout version ${next.version} has no nodes`);
  for (const id of excused) {
    if (!holds(last, id) || holds(next, id)) {
      throw new Error(`layout version ${next.version} excuses ${id}, which it does not remove`);
    }
  }
  return prune({ versions: [...h.versions, next], trackers: h.trackers, excused });
}

/**
 * The version to put to consensus for a join or a leave, with the dead nodes it excuses.
 * Refuses (ConflictError, InvalidArgumentError) what the cluster cannot do now.
 */
export function proposeChange(h: LayoutHistory, change: LayoutChange, n: number): ProposedLayout {
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.nMax) {
    throw new Error(`n must be from 1 to ${LIMITS.nMax}, got ${n}`);
  }
  if (!isSettled(h)) {
    throw new ConflictError(
      `a layout change is in progress (versions ${oldestVersion(h).version}..${newestVersion(h).version}); ` +
        'wait until GET /admin/layout says settled',
    );
  }
  const current = newestVersion(h);
  const version = current.version + 1;
  switch (change.kind) {
    case 'join': {
      const raw = change.node as unknown as Record<string, unknown>;
      const http = typeof raw.http === 'string' ? raw.http.replace(/\/+$/, '') : raw.http;
      const node = checkNode({ ...raw, http }, 'the joining node', (where, problem) => {
        throw new InvalidArgumentError(`${where} ${problem}`);
      });
      for (const m of current.nodes) {
        if (m.id === node.id) {
          throw new ConflictError(
            `${node.id} is already a member (layout version ${current.version})`,
          );
        }
        if (m.http === node.http || m.peer === node.peer) {
          const [what, addr] = m.http === node.http ? ['HTTP', node.http] : ['peer', node.peer];
          throw new ConflictError(`${addr} is already the ${what} address of ${m.id}`);
        }
      }
      if (current.nodes.length >= LIMITS.layoutNodesMax) {
        throw new ConflictError(
          `the layout already holds ${LIMITS.layoutNodesMax} nodes, its limit`,
        );
      }
      return { next: { version, nodes: [...current.nodes, node].sort(byId) }, excused: [] };
    }
    case 'leave': {
      if (!holds(current, change.id)) {
        const members = current.nodes.map((m) => m.id);
        const shown = members.slice(0, 10).join(', ') + (members.length > 10 ? ', …' : '');
        throw new InvalidArgumentError(
          `${JSON.stringify(change.id).slice(0, 70)} is not a member of layout version ` +
            `${current.version}; members are ${shown}`,
        );
      }
      const left = current.nodes.length - 1;
      if (left < n) {
        throw new ConflictError(
          `leaving ${change.id} would leave ${left} nodes, fewer than N=${n}`,
        );
      }
      const nodes = current.nodes.filter((m) => m.id !== change.id);
      return { next: { version, nodes }, excused: change.dead ? [change.id] : [] };
    }
    default: {
      const never: never = change;
      throw new Error(`unknown layout change ${JSON.stringify(never)}`);
    }
  }
}

/** For GET /admin/layout: every node of a live version, sorted by id. */
export function nodeStates(h: LayoutHistory): LayoutNodeState[] {
  const old = oldestVersion(h);
  const nu = newestVersion(h);
  const byNode = new Map<string, LayoutNode>();
  for (const v of h.versions) for (const m of v.nodes) byNode.set(m.id, m);
  return [...byNode.values()].sort(byId).map((m) => ({
    id: m.id,
    http: m.http,
    peer: m.peer,
    state: !holds(old, m.id) ? 'joining' : !holds(nu, m.id) ? 'leaving' : 'member',
  }));
}

/** Structural equality, as a gossip loop needs it to tell news from echoes. */
export function sameHistory(a: LayoutHistory, b: LayoutHistory): boolean {
  if (a.versions.length !== b.versions.length) return false;
  if (!a.versions.every((v, i) => sameVersion(v, b.versions[i] as LayoutVersion))) return false;
  if (a.excused.length !== b.excused.length || a.excused.some((id, i) => id !== b.excused[i])) {
    return false;
  }
  return TRACKERS.every((t) => {
    const ka = Object.keys(a.trackers[t]);
    const kb = Object.keys(b.trackers[t]);
    return (
      ka.length === kb.length &&
      ka.every((id) => countOf(b.trackers[t], id) === countOf(a.trackers[t], id))
    );
  });
}

function sameVersion(a: LayoutVersion, b: LayoutVersion): boolean {
  if (a === b) return true;
  if (a.version !== b.version || a.nodes.length !== b.nodes.length) return false;
  return a.nodes.every((m, i) => {
    const o = b.nodes[i] as LayoutNode;
    return m.id === o.id && m.http === o.http && m.peer === o.peer;
  });
}

function checkSame(a: LayoutVersion, b: LayoutVersion): void {
  if (sameVersion(a, b)) return;
  const ids = (v: LayoutVersion) => v.nodes.map((m) => `${m.id}@${m.peer}`).join(',');
  throw new LayoutDivergedError(
    a.version,
    `layout version ${a.version} differs between two histories (${ids(a).slice(0, 200)} vs ` +
      `${ids(b).slice(0, 200)}); versions are decided by consensus, so this is a bug or a node ` +
      'of another cluster',
  );
}

function checkConsecutive(versions: readonly LayoutVersion[]): void {
  if (versions.length === 0) throw new Error('a layout history needs at least one version');
  versions.forEach((v, i) => {
    if (v.version !== (versions[0] as LayoutVersion).version + i) {
      throw new Error(`layout versions must be consecutive, got ${versions.map((x) => x.version)}`);
    }
  });
}

// ---- The wire and disk form: plain objects and arrays, every field checked on the way in.
// Maps keyed by node id travel as sorted [id, version] pairs, so no id becomes an object key.

export interface LayoutWire {
  readonly versions: { version: number; nodes: { id: string; http: string; peer: string }[] }[];
  readonly trackers: Record<Tracker, [string, number][]>;
  readonly excused: string[];
}

export function layoutToWire(h: LayoutHistory): LayoutWire {
  const pairs = (t: Tracker): [string, number][] =>
    Object.keys(h.trackers[t])
      .sort()
      .map((id) => [id, h.trackers[t][id] as number]);
  return {
    versions: h.versions.map((v) => ({
      version: v.version,
      nodes: v.nodes.map((m) => ({ id: m.id, http: m.http, peer: m.peer })),
    })),
    trackers: { ack: pairs('ack'), sync: pairs('sync'), syncAck: pairs('syncAck') },
    excused: [...h.excused],
  };
}

type Fail = (where: string, problem: string) => never;

const malformed: Fail = (where, problem) => {
  throw new InvalidArgumentError(`malformed layout: ${where} ${problem}`);
};

function fields(x: unknown, where: string, keys: readonly string[], fail: Fail) {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(where, 'must be an object');
  const o = x as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !keys.includes(k));
  if (extra !== undefined)
    fail(where, `has an unknown field ${JSON.stringify(extra).slice(0, 40)}`);
  return (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
}

function list(x: unknown, where: string, max: number, fail: Fail): unknown[] {
  if (!Array.isArray(x) || x.length > max) fail(where, `must be an array of at most ${max} items`);
  return x as unknown[];
}

function checkId(x: unknown, where: string, fail: Fail): string {
  if (typeof x !== 'string' || !NODE_ID.test(x)) fail(where, `must match ${NODE_ID}`);
  return x as string;
}

function checkNode(x: unknown, where: string, fail: Fail): LayoutNode {
  const get = fields(x, where, ['id', 'http', 'peer'], fail);
  const id = checkId(get('id'), `${where}.id`, fail);
  const http = get('http');
  const peer = get('peer');
  const max = LIMITS.layoutAddressCharsMax;
  if (typeof http !== 'string' || http.length > max || !/^https?:\/\/.*[^/]$/.test(http)) {
    fail(`${where}.http`, `must be a URL like http://127.0.0.1:7001 of at most ${max} characters`);
  }
  if (typeof peer !== 'string' || peer.length > max) {
    fail(`${where}.peer`, `must be host:port of at most ${max} characters`);
  }
  const node = { id, http: http as string, peer: peer as string };
  try {
    httpHostPort(node);
  } catch {
    fail(`${where}.http`, 'must be a URL like http://127.0.0.1:7001');
  }
  try {
    peerHostPort(node);
  } catch {
    fail(`${where}.peer`, 'must be host:port, like 127.0.0.1:7101');
  }
  return node;
}

function checkNodes(x: unknown, where: string, fail: Fail): LayoutNode[] {
  const raw = list(x, where, LIMITS.layoutNodesMax, fail);
  if (raw.length === 0) fail(where, 'must name at least one node');
  const nodes = raw.map((m, i) => checkNode(m, `${where}[${i}]`, fail));
  for (let i = 1; i < nodes.length; i++) {
    if (byId(nodes[i - 1]!, nodes[i]!) >= 0) fail(where, 'must be sorted by id, each id once');
  }
  for (const addr of ['http', 'peer'] as const) {
    if (new Set(nodes.map((m) => m[addr])).size !== nodes.length) {
      fail(where, `must not share a ${addr} address`);
    }
  }
  return nodes;
}

/** Decodes and validates a layoutToWire value; InvalidArgumentError names the bad field. */
export function layoutFromWire(x: unknown): LayoutHistory {
  const get = fields(x, 'layout', ['versions', 'trackers', 'excused'], malformed);
  const versions = list(get('versions'), 'versions', LIVE_VERSIONS_MAX, malformed).map((raw, i) => {
    const field = fields(raw, `versions[${i}]`, ['version', 'nodes'], malformed);
    const version = field('version');
    if (!Number.isSafeInteger(version) || (version as number) < 1) {
      malformed(`versions[${i}].version`, 'must be a positive integer');
    }
    return {
      version: version as number,
      nodes: checkNodes(field('nodes'), `versions[${i}].nodes`, malformed),
    };
  });
  if (versions.length === 0) malformed('versions', 'must hold at least one version');
  versions.forEach((v, i) => {
    if (v.version !== versions[0]!.version + i) malformed('versions', 'must be consecutive');
  });
  const h0 = { versions, trackers: { ack: {}, sync: {}, syncAck: {} }, excused: [] };
  const lo = oldestVersion(h0).version;
  const hi = newestVersion(h0).version;
  const getT = fields(get('trackers'), 'trackers', TRACKERS, malformed);
  const trackers = { ack: emptyCounts(), sync: emptyCounts(), syncAck: emptyCounts() };
  for (const t of TRACKERS) {
    const pairs = list(
      getT(t),
      `trackers.${t}`,
      LIVE_VERSIONS_MAX * LIMITS.layoutNodesMax,
      malformed,
    );
    pairs.forEach((p, i) => {
      const where = `trackers.${t}[${i}]`;
      if (!Array.isArray(p) || p.length !== 2) malformed(where, 'must be an [id, version] pair');
      const [rawId, v] = p as unknown[];
      const id = checkId(rawId, `${where}[0]`, malformed);
      if (i > 0 && (pairs[i - 1] as [string])[0] >= id)
        malformed(`trackers.${t}`, 'must be sorted by id, each id once');
      if (!isMember(h0, id)) malformed(`${where}[0]`, `names ${id}, which is in no live version`);
      if (!Number.isSafeInteger(v) || (v as number) < lo || (v as number) > hi) {
        malformed(`${where}[1]`, `must be a version from ${lo} to ${hi}`);
      }
      trackers[t][id] = v as number;
    });
  }
  const excused = list(get('excused'), 'excused', LIMITS.layoutNodesMax, malformed).map(
    (raw, i) => {
      const id = checkId(raw, `excused[${i}]`, malformed);
      if (h0.versions.length < 2 || !h0.versions.some((v) => holds(v, id))) {
        malformed(`excused[${i}]`, `names ${id}, which is in no version of a transition`);
      }
      return id;
    },
  );
  for (let i = 1; i < excused.length; i++) {
    if (excused[i - 1]! >= excused[i]!) malformed('excused', 'must be sorted, each id once');
  }
  return prune({ versions, trackers, excused });
}

/** A proposal as consensus carries it: the next version and the dead nodes it removes. */
export interface ProposedLayoutWire {
  readonly next: { version: number; nodes: { id: string; http: string; peer: string }[] };
  readonly excused: string[];
}

export function proposedToWire(p: ProposedLayout): ProposedLayoutWire {
  return {
    next: {
      version: p.next.version,
      nodes: p.next.nodes.map((m) => ({ id: m.id, http: m.http, peer: m.peer })),
    },
    excused: [...p.excused],
  };
}

/** Decodes and validates a proposedToWire value; InvalidArgumentError names the bad field. */
export function proposedFromWire(x: unknown): ProposedLayout {
  const get = fields(x, 'proposal', ['next', 'excused'], malformed);
  const field = fields(get('next'), 'proposal.next', ['version', 'nodes'], malformed);
  const version = field('version');
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    malformed('proposal.next.version', 'must be a positive integer');
  }
  const nodes = checkNodes(field('nodes'), 'proposal.next.nodes', malformed);
  const excused = list(get('excused'), 'proposal.excused', LIMITS.layoutNodesMax, malformed).map(
    (raw, i) => checkId(raw, `proposal.excused[${i}]`, malformed),
  );
  for (let i = 1; i < excused.length; i++) {
    if (excused[i - 1]! >= excused[i]!)
      malformed('proposal.excused', 'must be sorted, each id once');
  }
  if (excused.some((id) => nodes.some((m) => m.id === id))) {
    malformed('proposal.excused', 'must not name a node of the next version');
  }
  return { next: { version: version as number, nodes }, excused };
}

/** Two proposals are the same value (consensus compares what crossed the wire). */
export function sameProposal(a: ProposedLayout, b: ProposedLayout): boolean {
  return (
    sameVersion(a.next, b.next) &&
    a.excused.length === b.excused.length &&
    a.excused.every((id, i) => id === b.excused[i])
  );
}
