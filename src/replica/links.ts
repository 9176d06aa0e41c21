// ReplicaLinks over the real peer transport: requests to this node go straight to its store,
// requests to others go over TCP.

import { PeerError } from '../core/errors.js';
import type { ReplicaLinks } from '../core/replica-links.js';
import type { Version } from '../core/version.js';
import type { TcpTransport } from '../net/tcp-transport.js';
import type { ReplicaStore } from '../storage/replica-store.js';

export class TransportLinks implements ReplicaLinks {
  constructor(
    readonly self: string,
    private readonly store: ReplicaStore,
    private readonly transport: TcpTransport,
  ) {}

  isUp(node: string): boolean {
    return node === this.self || this.transport.isUp(node);
  }

  async read(node: string, key: string, timeoutMs: number): Promise<Version | undefined> {
    if (node === this.self) return this.store.get(key);
    const reply = await this.transport.request(node, { type: 'read', key }, timeoutMs);
    if (reply.type !== 'readReply')
      throw new PeerError(node, 'remote', `peer ${node} answered a read with ${reply.type}`);
    return reply.version ?? undefined;
  }

  async write(node: string, key: string, version: Version, timeoutMs: number): Promise<void> {
    if (node === this.self) {
      await this.store.apply(key, version);
      return;
    }
    const reply = await this.transport.request(node, { type: 'write', key, version }, timeoutMs);
    if (reply.type !== 'writeReply')
      throw new PeerError(node, 'remote', `peer ${node} answered a write with ${reply.type}`);
  }
}
