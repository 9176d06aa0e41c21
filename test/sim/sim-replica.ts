// One simulated node: its store (a Map that survives crashes, as a durable store would), its
// hints, its per-peer hash trees kept current on every store change, and the replica side of
// every peer request. SimLinks is the coordinator's view of the cluster from this node, over
// the simulated network; anti-entropy runs core's exchange() over the same network.

import {
  exchange,
  keyDigests,
  type ExchangeLocal,
  type ExchangeRemote,
  type ExchangeResult,
  type KeyDigests,
} from '../../src/core/anti-entropy.js';
import type { Clock } from '../../src/core/clock.js';
import { PeerError } from '../../src/core/errors.js';
import { issueUpdate, type ConflictPolicy } from '../../src/core/conflicts.js';
import { HybridClock } from '../../src/core/hlc.js';
import { HashTree, keyPrefix, prefixHex, segmentOf, setDigest } from '../../src/core/merkle.js';
import type { HintSink, ReplicaLinks, UpdateRequest } from '../../src/core/replica-links.js';
import type { Ring } from '../../src/core/ring.js';
import type { VersionSet } from '../../src/core/version-set.js';
import type { SimNetwork } from './sim-network.js';

/** What the checks need to know about everything that happened at replicas. */
export interface Recorder {
  /** A replica issued a siblings-mode write: `set` is what it holds now. */
  issued(node: string, key: string, req: UpdateRequest, set: VersionSet): void;
  /** A replica's set for `key` changed to `set`. */
  stored(node: string, key: string, set: VersionSet): void;
}

export interface World {
  readonly ring: Ring;
  readonly n: number;
  readonly policy: ConflictPolicy;
  readonly net: SimNetwork;
  readonly replicas: ReadonlyMap<string, SimReplica>;
  readonly recorder: Recorder;
  readonly siblingsMax: number;
  /** Timeout of one anti-entropy or hint-replay request. */
  readonly peerTimeoutMs: number;
}

const storageOrder = (a: string, b: string): number => {
  const x = prefixHex(keyPrefix(a)) + a;
  const y = prefixHex(keyPrefix(b)) + b;
  return x < y ? -1 : x > y ? 1 : 0;
};

export class SimReplica {
  readonly store = new Map<string, VersionSet>();
  /** target -> key -> the merged sets this node holds for a replica that missed them. */
  readonly hints = new Map<string, Map<string, VersionSet>>();
  /** peer -> hash tree over the keys both replicate; survives crashes like the store it mirrors. */
  readonly trees = new Map<string, HashTree>();
  /**
   * Kept across crashes, as if persisted: a fresh HLC after a restart could stamp below what
   * the node stamped before, which is a clock question and not what these runs examine.
   */
  readonly hlc: HybridClock;
  private replaying = false;

  constructor(
    readonly id: string,
    private readonly world: World,
    readonly clock: Clock,
  ) {
    this.hlc = new HybridClock(id, clock);
    for (const peer of world.ring.nodes) if (peer !== id) this.trees.set(peer, new HashTree());
  }

  /** The key's other replicas, when this node is one of them. */
  peersFor(key: string): string[] {
    const pref = this.world.ring.preferenceList(key, this.world.n);
    return pref.includes(this.id) ? pref.filter((p) => p !== this.id) : [];
  }

  read(key: string): VersionSet | undefined {
    return this.store.get(key);
  }

  /** Merges `set` into what this node holds; true when that changed it. */
  merge(key: string, set: VersionSet): boolean {
    const before = this.store.get(key);
    const after = this.world.policy.merge(before, set);
    if (this.world.policy.equals(before, after)) return false;
    this.store.set(key, after);
    const b = before === undefined ? undefined : setDigest(before);
    const a = setDigest(after);
    for (const peer of this.peersFor(key)) this.trees.get(peer)!.update(key, b, a);
    this.world.recorder.stored(this.id, key, after);
    return true;
  }

  /** Issues a siblings-mode write against this node's own state (the DVV update). */
  update(key: string, req: UpdateRequest): VersionSet {
    const next = issueUpdate(
      this.store.get(key),
      req,
      this.id,
      this.hlc.now(),
      this.world.siblingsMax,
    );
    this.merge(key, next);
    const held = this.store.get(key)!;
    this.world.recorder.issued(this.id, key, req, held);
    return held;
  }

  addHint(target: string, key: string, set: VersionSet): void {
    let forTarget = this.hints.get(target);
    if (forTarget === undefined) this.hints.set(target, (forTarget = new Map()));
    forTarget.set(key, this.world.policy.merge(forTarget.get(key), set));
  }

  hintCount(): number {
    let n = 0;
    for (const m of this.hints.values()) n += m.size;
    return n;
  }

  /** The serving side of aeKeys: this node's keys in `segments` that `peer` replicates too. */
  keysFor(peer: string, segments: readonly number[]): KeyDigests {
    const tree = this.trees.get(peer)!;
    const wanted = new Set(segments);
    const entries = [...this.store]
      .filter(([k]) => wanted.has(segmentOf(k, tree.segments)) && this.peersFor(k).includes(peer))
      .sort(([a], [b]) => storageOrder(a, b));
    return keyDigests(entries);
  }

  /**
   * Sends every hint whose target this node believes is up; a hint is dropped once delivered,
   * unless it grew meanwhile. Resolves with the number delivered.
   */
  async replayHints(): Promise<number> {
    if (this.replaying) return 0;
    this.replaying = true;
    try {
      const sends: Promise<boolean>[] = [];
      for (const [target, forTarget] of this.hints) {
        if (!this.world.net.believesUp(this.id, target)) continue;
        for (const [key, set] of forTarget) {
          const replica = this.world.replicas.get(target)!;
          sends.push(
            this.world.net
              .call(
                this.id,
                target,
                this.world.peerTimeoutMs,
                () => replica.merge(key, set),
                `hint ${key}`,
              )
              .then(
                () => {
                  if (forTarget.get(key) === set) forTarget.delete(key);
                  return true;
                },
                () => false,
              ),
          );
        }
      }
      const done = await Promise.all(sends);
      for (const [target, forTarget] of this.hints)
        if (forTarget.size === 0) this.hints.delete(target);
      return done.filter(Boolean).length;
    } finally {
      this.replaying = false;
    }
  }

  /** One anti-entropy exchange with `peer`, over the network. */
  exchangeWith(peer: string, opts?: { keysMax?: number }): Promise<ExchangeResult> {
    const { net } = this.world;
    const epoch = net.epoch(this.id);
    // An exchange dies with the process that ran it: nothing it learnt lands after a crash.
    const alive = (): void => {
      if (net.epoch(this.id) !== epoch || net.isDown(this.id))
        throw new Error(`${this.id} crashed during the exchange`);
    };
    return exchange(
      this.exchangeLocal(peer, alive),
      this.remote(peer, alive),
      this.world.policy,
      opts,
    );
  }

  private exchangeLocal(peer: string, alive: () => void): ExchangeLocal {
    return {
      tree: this.trees.get(peer)!,
      keys: async (segments) => (alive(), this.keysFor(peer, segments)),
      get: async (keys) => (alive(), keys.map((k) => this.store.get(k))),
      merge: async (key, set) => {
        alive();
        this.merge(key, set);
      },
    };
  }

  private remote(peer: string, alive: () => void): ExchangeRemote {
    const { net, peerTimeoutMs } = this.world;
    const other = this.world.replicas.get(peer)!;
    const ask = async <T>(what: string, handler: () => T): Promise<T> => {
      alive();
      return net.call(this.id, peer, peerTimeoutMs, handler, `anti-entropy ${what}`);
    };
    return {
      groups: () => ask('groups', () => other.trees.get(this.id)!.groupHashes()),
      leaves: (groups) => ask('leaves', () => other.trees.get(this.id)!.leafHashes(groups)),
      keys: (segments) => ask('keys', () => other.keysFor(this.id, segments)),
      fetch: (keys) => ask('fetch', () => keys.map((k) => other.store.get(k) ?? null)),
      push: async (key, set) => {
        await ask(`push ${key}`, () => other.merge(key, set));
      },
    };
  }

  /** Rebuilt from the store: what the incrementally kept trees must equal. */
  rebuiltTree(peer: string): HashTree {
    const tree = new HashTree();
    for (const [key, set] of this.store)
      if (this.peersFor(key).includes(peer)) tree.update(key, undefined, setDigest(set));
    return tree;
  }
}

/**
 * The coordinator's links from one incarnation of `self` (between two crashes): every request
 * crosses the simulated network, and once that incarnation has crashed its unfinished requests
 * go nowhere, as a dead process's would.
 */
export class SimLinks implements ReplicaLinks {
  private readonly epoch: number;

  constructor(
    readonly self: string,
    private readonly world: World,
  ) {
    this.epoch = world.net.epoch(self);
  }

  /** False once the process these links belong to has crashed. */
  get alive(): boolean {
    return this.world.net.epoch(this.self) === this.epoch && !this.world.net.isDown(this.self);
  }

  isUp(node: string): boolean {
    return this.alive && this.world.net.believesUp(this.self, node);
  }

  read(node: string, key: string, timeoutMs: number): Promise<VersionSet | undefined> {
    return this.call(node, timeoutMs, `read ${key}`, () => this.replica(node).read(key));
  }

  async write(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<void> {
    await this.call(node, timeoutMs, `write ${key}`, () => this.replica(node).merge(key, set));
  }

  update(node: string, key: string, req: UpdateRequest, timeoutMs: number): Promise<VersionSet> {
    return this.call(node, timeoutMs, `issue ${key}`, () => this.replica(node).update(key, req));
  }

  handoff(
    node: string,
    home: string,
    key: string,
    set: VersionSet,
    timeoutMs: number,
  ): Promise<void> {
    return this.call(node, timeoutMs, `hand off ${key} for ${home}`, () =>
      this.replica(node).addHint(home, key, set),
    );
  }

  private call<T>(node: string, timeoutMs: number, what: string, handler: () => T): Promise<T> {
    if (!this.alive) return Promise.reject(new PeerError(node, 'unreachable'));
    return this.world.net.call(this.self, node, timeoutMs, handler, what);
  }

  private replica(node: string): SimReplica {
    return this.world.replicas.get(node)!;
  }
}

/** One incarnation's hint store, as the coordinator's HintSink (durable at once: the "disk"). */
export class SimHints implements HintSink {
  constructor(
    private readonly replica: SimReplica,
    private readonly links: SimLinks,
    private readonly enabled: boolean,
  ) {}

  async addHint(target: string, key: string, set: VersionSet): Promise<void> {
    if (this.enabled && this.links.alive) this.replica.addHint(target, key, set);
  }
}
