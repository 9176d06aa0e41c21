// Client reads and writes against a simulated node's coordinator, with their outcomes
// recorded in the History: options resolved as an HTTP request naming r, w and consistency
// would get them (src/core/quorum.ts), and a coordinator that crashes mid-request leaves its
// client without an answer (the write is indeterminate).

import { consistencyDefaults, type ClusterConfig } from '../../src/config.js';
import type { ConflictPolicy } from '../../src/core/conflicts.js';
import type { ParsedContext } from '../../src/core/context.js';
import { TimeoutError, TooManySiblingsError, UnavailableError } from '../../src/core/errors.js';
import {
  resolveRequestOptions,
  type ConsistencyDefaults,
  type RequestOptions,
} from '../../src/core/quorum.js';
import { newestSibling, type VersionSet } from '../../src/core/version-set.js';
import type { KvorumNode } from '../../src/node.js';
import type { History, WriteRecord } from './history.js';

/** One incarnation of a node, as a client reaches it. */
export interface Coordinating {
  readonly node: KvorumNode;
  /** False once this incarnation has crashed: its answers reach nobody. */
  heard(): boolean;
}

export interface Level {
  readonly r: number;
  readonly w: number;
  readonly linearizable?: boolean;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export class ClientOps {
  private readonly defaults: ConsistencyDefaults;

  constructor(
    config: ClusterConfig,
    private readonly policy: ConflictPolicy,
    private readonly history: History,
    private readonly now: () => number,
    private readonly preferenceList: (key: string) => readonly string[],
  ) {
    this.defaults = consistencyDefaults(config);
  }

  /** RequestOptions as an HTTP request naming r, w and consistency would get them. */
  options(level: Level): RequestOptions {
    return resolveRequestOptions(
      {
        r: String(level.r),
        w: String(level.w),
        consistency: level.linearizable === true ? 'linearizable' : 'default',
      },
      this.defaults,
    );
  }

  /** Issues one write (its value unique: `v<id>`) and records how it ended. */
  write(
    via: Coordinating,
    key: string,
    level: Level,
    content: { tombstone?: boolean; context?: ParsedContext },
  ): { record: WriteRecord; done: Promise<void> } {
    const id = this.history.writes.length;
    const tombstone = content.tombstone ?? false;
    const value = tombstone ? '' : `v${id}`;
    const body = { value: enc(value), contentType: 'text/plain', tombstone };
    const opts = this.options(level);
    const record: WriteRecord = {
      id,
      key,
      value,
      tombstone,
      content: body,
      context: content.context?.kind === 'clock' ? content.context.clock : [],
      seen: content.context?.kind === 'lww' ? content.context.ts : undefined,
      coordinator: via.node.id,
      w: opts.w,
      startedAt: this.now(),
      outcome: 'pending',
    };
    this.history.writes.push(record);
    const done = via.node.coordinator.write(key, body, opts, content.context).then(
      (res) => {
        // A client whose coordinator crashed mid-request never hears the answer.
        if (!via.heard()) return void (record.outcome = 'indeterminate');
        record.outcome = 'ok';
        record.result = res.set;
        record.ackedAt = this.now();
        record.holdersAtAck = this.history.holders(key, res.set, this.preferenceList(key));
        if (this.policy.mode === 'siblings') this.noteDot(record, res.set);
      },
      (err: unknown) => {
        if (err instanceof UnavailableError || err instanceof TooManySiblingsError) {
          // Refused before any replica was asked to apply it.
          record.outcome = 'failed';
          return;
        }
        record.outcome = 'indeterminate';
        if (via.heard() && !(err instanceof TimeoutError))
          this.history.unexpected.push(`write ${id} of ${key} via ${via.node.id}: ${String(err)}`);
      },
    );
    return { record, done };
  }

  /** Reads; resolves with the set, or the error the read failed with. */
  async read(
    via: Coordinating,
    key: string,
    level: Level,
  ): Promise<VersionSet | undefined | Error> {
    const startedAt = this.now();
    const opts = this.options(level);
    try {
      const { set } = await via.node.coordinator.read(key, opts);
      if (!via.heard()) return new Error(`${via.node.id} crashed`);
      this.history.reads.push({ key, r: opts.r, startedAt, answeredAt: this.now(), set });
      return set;
    } catch (err) {
      if (via.heard() && !(err instanceof UnavailableError || err instanceof TimeoutError))
        this.history.unexpected.push(`read of ${key} via ${via.node.id}: ${String(err)}`);
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /**
   * The dot a siblings write got: the newest sibling of the issuer's new set, since the issuer
   * stamps it above every sibling it keeps.
   */
  private noteDot(record: WriteRecord, set: VersionSet): void {
    const s = newestSibling(set);
    const value = s === undefined || s.tombstone ? '' : new TextDecoder().decode(s.value);
    if (s?.dot == null || s.tombstone !== record.tombstone || value !== record.value) {
      this.history.anomalies.push(
        `write ${record.id} of ${record.key} was acknowledged with a set whose newest sibling is not it`,
      );
      return;
    }
    record.dot = s.dot;
  }
}
