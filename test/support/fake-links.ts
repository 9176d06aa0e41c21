// An in-memory cluster of replicas behind the coordinator's ReplicaLinks interface, for core
// tests: each node has a Map store of version sets merged by the cluster's policy, and a test
// can mark nodes down, make them hang, fail, or hold their answers until it releases them.
// Every delay and timeout runs on the simulation's virtual clock (test/sim/scheduler.ts), so a
// test steps time forward itself and nothing depends on how fast the machine is.

import {
  issueUpdate,
  LWW,
  newestVersion,
  single,
  type ConflictPolicy,
} from '../../src/core/conflicts.js';
import { NotAnIssuerError, PeerError } from '../../src/core/errors.js';
import type { HintSink, ReplicaLinks, UpdateRequest } from '../../src/core/replica-links.js';
import type { Version } from '../../src/core/version.js';
import type { VersionSet } from '../../src/core/version-set.js';
import { Scheduler } from '../sim/scheduler.js';

/**
 * ok: answers at once (after its `delays` entry, if any). down: the failure detector says so;
 * fail: believed up but unreachable; hang: no answer, a timeout once the request's timeoutMs
 * passes; hold: no answer until `release(node)`, or a timeout once timeoutMs passes; lost:
 * applies what it is sent, then the connection drops before the answer.
 */
export type NodeMode = 'ok' | 'down' | 'hang' | 'fail' | 'lost' | 'hold';

export type RequestKind = 'read' | 'write' | 'update' | 'handoff';

export interface FakeLinksOptions {
  readonly policy?: ConflictPolicy;
  readonly siblingsMax?: number;
  /** Virtual time for delays and timeouts; a fresh scheduler by default. */
  readonly sched?: Scheduler;
}

/** Lets every queued promise continuation run (the fakes do no real I/O). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeLinks implements ReplicaLinks, HintSink {
  readonly sched: Scheduler;
  readonly stores = new Map<string, Map<string, VersionSet>>();
  readonly modes = new Map<string, NodeMode>();
  /** A mode for writes (write, update, handoff) only; overrides `modes`, so reads still answer. */
  readonly writeModes = new Map<string, NodeMode>();
  readonly hints: Array<{ target: string; key: string; set: VersionSet }> = [];
  /** Sloppy-quorum handoffs: which fallback took a write for which home replica. */
  readonly handoffs: Array<{ node: string; home: string; key: string; set: VersionSet }> = [];
  /** Every request as it is sent, whether or not it is ever answered. */
  readonly sent: Array<{ kind: RequestKind; node: string }> = [];
  /** Writes (and updates) a replica applied. */
  readonly writesSeen: string[] = [];
  readonly readsSeen: string[] = [];
  /** Milliseconds (virtual) a node takes to answer anything. */
  readonly delays = new Map<string, number>();
  readonly updatesSeen: string[] = [];
  /** Nodes that refuse to issue siblings writes (NotAnIssuerError): not synced for the key. */
  readonly notIssuers = new Set<string>();
  private readonly policy: ConflictPolicy;
  private readonly siblingsMax: number;
  private readonly held: Array<{ node: string; release: () => void }> = [];
  private tick = 0;

  constructor(
    readonly self: string,
    nodes: readonly string[],
    o: FakeLinksOptions = {},
  ) {
    this.policy = o.policy ?? LWW;
    this.siblingsMax = o.siblingsMax ?? 100;
    this.sched = o.sched ?? new Scheduler();
    for (const n of nodes) {
      this.stores.set(n, new Map());
      this.modes.set(n, 'ok');
    }
  }

  isUp(node: string): boolean {
    return this.modes.get(node) !== 'down';
  }

  /** Requests to `node` waiting for `release`. */
  heldCount(node: string): number {
    return this.held.filter((h) => h.node === node).length;
  }

  /** Lets every held request to `node` go on, and stops holding new ones. */
  release(node: string): void {
    if (this.modes.get(node) === 'hold') this.modes.set(node, 'ok');
    if (this.writeModes.get(node) === 'hold') this.writeModes.delete(node);
    for (let i = this.held.length - 1; i >= 0; i--) {
      const h = this.held[i] as { node: string; release: () => void };
      if (h.node !== node) continue;
      this.held.splice(i, 1);
      h.release();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sched.at(ms, resolve));
  }

  private async reach(node: string, timeoutMs: number, kind: RequestKind): Promise<void> {
    this.sent.push({ kind, node });
    const mode = (kind === 'read' ? undefined : this.writeModes.get(node)) ?? this.modes.get(node);
    await Promise.resolve();
    const delay = this.delays.get(node);
    if (delay !== undefined) await this.sleep(delay);
    if (mode === 'down') throw new PeerError(node, 'unreachable');
    if (mode === 'fail') throw new PeerError(node, 'unreachable');
    if (mode === 'hang') {
      await this.sleep(timeoutMs);
      throw new PeerError(node, 'timeout');
    }
    if (mode === 'hold') {
      const entry = { node, release: (): void => undefined };
      const released = new Promise<boolean>((resolve) => {
        entry.release = () => resolve(true);
        this.held.push(entry);
      });
      const timedOut = this.sleep(timeoutMs).then(() => false);
      if (!(await Promise.race([released, timedOut]))) {
        const at = this.held.indexOf(entry);
        if (at >= 0) this.held.splice(at, 1);
        throw new PeerError(node, 'timeout');
      }
    }
  }

  async read(node: string, key: string, timeoutMs: number): Promise<VersionSet | undefined> {
    this.readsSeen.push(node);
    await this.reach(node, timeoutMs, 'read');
    return this.stores.get(node)!.get(key);
  }

  async write(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<void> {
    await this.reach(node, timeoutMs, 'write');
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
    await this.reach(node, timeoutMs, 'update');
    if (this.notIssuers.has(node)) throw new NotAnIssuerError(node, key);
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
    await this.reach(node, timeoutMs, 'handoff');
    this.handoffs.push({ node, home, key, set });
  }

  async addHint(target: string, key: string, set: VersionSet): Promise<boolean> {
    this.hints.push({ target, key, set });
    return true;
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
