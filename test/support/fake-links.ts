// An in-memory cluster of replicas behind the coordinator's ReplicaLinks interface, for core
// tests: each node has a Map store of version sets merged by the cluster's policy, and a test
// can mark nodes down, make them hang, or fail.

import {
  issueUpdate,
  LWW,
  newestVersion,
  single,
  type ConflictPolicy,
} from '../../src/core/conflicts.js';
import { PeerError } from '../../src/core/errors.js';
import type { HintSink, ReplicaLinks, UpdateRequest } from '../../src/core/replica-links.js';
import type { Version } from '../../src/core/version.js';
import type { VersionSet } from '../../src/core/version-set.js';

/** lost: applies what it is sent, then the connection drops before the answer. */
export type NodeMode = 'ok' | 'down' | 'hang' | 'fail' | 'lost';

export class FakeLinks implements ReplicaLinks, HintSink {
  readonly stores = new Map<string, Map<string, VersionSet>>();
  readonly modes = new Map<string, NodeMode>();
  readonly hints: Array<{ target: string; key: string; set: VersionSet }> = [];
  /** Sloppy-quorum handoffs: which fallback took a write for which home replica. */
  readonly handoffs: Array<{ node: string; home: string; key: string; set: VersionSet }> = [];
  readonly writesSeen: string[] = [];
  readonly readsSeen: string[] = [];
  /** Milliseconds (real time) a node takes to answer anything. */
  readonly delays = new Map<string, number>();
  readonly updatesSeen: string[] = [];
  private tick = 0;

  constructor(
    readonly self: string,
    nodes: readonly string[],
    private readonly policy: ConflictPolicy = LWW,
    private readonly siblingsMax = 100,
  ) {
    for (const n of nodes) {
      this.stores.set(n, new Map());
      this.modes.set(n, 'ok');
    }
  }

  isUp(node: string): boolean {
    return this.modes.get(node) !== 'down';
  }

  private async reach(node: string, timeoutMs: number): Promise<void> {
    const mode = this.modes.get(node);
    await Promise.resolve();
    const delay = this.delays.get(node);
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay));
    if (mode === 'down') throw new PeerError(node, 'unreachable');
    if (mode === 'fail') throw new PeerError(node, 'unreachable');
    if (mode === 'hang') {
      await new Promise((r) => setTimeout(r, timeoutMs));
      throw new PeerError(node, 'timeout');
    }
  }

  async read(node: string, key: string, timeoutMs: number): Promise<VersionSet | undefined> {
    this.readsSeen.push(node);
    await this.reach(node, timeoutMs);
    return this.stores.get(node)!.get(key);
  }

  async write(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<void> {
    await this.reach(node, timeoutMs);
    this.writesSeen.push(node);
    const store = this.stores.get(node)!;
    store.set(key, this.policy.merge(store.get(key), set));
  }

  async update(
    node: string,
    key: string,
    req: UpdateRequest,
    timeoutMs: number,
  ): Promise<VersionSet> {
    await this.reach(node, timeoutMs);
    this.writesSeen.push(node);
    const store = this.stores.get(node)!;
    this.tick += 1;
    this.updatesSeen.push(node);
    const next = issueUpdate(
      store.get(key),
      req,
      node,
      { wallMs: 1_000 + this.tick, logical: 0, node },
      this.siblingsMax,
    );
    store.set(key, next);
    if (this.modes.get(node) === 'lost') throw new PeerError(node, 'lost');
    return next;
  }

  async handoff(
    node: string,
    home: string,
    key: string,
    set: VersionSet,
    timeoutMs: number,
  ): Promise<void> {
    await this.reach(node, timeoutMs);
    this.handoffs.push({ node, home, key, set });
  }

  async addHint(target: string, key: string, set: VersionSet): Promise<void> {
    this.hints.push({ target, key, set });
  }

  holding(key: string): string[] {
    return [...this.stores].filter(([, s]) => s.has(key)).map(([n]) => n);
  }

  /** The newest version `node` holds for `key` (lww's view of its set). */
  version(node: string, key: string): Version | undefined {
    return newestVersion(this.stores.get(node)!.get(key));
  }

  /** Puts a version straight into a node's store, as if it had been written long ago. */
  plant(node: string, key: string, version: Version): void {
    this.stores.get(node)!.set(key, single(version));
  }
}
