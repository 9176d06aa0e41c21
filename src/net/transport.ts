// What a node needs from the network between replicas, and nothing about how: the TCP (or
// mutual TLS) transport in tcp-transport.ts, and the simulator's seeded network, both provide
// it, so the same node code (src/node.ts) runs over either. A transport is given its request
// handler when it is made; every other part of the node talks to peers through this.

import type { FaultSpec } from '../core/faults.js';
import type { PeerReplyBody, PeerRequest, PeerRequestBody } from './messages.js';

export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface PeerState {
  readonly id: string;
  readonly up: boolean;
}

/** Serves a peer's request; a throw or rejection is answered with an ErrorReply. */
export type PeerRequestHandler = (
  from: string,
  req: PeerRequest,
) => PeerReplyBody | Promise<PeerReplyBody>;

export interface Transport {
  /** This node's id. */
  readonly self: string;
  /** Listens and connects to the peers; resolves once it listens. */
  start(): Promise<void>;
  /** Closes every link and timer; requests in flight reject with PeerError 'lost'. */
  stop(): Promise<void>;
  /**
   * Sends `body` to `to` and resolves with its reply. Rejects with PeerError: 'unreachable'
   * (not sent: no link, or a fault blocks it), 'timeout', 'lost' (sent, the link went away),
   * or 'remote' (the peer answered with an error).
   */
  request(to: string, body: PeerRequestBody, timeoutMs: number): Promise<PeerReplyBody>;
  /** The failure detector's current belief: false means "do not count on it". */
  isUp(peer: string): boolean;
  /** Every known peer and whether it is up, in the order they were given. */
  peerStates(): PeerState[];
  /** The link faults in force (the admin API's fault vocabulary). */
  faults(): FaultSpec;
  setFaults(spec: FaultSpec): void;
  /** Bytes queued to peers and not yet on the network (admission counts them). */
  queuedBytes(): number;
  /**
   * The cluster's membership changed: links to peers not in `peers` close and are refused from
   * now on; new peers are connected and accepted.
   */
  setPeers(peers: readonly PeerAddress[]): void;
}
