// Anti-entropy, the replica's side (DESIGN 2.2): per-peer hash trees over the keys this node
// shares with each peer, kept current by the store's change feed (built once at startup, never
// rescanned on an exchange), the serving side of the exchange protocol, and the schedule that
// runs core/anti-entropy's exchange with every peer in turn.

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { exchange, type ExchangeRemote, type ExchangeResult } from '../core/anti-entropy.js';
import type { Timers } from '../core/clock.js';
import type { ConflictPolicy } from '../core/conflicts.js';
import { HashTree, segmentRange, setDigest, treeChange } from '../core/merkle.js';
import type { Ring } from '../core/ring.js';
import type { VersionSet } from '../core/version-set.js';
import type { PeerReplyBody, PeerRequestBody } from '../net/messages.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { LocalReplica } from './local-replica.js';
import type { AntiEntropyServer } from './peer-handler.js';

export interface AntiEntropyOptions {
  readonly self: string;
  /** The newest layout version's ring (it changes as nodes join and leave; see resetPeers). */
  readonly ring: () => Ring;
  readonly n: number;
  readonly store: ReplicaStore;
  readonly local: LocalReplica;
  readonly policy: ConflictPolicy;
  readonly request: (
    peer: string,
    body: PeerRequestBody,
    timeoutMs: number,
  ) => Promise<PeerReplyBody>;
  readonly isUp: (peer: string) => boolean;
  readonly logger: Logger;
  /** 0: no schedule, only POST /admin/repair. */
  readonly intervalMs: number;
  readonly random: () => number;
  readonly nowMs: () => number;
  readonly timers: Timers;
  readonly onRepaired?: (peer: string, keys: number) => void;
}

/**
 * An exchange asked of a node that shares no keys with the asker on its ring: usual for a
 * moment while a layout change spreads (one of the two has not heard of it yet).
 */
export class NotAPeerError extends Error {
  override readonly name = 'NotAPeerError';
  constructor(peer: string, self: string) {
    super(`${peer} is not a peer of ${self} in the layout it knows`);
  }
}

export interface PeerExchange {
  readonly at: string;
  readonly durationMs: number;
  readonly keysDiffering: number;
  readonly keysRepaired: number;
  readonly truncated: boolean;
  readonly error?: string;
}

export class AntiEntropy implements AntiEntropyServer {
  private readonly trees = new Map<string, HashTree>();
  private readonly last = new Map<string, PeerExchange>();
  private keysRepaired = 0;
  private exchanges = 0;
  private timer: { cancel(): void } | undefined;
  private round: Promise<Map<string, PeerExchange>> | undefined;
  private stopped = false;

  constructor(private readonly o: AntiEntropyOptions) {
    this.resetPeers();
  }

  /** Folds a change of `key` (whose preference list is `pref`) into the peers' trees. */
  track(
    key: string,
    pref: readonly string[],
    before: VersionSet | undefined,
    after: VersionSet | undefined,
  ): void {
    if (!pref.includes(this.o.self)) return;
    const b = before === undefined ? undefined : setDigest(before);
    const a = after === undefined ? undefined : setDigest(after);
    // Hashed once, applied to the tree of every peer that replicates the key too.
    const change = treeChange(key, b, a);
    if (change === undefined) return;
    for (const peer of pref) if (peer !== this.o.self) this.trees.get(peer)?.apply(change);
  }

  /**
   * The ring changed: one empty tree per peer of the new ring. The caller tracks every key
   * again, as at start, so the trees describe the new ownership.
   */
  resetPeers(): void {
    this.trees.clear();
    for (const peer of this.o.ring().nodes)
      if (peer !== this.o.self) this.trees.set(peer, new HashTree());
  }

  start(): void {
    if (this.o.intervalMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Exchanges with every peer that is up, now (after any round already running). */
  async repairNow(): Promise<Map<string, PeerExchange>> {
    while (this.round !== undefined) await this.round.catch(() => undefined);
    return this.runRound();
  }

  status(): Record<string, unknown> {
    return {
      intervalMs: this.o.intervalMs,
      exchanges: this.exchanges,
      keysRepaired: this.keysRepaired,
      peers: Object.fromEntries(this.last),
    };
  }

  groups(peer: string): Uint8Array {
    return this.treeFor(peer).groupHashes();
  }

  leaves(peer: string, groups: readonly number[]): Uint8Array {
    return this.treeFor(peer).leafHashes(groups);
  }

  /** This node's keys in `segments` that `peer` replicates too, with their digests. */
  async keys(
    peer: string,
    segments: readonly number[],
  ): Promise<{ keys: readonly string[]; digests: Uint8Array }> {
    this.treeFor(peer);
    const ring = this.o.ring();
    const keys: string[] = [];
    const digests: Uint8Array[] = [];
    for (const segment of segments) {
      const { gte, lt } = segmentRange(segment, LIMITS.aeSegments);
      for (const [key, set] of await this.o.store.scanPrefixRange(gte, lt)) {
        if (!ring.preferenceList(key, this.o.n).includes(peer)) continue;
        keys.push(key);
        digests.push(setDigest(set));
      }
    }
    return { keys, digests: Buffer.concat(digests) };
  }

  /** The sets of a prefix of `keys`, as many as fit aeFetchBytesMax (always at least one). */
  async fetch(keys: readonly string[]): Promise<readonly (VersionSet | null)[]> {
    const out: (VersionSet | null)[] = [];
    let bytes = 0;
    for (const key of keys) {
      const set = (await this.o.store.get(key)) ?? null;
      const size = set === null ? 16 : approxBytes(key, set);
      if (out.length > 0 && bytes + size > LIMITS.aeFetchBytesMax) break;
      out.push(set);
      bytes += size;
    }
    return out;
  }

  private treeFor(peer: string): HashTree {
    const tree = this.trees.get(peer);
    if (tree === undefined) throw new NotAPeerError(peer, this.o.self);
    return tree;
  }

  private schedule(): void {
    if (this.stopped) return;
    // +-20% jitter, so the nodes of a cluster started together do not exchange in lockstep.
    const delay = this.o.intervalMs * (0.8 + 0.4 * this.o.random());
    this.timer = this.o.timers.after(delay, () => {
      void (this.round ?? this.runRound()).finally(() => this.schedule());
    });
  }

  private runRound(): Promise<Map<string, PeerExchange>> {
    const run = (async () => {
      const results = new Map<string, PeerExchange>();
      for (const peer of this.trees.keys()) {
        if (this.stopped || !this.o.isUp(peer)) continue;
        results.set(peer, await this.exchangeWith(peer));
      }
      return results;
    })();
    this.round = run;
    return run.finally(() => {
      if (this.round === run) this.round = undefined;
    });
  }

  private async exchangeWith(peer: string): Promise<PeerExchange> {
    const started = this.o.nowMs();
    const at = new Date(started).toISOString();
    let result: PeerExchange;
    try {
      const r: ExchangeResult = await exchange(
        {
          tree: this.treeFor(peer),
          keys: (segments) => this.keys(peer, segments),
          get: (keys) => Promise.all(keys.map((k) => this.o.store.get(k))),
          merge: async (key, set) => {
            await this.o.local.merge(key, set);
          },
        },
        this.remote(peer),
        this.o.policy,
        { keysMax: LIMITS.aeKeysPerExchangeMax, itemsPerMessage: LIMITS.aeItemsPerMessageMax },
      );
      result = {
        at,
        durationMs: this.o.nowMs() - started,
        keysDiffering: r.keysDiffering,
        keysRepaired: r.keysRepaired,
        truncated: r.truncated,
      };
      this.keysRepaired += r.keysRepaired;
      if (r.keysRepaired > 0) {
        this.o.onRepaired?.(peer, r.keysRepaired);
        this.o.logger.info(
          { peer, keysRepaired: r.keysRepaired, pulled: r.pulled, pushed: r.pushed },
          'anti-entropy repaired keys',
        );
      }
    } catch (err) {
      result = {
        at,
        durationMs: this.o.nowMs() - started,
        keysDiffering: 0,
        keysRepaired: 0,
        truncated: false,
        error: err instanceof Error ? err.message : String(err),
      };
      this.o.logger.debug({ err, peer }, 'anti-entropy exchange failed');
    }
    this.exchanges += 1;
    this.last.set(peer, result);
    return result;
  }

  private remote(peer: string): ExchangeRemote {
    const ask = async <T extends PeerReplyBody['type']>(
      body: PeerRequestBody,
      type: T,
    ): Promise<Extract<PeerReplyBody, { type: T }>> => {
      const reply = await this.o.request(peer, body, LIMITS.aeRequestTimeoutMs);
      if (reply.type !== type)
        throw new Error(`peer ${peer} answered ${body.type} with ${reply.type}`);
      return reply as Extract<PeerReplyBody, { type: T }>;
    };
    return {
      groups: async () => (await ask({ type: 'aeGroups' }, 'aeGroupsReply')).hashes,
      leaves: async (groups) => (await ask({ type: 'aeLeaves', groups }, 'aeLeavesReply')).hashes,
      keys: async (segments) => {
        const r = await ask({ type: 'aeKeys', segments }, 'aeKeysReply');
        return { keys: r.keys, digests: r.digests };
      },
      fetch: async (keys) => (await ask({ type: 'aeFetch', keys }, 'aeFetchReply')).sets,
      push: async (key, set) => {
        await ask({ type: 'write', key, set }, 'writeReply');
      },
    };
  }
}

function approxBytes(key: string, set: VersionSet): number {
  let total = key.length + 64 * set.clock.length;
  for (const s of set.siblings) total += s.value.length + s.contentType.length + 128;
  return total;
}
