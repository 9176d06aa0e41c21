// The replica store on abstract-level: LevelDB on disk (classic-level), memory-level in tests.
// Every write goes through one pipeline that turns the writes of a tick into one atomic batch.

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type {
  AbstractBatchOperation,
  AbstractBatchOptions,
  AbstractLevel,
  AbstractSublevel,
} from 'abstract-level';
import { Level } from 'level';
import { LWW, type ConflictPolicy } from '../core/conflicts.js';
import { keyPrefix, prefixHex } from '../core/merkle.js';
import type { VersionSet } from '../core/version-set.js';
import type { ChangeListener, Hint, HintsForOptions, ReplicaStore } from './replica-store.js';
import { SetCache } from './set-cache.js';
import { decodeSet, encodeSet, withValuesIn } from './version-codec.js';
import { LIMITS } from '../config.js';

type StoreFormat = string | Buffer | Uint8Array;

/** An abstract-level database with utf8 keys and 'buffer' or 'view' values (MemoryLevel, ClassicLevel). */
export type StoreDb =
  AbstractLevel<StoreFormat, string, Buffer> | AbstractLevel<StoreFormat, string, Uint8Array>;
/** The store reads and writes only through sublevels with their own encodings, so the root's value type does not matter. */
type RootDb = AbstractLevel<StoreFormat, string, Buffer>;
type Sublevel<V> = AbstractSublevel<RootDb, StoreFormat, string, V>;
type BatchOp = AbstractBatchOperation<RootDb, string, Buffer | string>;
/** An operation as an abstract-level implementation receives it: key prefixed, value encoded. */
type RawBatchOp =
  { type: 'put'; key: string; value: Buffer | string } | { type: 'del'; key: string };
interface RawBatchDb {
  _batch(ops: RawBatchOp[], options: { sync: boolean }): Promise<void>;
}

export interface LevelReplicaStoreOptions {
  /** Keys must be utf8; the store opens sublevels with their own value encodings. */
  readonly db: StoreDb;
  /** The directory, named in errors; default "in memory". */
  readonly location?: string;
  /** Sync each batch to disk before answering its writers. */
  readonly fsync: boolean;
  /** How sets merge; a store refuses to open data written under the other mode. */
  readonly policy?: ConflictPolicy;
  /** Bytes of recently used sets kept decoded in memory (0: none); default `LIMITS.storeCacheBytes`. */
  readonly cacheBytes?: number;
}

/** A data directory this version cannot use as it is (older format, other conflict mode). */
export class StoreFormatError extends Error {
  override readonly name = 'StoreFormatError';
}

/** The data directory cannot be opened at all (permissions, a lock another process holds). */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/**
 * LevelDB says only "Database failed to open" and keeps the reason in `cause`: an operator needs
 * the directory, the reason and what to do about it in one line.
 */
function openFailure(location: string, err: unknown): StoreOpenError {
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error && messages.length < 4; e = e.cause) {
    messages.push(e.message);
  }
  const reason = messages.slice(1).join(': ') || messages[0] || String(err);
  const advice = /\block\b/i.test(reason)
    ? '; is another kvorum node running on it?'
    : /EACCES|EPERM|permission/i.test(reason)
      ? '; check that the user running kvorum may write there'
      : '';
  return new StoreOpenError(`cannot open the data directory ${location}: ${reason}${advice}`);
}

/** Writes per database batch; a longer queue is split so one batch stays bounded in size. */
export const BATCH_WRITES_MAX = LIMITS.storeBatchWritesMax;
/** Hint keys are `${target}\0${key}`: node ids never hold \0, so a target's hints are one range. */
const HINT_KEY_SEPARATOR = '\u0000';
const HINT_RANGE_END = '\u0001';
/** Data keys are `${4 hex digits of the key's hash prefix}${key}`: an anti-entropy segment is a range. */
const PREFIX_CHARS = 4;
const FORMAT = '2';

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type DataWrite =
  | ({ kind: 'merge'; key: string; set: VersionSet } & Settle<boolean>)
  | ({
      kind: 'update';
      key: string;
      fn: (stored: VersionSet | undefined) => VersionSet;
    } & Settle<VersionSet>)
  | ({ kind: 'purge'; key: string; set: VersionSet } & Settle<boolean>);
type HintWrite =
  | ({ kind: 'addHint'; target: string; hintKey: string; set: VersionSet } & Settle<void>)
  | ({ kind: 'deleteHint'; target: string; hintKey: string; set: VersionSet } & Settle<void>)
  | ({ kind: 'dropHint'; target: string; hintKey: string; set: VersionSet } & Settle<boolean>);
type Write =
  DataWrite | HintWrite | ({ kind: 'putMeta'; name: string; value: string } & Settle<void>);

/** What one batch will change, worked out from the writes and the sets stored now. */
interface BatchPlan {
  readonly ops: BatchOp[];
  /** Settles each writer once the batch is written. */
  readonly settlements: Array<() => void>;
  /** Change in hint count per target once the batch is written. */
  readonly hintDelta: Map<string, number>;
  readonly changes: Array<[string, VersionSet | undefined, VersionSet | undefined]>;
  /** Committed state to cache once the batch is written: key, set, encoded size. */
  readonly cacheFill: Array<[string, VersionSet | undefined, number]>;
}

export class LevelReplicaStore implements ReplicaStore {
  private readonly db: RootDb;
  private readonly data: Sublevel<Buffer>;
  private readonly hints: Sublevel<Buffer>;
  private readonly meta: Sublevel<string>;
  private readonly policy: ConflictPolicy;
  private readonly batchOptions: AbstractBatchOptions<string, Buffer | string> & { sync: boolean };
  /** The database stores utf8 keys and buffer values natively: see writeOps. */
  private readonly rawBatch: boolean;
  private readonly hintCounts = new Map<string, number>();
  private readonly listeners: ChangeListener[] = [];
  /** Failures of change listeners, which must not fail writes that are already committed. */
  listenerErrors = 0;
  onListenerError: ((err: unknown) => void) | undefined;
  private queue: Write[] = [];
  /** The running flush loop; at most one, so batches never overlap and reads see prior writes. */
  private flushing: Promise<void> | undefined;
  private closing = false;
  private readonly cache: SetCache;
  /** Batches written so far: a read that saw one land while it was out may hold older state. */
  private commits = 0;
  /** Where the data lives, for error messages. */
  private readonly location: string;

  constructor(options: LevelReplicaStoreOptions) {
    this.db = options.db as RootDb;
    this.location = options.location ?? 'in memory';
    this.policy = options.policy ?? LWW;
    this.data = this.db.sublevel<string, Buffer>('data', {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
    });
    this.hints = this.db.sublevel<string, Buffer>('hints', {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
    });
    this.meta = this.db.sublevel<string, string>('meta', {
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    });
    this.batchOptions = { sync: options.fsync };
    // An encoding whose format is its own name is stored as it is, not transcoded.
    const db = this.db;
    this.rawBatch =
      db.keyEncoding('utf8').format === 'utf8' &&
      db.valueEncoding('buffer').format === 'buffer' &&
      db.valueEncoding('utf8').format === 'utf8' &&
      typeof (this.db as unknown as Partial<RawBatchDb>)._batch === 'function';
    this.cache = new SetCache(options.cacheBytes ?? LIMITS.storeCacheBytes);
  }

  async open(): Promise<void> {
    this.cache.clear();
    try {
      await this.db.open();
    } catch (err) {
      throw openFailure(this.location, err);
    }
    this.closing = false;
    try {
      await this.checkFormat();
      await this.rebuildHintCounts();
    } catch (err) {
      await this.db.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flushing;
    await this.db.close();
  }

  async get(key: string): Promise<VersionSet | undefined> {
    const cached = this.cache.lookup(key);
    if (cached !== undefined) return cached.set;
    const commits = this.commits;
    const bytes = await this.data.get(dataKeyOf(key));
    const set = bytes === undefined ? undefined : decodeSet(bytes);
    // A batch written while this read was out may have changed the key after it was read.
    if (commits === this.commits) this.cache.put(key, set, bytes?.length ?? 0);
    return set;
  }

  /** How the set cache is doing, for /admin/status. */
  cacheStats(): { entries: number; bytes: number; hits: number; misses: number } {
    const c = this.cache;
    return { entries: c.size, bytes: c.usedBytes, hits: c.hits, misses: c.misses };
  }

  merge(key: string, set: VersionSet): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.enqueue({ kind: 'merge', key, set, resolve, reject });
    });
  }

  update(key: string, fn: (stored: VersionSet | undefined) => VersionSet): Promise<VersionSet> {
    return new Promise<VersionSet>((resolve, reject) => {
      this.enqueue({ kind: 'update', key, fn, resolve, reject });
    });
  }

  purge(key: string, set: VersionSet): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.enqueue({ kind: 'purge', key, set, resolve, reject });
    });
  }

  addHint(target: string, key: string, set: VersionSet): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const hintKey = hintKeyOf(target, key);
      this.enqueue({ kind: 'addHint', target, hintKey, set, resolve, reject });
    });
  }

  deleteHint(hint: Hint): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const hintKey = hintKeyOf(hint.target, hint.key);
      this.enqueue({
        kind: 'deleteHint',
        target: hint.target,
        hintKey,
        set: hint.set,
        resolve,
        reject,
      });
    });
  }

  async dropHintsCoveredBy(key: string, set: VersionSet): Promise<number> {
    // Targets with committed hints, and any whose first hint for this key is still queued.
    const targets = new Set(this.hintCounts.keys());
    for (const w of this.queue)
      if (w.kind === 'addHint' && hintKeyOf(w.target, key) === w.hintKey) targets.add(w.target);
    const drops = [...targets].map(
      (target) =>
        new Promise<boolean>((resolve, reject) => {
          const hintKey = hintKeyOf(target, key);
          this.enqueue({ kind: 'dropHint', target, hintKey, set, resolve, reject });
        }),
    );
    return (await Promise.all(drops)).filter(Boolean).length;
  }

  async hintsFor(target: string, limit: number, opts: HintsForOptions = {}): Promise<Hint[]> {
    const { bytesMax = Number.POSITIVE_INFINITY, after } = opts;
    if (!Number.isInteger(limit) || limit < 0)
      throw new RangeError(`hint limit must be a non-negative integer, got ${limit}`);
    if (!(bytesMax > 0)) throw new RangeError(`hint bytes must be positive, got ${bytesMax}`);
    if (limit === 0) return [];
    const prefix = hintKeyOf(target, '');
    const iterator = this.hints.iterator({
      ...(after === undefined ? { gte: prefix } : { gt: prefix + after }),
      lt: target + HINT_RANGE_END,
      limit,
    });
    const hints: Hint[] = [];
    let bytes = 0;
    try {
      for (;;) {
        const run = await iterator.nextv(limit - hints.length);
        if (run.length === 0) return hints;
        for (const [hintKey, value] of run) {
          const key = hintKey.slice(prefix.length);
          const size = Buffer.byteLength(key) + value.length;
          if (hints.length > 0 && bytes + size > bytesMax) return hints;
          hints.push({ target, key, set: decodeSet(value) });
          bytes += size;
        }
        if (hints.length === limit) return hints;
      }
    } finally {
      await iterator.close();
    }
  }

  pendingHints(): ReadonlyMap<string, number> {
    return this.hintCounts;
  }

  async *entries(): AsyncIterable<[string, VersionSet]> {
    for await (const [k, bytes] of this.data.iterator()) {
      yield [k.slice(PREFIX_CHARS), decodeSet(bytes)];
    }
  }

  async scanPrefixRange(gte: string, lt: string | undefined): Promise<Array<[string, VersionSet]>> {
    const range = lt === undefined ? { gte } : { gte, lt };
    const entries = await this.data.iterator(range).all();
    return entries.map(([k, bytes]) => [k.slice(PREFIX_CHARS), decodeSet(bytes)]);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i !== -1) this.listeners.splice(i, 1);
    };
  }

  getMeta(name: string): Promise<string | undefined> {
    return this.meta.get(name);
  }

  putMeta(name: string, value: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue({ kind: 'putMeta', name, value, resolve, reject });
    });
  }

  /** Refuses data it would misread: an older format, or sets merged under the other mode. */
  private async checkFormat(): Promise<void> {
    const [format, mode] = await Promise.all([this.meta.get('format'), this.meta.get('conflicts')]);
    if (format === undefined) {
      const [anyData] = await this.data.keys({ limit: 1 }).all();
      const [anyHint] = await this.hints.keys({ limit: 1 }).all();
      if (anyData !== undefined || anyHint !== undefined) {
        throw new StoreFormatError(
          'this data directory was written by an older kvorum (single versions, not version sets); move it aside or delete it',
        );
      }
      await this.meta.batch([
        { type: 'put', key: 'format', value: FORMAT },
        { type: 'put', key: 'conflicts', value: this.policy.mode },
      ]);
      return;
    }
    if (format !== FORMAT) {
      throw new StoreFormatError(
        `this data directory has format ${format}; this kvorum reads ${FORMAT}`,
      );
    }
    if (mode !== this.policy.mode) {
      throw new StoreFormatError(
        `this data directory holds ${mode ?? 'unknown'}-mode data but the cluster runs conflicts ${this.policy.mode}; use the mode it was written with, or a fresh data directory`,
      );
    }
  }

  private enqueue(write: Write): void {
    if (this.closing) {
      write.reject(new Error('replica store is closed'));
      return;
    }
    this.queue.push(write);
    this.flushing ??= this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    // setImmediate runs after every I/O callback of this loop turn, so all the requests that
    // arrived together share one batch (and one fsync); while a batch is being written, the
    // next one gathers behind it (group commit).
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      let writes = this.queue;
      if (writes.length > BATCH_WRITES_MAX) {
        writes = this.queue.splice(0, BATCH_WRITES_MAX);
      } else {
        this.queue = [];
      }
      try {
        await this.writeBatch(writes);
      } catch (err) {
        // writeBatch settles every writer itself; nothing may stop the loop.
        this.onListenerError?.(err);
      }
    }
    this.flushing = undefined;
  }

  /** Writes one batch and settles its writers; never throws, so the loop survives a failure. */
  private async writeBatch(writes: Write[]): Promise<void> {
    let plan: BatchPlan;
    try {
      plan = await this.plan(writes);
      try {
        if (plan.ops.length > 0) await this.writeOps(plan.ops);
      } finally {
        this.commits += 1;
      }
      for (const [key, set, bytes] of plan.cacheFill) this.cache.put(key, set, bytes);
      for (const [target, delta] of plan.hintDelta) this.addHintCount(target, delta);
    } catch (error) {
      for (const w of writes) w.reject(error);
      return;
    }
    for (const settle of plan.settlements) settle();
    for (const [key, before, after] of plan.changes) {
      for (const listener of this.listeners) {
        // A listener's failure is its own (it is told nothing new); it must not stop the store.
        try {
          listener(key, before, after);
        } catch (err) {
          this.listenerErrors += 1;
          this.onListenerError?.(err);
        }
      }
    }
  }

  /**
   * abstract-level's public batch() rebuilds every operation (spreads, re-encodes and re-shapes
   * it, which V8 handles on slow paths): on a follower it cost about a fifth of the CPU of a
   * replicated write. Where the database takes utf8 keys and buffers as they are (classic-level
   * does), the store hands it what batch() would have: keys under their sublevel's prefix, values
   * untouched, through the implementation's batch (abstract-level's private API, which exists for
   * exactly this hand-over). The bytes on disk are the same either way.
   */
  private writeOps(ops: BatchOp[]): Promise<void> {
    if (!this.rawBatch || this.db.status !== 'open') return this.db.batch(ops, this.batchOptions);
    const raw = new Array<RawBatchOp>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as BatchOp & { sublevel: Sublevel<unknown> };
      const key = op.sublevel.prefix + op.key;
      raw[i] = op.type === 'put' ? { type: 'put', key, value: op.value } : { type: 'del', key };
    }
    return (this.db as unknown as RawBatchDb)._batch(raw, this.batchOptions);
  }

  private async plan(writes: Write[]): Promise<BatchPlan> {
    const plan: BatchPlan = {
      ops: [],
      settlements: [],
      hintDelta: new Map(),
      changes: [],
      cacheFill: [],
    };
    const dataWrites = new Map<string, DataWrite[]>();
    const hintWrites = new Map<string, HintWrite[]>();
    for (const w of writes) {
      if (w.kind === 'merge' || w.kind === 'update' || w.kind === 'purge')
        pushTo(dataWrites, w.key, w);
      else if (w.kind === 'putMeta') {
        plan.ops.push({ type: 'put', sublevel: this.meta, key: w.name, value: w.value });
        plan.settlements.push(() => w.resolve());
      } else pushTo(hintWrites, w.hintKey, w);
    }
    // Cached sets are committed state; the rest are read. Both reads see every earlier batch:
    // flushes are serialized, so nothing can slip between this read and the write that follows.
    const cached = new Map<string, VersionSet | undefined>();
    const missing: string[] = [];
    for (const key of dataWrites.keys()) {
      const hit = this.cache.lookup(key);
      if (hit === undefined) missing.push(key);
      else cached.set(key, hit.set);
    }
    const [dataNow, hintsNow] = await Promise.all([
      missing.length > 0 ? this.data.getMany(missing.map(dataKeyOf)) : [],
      hintWrites.size > 0 ? this.hints.getMany([...hintWrites.keys()]) : [],
    ]);
    let i = 0;
    for (const key of missing) {
      const bytes = dataNow[i++];
      let stored: VersionSet | undefined;
      try {
        stored = bytes === undefined ? undefined : decodeSet(bytes);
      } catch (err) {
        // A corrupt record fails the writes of its key alone.
        for (const w of dataWrites.get(key) as DataWrite[]) w.reject(err);
        dataWrites.delete(key);
        continue;
      }
      cached.set(key, stored);
      plan.cacheFill.push([key, stored, bytes?.length ?? 0]);
    }
    for (const [key, group] of dataWrites) this.planData(plan, key, cached.get(key), group);
    i = 0;
    for (const [hintKey, group] of hintWrites) this.planHint(plan, hintKey, hintsNow[i++], group);
    return plan;
  }

  /**
   * Applies one key's writes in arrival order to what it stores. A write that cannot be
   * applied (its update throws, the stored record is corrupt) fails alone, not its batch.
   */
  private planData(
    plan: BatchPlan,
    key: string,
    stored: VersionSet | undefined,
    group: DataWrite[],
  ): void {
    let state = stored;
    let encoded: Buffer | undefined;
    const results: Array<() => void> = [];
    for (const w of group) {
      // Each write is worked out, and encoded, on its own: one that cannot be applied (a merge
      // the policy refuses, an update that throws, a set too large to encode) fails alone.
      try {
        if (w.kind === 'merge') {
          const next = this.policy.merge(state, w.set);
          const changed = !this.policy.equals(next, state);
          if (changed) {
            encoded = encodeSet(next, true);
            state = next;
          }
          results.push(() => w.resolve(changed));
        } else if (w.kind === 'update') {
          const next = w.fn(state);
          encoded = encodeSet(next, true);
          state = next;
          results.push(() => w.resolve(next));
        } else {
          // What the tombstone supersedes goes with it: an older copy (a node that no longer
          // owns the key) kept past the purge could bring the value back.
          const match = state !== undefined && this.policy.dominates(w.set, state);
          if (match) {
            state = undefined;
            encoded = undefined;
          }
          results.push(() => w.resolve(match));
        }
      } catch (err) {
        results.push(() => w.reject(err));
      }
    }
    if (state !== stored) {
      if (state === undefined || encoded === undefined) {
        plan.ops.push({ type: 'del', sublevel: this.data, key: dataKeyOf(key) });
        plan.cacheFill.push([key, undefined, 0]);
      } else {
        plan.ops.push({ type: 'put', sublevel: this.data, key: dataKeyOf(key), value: encoded });
        plan.cacheFill.push([key, withValuesIn(state, encoded), encoded.length]);
      }
      plan.changes.push([key, stored, state]);
    }
    plan.settlements.push(...results);
  }

  /**
   * Replays one hint's writes in arrival order, so a delete removes only the set it names,
   * even when an add for the same (target, key) shares the batch.
   */
  private planHint(
    plan: BatchPlan,
    hintKey: string,
    bytes: Buffer | undefined,
    group: HintWrite[],
  ): void {
    let stored: VersionSet | undefined;
    try {
      stored = bytes === undefined ? undefined : decodeSet(bytes);
    } catch {
      // A corrupt hint is worth less than the writes queued behind it: replace it.
      stored = undefined;
    }
    let current = stored;
    let encoded: Buffer | undefined;
    const results: Array<() => void> = [];
    for (const w of group) {
      try {
        if (w.kind === 'addHint') {
          const next = this.policy.merge(current, w.set);
          encoded = encodeSet(next);
          current = next;
          results.push(() => w.resolve());
        } else if (w.kind === 'deleteHint') {
          if (current !== undefined && this.policy.equals(current, w.set)) current = undefined;
          results.push(() => w.resolve());
        } else {
          const drop = current !== undefined && this.policy.dominates(w.set, current);
          if (drop) current = undefined;
          results.push(() => w.resolve(drop));
        }
      } catch (err) {
        results.push(() => w.reject(err));
      }
    }
    plan.settlements.push(...results);
    // Unchanged, and not a corrupt record that should be replaced or removed.
    if (current === stored && (stored !== undefined || bytes === undefined)) return;
    if (current !== undefined) {
      // A hint kept from before the batch and not re-encoded is the stored bytes themselves.
      plan.ops.push({
        type: 'put',
        sublevel: this.hints,
        key: hintKey,
        value: encoded ?? (bytes as Buffer),
      });
    } else {
      plan.ops.push({ type: 'del', sublevel: this.hints, key: hintKey });
    }
    const delta = (current === undefined ? 0 : 1) - (bytes === undefined ? 0 : 1);
    const target = group[0]!.target;
    if (delta !== 0) plan.hintDelta.set(target, (plan.hintDelta.get(target) ?? 0) + delta);
  }

  private async rebuildHintCounts(): Promise<void> {
    this.hintCounts.clear();
    for await (const hintKey of this.hints.keys()) {
      this.addHintCount(hintKey.slice(0, hintKey.indexOf(HINT_KEY_SEPARATOR)), 1);
    }
  }

  private addHintCount(target: string, delta: number): void {
    const count = (this.hintCounts.get(target) ?? 0) + delta;
    if (count < 0) throw new Error(`hint count for ${target} went negative`);
    if (count === 0) this.hintCounts.delete(target);
    else this.hintCounts.set(target, count);
  }
}

/** A store in LevelDB under `dir` (created if missing); call `open()` before use. */
export function openDiskStore(
  dir: string,
  opts: { fsync: boolean; policy?: ConflictPolicy; cacheBytes?: number },
): LevelReplicaStore {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw openFailure(dir, new Error('could not create it', { cause: err }));
  }
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  // abstract-level types its hooks with `typeof this`, so a subclass that adds members (Level
  // adds `location`) is not assignable to AbstractLevel although it is one at run time.
  return new LevelReplicaStore({
    db: db as unknown as RootDb,
    location: dir,
    fsync: opts.fsync,
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.cacheBytes !== undefined ? { cacheBytes: opts.cacheBytes } : {}),
  });
}

// memory-level is a devDependency: load it only when a memory store is asked for, so a
// production install (which never asks) does not need it.
const requireDev = createRequire(import.meta.url);

/** A store in memory (for tests and simulation); call `open()` before use. */
export function memoryStore(policy: ConflictPolicy = LWW, cacheBytes?: number): LevelReplicaStore {
  const { MemoryLevel } = requireDev('memory-level') as typeof import('memory-level');
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' });
  return new LevelReplicaStore({
    db,
    fsync: false,
    policy,
    ...(cacheBytes !== undefined ? { cacheBytes } : {}),
  });
}

function hintKeyOf(target: string, key: string): string {
  if (target.includes(HINT_KEY_SEPARATOR))
    throw new RangeError('a hint target may not contain \\0');
  return target + HINT_KEY_SEPARATOR + key;
}

/** The storage key of `key`: its hash prefix first, so anti-entropy can scan one segment. */
export function dataKeyOf(key: string): string {
  return prefixHex(keyPrefix(key)) + key;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
