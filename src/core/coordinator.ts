// The coordinator's read and write protocols (DESIGN 2.2-2.4). It decides; ReplicaLinks
// carries the messages and HintSink keeps what a replica missed. Time comes from Clock and
// HybridClock, so the same code runs over TCP and over a simulated network.
//
// Writes in lww mode are stamped here with the HLC; in siblings mode one replica of the key
// issues the write (gives it a dot against its own state) and the coordinator spreads the set
// that replica now holds. Either way the other replicas merge what they are sent, so a write
// and every repair of it are the same operation.

import type { Clock, Timers } from './clock.js';
import { newestVersion, single, type ConflictPolicy } from './conflicts.js';
import type { ParsedContext } from './context.js';
import {
  KvorumError,
  NotAnIssuerError,
  PeerError,
  TimeoutError,
  UnavailableError,
} from './errors.js';
import { HLC_ZERO, compareHlc, type Hlc, type HybridClock } from './hlc.js';
import { majority, type RequestOptions } from './quorum.js';
import type { HintSink, NewContent, ReplicaLinks } from './replica-links.js';
import { unionOf, type KeyPlacement } from './placement.js';
import { ReadTally, SetsWriteTally, type ReplyStatus, type StaleReply } from './tally.js';
import type { Version } from './version.js';
import { EMPTY_CLOCK, type VersionSet } from './version-set.js';

export type { NewContent } from './replica-links.js';

/**
 * `unasked`: a targeted read did not need that replica (never shown to clients).
 * `ok;repaired`: it answered a read with less than the answer, and the coordinator sends it the
 * answer (before answering in the cp profile and for linearizable reads, right after otherwise).
 * `hinted`: a write reached it as a hint, kept here or by a stand-in, to be replayed when it is back.
 */
export type TimingDesc = ReplyStatus | 'pending' | 'down' | 'unasked' | 'ok;repaired' | 'hinted';

/** Weight of the newest sample in a peer's moving average of reply latency. */
const LATENCY_EWMA_WEIGHT = 0.2;

export interface ReplicaTiming {
  readonly node: string;
  /** Milliseconds from the request to this replica's answer (or to the response, if none yet). */
  durMs: number;
  desc: TimingDesc;
}

export interface ReadResult {
  /** Every replied set merged; undefined when no replica holds the key. */
  readonly set: VersionSet | undefined;
  readonly timings: readonly ReplicaTiming[];
}

export interface WriteResult {
  /** What the write made: the stamped version (lww) or the issuing replica's new set. */
  readonly set: VersionSet;
  readonly timings: readonly ReplicaTiming[];
}

export interface CoordinatorOptions {
  /** Which replicas a key's reads ask and its writes must reach (the layout's view). */
  readonly placement: KeyPlacement;
  readonly n: number;
  readonly links: ReplicaLinks;
  readonly hints: HintSink;
  readonly hlc: HybridClock;
  readonly clock: Clock;
  readonly policy: ConflictPolicy;
  /** 'before': a read repairs stale replicas among its quorum before answering (cp profile). */
  readonly readRepair: 'before' | 'after';
  /** Writes for a home replica that is down go to the next healthy node as a hint, and count. */
  readonly sloppyQuorum?: boolean;
  /** Test-only switches to show that the checker catches the bugs they cause. */
  readonly unsafe?: { readonly noReadWriteBack?: boolean; readonly noWriteReadPhase?: boolean };
  /**
   * Reads ask only the R replicas expected to answer first (this node, then the peers with the
   * lowest recent latency), and one more whenever an asked replica fails or has not answered
   * within `speculateMs`, as Cassandra's speculative retry does. Without it, every read asks
   * every replica that is up.
   */
  readonly targetedReads?: { readonly timers: Timers; readonly speculateMs: number };
  /** Called when a targeted read asks one more replica than it first did. */
  readonly onSpeculate?: (node: string, why: 'slow' | 'failed') => void;
  /** Called for every stale replica a read sends the merged state to. */
  readonly onReadRepair?: (node: string) => void;
  /**
   * Called once every replica a read asked has answered, with those whose replies lacked what
   * others held (never with none): how stale replicas are, as clients' reads meet them.
   */
  readonly onStaleReplies?: (opts: RequestOptions, stale: readonly StaleReply[]) => void;
  /**
   * Called with the round trip of every successful reply to a write or a read, this node's own
   * replica included: the latencies PBS predicts staleness from (src/core/pbs.ts).
   */
  readonly onReplyLatency?: (node: string, kind: 'write' | 'read', ms: number) => void;
  /** Called when a background repair or hint fails; the coordinator never throws from background work. */
  readonly onBackgroundError?: (what: string, err: unknown) => void;
}

/** Where a key's replicas are right now: its home replicas, and stand-ins for those down. */
interface Placement {
  /** The replica sets a write must reach W in: one per live layout version. */
  readonly sets: readonly (readonly string[])[];
  /** Every home replica of the key: the union of `sets`. */
  readonly pref: readonly string[];
  readonly up: readonly string[];
  /** home replica that is down -> the healthy node that takes its writes as hints. */
  readonly fallbacks: ReadonlyMap<string, string>;
}

const EMPTY = new Uint8Array(0);

function statusOf(err: unknown): ReplyStatus {
  return err instanceof PeerError ? (err.reason === 'remote' ? 'error' : err.reason) : 'error';
}

function withTimings<E extends KvorumError>(err: E, timings: readonly ReplicaTiming[]): E {
  err.timings = timings;
  return err;
}

/** A 503 asked nobody: its timings name the replicas it found down. */
function withDown<E extends KvorumError>(
  err: E,
  pref: readonly string[],
  up: readonly string[],
): E {
  err.timings = pref
    .filter((node) => !up.includes(node))
    .map((node) => ({ node, durMs: 0, desc: 'down' }));
  return err;
}

export class Coordinator {
  /** Each peer's moving average of reply latency (ms), from every read and write it answered. */
  private readonly latency = new Map<string, number>();

  constructor(private readonly o: CoordinatorOptions) {}

  /** Peers by recent latency, for status pages and tests. */
  latencies(): ReadonlyMap<string, number> {
    return this.latency;
  }

  /** The replicas a read of `key` asks. */
  preferenceList(key: string): readonly string[] {
    return this.o.placement.readSet(key);
  }

  async read(key: string, opts: RequestOptions): Promise<ReadResult> {
    const pref = this.preferenceList(key);
    const up = pref.filter((id) => this.o.links.isUp(id));
    if (up.length < opts.r)
      throw withDown(new UnavailableError(opts.r, up.length, 'read'), pref, up);
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
    if (!tally.succeeded()) {
      const err = new TimeoutError(opts.r, tally.replied, false, opts.timeoutMs);
      throw withTimings(err, this.snapshot(timings, start));
    }
    const best = tally.merged();
    const repaired = new Set<string>();
    // Every replica that answered with less is sent the answer, before or after this response.
    if (best !== undefined)
      for (const node of tally.stale(best)) {
        const t = timings.find((x) => x.node === node);
        if (t !== undefined) t.desc = 'ok;repaired';
      }
    if (
      best !== undefined &&
      opts.linearizable &&
      !this.o.unsafe?.noReadWriteBack &&
      // Asked last: only a linearizable read needs to know whether a transition is on.
      this.o.placement.writeSets(key).length > 1
    ) {
      // ABD's write-back while two layout versions are live: the answer goes to a quorum of
      // every version's replicas, as a write would, so the version reads move to next holds it
      // too (this read may have come after the sync that copied the key there).
      const q = Math.max(opts.r, majority(this.o.n));
      try {
        await this.replicate(
          key,
          best,
          this.place(key, false),
          { ...opts, w: q },
          deadline,
          undefined,
        );
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        const failed = new TimeoutError(q, 0, false, opts.timeoutMs);
        failed.timings = err.timings;
        throw failed;
      }
    } else if (best !== undefined && repairFirst && !this.o.unsafe?.noReadWriteBack) {
      // ABD's second phase: the answer must be held by a quorum before anyone sees it, or a
      // later read could observe an older value (new-old inversion).
      const stale = tally.stale(best);
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
        if (holders + acks < opts.r) {
          const err = new TimeoutError(opts.r, holders + acks, false, opts.timeoutMs);
          throw withTimings(err, this.snapshot(timings, start));
        }
      }
    }
    if (best !== undefined) {
      // Read repair of everything else happens once every asked replica has answered.
      void complete.then(() => {
        // Replies that came in after the answer may hold more than `best`.
        const latest = tally.merged() as VersionSet;
        const stale = tally.staleReplies(latest);
        if (stale.length === 0) return;
        this.o.onStaleReplies?.(opts, stale);
        for (const { node } of stale) {
          if (!repaired.has(node)) this.repairInBackground(node, key, latest, opts.timeoutMs);
        }
      });
    }
    return { set: best, timings: this.snapshot(timings, start) };
  }

  /**
   * `context` is what the client's read saw. In lww mode the new version is stamped above it,
   * so a write that carries a read's context supersedes what that read saw even when this
   * coordinator's clock is behind the one that stamped it. In siblings mode it is the clock
   * whose siblings the write supersedes.
   */
  async write(
    key: string,
    content: NewContent,
    opts: RequestOptions,
    context?: ParsedContext,
  ): Promise<WriteResult> {
    const done = this.o.placement.beginWrite?.();
    try {
      return await this.writeUnder(key, content, opts, context);
    } finally {
      done?.();
    }
  }

  private async writeUnder(
    key: string,
    content: NewContent,
    opts: RequestOptions,
    context?: ParsedContext,
  ): Promise<WriteResult> {
    // A linearizable write needs its W acks from home replicas: a stand-in's hint is not in
    // the quorum a later linearizable read will ask.
    const placement = this.place(key, !opts.linearizable);
    const reachable = this.reachableInEverySet(placement);
    if (reachable < opts.w)
      throw withDown(
        new UnavailableError(opts.w, reachable, 'write'),
        placement.pref,
        placement.up,
      );
    const deadline = this.o.clock.monotonicMs() + opts.timeoutMs;
    if (this.o.policy.mode === 'siblings') {
      const clock = context?.kind === 'clock' ? context.clock : EMPTY_CLOCK;
      return this.writeIssued(key, content, clock, placement, opts, deadline);
    }
    const seen = context?.kind === 'lww' ? context.ts : undefined;
    let ts: Hlc;
    if (opts.linearizable && !this.o.unsafe?.noWriteReadPhase) {
      // ABD's first phase: learn the highest version a quorum holds, then write above it, so
      // a write that starts after another finished is ordered after it whatever the clocks say.
      const q = Math.max(opts.r, majority(this.o.n));
      // Asked of the replicas reads use: the highest version any finished write left there.
      const pref = this.o.placement.readSet(key);
      const up = pref.filter((id) => this.o.links.isUp(id));
      if (up.length < q) throw withDown(new UnavailableError(q, up.length, 'write'), pref, up);
      const phase = this.collectReads(key, pref, up, q, this.remaining(deadline));
      await phase.decided;
      if (!phase.tally.succeeded()) {
        const err = new TimeoutError(q, phase.tally.replied, false, opts.timeoutMs);
        throw withTimings(err, this.snapshot(phase.timings, phase.start));
      }
      const highest = newestVersion(phase.tally.merged())?.ts ?? HLC_ZERO;
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
    return this.replicate(key, single(version), placement, opts, deadline, undefined);
  }

  /**
   * Siblings mode: the first reachable replica of the key (this node, when it is one) issues
   * the write, then the coordinator spreads the set it returned. Only a replica in the key's
   * read set may issue: its state holds every dot it gave out, which is what lets a clock stand
   * for what it covers. A node gaining the key in a layout change may have dropped it before,
   * dots and all, so it issues only once it has been synced (and says so when asked early).
   */
  private async writeIssued(
    key: string,
    content: NewContent,
    context: VersionSet['clock'],
    placement: Placement,
    opts: RequestOptions,
    deadline: number,
  ): Promise<WriteResult> {
    const self = this.o.links.self;
    const readers = this.o.placement.readSet(key).filter((n) => placement.up.includes(n));
    const candidates = readers.includes(self)
      ? [self, ...readers.filter((n) => n !== self)]
      : readers;
    if (candidates.length === 0) throw new UnavailableError(1, 0, 'write');
    const start = this.o.clock.monotonicMs();
    for (const issuer of candidates) {
      let set: VersionSet;
      try {
        set = await this.o.links.update(
          issuer,
          key,
          { context, content },
          this.remaining(deadline),
        );
      } catch (err) {
        // Unreachable means the request never left: the next replica may issue it instead.
        // Anything else (a timeout, the sibling cap) leaves the outcome to the caller.
        if (err instanceof PeerError && err.reason === 'unreachable') continue;
        // Its layout says it is not synced for the key (yet, or any more): it issued nothing.
        if (err instanceof NotAnIssuerError) continue;
        if (err instanceof PeerError) throw new TimeoutError(opts.w, 0, true, opts.timeoutMs);
        throw err;
      }
      const issued: ReplicaTiming = {
        node: issuer,
        durMs: this.o.clock.monotonicMs() - start,
        desc: 'ok',
      };
      return this.replicate(key, set, placement, opts, deadline, issued);
    }
    throw new UnavailableError(1, 0, 'write');
  }

  /**
   * Sends `set` to every home replica that is up (but the issuer, which holds it already), to
   * fallbacks for those that are down, and keeps hints for the rest; settles at W acks.
   */
  private async replicate(
    key: string,
    set: VersionSet,
    placement: Placement,
    opts: RequestOptions,
    deadline: number,
    issued: ReplicaTiming | undefined,
  ): Promise<WriteResult> {
    const { pref, up, fallbacks } = placement;
    // Hints for replicas with no stand-in are durable before the write is acknowledged.
    const hinted = pref.filter((node) => !up.includes(node) && !fallbacks.has(node));
    const downHints = hinted.map((node) => this.o.hints.addHint(node, key, set));

    const start = this.o.clock.monotonicMs();
    const targets = up.filter((n) => n !== issued?.node);
    // A stand-in's ack counts for the home it stands in for.
    const homeOf = new Map<string, string>([...fallbacks].map(([home, fb]) => [fb, home]));
    const tally = new SetsWriteTally(placement.sets, new Set([...up, ...fallbacks.keys()]), opts.w);
    const timings = this.initialTimings(pref, up);
    for (const fallback of fallbacks.values())
      timings.push({ node: fallback, durMs: 0, desc: 'pending' });
    if (issued !== undefined) {
      const t = timings.find((x) => x.node === issued.node) as ReplicaTiming;
      t.durMs = issued.durMs;
      t.desc = issued.desc;
      tally.addAck(issued.node);
    }
    if (!tally.isDecided()) {
      await new Promise<void>((resolve) => {
        const settle = (node: string, desc: ReplyStatus, onFail: () => void): void => {
          const t = timings.find((x) => x.node === node) as ReplicaTiming;
          t.durMs = this.o.clock.monotonicMs() - start;
          this.observeLatency(node, t.durMs);
          t.desc = desc;
          const home = homeOf.get(node);
          if (desc !== 'ok') {
            tally.addFailure(home ?? node);
            onFail();
          } else if (home === undefined) {
            this.o.onReplyLatency?.(node, 'write', t.durMs);
            tally.addAck(node);
          } else {
            // A stand-in keeps a hint for its home, not the key: that is what the home got, and
            // its ack says nothing of when a replica has the key (so no latency sample).
            const h = timings.find((x) => x.node === home);
            if (h !== undefined) h.desc = 'hinted';
            tally.addAck(home);
          }
          if (tally.isDecided()) resolve();
        };
        for (const node of targets) {
          // The replica may or may not have applied it; a hint is idempotent either way.
          const onFail = (): void => void this.o.hints.addHint(node, key, set);
          this.o.links.write(node, key, set, this.remaining(deadline)).then(
            () => settle(node, 'ok', onFail),
            (err: unknown) => settle(node, statusOf(err), onFail),
          );
        }
        for (const [home, fallback] of fallbacks) {
          const onFail = (): void => void this.o.hints.addHint(home, key, set);
          this.o.links.handoff(fallback, home, key, set, this.remaining(deadline)).then(
            () => settle(fallback, 'ok', onFail),
            (err: unknown) => settle(fallback, statusOf(err), onFail),
          );
        }
      });
    } else {
      // Decided by the issuer alone (W=1): the others still get it, in the background.
      for (const node of targets) this.sendInBackground(node, key, set, opts.timeoutMs);
      for (const [home, fallback] of fallbacks) {
        this.o.links.handoff(fallback, home, key, set, opts.timeoutMs).catch(() => {
          void this.o.hints.addHint(home, key, set);
        });
      }
    }
    const kept = await Promise.all(downHints);
    hinted.forEach((node, i) => {
      const t = timings.find((x) => x.node === node);
      if (t !== undefined && kept[i] === true) t.desc = 'hinted';
    });
    if (!tally.succeeded()) {
      const err = new TimeoutError(opts.w, tally.ackCount, true, opts.timeoutMs);
      throw withTimings(err, this.snapshot(timings, start));
    }
    return { set, timings: this.snapshot(timings, start) };
  }

  /** The key's home replicas, which are up, and (sloppy quorum) stand-ins for those down. */
  private place(key: string, sloppy: boolean): Placement {
    const sets = this.o.placement.writeSets(key);
    const pref = unionOf(sets);
    const up = pref.filter((id) => this.o.links.isUp(id));
    const fallbacks = new Map<string, string>();
    // Stand-ins only while one layout is live: during a transition a write already goes to
    // two replica sets, and a hint held for a home that is changing owners would be counted
    // toward a set it may never reach.
    const walk = sets.length === 1 ? this.o.placement.walk(key) : [];
    if (sloppy && this.o.sloppyQuorum && up.length < pref.length && walk.length > this.o.n) {
      // The next healthy nodes clockwise, as in Dynamo: the same key always falls back to the
      // same nodes while the same replicas are down.
      const spare = walk.slice(this.o.n).filter((id) => this.o.links.isUp(id));
      for (const home of pref) {
        if (up.includes(home)) continue;
        const fallback = spare.shift();
        if (fallback === undefined) break;
        fallbacks.set(home, fallback);
      }
    }
    return { sets, pref, up, fallbacks };
  }

  /** The fewest replicas (homes up, or stand-ins for them) any of the write's sets can reach. */
  private reachableInEverySet(p: Placement): number {
    return Math.min(
      ...p.sets.map(
        (set) => set.filter((node) => p.up.includes(node) || p.fallbacks.has(node)).length,
      ),
    );
  }

  /**
   * Asks replicas of `key` to read until `needed` have answered or too few are left. With
   * targeted reads it asks `needed` of them, fastest first, and one more for each that fails
   * or is slow; otherwise every one that is up. `complete` settles once every asked replica
   * has answered or failed, for the background repair that follows.
   */
  private collectReads(
    key: string,
    pref: readonly string[],
    up: readonly string[],
    needed: number,
    timeoutMs: number,
  ) {
    const start = this.o.clock.monotonicMs();
    const targeted = this.o.targetedReads;
    const order = targeted ? this.fastestFirst(up) : up;
    const tally = new ReadTally(order.length, needed, this.o.policy);
    const timings = this.initialTimings(pref, up, targeted !== undefined);
    let onDecided!: () => void;
    let onComplete!: () => void;
    const decided = new Promise<void>((r) => (onDecided = r));
    const complete = new Promise<void>((r) => (onComplete = r));
    let next = 0;
    let outstanding = 0;
    let timer: { cancel(): void } | undefined;
    const ask = (why?: 'slow' | 'failed'): void => {
      const node = order[next++] as string;
      if (why !== undefined) this.o.onSpeculate?.(node, why);
      outstanding += 1;
      const t = timings.find((x) => x.node === node) as ReplicaTiming;
      t.desc = 'pending';
      const sentAt = this.o.clock.monotonicMs();
      this.o.links.read(node, key, timeoutMs).then(
        (set) => settle(node, t, sentAt, 'ok', set),
        (err: unknown) => settle(node, t, sentAt, statusOf(err)),
      );
    };
    const speculate = (): void => {
      timer = undefined;
      if (tally.isDecided() || next >= order.length) return;
      // The replicas still out are slower than they were: remember that, and ask the next.
      for (let i = 0; i < next; i++) {
        const node = order[i] as string;
        const t = timings.find((x) => x.node === node) as ReplicaTiming;
        if (t.desc === 'pending') this.observeLatency(node, this.o.clock.monotonicMs() - start);
      }
      ask('slow');
      arm();
    };
    const arm = (): void => {
      if (targeted !== undefined && next < order.length && timer === undefined)
        timer = targeted.timers.after(targeted.speculateMs, speculate);
    };
    const settle = (
      node: string,
      t: ReplicaTiming,
      sentAt: number,
      desc: ReplyStatus,
      set?: VersionSet,
    ): void => {
      const now = this.o.clock.monotonicMs();
      outstanding -= 1;
      t.durMs = now - start;
      t.desc = desc;
      this.observeLatency(node, now - sentAt);
      if (desc === 'ok') {
        this.o.onReplyLatency?.(node, 'read', now - sentAt);
        tally.addReply(node, set);
        // Later writes from this node must stamp above what its reads have seen.
        if (set !== undefined) for (const s of set.siblings) this.o.hlc.observe(s.ts);
      } else {
        tally.addFailure();
        // A failed replica is replaced at once, while the request still has time.
        if (!tally.isDecided() && next < order.length) ask('failed');
      }
      if (tally.isDecided()) {
        timer?.cancel();
        timer = undefined;
        onDecided();
        if (outstanding === 0) onComplete();
      }
    };
    const first = targeted ? Math.min(needed, order.length) : order.length;
    for (let i = 0; i < first; i++) ask();
    if (tally.isDecided()) {
      onDecided();
      if (outstanding === 0) onComplete();
    } else arm();
    return { tally, timings, decided, complete, start };
  }

  /** This node first (its reads cross no network), then peers by recent latency. */
  private fastestFirst(up: readonly string[]): string[] {
    const self = this.o.links.self;
    const peers = up.filter((n) => n !== self);
    // Unmeasured peers count as fast, so each gets tried; ties keep preference-list order.
    peers.sort((a, b) => (this.latency.get(a) ?? 0) - (this.latency.get(b) ?? 0));
    return up.includes(self) ? [self, ...peers] : peers;
  }

  private observeLatency(node: string, ms: number): void {
    if (node === this.o.links.self) return;
    const prev = this.latency.get(node);
    this.latency.set(node, prev === undefined ? ms : prev + LATENCY_EWMA_WEIGHT * (ms - prev));
  }

  /** Sends `set` to stale replicas; settles as soon as `needed` acks are in (or cannot be). */
  private writeBack(
    key: string,
    set: VersionSet,
    nodes: readonly string[],
    needed: number,
    timeoutMs: number,
  ): Promise<number> {
    return new Promise((resolve) => {
      let acks = 0;
      let failures = 0;
      for (const node of nodes) {
        this.o.links.write(node, key, set, timeoutMs).then(
          () => {
            acks += 1;
            if (acks >= needed || acks + failures === nodes.length) resolve(acks);
          },
          () => {
            failures += 1;
            void this.o.hints.addHint(node, key, set);
            if (nodes.length - failures < needed || acks + failures === nodes.length) resolve(acks);
          },
        );
      }
    });
  }

  private remaining(deadline: number): number {
    return Math.max(1, Math.ceil(deadline - this.o.clock.monotonicMs()));
  }

  private sendInBackground(node: string, key: string, set: VersionSet, timeoutMs: number): void {
    this.o.links.write(node, key, set, timeoutMs).catch(() => {
      void this.o.hints.addHint(node, key, set);
    });
  }

  private repairInBackground(node: string, key: string, set: VersionSet, timeoutMs: number): void {
    this.o.onReadRepair?.(node);
    this.o.links.write(node, key, set, timeoutMs).catch((err: unknown) => {
      this.o.onBackgroundError?.(`read repair of ${node}`, err);
    });
  }

  /** Replicas that are up start `pending`, or `unasked` until a targeted read asks them. */
  private initialTimings(
    pref: readonly string[],
    up: readonly string[],
    unasked = false,
  ): ReplicaTiming[] {
    return pref.map((node) => ({
      node,
      durMs: 0,
      desc: up.includes(node) ? (unasked ? 'unasked' : 'pending') : 'down',
    }));
  }

  /** Freezes the timings as of the response: replicas still out are pending, unasked ones left out. */
  private snapshot(timings: readonly ReplicaTiming[], start: number): ReplicaTiming[] {
    const elapsed = this.o.clock.monotonicMs() - start;
    const out: ReplicaTiming[] = [];
    for (const t of timings)
      if (t.desc !== 'unasked') out.push({ ...t, durMs: t.desc === 'pending' ? elapsed : t.durMs });
    return out;
  }
}
