// Pure accumulators for one request's replies, in the shape of riak_kv_get_core: replies come
// in one at a time, the tally says when the request is decided and how, and which replicas
// need repair. The coordinator does the messaging around them.

import { newest, sameVersion, type Version } from './version.js';

export type ReplyStatus = 'ok' | 'timeout' | 'unreachable' | 'error';

export class ReadTally {
  private readonly replies = new Map<string, Version | undefined>();
  private failures = 0;

  /** `asked` replicas were sent the read; `needed` (R) replies decide it. */
  constructor(
    private readonly asked: number,
    private readonly needed: number,
  ) {}

  addReply(node: string, version: Version | undefined): void {
    this.replies.set(node, version);
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

  newest(): Version | undefined {
    return newest(this.replies.values());
  }

  /** Replicas that replied with something other than the newest version. */
  stale(): string[] {
    const best = this.newest();
    if (best === undefined) return [];
    const out: string[] = [];
    for (const [node, v] of this.replies) if (!sameVersion(v, best)) out.push(node);
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
