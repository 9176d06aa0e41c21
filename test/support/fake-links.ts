// An in-memory cluster of replicas behind the coordinator's ReplicaLinks interface, for core
// tests: each node has a Map store, and a test can mark nodes down, make them hang, or fail.

import { PeerError } from '../../src/core/errors.js';
import type { HintSink, ReplicaLinks } from '../../src/core/replica-links.js';
import { isNewer, type Version } from '../../src/core/version.js';

export type NodeMode = 'ok' | 'down' | 'hang' | 'fail';

export class FakeLinks implements ReplicaLinks, HintSink {
  readonly stores = new Map<string, Map<string, Version>>();
  readonly modes = new Map<string, NodeMode>();
  readonly hints: Array<{ target: string; key: string; version: Version }> = [];
  readonly writesSeen: string[] = [];

  constructor(
    readonly self: string,
    nodes: readonly string[],
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
    if (mode === 'down') throw new PeerError(node, 'unreachable');
    if (mode === 'fail') throw new PeerError(node, 'unreachable');
    if (mode === 'hang') {
      await new Promise((r) => setTimeout(r, timeoutMs));
      throw new PeerError(node, 'timeout');
    }
  }

  async read(node: string, key: string, timeoutMs: number): Promise<Version | undefined> {
    await this.reach(node, timeoutMs);
    return this.stores.get(node)!.get(key);
  }

  async write(node: string, key: string, version: Version, timeoutMs: number): Promise<void> {
    await this.reach(node, timeoutMs);
    this.writesSeen.push(node);
    const store = this.stores.get(node)!;
    if (isNewer(version, store.get(key))) store.set(key, version);
  }

  async addHint(target: string, key: string, version: Version): Promise<void> {
    this.hints.push({ target, key, version });
  }

  holding(key: string): string[] {
    return [...this.stores].filter(([, s]) => s.has(key)).map(([n]) => n);
  }
}
