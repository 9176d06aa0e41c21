// Pure accumulators for one request's replies, in the shape of riak_kv_get_core: replies come
// in one at a time, the tally says when the request is decided and how, and which replicas
// need repair. The coordinator does the messaging around them.

import type { ConflictPolicy } from './conflicts.js';
import type { VersionSet } from './version-set.js';

export type ReplyStatus = 'ok' | 'timeout' | 'unreachable' | 'lost' | 'error';

/** A replica whose read reply lacked what another replica held. */
export interface StaleReply {
  readonly node: string;
  /** Milliseconds of HLC wall time its newest version was behind; undefined: it held nothing. */
  readonly lagMs: number | undefined;
}

function newestWallMs(set: VersionSet): number {
  let ms = 0;
  for (const s of set.siblings) if (s.ts.wallMs > ms) ms = s.ts.wallMs;
  return ms;
}

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

  /**
   * Each replica that replied with less than `best`, and how far behind it was: the wall-clock
   * part of the HLC gap between the newest version in `best` and the newest in its reply
   * (undefined when it held nothing for the key).
   */
  staleReplies(best: VersionSet): StaleReply[] {
    const newest = newestWallMs(best);
    const out: StaleReply[] = [];
    for (const [node, set] of this.replies) {
      if (this.policy.equals(set, best)) continue;
      out.push({
        node,
        lagMs: set === undefined ? undefined : Math.max(0, newest - newestWallMs(set)),
      });
    }
    return out;
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

/**
 * A write's acks when it must reach W replicas in each of several replica sets (the key's
 * preference lists in every live layout version). A node in two sets counts in both; a
 * stand-in's ack counts for the home it stands in for. Decided when every set has its W, or
 * one set can no longer get it.
 */
export class SetsWriteTally {
  private readonly acks: number[];
  private readonly failures: number[];
  private readonly asked: number[];
  readonly acked = new Set<string>();

  /** `asked`: the homes the write was sent to (directly, or through a stand-in). */
  constructor(
    private readonly sets: readonly (readonly string[])[],
    asked: ReadonlySet<string>,
    private readonly needed: number,
  ) {
    this.acks = sets.map(() => 0);
    this.failures = sets.map(() => 0);
    this.asked = sets.map((set) => set.filter((node) => asked.has(node)).length);
  }

  addAck(home: string): void {
    if (this.acked.has(home)) return;
    this.acked.add(home);
    this.sets.forEach((set, i) => {
      if (set.includes(home)) this.acks[i] = (this.acks[i] as number) + 1;
    });
  }

  addFailure(home: string): void {
    this.sets.forEach((set, i) => {
      if (set.includes(home)) this.failures[i] = (this.failures[i] as number) + 1;
    });
  }

  /** The fewest acks any set has: what a failed write reports. */
  get ackCount(): number {
    return Math.min(...this.acks);
  }

  isDecided(): boolean {
    return this.succeeded() || this.sets.some((_, i) => this.cannotSucceed(i));
  }

  succeeded(): boolean {
    return this.acks.every((a) => a >= this.needed);
  }

  private cannotSucceed(i: number): boolean {
    return (this.asked[i] as number) - (this.failures[i] as number) < this.needed;
  }
}
