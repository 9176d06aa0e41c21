// The coordinator's read and write protocols (DESIGN 2.2 and 2.4). It decides; ReplicaLinks
// carries the messages and HintSink keeps what a replica missed. Time comes from Clock and
// HybridClock, so the same code runs over TCP and over a simulated network.

import type { Clock } from './clock.js';
import { TimeoutError, UnavailableError, PeerError } from './errors.js';
import { HLC_ZERO, compareHlc, type Hlc, type HybridClock } from './hlc.js';
import { majority, type RequestOptions } from './quorum.js';
import type { HintSink, ReplicaLinks } from './replica-links.js';
import type { Ring } from './ring.js';
import { ReadTally, WriteTally, type ReplyStatus } from './tally.js';
import type { Version } from './version.js';

export type TimingDesc = ReplyStatus | 'pending' | 'down';

export interface ReplicaTiming {
  readonly node: string;
  /** Milliseconds from the request to this replica's answer (or to the response, if none yet). */
  durMs: number;
  desc: TimingDesc;
}

export interface ReadResult {
  /** The newest version the read quorum holds; a tombstone means "deleted". */
  readonly version: Version | undefined;
  readonly timings: readonly ReplicaTiming[];
}

export interface WriteResult {
  readonly version: Version;
  readonly timings: readonly ReplicaTiming[];
}

export interface NewContent {
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly tombstone: boolean;
}

export interface CoordinatorOptions {
  readonly ring: Ring;
  readonly n: number;
  readonly links: ReplicaLinks;
  readonly hints: HintSink;
  readonly hlc: HybridClock;
  readonly clock: Clock;
  /** 'before': a read repairs stale replicas among its quorum before answering (cp profile). */
  readonly readRepair: 'before' | 'after';
  /** Test-only switches to show that the checker catches the bugs they cause. */
  readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
  /** Called for every stale replica a read sends the newest version to. */
  readonly onReadRepair?: (node: string) => void;
  /** Called when a background repair or hint fails; the coordinator never throws from background work. */
  readonly onBackgroundError?: (what: string, err: unknown) => void;
}

const EMPTY = new Uint8Array(0);

function statusOf(err: unknown): ReplyStatus {
  return err instanceof PeerError ? (err.reason === 'remote' ? 'error' : err.reason) : 'error';
}

export class Coordinator {
  constructor(private readonly o: CoordinatorOptions) {}

  preferenceList(key: string): string[] {
    return this.o.ring.preferenceList(key, this.o.n);
  }

  async read(key: string, opts: RequestOptions): Promise<ReadResult> {
    const pref = this.preferenceList(key);
    const up = pref.filter((id) => this.o.links.isUp(id));
    if (up.length < opts.r) throw new UnavailableError(opts.r, up.length, 'read');
    const repairFirst = this.o.readRepair === 'before' || opts.linearizable;
    // One deadline for the whole request: every phase gets what is left of it.
    const deadline = this.o.clock.monotonicMs() + opts.timeoutMs;
    const { tally, timings, decided, complete, start } = this.collectReads(
      key,
      pref,
      up,
      opts.r,
      opts.timeoutMs,
    );
    await decided;
    if (!tally.succeeded()) throw new TimeoutError(opts.r, tally.replied, false, opts.timeoutMs);
    const best = tally.newest();
    const repaired = new Set<string>();
    if (best !== undefined && repairFirst && !this.o.unsafe?.noReadWriteBack) {
      // ABD's second phase: the answer must be held by a quorum before anyone sees it, or a
      // later read could observe an older value (new-old inversion).
      const stale = tally.stale();
      if (stale.length > 0) {
        for (const node of stale) {
          repaired.add(node);
          this.o.onReadRepair?.(node);
        }
        const holders = tally.replied - stale.length;
        const acks = await this.writeBack(
          key,
          best,
          stale,
          opts.r - holders,
          this.remaining(deadline),
        );
        if (holders + acks < opts.r)
          throw new TimeoutError(opts.r, holders + acks, false, opts.timeoutMs);
      }
    }
    if (best !== undefined) {
      // Read repair of everything else happens once every asked replica has answered.
      void complete.then(() => {
        // Replies that came in after the answer may hold something newer than `best`.
        const latest = tally.newest() as Version;
        for (const node of tally.stale()) {
          if (!repaired.has(node)) this.repairInBackground(node, key, latest, opts.timeoutMs);
        }
      });
    }
    return { version: best, timings: this.snapshot(timings, start) };
  }

  /**
   * `seen` is the timestamp of the version the client's context names: the new version is
   * stamped above it, so a write that carries a read's context supersedes what that read saw
   * even when this coordinator's clock is behind the one that stamped it.
   */
  async write(
    key: string,
    content: NewContent,
    opts: RequestOptions,
    seen?: Hlc,
  ): Promise<WriteResult> {
    const pref = this.preferenceList(key);
    const up = pref.filter((id) => this.o.links.isUp(id));
    if (up.length < opts.w) throw new UnavailableError(opts.w, up.length, 'write');
    const deadline = this.o.clock.monotonicMs() + opts.timeoutMs;
    let ts: Hlc;
    if (opts.linearizable && !this.o.unsafe?.noWriteReadPhase) {
      // ABD's first phase: learn the highest version a quorum holds, then write above it, so
      // a write that starts after another finished is ordered after it whatever the clocks say.
      const q = Math.max(opts.r, majority(this.o.n));
      if (up.length < q) throw new UnavailableError(q, up.length, 'write');
      const phase = this.collectReads(key, pref, up, q, this.remaining(deadline));
      await phase.decided;
      if (!phase.tally.succeeded())
        throw new TimeoutError(q, phase.tally.replied, false, opts.timeoutMs);
      const highest = phase.tally.newest()?.ts ?? HLC_ZERO;
      ts = this.o.hlc.above(seen !== undefined && compareHlc(seen, highest) > 0 ? seen : highest);
    } else {
      ts = seen !== undefined ? this.o.hlc.above(seen) : this.o.hlc.now();
    }
    const version: Version = {
      ts,
      tombstone: content.tombstone,
      contentType: content.tombstone ? '' : content.contentType,
      value: content.tombstone ? EMPTY : content.value,
    };
    // Hints for replicas known to be down are durable before the write is acknowledged.
    const downHints = pref
      .filter((node) => !up.includes(node))
      .map((node) => this.o.hints.addHint(node, key, version));

    const start = this.o.clock.monotonicMs();
    const tally = new WriteTally(up.length, opts.w);
    const timings = this.initialTimings(pref, up);
    await new Promise<void>((resolve) => {
      for (const node of up) {
        const settle = (desc: ReplyStatus): void => {
          const t = timings.find((x) => x.node === node) as ReplicaTiming;
          t.durMs = this.o.clock.monotonicMs() - start;
          t.desc = desc;
          if (desc === 'ok') tally.addAck(node);
          else {
            tally.addFailure();
            // The replica may or may not have applied it; a hint is idempotent either way.
            void this.o.hints.addHint(node, key, version);
          }
          if (tally.isDecided()) resolve();
        };
        this.o.links.write(node, key, version, this.remaining(deadline)).then(
          () => settle('ok'),
          (err: unknown) => settle(statusOf(err)),
        );
      }
    });
    await Promise.all(downHints);
    if (!tally.succeeded()) throw new TimeoutError(opts.w, tally.ackCount, true, opts.timeoutMs);
    return { version, timings: this.snapshot(timings, start) };
  }

  private collectReads(
    key: string,
    pref: readonly string[],
    up: readonly string[],
    needed: number,
    timeoutMs: number,
  ) {
    const start = this.o.clock.monotonicMs();
    const tally = new ReadTally(up.length, needed);
    const timings = this.initialTimings(pref, up);
    let onDecided!: () => void;
    let onComplete!: () => void;
    const decided = new Promise<void>((r) => (onDecided = r));
    const complete = new Promise<void>((r) => (onComplete = r));
    for (const node of up) {
      const settle = (desc: ReplyStatus, v?: Version): void => {
        const t = timings.find((x) => x.node === node) as ReplicaTiming;
        t.durMs = this.o.clock.monotonicMs() - start;
        t.desc = desc;
        if (desc === 'ok') {
          tally.addReply(node, v);
          // Later writes from this node must stamp above what its reads have seen.
          if (v !== undefined) this.o.hlc.observe(v.ts);
        } else tally.addFailure();
        if (tally.isDecided()) onDecided();
        if (tally.isComplete()) onComplete();
      };
      this.o.links.read(node, key, timeoutMs).then(
        (v) => settle('ok', v),
        (err: unknown) => settle(statusOf(err)),
      );
    }
    return { tally, timings, decided, complete, start };
  }

  /** Writes `version` back to stale replicas; settles as soon as `needed` acks are in (or cannot be). */
  private writeBack(
    key: string,
    version: Version,
    nodes: readonly string[],
    needed: number,
    timeoutMs: number,
  ): Promise<number> {
    return new Promise((resolve) => {
      let acks = 0;
      let failures = 0;
      for (const node of nodes) {
        this.o.links.write(node, key, version, timeoutMs).then(
          () => {
            acks += 1;
            if (acks >= needed || acks + failures === nodes.length) resolve(acks);
          },
          () => {
            failures += 1;
            void this.o.hints.addHint(node, key, version);
            if (nodes.length - failures < needed || acks + failures === nodes.length) resolve(acks);
          },
        );
      }
    });
  }

  private remaining(deadline: number): number {
    return Math.max(1, Math.ceil(deadline - this.o.clock.monotonicMs()));
  }

  private repairInBackground(node: string, key: string, version: Version, timeoutMs: number): void {
    this.o.onReadRepair?.(node);
    this.o.links.write(node, key, version, timeoutMs).catch((err: unknown) => {
      this.o.onBackgroundError?.(`read repair of ${node}`, err);
    });
  }

  private initialTimings(pref: readonly string[], up: readonly string[]): ReplicaTiming[] {
    return pref.map((node) => ({ node, durMs: 0, desc: up.includes(node) ? 'pending' : 'down' }));
  }

  /** Freezes the timings as of the response; replicas still out are reported as pending. */
  private snapshot(timings: readonly ReplicaTiming[], start: number): ReplicaTiming[] {
    const elapsed = this.o.clock.monotonicMs() - start;
    return timings.map((t) => ({ ...t, durMs: t.desc === 'pending' ? elapsed : t.durMs }));
  }
}
