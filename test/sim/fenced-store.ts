// The durable store as one incarnation of a simulated node sees it. The store outlives the
// node (it is the node's disk); the node object does not, but its promises do: when the
// simulator crashes a node, the dropped node's pending timeouts still fire and its coordinator
// would go on writing hints, merging anti-entropy results and issuing writes into the store a
// restarted node now uses. A real crashed process does none of that, so once `kill()` is called
// every call through this view fails. Writes already queued in the store before the crash still
// land: they had reached the disk's write path.
//
// It also tells an observer about hint writes once they commit: the store's change feed covers
// a key's data, not its hints, and the checks need both to count who held a write when it was
// acknowledged.

import type { VersionSet } from '../../src/core/version-set.js';
import type {
  ChangeListener,
  Hint,
  HintsForOptions,
  ReplicaStore,
} from '../../src/storage/replica-store.js';

/** Hint writes, in the order the store applied them. */
export interface HintObserver {
  added(target: string, key: string, set: VersionSet): void;
  deleted(hint: Hint): void;
  droppedCoveredBy(key: string, set: VersionSet): void;
  /** A purge of `key` in favour of tombstone `set` is asked of the store. */
  purging(key: string, set: VersionSet): void;
}

export class CrashedError extends Error {
  override readonly name = 'CrashedError';
}

export class FencedStore implements ReplicaStore {
  private alive = true;

  constructor(
    private readonly inner: ReplicaStore,
    private readonly label: string,
    private readonly hints: HintObserver,
  ) {}

  /** From now on every call fails, as no call comes from a process that died. */
  kill(): void {
    this.alive = false;
  }

  private check(): void {
    if (!this.alive) throw new CrashedError(`${this.label} has crashed`);
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    this.check();
    return op();
  }

  open(): Promise<void> {
    return this.guard(() => this.inner.open());
  }

  close(): Promise<void> {
    return this.guard(() => this.inner.close());
  }

  get(key: string): Promise<VersionSet | undefined> {
    return this.guard(() => this.inner.get(key));
  }

  merge(key: string, set: VersionSet): Promise<boolean> {
    return this.guard(() => this.inner.merge(key, set));
  }

  update(key: string, fn: (stored: VersionSet | undefined) => VersionSet): Promise<VersionSet> {
    return this.guard(() => this.inner.update(key, fn));
  }

  purge(key: string, set: VersionSet): Promise<boolean> {
    return this.guard(() => {
      this.hints.purging(key, set);
      return this.inner.purge(key, set);
    });
  }

  addHint(target: string, key: string, set: VersionSet): Promise<void> {
    return this.guard(async () => {
      await this.inner.addHint(target, key, set);
      this.hints.added(target, key, set);
    });
  }

  hintsFor(target: string, limit: number, opts?: HintsForOptions): Promise<Hint[]> {
    return this.guard(() => this.inner.hintsFor(target, limit, opts));
  }

  deleteHint(hint: Hint): Promise<void> {
    return this.guard(async () => {
      await this.inner.deleteHint(hint);
      this.hints.deleted(hint);
    });
  }

  dropHintsCoveredBy(key: string, set: VersionSet): Promise<number> {
    return this.guard(async () => {
      const n = await this.inner.dropHintsCoveredBy(key, set);
      this.hints.droppedCoveredBy(key, set);
      return n;
    });
  }

  cacheStats(): { entries: number; bytes: number; hits: number; misses: number } {
    return this.inner.cacheStats();
  }

  pendingHints(): ReadonlyMap<string, number> {
    return this.inner.pendingHints();
  }

  async *entries(): AsyncIterable<[string, VersionSet]> {
    this.check();
    yield* this.inner.entries();
  }

  scanPrefixRange(gte: string, lt: string | undefined): Promise<Array<[string, VersionSet]>> {
    return this.guard(() => this.inner.scanPrefixRange(gte, lt));
  }

  onChange(listener: ChangeListener): () => void {
    return this.inner.onChange(listener);
  }

  get onListenerError(): ((err: unknown) => void) | undefined {
    return this.inner.onListenerError;
  }

  set onListenerError(fn: ((err: unknown) => void) | undefined) {
    this.inner.onListenerError = fn;
  }

  getMeta(name: string): Promise<string | undefined> {
    return this.guard(() => this.inner.getMeta(name));
  }

  putMeta(name: string, value: string): Promise<void> {
    return this.guard(() => this.inner.putMeta(name, value));
  }
}
