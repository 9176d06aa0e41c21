// The coordinator's view of the replicas: how it asks one replica to read, merge, issue or hold
// a version set. src/replica implements it over the peer transport (and the local store for
// itself); the simulation implements it over a seeded in-memory network.

import type { VClock, VersionSet } from './version-set.js';

/** The bytes a client wrote, before any replica has stamped them. */
export interface NewContent {
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly tombstone: boolean;
}

/** A siblings-mode write, to be issued (given its dot) by one replica of the key. */
export interface UpdateRequest {
  /** The clock of what the client's read saw (empty without a context). */
  readonly context: VClock;
  readonly content: NewContent;
}

export interface ReplicaLinks {
  /** This node's id; requests to it never cross the network. */
  readonly self: string;
  /** The failure detector's current belief: false means "do not count on it". */
  isUp(node: string): boolean;
  /** Rejects with PeerError on timeout or when the link is down. */
  read(node: string, key: string, timeoutMs: number): Promise<VersionSet | undefined>;
  /** Resolves when the replica has merged `set` into what it holds. */
  write(node: string, key: string, set: VersionSet, timeoutMs: number): Promise<void>;
  /**
   * Siblings mode: the replica issues the write against its own state (DVV update) and resolves
   * with the set it now holds; rejects with TooManySiblingsError past the sibling cap.
   */
  update(node: string, key: string, req: UpdateRequest, timeoutMs: number): Promise<VersionSet>;
  /** Sloppy quorum: `node`, a fallback, keeps `set` durably as a hint for `home`. */
  handoff(
    node: string,
    home: string,
    key: string,
    set: VersionSet,
    timeoutMs: number,
  ): Promise<void>;
}

/** Where the coordinator records a write a replica has not acknowledged (hinted handoff). */
export interface HintSink {
  /**
   * Resolves true once the hint is stored, false when it is not kept (hinted handoff is off,
   * or storing failed); never rejects (failures are the sink's to report).
   */
  addHint(target: string, key: string, set: VersionSet): Promise<boolean>;
}
