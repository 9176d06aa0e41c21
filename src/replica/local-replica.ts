// What this node does as a replica of a key, whether the request came over the peer protocol
// or from its own coordinator: read, merge, issue a siblings-mode write, keep a hint for a
// down home replica, purge a tombstone.

import { issueUpdate, type ConflictPolicy } from '../core/conflicts.js';
import type { HybridClock } from '../core/hlc.js';
import type { UpdateRequest } from '../core/replica-links.js';
import { clockGet, type VersionSet } from '../core/version-set.js';
import type { DotCounter } from './dot-counter.js';
import type { ReplicaStore } from '../storage/replica-store.js';

export interface LocalReplicaOptions {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly hlc: HybridClock;
  readonly policy: ConflictPolicy;
  readonly siblingsMax: number;
  /** Siblings mode: the floor under every dot this node issues (see DotCounter). */
  readonly dots?: DotCounter;
}

export class LocalReplica {
  constructor(private readonly o: LocalReplicaOptions) {}

  read(key: string): Promise<VersionSet | undefined> {
    return this.o.store.get(key);
  }

  merge(key: string, set: VersionSet): Promise<boolean> {
    this.observe(set);
    return this.o.store.merge(key, set);
  }

  /** Issues the write against the stored set inside the store's pipeline: no lost updates. */
  update(key: string, req: UpdateRequest): Promise<VersionSet> {
    const { self, hlc, siblingsMax, dots } = this.o;
    return this.o.store.update(key, (local) => {
      // Stamped above every sibling it keeps, so the newest shown first is the newest written.
      if (local !== undefined) this.observe(local);
      const next = issueUpdate(local, req, self, hlc.now(), siblingsMax, dots?.floor() ?? 0);
      dots?.issued(clockGet(next.clock, self));
      return next;
    });
  }

  handoff(home: string, key: string, set: VersionSet): Promise<void> {
    this.observe(set);
    return this.o.store.addHint(home, key, set);
  }

  /** Drops the key if it holds exactly `set`, and every hint `set` makes redundant. */
  async purge(key: string, set: VersionSet): Promise<boolean> {
    const purged = await this.o.store.purge(key, set);
    await this.o.store.dropHintsCoveredBy(key, set);
    return purged;
  }

  /** Later writes from this node must stamp above anything it has stored. */
  private observe(set: VersionSet): void {
    for (const s of set.siblings) this.o.hlc.observe(s.ts);
  }
}
