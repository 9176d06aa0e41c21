// Serves the peer protocol's requests against this replica's store.

import type { HybridClock } from '../core/hlc.js';
import type { PeerReplyBody, PeerRequest } from '../net/messages.js';
import type { ReplicaStore } from '../storage/replica-store.js';

const PONG: PeerReplyBody = Object.freeze({ type: 'pong' });

export function makePeerHandler(store: ReplicaStore, hlc: HybridClock) {
  return async function handlePeerRequest(_from: string, req: PeerRequest): Promise<PeerReplyBody> {
    switch (req.type) {
      case 'ping':
        return PONG;
      case 'read':
        return { type: 'readReply', version: (await store.get(req.key)) ?? null };
      case 'write': {
        // Later local writes must stamp above anything this replica has stored.
        hlc.observe(req.version.ts);
        return { type: 'writeReply', applied: await store.apply(req.key, req.version) };
      }
      default: {
        const never: never = req;
        throw new Error(`unhandled peer request ${JSON.stringify(never)}`);
      }
    }
  };
}
