// The coordinator's view of the replicas: how it asks one replica to read or apply a version.
// src/replica implements it over the peer transport (and the local store for itself); the
// simulation implements it over a seeded in-memory network.

import type { Version } from './version.js';

export interface ReplicaLinks {
  /** This node's id; requests to it never cross the network. */
  readonly self: string;
  /** The failure detector's current belief: false means "do not count on it". */
  isUp(node: string): boolean;
  /** Rejects with PeerError on timeout or when the link is down. */
  read(node: string, key: string, timeoutMs: number): Promise<Version | undefined>;
  /** Resolves when the replica has applied (or already had something newer than) `version`. */
  write(node: string, key: string, version: Version, timeoutMs: number): Promise<void>;
}

/** Where the coordinator records a write a replica has not acknowledged (hinted handoff). */
export interface HintSink {
  /** Resolves once the hint is stored; never rejects (failures are the sink's to report). */
  addHint(target: string, key: string, version: Version): Promise<void>;
}
