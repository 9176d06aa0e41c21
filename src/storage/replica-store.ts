// The replica's durable state: versions by key, hints for other replicas, and node metadata.
// An interface with two backends (LevelDB on disk, memory-level in tests) that pass one suite.

import type { Version } from '../core/version.js';

export interface Hint {
  readonly target: string;
  readonly key: string;
  readonly version: Version;
}

export interface ReplicaStore {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<Version | undefined>;
  /**
   * Stores `version` if it is newer than what the key holds (last write wins by HLC) and
   * resolves true, or resolves false and changes nothing. Writes that arrive in the same tick
   * go to the database as one batch; with fsync on, the promise resolves only once it is synced.
   */
  apply(key: string, version: Version): Promise<boolean>;
  /** Keeps (durably, same batching) a version for a replica that did not acknowledge it. One hint per (target, key): the newest. */
  addHint(target: string, key: string, version: Version): Promise<void>;
  /** Up to `limit` hints for `target`, oldest keys first. */
  hintsFor(target: string, limit: number): Promise<Hint[]>;
  /** Removes the hint, unless it was replaced by a newer version meanwhile. */
  deleteHint(hint: Hint): Promise<void>;
  /** Hints waiting, per target (kept in memory, rebuilt on open). */
  pendingHints(): ReadonlyMap<string, number>;
  getMeta(name: string): Promise<string | undefined>;
  putMeta(name: string, value: string): Promise<void>;
}
