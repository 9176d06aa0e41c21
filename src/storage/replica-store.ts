// The replica's durable state: a version set per key, hints for other replicas, and node
// metadata. An interface with two backends (LevelDB on disk, memory-level in tests) that pass
// one suite. Every change of a key's set goes through the conflict policy's merge (or an
// update computed from the stored set), inside the store's batch pipeline, so concurrent
// writers of one key never lose each other's changes.

import type { VersionSet } from '../core/version-set.js';

export interface Hint {
  readonly target: string;
  readonly key: string;
  readonly set: VersionSet;
}

export interface HintsForOptions {
  /**
   * The hints returned hold at most this many bytes of keys and stored sets together, except
   * that the first always comes: one hint larger than the budget is returned alone.
   */
  readonly bytesMax?: number;
  /** Only keys after this one: where the previous call's last hint was, to read on from there. */
  readonly after?: string;
}

/** Called after a batch commits, once per key whose set it changed (after undefined: purged). */
export type ChangeListener = (
  key: string,
  before: VersionSet | undefined,
  after: VersionSet | undefined,
) => void;

export interface ReplicaStore {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<VersionSet | undefined>;
  /**
   * Merges `set` into what the key holds and resolves true if that changed anything. Writes
   * that arrive in the same tick go to the database as one batch; with fsync on, the promise
   * resolves only once it is synced.
   */
  merge(key: string, set: VersionSet): Promise<boolean>;
  /**
   * Replaces the key's set with `fn(stored)`, atomically with respect to every other write of
   * the key, and resolves with the new set. If `fn` throws, only this write fails.
   */
  update(key: string, fn: (stored: VersionSet | undefined) => VersionSet): Promise<VersionSet>;
  /**
   * Deletes the key if it holds `set` or something `set` supersedes (not if it holds anything
   * newer or concurrent); resolves whether it did.
   */
  purge(key: string, set: VersionSet): Promise<boolean>;
  /** Keeps (durably, same batching) a set for a replica that did not acknowledge it, merged into any earlier hint for the same (target, key). */
  addHint(target: string, key: string, set: VersionSet): Promise<void>;
  /** Up to `limit` hints for `target`, oldest keys first (see HintsForOptions). */
  hintsFor(target: string, limit: number, opts?: HintsForOptions): Promise<Hint[]>;
  /** Removes the hint, unless more was merged into it meanwhile. */
  deleteHint(hint: Hint): Promise<void>;
  /** Removes every hint for `key` that `set` dominates (tombstone GC); resolves how many. */
  dropHintsCoveredBy(key: string, set: VersionSet): Promise<number>;
  /** The in-memory set cache: entries, bytes charged, and lookups that hit or missed. */
  cacheStats(): { entries: number; bytes: number; hits: number; misses: number };
  /** Hints waiting, per target (kept in memory, rebuilt on open). */
  pendingHints(): ReadonlyMap<string, number>;
  /** Every key and set, in storage order (startup indexes). */
  entries(): AsyncIterable<[string, VersionSet]>;
  /** Keys and sets whose storage prefix is in [gte, lt): one anti-entropy segment. */
  scanPrefixRange(gte: string, lt: string | undefined): Promise<Array<[string, VersionSet]>>;
  /** Calls `listener` after every change from now on, until the returned function is called. */
  onChange(listener: ChangeListener): () => void;
  /** Told when a change listener throws (the write itself has succeeded). */
  onListenerError: ((err: unknown) => void) | undefined;
  getMeta(name: string): Promise<string | undefined>;
  putMeta(name: string, value: string): Promise<void>;
}
