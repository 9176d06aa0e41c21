// Pure accumulators for one request's replies, in the shape of riak_kv_get_core: replies come
// in one at a time, the tally says when the request is decided and how, and which replicas
// need repair. The coordinator does the messaging around them.

import type { ConflictPolicy } from './conflicts.js';
import type { VersionSet } from './version-set.js';

export type ReplyStatus = 'ok' | 'timeout' | 'unreachable' | 'lost' | 'error';

export class ReadTally {
  private readonly replies = new Map<string, VersionSet | undefined>();
  private failures = 0;

  /** `asked` replicas were sent the read; `needed` (R) replies decide it. */
  constructor(
    private readonly asked: number,
    private readonly needed: number,
    private readonly policy: ConflictPolicy,
  ) {}

  addReply(node: string, set: VersionSet | undefined): void {
    this.replies.set(node, set);
  }

  addFailure(): void {
    this.failures += 1;
  }

  get replied(): number {
    return this.replies.size;
  }

  isDecided(): boolean {
    return this.replies.size >= this.needed || this.asked - this.failures < this.needed;
  }

  succeeded(): boolean {
    return this.replies.size >= this.needed;
  }

  isComplete(): boolean {
    return this.replies.size + this.failures >= this.asked;
  }

  /** Every reply merged: the newest version in lww mode, all live siblings in siblings mode. */
  merged(): VersionSet | undefined {
    let acc: VersionSet | undefined;
    for (const set of this.replies.values())
      if (set !== undefined) acc = this.policy.merge(acc, set);
    return acc;
  }

  /** Replicas that replied with less than the merged state (pass it when already computed). */
  stale(best: VersionSet | undefined = this.merged()): string[] {
    if (best === undefined) return [];
    const out: string[] = [];
    for (const [node, set] of this.replies) if (!this.policy.equals(set, best)) out.push(node);
    return out;
  }
}

export class WriteTally {
  private acks = 0;
  private failures = 0;
  readonly acked = new Set<string>();

  constructor(
    private readonly asked: number,
    private readonly needed: number,
  ) {}

  addAck(node: string): void {
    this.acks += 1;
    this.acked.add(node);
  }

  addFailure(): void {
    this.failures += 1;
  }

  get ackCount(): number {
    return this.acks;
  }

  isDecided(): boolean {
    return this.acks >= this.needed || this.asked - this.failures < this.needed;
  }

  succeeded(): boolean {
    return this.acks >= this.needed;
  }

  isComplete(): boolean {
    return this.acks + this.failures >= this.asked;
  }
}
