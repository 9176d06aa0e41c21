// A seeded network between simulated nodes: every request and every reply is a message with
// its own random latency (so messages overtake each other), may be dropped, and is lost if a
// partition or a crash is in the way when it arrives. Each node also has a failure detector
// whose view follows the truth after a random lag, so coordinators sometimes count on a node
// that just went away (requests time out) or give up on one that just came back (unreachable).

import type { Scheduler } from './scheduler.js';

export interface NetworkConfig {
  /** Latency of one message, drawn uniformly from [min, max] ms. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Probability that one message (request or reply) is lost. */
  dropRate: number;
  /** How long a failure detector takes to notice a change, drawn from [min, max] ms. */
  readonly detectMinMs: number;
  readonly detectMaxMs: number;
}

export const DEFAULT_NETWORK: NetworkConfig = {
  delayMinMs: 1,
  delayMaxMs: 30,
  dropRate: 0,
  detectMinMs: 10,
  detectMaxMs: 150,
};

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

export class SimNetwork {
  readonly config: NetworkConfig;
  private readonly down = new Set<string>();
  /** Pair -> how many partitions currently cut it, so overlapping partitions heal correctly. */
  private readonly cuts = new Map<string, number>();
  /** observer -> node -> whether the observer's failure detector believes the node is up. */
  private readonly views = new Map<string, Map<string, boolean>>();
  private readonly epochs = new Map<string, number>();
  /** Messages delivered and lost, for reports. */
  readonly stats = { sent: 0, dropped: 0, lost: 0 };

  private readonly members: string[];

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: () => number,
    nodes: readonly string[],
    config: Partial<NetworkConfig> = {},
  ) {
    this.config = { ...DEFAULT_NETWORK, ...config };
    this.members = [...nodes];
    for (const a of nodes) {
      this.views.set(a, new Map(nodes.map((b) => [b, true])));
      this.epochs.set(a, 0);
    }
  }

  /** Every node ever on this network, those that joined later included. */
  get nodes(): readonly string[] {
    return this.members;
  }

  /** A node joins the network (a new host): every detector sees it up, and it sees them. */
  addNode(id: string): void {
    if (this.members.includes(id)) throw new Error(`${id} is on the network already`);
    this.members.push(id);
    for (const view of this.views.values()) view.set(id, !this.down.has(id));
    this.views.set(id, new Map(this.members.map((b) => [b, !this.down.has(b)])));
    this.epochs.set(id, 0);
  }

  isDown(node: string): boolean {
    return this.down.has(node);
  }

  /** Incremented on every crash: work a node started in an earlier epoch did not survive. */
  epoch(node: string): number {
    return this.epochs.get(node) ?? 0;
  }

  /** Whether a message from `a` reaches `b` right now. */
  canTalk(a: string, b: string): boolean {
    if (this.down.has(a) || this.down.has(b)) return false;
    return a === b || (this.cuts.get(pairKey(a, b)) ?? 0) === 0;
  }

  /** What `observer`'s failure detector says about `node`. */
  believesUp(observer: string, node: string): boolean {
    if (observer === node) return !this.down.has(node);
    return this.views.get(observer)?.get(node) ?? false;
  }

  crash(node: string): void {
    if (this.down.has(node)) return;
    this.down.add(node);
    this.epochs.set(node, this.epoch(node) + 1);
    this.changed();
  }

  restart(node: string): void {
    if (!this.down.delete(node)) return;
    this.changed();
  }

  cut(a: string, b: string): void {
    if (a === b) return;
    const k = pairKey(a, b);
    this.cuts.set(k, (this.cuts.get(k) ?? 0) + 1);
    this.changed();
  }

  mend(a: string, b: string): void {
    const k = pairKey(a, b);
    const n = this.cuts.get(k) ?? 0;
    if (n <= 1) this.cuts.delete(k);
    else this.cuts.set(k, n - 1);
    this.changed();
  }

  /** Everything back up and connected, no drops, and every detector up to date at once. */
  heal(): void {
    this.down.clear();
    this.cuts.clear();
    this.config.dropRate = 0;
    this.refreshAll();
  }

  /**
   * One message: dropped, or delivered after its latency if the path is open by then.
   * SimTransport sends each request and each reply as one.
   */
  send(from: string, to: string, label: string, onArrive: () => void): void {
    this.stats.sent += 1;
    if (this.rng() < this.config.dropRate) {
      this.stats.dropped += 1;
      this.sched.note(`dropped: ${label}`);
      return;
    }
    const { delayMinMs: lo, delayMaxMs: hi } = this.config;
    this.sched.at(
      lo + Math.floor(this.rng() * (hi - lo + 1)),
      () => {
        if (!this.canTalk(from, to)) {
          this.stats.lost += 1;
          this.sched.note(`lost (${from} or ${to} down, or cut off)`);
          return;
        }
        onArrive();
      },
      label,
    );
  }

  /** Every detector catches up with the change after its own lag. */
  private changed(): void {
    const { detectMinMs: lo, detectMaxMs: hi } = this.config;
    for (const observer of this.nodes) {
      for (const node of this.nodes) {
        if (observer === node) continue;
        const lag = lo + Math.floor(this.rng() * (hi - lo + 1));
        this.sched.at(
          lag,
          () => this.views.get(observer)!.set(node, this.canTalk(observer, node)),
          `${observer}'s detector catches up on ${node}`,
        );
      }
    }
  }

  private refreshAll(): void {
    for (const observer of this.nodes)
      for (const node of this.nodes)
        this.views.get(observer)!.set(node, this.canTalk(observer, node));
  }
}
