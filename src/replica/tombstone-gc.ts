// Tombstone GC (DESIGN 2.2): a delete leaves a tombstone so replicas that missed it learn of it
// instead of resurrecting the value. It may go only once it can no longer be needed: after a
// grace period, when every replica of the key holds the very same tombstone, and when every
// node has dropped the hints it holds for the key (a late hint would bring the value back).
// The key's first replica does the check, so two nodes never purge one key at once.

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { PeerError } from '../core/errors.js';
import { repeat, type Timers } from '../core/clock.js';
import type { ConflictPolicy } from '../core/conflicts.js';
import type { Ring } from '../core/ring.js';
import { isDeleted, newestSibling, type VersionSet } from '../core/version-set.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { TransportLinks } from './links.js';

/** What GC asks of the links: who is up, and reading, writing and purging one key. */
export type TombstoneLinks = Pick<TransportLinks, 'isUp' | 'read' | 'write' | 'purge'>;

/**
 * Why a sweep left a deleted key in place, counted once per key examined: still in its grace
 * period, a layout change in progress, a node of the cluster down, a replica holding a different set (it was sent the
 * tombstone), a replica (or this node's store) that did not answer the read, a node that did
 * not purge.
 */
export interface HeldBack {
  inGrace: number;
  /** The layout is changing: the key's owners are moving, so no purge until it settles. */
  layoutChanging: number;
  nodeDown: number;
  notEverywhere: number;
  readFailed: number;
  purgeFailed: number;
}

type Outcome = keyof HeldBack | 'purged' | 'notDeleted';

export interface TombstoneGcOptions {
  readonly self: string;
  /** The newest layout version's ring (it changes as nodes join and leave). */
  readonly ring: () => Ring;
  /** False while two layout versions are live. */
  readonly settled: () => boolean;
  readonly n: number;
  readonly store: Pick<ReplicaStore, 'get'>;
  readonly policy: ConflictPolicy;
  readonly links: TombstoneLinks;
  readonly graceMs: number;
  readonly timeoutMs: number;
  readonly nowMs: () => number;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly onPurged?: (count: number) => void;
}

export class TombstoneGc {
  /** Deleted keys this node is first replica of: the only ones it may purge. */
  private readonly candidates = new Set<string>();
  private purged = 0;
  private sweeps = 0;
  private readonly heldBack: HeldBack = {
    inGrace: 0,
    layoutChanging: 0,
    nodeDown: 0,
    notEverywhere: 0,
    readFailed: 0,
    purgeFailed: 0,
  };
  private timer: { cancel(): void } | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly o: TombstoneGcOptions) {}

  /** Follows a change of `key` (whose preference list is `pref`). */
  track(key: string, pref: readonly string[], after: VersionSet | undefined): void {
    if (after !== undefined && isDeleted(after) && pref[0] === this.o.self) {
      this.candidates.add(key);
    } else {
      this.candidates.delete(key);
    }
  }

  start(): void {
    // Short grace periods (tests) are checked often enough to be seen; long ones every few s.
    const every = Math.max(50, Math.min(LIMITS.tombstoneSweepIntervalMs, this.o.graceMs / 2));
    this.timer = repeat(
      this.o.timers,
      () => every,
      () => void this.sweep(),
    );
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** For /admin/status: what sweeps did since start, and why they left keys in place. */
  status(): Record<string, unknown> {
    return {
      graceMs: this.o.graceMs,
      pending: this.candidates.size,
      purged: this.purged,
      sweeps: this.sweeps,
      heldBack: { ...this.heldBack },
    };
  }

  /** One pass over the candidates; passes never overlap. */
  async sweep(): Promise<number> {
    if (this.running || this.stopped) return 0;
    this.running = true;
    let count = 0;
    try {
      let examined = 0;
      for (const key of [...this.candidates]) {
        if (this.stopped || examined++ >= LIMITS.tombstoneSweepKeysMax) break;
        const outcome = await this.tryPurge(key);
        if (outcome === 'purged') count += 1;
        else if (outcome !== 'notDeleted') this.heldBack[outcome] += 1;
      }
      this.sweeps += 1;
    } finally {
      this.running = false;
    }
    if (count > 0) {
      this.purged += count;
      this.o.onPurged?.(count);
      this.o.logger.info({ purged: count }, 'tombstones purged');
    }
    return count;
  }

  private async tryPurge(key: string): Promise<Outcome> {
    const { links, policy, n } = this.o;
    const ring = this.o.ring();
    const local = await this.o.store.get(key).catch(() => null);
    if (local === null) return 'readFailed';
    if (local === undefined || !isDeleted(local)) {
      this.candidates.delete(key);
      return 'notDeleted';
    }
    const deletedAt = newestSibling(local)?.ts.wallMs ?? 0;
    if (deletedAt + this.o.graceMs > this.o.nowMs()) return 'inGrace';
    if (!this.o.settled()) return 'layoutChanging';
    // Every node, not just the key's replicas: any of them may hold a hint for it.
    if (!ring.nodes.every((node) => links.isUp(node))) return 'nodeDown';
    const replicas = ring.preferenceList(key, n);
    const held = await Promise.all(replicas.map((r) => links.read(r, key, this.o.timeoutMs))).catch(
      () => null,
    );
    if (held === null) return 'readFailed';
    if (!held.every((set) => policy.equals(set, local))) {
      // Not there yet: help it along, and look again on a later sweep.
      for (let i = 0; i < replicas.length; i++) {
        if (!policy.equals(held[i], local))
          void links.write(replicas[i] as string, key, local, this.o.timeoutMs).catch(() => {});
      }
      return 'notEverywhere';
    }
    // Others first: if one fails, this node keeps the tombstone and tries again later. A purge
    // lost on a slow link is asked again (of those nodes only) before the sweep gives up, as
    // giving up hands the tombstone back to every node that had dropped it. A refusal (a node
    // handing the key over holds purges of it) is not asked again: waiting it out would let
    // the stale copy it hands over land after the purge.
    let pending = ring.nodes.filter((node) => node !== this.o.self);
    for (let i = 0; i < LIMITS.tombstonePurgeAttemptsMax && pending.length > 0; i++) {
      const tried = await Promise.allSettled(
        pending.map((node) => links.purge(node, key, local, this.o.timeoutMs)),
      );
      const lost = (r: PromiseSettledResult<boolean> | undefined): boolean =>
        r?.status === 'rejected' &&
        r.reason instanceof PeerError &&
        (r.reason.reason === 'timeout' || r.reason.reason === 'lost');
      if (tried.some((r) => r.status === 'rejected' && !lost(r))) return 'purgeFailed';
      pending = pending.filter((_, j) => lost(tried[j]));
    }
    if (pending.length > 0) return 'purgeFailed';
    try {
      // false: a newer write replaced the tombstone here meanwhile, and it stays.
      return (await links.purge(this.o.self, key, local, this.o.timeoutMs))
        ? 'purged'
        : 'notDeleted';
    } catch {
      return 'purgeFailed';
    }
  }
}
