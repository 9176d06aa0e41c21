// Serves the peer protocol's requests: replica operations against the local replica, the
// serving side of anti-entropy exchanges, and layout gossip and consensus.

import { NotAnIssuerError, TooManySiblingsError } from '../core/errors.js';
import type { PaxosReply, PaxosRequest } from '../core/consensus.js';
import type { LayoutHistory, ProposedLayout } from '../core/layout.js';
import type { VersionSet } from '../core/version-set.js';
import type { PeerReplyBody, PeerRequest } from '../net/messages.js';
import type { LocalReplica } from './local-replica.js';

const PONG: PeerReplyBody = Object.freeze({ type: 'pong' });

/** The serving side of anti-entropy: this node's tree for the asking peer, and its keys. */
export interface AntiEntropyServer {
  groups(peer: string): Uint8Array;
  leaves(peer: string, groups: readonly number[]): Uint8Array;
  keys(
    peer: string,
    segments: readonly number[],
  ): Promise<{ keys: readonly string[]; digests: Uint8Array }>;
  fetch(keys: readonly string[]): Promise<readonly (VersionSet | null)[]>;
}

/** The serving side of membership: gossip merges, and this node's Paxos acceptor. */
export interface MembershipServer {
  /** Merges `history` into this node's and returns the result. */
  gossip(from: string, history: LayoutHistory): Promise<LayoutHistory>;
  accept(from: string, req: PaxosRequest<ProposedLayout>): Promise<PaxosReply<ProposedLayout>>;
}

export function makePeerHandler(
  local: LocalReplica,
  ae: AntiEntropyServer,
  membership: MembershipServer,
  onSiblingCap?: (key: string, siblings: number) => void,
) {
  return async function handlePeerRequest(from: string, req: PeerRequest): Promise<PeerReplyBody> {
    switch (req.type) {
      case 'ping':
        return PONG;
      case 'read':
        return { type: 'readReply', set: (await local.read(req.key)) ?? null };
      case 'write':
        return { type: 'writeReply', applied: await local.merge(req.key, req.set) };
      case 'writeBatch':
        return { type: 'writeBatchReply', ...(await local.mergeMany(req.entries)) };
      case 'update': {
        const { key, context, tombstone, contentType, value } = req;
        try {
          const set = await local.update(key, {
            context,
            content: { tombstone, contentType, value },
          });
          return { type: 'updateReply', set, siblings: set.siblings.length, limit: 0 };
        } catch (err) {
          if (err instanceof NotAnIssuerError)
            return { type: 'updateReply', set: null, siblings: 0, limit: 0, notIssuer: true };
          if (!(err instanceof TooManySiblingsError)) throw err;
          onSiblingCap?.(key, err.siblings);
          return { type: 'updateReply', set: null, siblings: err.siblings, limit: err.limit };
        }
      }
      case 'handoff':
        await local.handoff(req.home, req.key, req.set);
        return { type: 'writeReply', applied: true };
      case 'purge':
        return { type: 'purgeReply', purged: await local.purge(req.key, req.set) };
      case 'aeGroups':
        return { type: 'aeGroupsReply', hashes: ae.groups(from) };
      case 'aeLeaves':
        return { type: 'aeLeavesReply', hashes: ae.leaves(from, req.groups) };
      case 'aeKeys': {
        const { keys, digests } = await ae.keys(from, req.segments);
        return { type: 'aeKeysReply', keys, digests };
      }
      case 'aeFetch':
        return { type: 'aeFetchReply', sets: await ae.fetch(req.keys) };
      case 'layout':
        return { type: 'layoutReply', history: await membership.gossip(from, req.history) };
      case 'paxos':
        return { type: 'paxosReply', reply: await membership.accept(from, req.req) };
      default: {
        const never: never = req;
        throw new Error(`unhandled peer request ${JSON.stringify(never)}`);
      }
    }
  };
}
