// ReplicaLinks over the peer transport: requests to this node go straight to its local
// replica, requests to others go over the transport (TCP, or the simulator's network).

import { NotAnIssuerError, PeerError, TooManySiblingsError } from '../core/errors.js';
import type { ReplicaLinks, UpdateRequest } from '../core/replica-links.js';
import type { VersionSet } from '../core/version-set.js';
import type { PeerReplyBody, WriteEntry } from '../net/messages.js';
import type { Transport } from '../net/transport.js';
import type { LocalReplica } from './local-replica.js';

export class TransportLinks implements ReplicaLinks {
  constructor(
    readonly self: string,
    private readonly local: LocalReplica,
    private readonly transport: Transport,
  ) {}

  isUp(node: string): boolean {
    return node === this.self || this.transport.isUp(node);
  }

  async read(node: string, key: string, timeoutMs: number): Promise<VersionSet | undefined> {
    if (node === this.self) return this.local.read(key);
    const reply = await this.transport.request(node, { type: 'read', key }, timeoutMs);
    if (reply.type !== 'readReply') throw unexpected(node, 'a read', reply);
    return reply.set ?? undefined;
  }

  async write(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<void> {
    if (node === this.self) {
      await this.local.merge(key, set);
      return;
    }
    const reply = await this.transport.request(node, { type: 'write', key, set }, timeoutMs);
    if (reply.type !== 'writeReply') throw unexpected(node, 'a write', reply);
  }

  /**
   * Merges many sets in one round trip; resolves with the indices of the entries the replica
   * could not merge (it holds every other one). Rejects as `write` does when the link fails.
   */
  async writeBatch(
    node: string,
    entries: readonly WriteEntry[],
    timeoutMs: number,
  ): Promise<{ failed: readonly number[] }> {
    if (node === this.self) return this.local.mergeMany(entries);
    const reply = await this.transport.request(node, { type: 'writeBatch', entries }, timeoutMs);
    if (reply.type !== 'writeBatchReply') throw unexpected(node, 'a write batch', reply);
    return { failed: reply.failed };
  }

  async update(
    node: string,
    key: string,
    req: UpdateRequest,
    timeoutMs: number,
  ): Promise<VersionSet> {
    if (node === this.self) return this.local.update(key, req);
    const { context, content } = req;
    const reply = await this.transport.request(
      node,
      { type: 'update', key, context, ...content },
      timeoutMs,
    );
    if (reply.type !== 'updateReply') throw unexpected(node, 'an update', reply);
    if (reply.notIssuer === true) throw new NotAnIssuerError(node, key);
    if (reply.set === null) throw new TooManySiblingsError(reply.siblings, reply.limit);
    return reply.set;
  }

  async handoff(
    node: string,
    home: string,
    key: string,
    set: VersionSet,
    timeoutMs: number,
  ): Promise<void> {
    if (node === this.self) return this.local.handoff(home, key, set);
    const reply = await this.transport.request(
      node,
      { type: 'handoff', home, key, set },
      timeoutMs,
    );
    if (reply.type !== 'writeReply') throw unexpected(node, 'a handoff', reply);
  }

  async purge(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<boolean> {
    if (node === this.self) return this.local.purge(key, set);
    const reply = await this.transport.request(node, { type: 'purge', key, set }, timeoutMs);
    if (reply.type !== 'purgeReply') throw unexpected(node, 'a purge', reply);
    return reply.purged;
  }
}

function unexpected(node: string, what: string, reply: PeerReplyBody): PeerError {
  return new PeerError(node, 'remote', `peer ${node} answered ${what} with ${reply.type}`);
}
