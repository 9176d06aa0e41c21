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
import { isNewer, sameVersion, type Version } from '../core/version.js';
import type { Hint, ReplicaStore } from './replica-store.js';
import { decodeVersion, encodeVersion } from './version-codec.js';
import { LIMITS } from '../config.js';

type StoreFormat = string | Buffer | Uint8Array;

/** An abstract-level database with utf8 keys and 'buffer' or 'view' values (MemoryLevel, ClassicLevel). */
export type StoreDb =
  AbstractLevel<StoreFormat, string, Buffer> | AbstractLevel<StoreFormat, string, Uint8Array>;
/** The store reads and writes only through sublevels with their own encodings, so the root's value type does not matter. */
type RootDb = AbstractLevel<StoreFormat, string, Buffer>;
type Sublevel<V> = AbstractSublevel<RootDb, StoreFormat, string, V>;
type BatchOp = AbstractBatchOperation<RootDb, string, Buffer | string>;

export interface LevelReplicaStoreOptions {
  /** Keys must be utf8; the store opens sublevels with their own value encodings. */
  readonly db: StoreDb;
  /** Sync each batch to disk before answering its writers. */
  readonly fsync: boolean;
}

/** Writes per database batch; a longer queue is split so one batch stays bounded in size. */
export const BATCH_WRITES_MAX = LIMITS.storeBatchWritesMax;
/** Hint keys are `${target}\0${key}`: node ids never hold \0, so a target's hints are one range. */
const HINT_KEY_SEPARATOR = '\u0000';
const HINT_RANGE_END = '\u0001';

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Write =
  | ({ kind: 'apply'; key: string; version: Version; encoded: Buffer } & Settle<boolean>)
  | ({
      kind: 'addHint';
      target: string;
      hintKey: string;
      version: Version;
      encoded: Buffer;
    } & Settle<void>)
  | ({ kind: 'deleteHint'; target: string; hintKey: string; version: Version } & Settle<void>)
  | ({ kind: 'putMeta'; name: string; value: string } & Settle<void>);
type ApplyWrite = Extract<Write, { kind: 'apply' }>;
type HintWrite = Extract<Write, { kind: 'addHint' | 'deleteHint' }>;

/** What one batch will change, worked out from the writes and the versions stored now. */
interface BatchPlan {
  readonly ops: BatchOp[];
  /** Apply writes whose version is the one the batch stores. */
  readonly winners: Set<ApplyWrite>;
  /** Change in hint count per target once the batch is written. */
  readonly hintDelta: Map<string, number>;
}

export class LevelReplicaStore implements ReplicaStore {
  private readonly db: RootDb;
  private readonly data: Sublevel<Buffer>;
  private readonly hints: Sublevel<Buffer>;
  private readonly meta: Sublevel<string>;
  private readonly batchOptions: AbstractBatchOptions<string, Buffer | string> & { sync: boolean };
  private readonly hintCounts = new Map<string, number>();
  private queue: Write[] = [];
  /** The running flush loop; at most one, so batches never overlap and reads see prior writes. */
  private flushing: Promise<void> | undefined;
  private closing = false;

  constructor(options: LevelReplicaStoreOptions) {
    this.db = options.db as RootDb;
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
  }

  async open(): Promise<void> {
    await this.db.open();
    this.closing = false;
    await this.rebuildHintCounts();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flushing;
    await this.db.close();
  }

  async get(key: string): Promise<Version | undefined> {
    const bytes = await this.data.get(key);
    return bytes === undefined ? undefined : decodeVersion(bytes);
  }

  apply(key: string, version: Version): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      // Encoding here rejects a malformed version alone instead of failing its whole batch.
      const encoded = encodeVersion(version);
      this.enqueue({ kind: 'apply', key, version, encoded, resolve, reject });
    });
  }

  addHint(target: string, key: string, version: Version): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const hintKey = hintKeyOf(target, key);
      const encoded = encodeVersion(version);
      this.enqueue({ kind: 'addHint', target, hintKey, version, encoded, resolve, reject });
    });
  }

  deleteHint(hint: Hint): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const hintKey = hintKeyOf(hint.target, hint.key);
      this.enqueue({
        kind: 'deleteHint',
        target: hint.target,
        hintKey,
        version: hint.version,
        resolve,
        reject,
      });
    });
  }

  async hintsFor(target: string, limit: number): Promise<Hint[]> {
    if (!Number.isInteger(limit) || limit < 0)
      throw new RangeError(`hint limit must be a non-negative integer, got ${limit}`);
    if (limit === 0) return [];
    const prefix = hintKeyOf(target, '');
    const entries = await this.hints
      .iterator({ gte: prefix, lt: target + HINT_RANGE_END, limit })
      .all();
    return entries.map(([hintKey, bytes]) => ({
      target,
      key: hintKey.slice(prefix.length),
      version: decodeVersion(bytes),
    }));
  }

  pendingHints(): ReadonlyMap<string, number> {
    return this.hintCounts;
  }

  getMeta(name: string): Promise<string | undefined> {
    return this.meta.get(name);
  }

  putMeta(name: string, value: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.enqueue({ kind: 'putMeta', name, value, resolve, reject });
    });
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
      await this.writeBatch(writes);
    }
    this.flushing = undefined;
  }

  /** Writes one batch and settles its writers; never throws, so the loop survives a failure. */
  private async writeBatch(writes: Write[]): Promise<void> {
    let winners: Set<ApplyWrite>;
    try {
      const plan = await this.plan(writes);
      if (plan.ops.length > 0) await this.db.batch(plan.ops, this.batchOptions);
      for (const [target, delta] of plan.hintDelta) this.addHintCount(target, delta);
      winners = plan.winners;
    } catch (error) {
      for (const w of writes) w.reject(error);
      return;
    }
    for (const w of writes) {
      if (w.kind === 'apply') w.resolve(winners.has(w));
      else w.resolve();
    }
  }

  private async plan(writes: Write[]): Promise<BatchPlan> {
    const plan: BatchPlan = { ops: [], winners: new Set(), hintDelta: new Map() };
    const applies = new Map<string, ApplyWrite[]>();
    const hintWrites = new Map<string, HintWrite[]>();
    for (const w of writes) {
      if (w.kind === 'apply') pushTo(applies, w.key, w);
      else if (w.kind === 'putMeta')
        plan.ops.push({ type: 'put', sublevel: this.meta, key: w.name, value: w.value });
      else pushTo(hintWrites, w.hintKey, w);
    }
    // Both reads see every earlier batch: flushes are serialized, so nothing can slip between
    // this read and the write that follows it.
    const [dataNow, hintsNow] = await Promise.all([
      applies.size > 0 ? this.data.getMany([...applies.keys()]) : [],
      hintWrites.size > 0 ? this.hints.getMany([...hintWrites.keys()]) : [],
    ]);
    let i = 0;
    for (const [key, group] of applies)
      this.planApply(plan, key, decodeStored(dataNow[i++]), group);
    i = 0;
    for (const [hintKey, group] of hintWrites)
      this.planHint(plan, hintKey, decodeStored(hintsNow[i++]), group);
    return plan;
  }

  /** Same-key writes in one batch collapse to the newest; only it is stored and told true. */
  private planApply(
    plan: BatchPlan,
    key: string,
    stored: Version | undefined,
    group: ApplyWrite[],
  ): void {
    let best = stored;
    let winner: ApplyWrite | undefined;
    for (const w of group) {
      if (isNewer(w.version, best)) {
        best = w.version;
        winner = w;
      }
    }
    if (winner === undefined) return;
    plan.winners.add(winner);
    plan.ops.push({ type: 'put', sublevel: this.data, key, value: winner.encoded });
  }

  /**
   * Replays one hint's writes in arrival order, so a delete removes only the version it names,
   * even when an add for the same (target, key) shares the batch.
   */
  private planHint(
    plan: BatchPlan,
    hintKey: string,
    stored: Version | undefined,
    group: HintWrite[],
  ): void {
    let current = stored;
    let currentWrite: Extract<HintWrite, { kind: 'addHint' }> | undefined;
    for (const w of group) {
      if (w.kind === 'addHint') {
        if (isNewer(w.version, current)) {
          current = w.version;
          currentWrite = w;
        }
      } else if (current !== undefined && sameVersion(current, w.version)) {
        current = undefined;
        currentWrite = undefined;
      }
    }
    if (current === stored) return;
    if (currentWrite !== undefined) {
      plan.ops.push({
        type: 'put',
        sublevel: this.hints,
        key: hintKey,
        value: currentWrite.encoded,
      });
    } else {
      plan.ops.push({ type: 'del', sublevel: this.hints, key: hintKey });
    }
    const delta = (current === undefined ? 0 : 1) - (stored === undefined ? 0 : 1);
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
export function openDiskStore(dir: string, opts: { fsync: boolean }): LevelReplicaStore {
  mkdirSync(dir, { recursive: true });
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  // abstract-level types its hooks with `typeof this`, so a subclass that adds members (Level
  // adds `location`) is not assignable to AbstractLevel although it is one at run time.
  return new LevelReplicaStore({ db: db as unknown as RootDb, fsync: opts.fsync });
}

// memory-level is a devDependency: load it only when a memory store is asked for, so a
// production install (which never asks) does not need it.
const requireDev = createRequire(import.meta.url);

/** A store in memory (for tests and simulation); call `open()` before use. */
export function memoryStore(): LevelReplicaStore {
  const { MemoryLevel } = requireDev('memory-level') as typeof import('memory-level');
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' });
  return new LevelReplicaStore({ db, fsync: false });
}

function hintKeyOf(target: string, key: string): string {
  if (target.includes(HINT_KEY_SEPARATOR))
    throw new RangeError('a hint target may not contain \\0');
  return target + HINT_KEY_SEPARATOR + key;
}

function decodeStored(bytes: Buffer | undefined): Version | undefined {
  return bytes === undefined ? undefined : decodeVersion(bytes);
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
