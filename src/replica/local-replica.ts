// What this node does as a replica of a key, whether the request came over the peer protocol
// or from its own coordinator: read, merge, issue a siblings-mode write, keep a hint for a
// down home replica, purge a tombstone.

import { issueUpdate, type ConflictPolicy } from '../core/conflicts.js';
import { NotAnIssuerError } from '../core/errors.js';
import type { HybridClock } from '../core/hlc.js';
import type { UpdateRequest } from '../core/replica-links.js';
import {
  clockGet,
  compareDots,
  covers,
  type Dot,
  type VClock,
  type VersionSet,
} from '../core/version-set.js';
import type { WriteEntry } from '../net/messages.js';
import type { DotCounter } from './dot-counter.js';
import type { ReplicaStore } from '../storage/replica-store.js';

export interface LocalReplicaOptions {
  readonly self: string;
  /**
   * Siblings mode: the id this node's dots carry, `<node>~<epoch>`, new whenever the node
   * starts on an empty store (see actor.ts). Defaults to `self`.
   */
  readonly actor?: string;
  readonly store: ReplicaStore;
  readonly hlc: HybridClock;
  readonly policy: ConflictPolicy;
  readonly siblingsMax: number;
  /** Siblings mode: the values of a key's siblings together stay below this (413 past it). */
  readonly setBytesMax?: number;
  /** Siblings mode: the floor under every dot this node issues (see DotCounter). */
  readonly dots?: DotCounter;
  /**
   * Siblings mode: whether this node may issue a write for `key` now (it is in the key's read
   * set); when not, update throws NotAnIssuerError. Defaults to always.
   */
  readonly mayIssue?: (key: string) => boolean;
}

/** A purge refused because this node is handing the key over to its owners right now. */
export class PurgeHeldError extends Error {
  constructor(key: string) {
    super(`${key} is being handed over to its owners; purge it later`);
    this.name = 'PurgeHeldError';
  }
}

export class LocalReplica {
  /** Keys being handed over (read here, on their way to the owners): no purge may pass them. */
  private readonly purgeHolds = new Set<string>();

  constructor(private readonly o: LocalReplicaOptions) {}

  /**
   * Refuses purges of `key` until the returned release is called. A hand-over reads a stale
   * copy and then writes it to the owners; a purge completing between the two would have the
   * owners drop the tombstone just before the stale value reaches them, bringing it back.
   * Refused, the purge fails and the tombstone stays where GC kept it, to win again later.
   */
  holdPurges(key: string): () => void {
    this.purgeHolds.add(key);
    return () => this.purgeHolds.delete(key);
  }

  read(key: string): Promise<VersionSet | undefined> {
    return this.o.store.get(key);
  }

  async merge(key: string, set: VersionSet): Promise<boolean> {
    checkShape(set, this.o.policy.mode);
    this.observe(set);
    return this.o.store.merge(key, set);
  }

  /**
   * Merges every entry, as `merge` would one by one; they reach the store in one tick, so they
   * share its batches. An entry that cannot be merged fails alone: its index is in `failed`.
   */
  async mergeMany(entries: readonly WriteEntry[]): Promise<{ applied: number; failed: number[] }> {
    const results = await Promise.allSettled(entries.map(([key, set]) => this.merge(key, set)));
    let applied = 0;
    const failed: number[] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') failed.push(i);
      else if (r.value) applied += 1;
    });
    return { applied, failed };
  }

  /** Issues the write against the stored set inside the store's pipeline: no lost updates. */
  update(key: string, req: UpdateRequest): Promise<VersionSet> {
    const { self, hlc, siblingsMax, setBytesMax, dots } = this.o;
    if (this.o.mayIssue?.(key) === false) return Promise.reject(new NotAnIssuerError(self, key));
    const actor = this.o.actor ?? self;
    // No dot of this actor above its counter exists: a context claiming one is not from a
    // read, and must neither cover writes it did not see nor drag the counter to its limit.
    const context = dots === undefined ? req.context : capEntry(req.context, actor, dots.floor());
    return this.o.store.update(key, (local) => {
      // Stamped above every sibling it keeps, so the newest shown first is the newest written.
      if (local !== undefined) this.observe(local);
      const next = issueUpdate(
        local,
        { ...req, context },
        actor,
        hlc.now(),
        siblingsMax,
        dots?.floor() ?? 0,
        setBytesMax,
      );
      dots?.issued(clockGet(next.clock, actor));
      return next;
    });
  }

  async handoff(home: string, key: string, set: VersionSet): Promise<void> {
    checkShape(set, this.o.policy.mode);
    this.observe(set);
    return this.o.store.addHint(home, key, set);
  }

  /** Drops the key if `set` supersedes what it holds, and every hint `set` makes redundant. */
  async purge(key: string, set: VersionSet): Promise<boolean> {
    if (this.purgeHolds.has(key)) throw new PurgeHeldError(key);
    const purged = await this.o.store.purge(key, set);
    await this.o.store.dropHintsCoveredBy(key, set);
    return purged;
  }

  /** Later writes from this node must stamp above anything it has stored. */
  private observe(set: VersionSet): void {
    for (const s of set.siblings) this.o.hlc.observe(s.ts);
  }
}

/**
 * A set from a peer must have the shape of this cluster's mode, or one merge would wedge the
 * key (a dot-less sibling in a siblings store, say): a node started with the other mode, or a
 * forged frame, is refused here instead.
 */
function checkShape(set: VersionSet, mode: ConflictPolicy['mode']): void {
  if (mode === 'lww') {
    if (set.clock.length !== 0 || set.siblings.length !== 1 || set.siblings[0]?.dot !== null)
      throw new Error('an lww replica takes one version without a dot or clock');
    return;
  }
  let prev: Dot | undefined;
  for (const s of set.siblings) {
    if (s.dot === null) throw new Error('a siblings replica takes only dotted versions');
    if (prev !== undefined && compareDots(prev, s.dot) >= 0)
      throw new Error('siblings must be sorted by dot, each dot once');
    if (!covers(set.clock, s.dot)) throw new Error("a sibling's dot must be covered by the clock");
    prev = s.dot;
  }
}

function capEntry(clock: VClock, node: string, max: number): VClock {
  return clock
    .map(([n, c]) => (n === node && c > max ? ([n, max] as const) : ([n, c] as const)))
    .filter(([, c]) => c > 0);
}
