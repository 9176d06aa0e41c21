// One node's part in elastic membership: it keeps the layout history (src/core/layout.ts)
// durably, gossips it, answers consensus as an acceptor and proposes changes, and moves its own
// trackers along a transition: ack once no write it started under an older history is still
// out, sync once it has pushed every key it holds to that key's new owners, syncAck once every
// node has synced. The coordinator sees the result through placement().

import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { repeat, type Timers } from '../core/clock.js';
import {
  acceptorStep,
  compareBallots,
  propose,
  type AcceptorState,
  type PaxosReply,
  type PaxosRequest,
} from '../core/consensus.js';
import { ConflictError, NoMajorityError } from '../core/errors.js';
import {
  advance,
  applyDecided,
  excuse,
  initialHistory,
  isMember,
  isSettled,
  liveNodes,
  layoutFromWire,
  layoutToWire,
  merge,
  minTracker,
  newestVersion,
  proposeChange,
  proposedFromWire,
  proposedToWire,
  readSet,
  replicaSets,
  ringOf,
  sameHistory,
  sameProposal,
  trackedNodes,
  type LayoutChange,
  type LayoutHistory,
  type LayoutNode,
  type ProposedLayout,
} from '../core/layout.js';
import type { KeyPlacement } from '../core/placement.js';
import type { VersionSet } from '../core/version-set.js';
import type { PeerReplyBody, PeerRequestBody } from '../net/messages.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { MembershipServer } from './peer-handler.js';

const LAYOUT_META = 'layout';
const KNOWN_META = 'layoutKnown';
const ROUND_META = 'paxosRound';
const acceptorMeta = (slot: number) => `paxos:${slot}`;

export interface MembershipOptions {
  readonly self: string;
  readonly n: number;
  /** Node ids the cluster has known, departed ones included (a join's answer carries them). */
  readonly known?: readonly string[];
  /** The layout a node starts from when its data holds none (cluster.json, or a join's answer). */
  readonly initial: readonly LayoutNode[] | LayoutHistory;
  readonly store: Pick<
    ReplicaStore,
    'get' | 'getMeta' | 'putMeta' | 'entries' | 'pendingHints' | 'hintsFor' | 'deleteHint' | 'purge'
  >;
  readonly request: (
    peer: string,
    body: PeerRequestBody,
    timeoutMs: number,
  ) => Promise<PeerReplyBody>;
  /** Merges `set` into what `node` holds (the sync push); rejects when it did not. */
  readonly write: (node: string, key: string, set: VersionSet, timeoutMs: number) => Promise<void>;
  /** Refuses tombstone purges of `key` here until the release is called (see handOver). */
  readonly holdPurges: (key: string) => () => void;
  readonly timeoutMs: number;
  readonly timers: Timers;
  readonly random: () => number;
  readonly nowMs: () => number;
  readonly logger: Logger;
  /** The history changed (it is durable by then); `prev` is what it was. */
  readonly onChange: (h: LayoutHistory, prev: LayoutHistory) => void;
  /** This node is in no live version any more: it has left the cluster. */
  readonly onLeft?: () => void;
}

export class Membership implements MembershipServer {
  private h: LayoutHistory;
  /** Acceptor state per slot, as persisted; only slots above the oldest live version are kept. */
  private readonly acceptors = new Map<number, AcceptorState<ProposedLayout>>();
  /** One acceptor step (load, step, persist) at a time, so two requests never interleave. */
  private acceptorChain: Promise<unknown> = Promise.resolve();
  /** One history write at a time, in order. */
  private persistChain: Promise<unknown> = Promise.resolve();
  /** Writes in flight, by the newest layout version when they began. */
  private readonly writesByVersion = new Map<number, number>();
  private proposing = false;
  /** Keys written here that this node does not own in the settled layout (noteChange). */
  private readonly strays = new Set<string>();
  private handingOver = false;
  private rehoming = false;
  /** Ticks an accepted version for the next slot has waited to show up in the history. */
  private stalledTicks = 0;
  private syncing: number | undefined;
  /** The settled version whose non-owned keys this node has dropped (0: none yet, this run). */
  private cleaned = 0;
  private cleaning = false;
  private timer: { cancel(): void } | undefined;
  private left = false;
  private lastPushed: LayoutHistory | undefined;
  private keysSentThisSecond = 0;
  /**
   * Nodes pruned from the layout lately, until when: they are still gossiped to (and stay the
   * transport's peers), so a node that left alive learns that it has, and says its last word.
   */
  private readonly departed = new Map<string, { node: LayoutNode; untilMs: number }>();
  /** Every node id this node has seen in a layout: dots of departed nodes stay in clocks. */
  private readonly everKnown = new Set<string>();
  private secondStartedMs = 0;

  private constructor(
    private readonly o: MembershipOptions,
    h: LayoutHistory,
  ) {
    this.h = h;
  }

  /** Loads the history this node's data holds, or starts from `o.initial` and stores it. */
  static async open(o: MembershipOptions): Promise<Membership> {
    const saved = await o.store.getMeta(LAYOUT_META);
    const start =
      saved !== undefined
        ? layoutFromWire(JSON.parse(saved))
        : 'versions' in o.initial
          ? o.initial
          : initialHistory(o.initial);
    const m = new Membership(o, start);
    const known = await o.store.getMeta(KNOWN_META);
    for (const id of known === undefined ? [] : (JSON.parse(known) as string[]))
      m.everKnown.add(id);
    // Kept by the persist below, which stores the known ids when they grew.
    for (const id of o.known ?? []) m.everKnown.add(id);
    if (saved === undefined) await m.persist(start, true);
    else m.noteKnown(start);
    return m;
  }

  history(): LayoutHistory {
    return this.h;
  }

  /** Every node id this node has seen in a layout, sorted. */
  knownIds(): string[] {
    return [...this.everKnown].sort();
  }

  /** Whether `id` is or was a node of this cluster, as far as this node has seen. */
  known(id: string): boolean {
    return this.everKnown.has(id);
  }

  /** Every node of every live version but this one. */
  peers(): LayoutNode[] {
    return liveNodes(this.h).filter((m) => m.id !== this.o.self);
  }

  /** The transport's peers: peers(), and the nodes that left lately (see `departed`). */
  linkPeers(): LayoutNode[] {
    const live = this.peers();
    const extra = [...this.departed.values()]
      .map((d) => d.node)
      .filter((m) => m.id !== this.o.self && !live.some((x) => x.id === m.id));
    return [...live, ...extra];
  }

  /** The coordinator's view: reads ask the read version, writes W in every live version. */
  placement(): KeyPlacement {
    return {
      readSet: (key) => readSet(this.h, key, this.o.n),
      writeSets: (key) => replicaSets(this.h, key, this.o.n).write,
      walk: (key) => {
        const ring = ringOf(newestVersion(this.h));
        return ring.preferenceList(key, ring.nodes.length);
      },
      beginWrite: () => {
        const v = newestVersion(this.h).version;
        this.writesByVersion.set(v, (this.writesByVersion.get(v) ?? 0) + 1);
        return () => {
          const left = (this.writesByVersion.get(v) ?? 1) - 1;
          if (left === 0) this.writesByVersion.delete(v);
          else this.writesByVersion.set(v, left);
        };
      },
    };
  }

  start(): void {
    this.timer = repeat(
      this.o.timers,
      () => LIMITS.layoutTickMs,
      () => this.background('layout tick', this.tick()),
    );
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  // ---- Serving peers.

  async gossip(_from: string, history: LayoutHistory): Promise<LayoutHistory> {
    await this.learn(history);
    return this.h;
  }

  accept(_from: string, req: PaxosRequest<ProposedLayout>): Promise<PaxosReply<ProposedLayout>> {
    const run = this.acceptorChain.then(async () => {
      const state = await this.acceptorState(req.slot);
      const step = acceptorStep(state, req);
      if (step.state !== state) {
        // Durable before the reply: an acceptor that forgot a promise could let two values win.
        await this.o.store.putMeta(acceptorMeta(req.slot), JSON.stringify(stateToWire(step.state)));
        this.acceptors.set(req.slot, step.state);
      }
      return step.reply;
    });
    this.acceptorChain = run.catch(() => undefined);
    return run;
  }

  // ---- Changing the layout.

  /**
   * Puts `change` to consensus among the newest version's nodes and applies the decision. If
   * another change won the slot, that one is applied and this one fails with 409 (retry it
   * once the layout has settled).
   */
  async change(change: LayoutChange): Promise<LayoutHistory> {
    // A join retried by a node whose first answer was lost: it is in the newest version and
    // has never acknowledged it (so it never started). Answer as the first time.
    if (change.kind === 'join' && this.joiningUnstarted(change.node)) return this.h;
    // A dead node holding up the transition under way (a joiner that never started, a member
    // that died): excused from it, so the transition ends without it. One still a member then
    // is removed by a leave once the layout has settled.
    if (change.kind === 'leave' && change.dead && !isSettled(this.h)) {
      await this.learn(excuse(this.h, change.id));
      this.o.logger.info(
        { node: change.id, version: newestVersion(this.h).version },
        'excused a dead node from the layout change in progress',
      );
      return this.h;
    }
    if (this.proposing) {
      throw new ConflictError('this node is already proposing a layout change; retry when it has');
    }
    this.proposing = true;
    try {
      const proposal = proposeChange(this.h, change, this.o.n);
      const decision = await this.decide(proposal);
      if (!decision.ownValueWon) {
        throw new ConflictError(
          `another layout change won version ${decision.decided.next.version}; retry when GET /admin/layout says settled`,
        );
      }
      return this.h;
    } finally {
      this.proposing = false;
    }
  }

  /** Puts `proposal` to consensus among the newest version's nodes and applies what won. */
  private async decide(proposal: ProposedLayout) {
    const acceptors = newestVersion(this.h).nodes.map((m) => m.id);
    const saved = Number((await this.o.store.getMeta(ROUND_META)) ?? '0');
    // Above every round this node used before (saved after each proposal) and, should it have
    // crashed mid-proposal, above the rounds of that one too unless its clock went back.
    const roundMin = Math.max(saved + 1, this.o.nowMs());
    const decision = await propose<ProposedLayout>(
      {
        self: this.o.self,
        acceptors,
        send: (to, req, timeoutMs) =>
          to === this.o.self ? this.accept(to, req) : this.sendPaxos(to, req, timeoutMs),
        equals: sameProposal,
        timers: this.o.timers,
        random: this.o.random,
        timeoutMs: LIMITS.consensusTimeoutMs,
        attemptsMax: LIMITS.consensusAttemptsMax,
        backoffMinMs: LIMITS.consensusBackoffMinMs,
        backoffMaxMs: LIMITS.consensusBackoffMaxMs,
      },
      proposal.next.version,
      proposal,
      roundMin,
    );
    await this.o.store.putMeta(ROUND_META, String(decision.ballot.round));
    const decided = decision.decided;
    await this.learn(applyDecided(this.h, decided.next, decided.excused));
    this.o.logger.info(
      { version: decided.next.version, nodes: decided.next.nodes.map((m) => m.id) },
      'layout change decided',
    );
    this.background('layout push', this.pushToAll());
    return decision;
  }

  private joiningUnstarted(node: LayoutNode): boolean {
    const newest = newestVersion(this.h);
    const same = newest.nodes.find((m) => m.id === node.id);
    return (
      same !== undefined &&
      same.http === node.http &&
      same.peer === node.peer &&
      !isSettled(this.h) &&
      !this.h.versions[0]!.nodes.some((m) => m.id === node.id) &&
      (this.h.trackers.ack[node.id] ?? 0) < newest.version
    );
  }

  /**
   * A version this node's acceptor accepted but that no history holds after a few ticks: its
   * proposer may have died between the vote and telling anyone. Proposing it again learns the
   * value that was chosen for the slot (Paxos keeps it) and applies that.
   */
  private async finishDecided(): Promise<void> {
    const slot = newestVersion(this.h).version + 1;
    const state = await this.acceptorState(slot);
    if (state.accepted === undefined || this.proposing) {
      this.stalledTicks = 0;
      return;
    }
    if (++this.stalledTicks < LIMITS.layoutRecoverAfterTicks) return;
    this.stalledTicks = 0;
    this.proposing = true;
    try {
      this.o.logger.info({ version: slot }, 'finishing a layout change its proposer left undone');
      await this.decide(state.accepted.value);
    } catch (err) {
      // Cut off from a majority (a partition): the change stays accepted here, and a later
      // tick tries again.
      if (!(err instanceof NoMajorityError)) throw err;
      this.o.logger.info(
        { version: slot, err: err.message },
        'finishing a layout change: no majority yet',
      );
    } finally {
      this.proposing = false;
    }
  }

  /**
   * Whether this node has accepted a change for the next version that it has not seen decided:
   * a proposal that may yet be chosen (its proposer's answer said "may or may not"), which a
   * later tick finishes. A quiet cluster has none.
   */
  async unfinishedChange(): Promise<boolean> {
    const state = await this.acceptorState(newestVersion(this.h).version + 1);
    return state.accepted !== undefined;
  }

  // ---- Background: gossip and trackers.

  /** One tick: gossip, then move this node's trackers along if it can. */
  async tick(): Promise<void> {
    if (this.left) return;
    const now = this.o.nowMs();
    const expired = [...this.departed].filter(([, d]) => d.untilMs <= now).map(([id]) => id);
    if (expired.length > 0) {
      for (const id of expired) this.departed.delete(id);
      this.o.onChange(this.h, this.h);
    }
    await this.gossipRound();
    await this.finishDecided();
    const h = this.h;
    const self = this.o.self;
    if (!isMember(h, self)) return this.leave();
    if (isSettled(h)) {
      const v = newestVersion(h).version;
      if (this.strays.size > 0 && !this.handingOver && this.cleaned === v) {
        this.handingOver = true;
        this.background(
          'handing over keys this node does not own',
          this.handOverStrays().finally(() => (this.handingOver = false)),
        );
      }
      // Hints kept for a node that has left since the last sync pass (a write during the
      // transition found it down): its replicas are the newest owners now.
      const newest = newestVersion(h);
      const foreign = [...this.o.store.pendingHints()].some(
        ([target, count]) => count > 0 && !newest.nodes.some((m) => m.id === target),
      );
      if (foreign && !this.rehoming) {
        this.rehoming = true;
        this.rehomeHints(h)
          .catch((err: unknown) =>
            // An owner unreachable for now: tried again next tick.
            this.o.logger.info(
              { err: (err as Error).message },
              're-homing hints for nodes that left: incomplete, retrying',
            ),
          )
          .finally(() => (this.rehoming = false));
      }
      if (this.cleaned < v && !this.cleaning) {
        this.cleaning = true;
        this.background(
          'dropping keys no longer owned',
          this.dropUnowned(h, v).finally(() => (this.cleaning = false)),
        );
      }
      return;
    }
    const v = newestVersion(h).version;
    const mine = (t: 'ack' | 'sync' | 'syncAck') => h.trackers[t][self] ?? 0;
    if (!trackedNodes(h).includes(self)) {
      // Excused (taken for dead), but running after all: its store may hold writes no other
      // replica has (acknowledged at w=1), so it pushes its keys to the new owners anyway.
      // Nobody waits for it; the transition may end first.
      if (h.excused.includes(self) && mine('sync') < v && this.syncing !== v) {
        this.syncing = v;
        this.background(
          'layout sync pass of an excused node',
          this.syncPass(h, v).finally(() => (this.syncing = undefined)),
        );
      }
      return;
    }
    if (mine('ack') < v) {
      if (this.olderWritesInFlight(v)) return;
      await this.learn(advance(this.h, self, 'ack', v));
    } else if (mine('sync') < v && minTracker(h, 'ack') >= v) {
      if (this.syncing === v) return;
      this.syncing = v;
      this.background(
        'layout sync pass',
        this.syncPass(h, v).finally(() => (this.syncing = undefined)),
      );
    } else if (mine('syncAck') < v && minTracker(h, 'sync') >= v) {
      await this.learn(advance(this.h, self, 'syncAck', v));
    }
  }

  /** Work no caller waits for: a failure (a store that cannot write) is logged, not thrown. */
  private background(what: string, work: Promise<unknown>): void {
    work.catch((err: unknown) => this.o.logger.error({ err }, `${what} failed`));
  }

  private olderWritesInFlight(v: number): boolean {
    for (const [started, count] of this.writesByVersion) if (started < v && count > 0) return true;
    return false;
  }

  /**
   * Pushes every key this node holds as an owner in the old version to its owners in the new
   * one that were not owners before: every write a key's old owners acknowledged reaches the
   * new owners from each of them, so whichever old owners hold it, the new set ends up with at
   * least as many holders as the write had.
   */
  private async syncPass(h: LayoutHistory, v: number): Promise<void> {
    const self = this.o.self;
    let pushed = 0;
    try {
      for await (const [key, set] of this.o.store.entries()) {
        if (newestVersion(this.h).version !== v) return;
        const [oldPref, newPref] = replicaSets(h, key, this.o.n).write as [string[], string[]];
        if (newPref === undefined || !oldPref.includes(self)) continue;
        for (const target of newPref) {
          if (oldPref.includes(target) || target === self) continue;
          // Excused: presumed dead; anti-entropy fills it should it come back a member.
          if (this.h.excused.includes(target)) continue;
          await this.paced();
          await this.o.write(target, key, set, this.o.timeoutMs);
          pushed += 1;
        }
      }
      pushed += await this.rehomeHints(h);
    } catch (err) {
      // Usual while a new owner is still connecting; the pass runs again next tick.
      this.o.logger.info(
        { err: (err as Error).message, version: v, pushed },
        'layout sync pass incomplete; retrying',
      );
      return;
    }
    this.o.logger.info({ version: v, pushed }, 'layout sync pass done');
    await this.learn(advance(this.h, self, 'sync', v));
  }

  /**
   * Hints this node holds that the newest version has no one to deliver them to: those for a
   * node that is leaving, and, when this node is leaving itself, all of them (a stand-in's hint
   * may be the only copy of a write sloppy quorum acknowledged). Each goes to its target when
   * the target stays a member, else to every owner of its key in the newest version, and is
   * then dropped. Throws (the pass is retried) if one cannot be delivered.
   */
  private async rehomeHints(h: LayoutHistory): Promise<number> {
    const self = this.o.self;
    const newest = newestVersion(h);
    const stays = (id: string) => newest.nodes.some((m) => m.id === id);
    const leaving = !stays(self);
    let sent = 0;
    for (const [target, count] of this.o.store.pendingHints()) {
      if (count === 0 || (stays(target) && !leaving)) continue;
      for (;;) {
        const batch = await this.o.store.hintsFor(target, LIMITS.hintReplayBatchMax);
        if (batch.length === 0) break;
        for (const hint of batch) {
          const owners = ringOf(newest)
            .preferenceList(hint.key, Math.min(this.o.n, newest.nodes.length))
            .filter((id) => !h.excused.includes(id));
          // A target that stays and answers gets its hint; otherwise the key's owners take it
          // (a target that stays is one of them or will get the key from them by anti-entropy).
          await this.paced();
          const delivered =
            stays(target) &&
            (await this.o.write(target, hint.key, hint.set, this.o.timeoutMs).then(
              () => true,
              () => false,
            ));
          if (!delivered) {
            for (const node of owners) {
              await this.paced();
              // To this node itself too: the write merges into its own store.
              await this.o.write(node, hint.key, hint.set, this.o.timeoutMs);
            }
          }
          sent += 1;
          await this.o.store.deleteHint(hint);
        }
      }
    }
    return sent;
  }

  /**
   * Once a layout has settled, drops the keys this node no longer owns: their owners hold them
   * (the sync put them there), and a stale copy kept here could come back as a live value if
   * this node owned the key again after a delete of it had been purged. A key written here
   * since the scan read it is left alone (purge drops only exactly the set read).
   */
  private async dropUnowned(h: LayoutHistory, v: number): Promise<void> {
    const self = this.o.self;
    let dropped = 0;
    try {
      for await (const [key] of this.o.store.entries()) {
        if (newestVersion(this.h).version !== v || !isSettled(this.h)) return;
        if (replicaSets(h, key, this.o.n).read.includes(self)) continue;
        if (await this.handOver(h, key)) dropped += 1;
      }
    } catch (err) {
      // An owner unreachable for now: the pass runs again next tick.
      this.o.logger.info(
        { err: (err as Error).message, version: v },
        'handing over keys this node no longer owns: incomplete, retrying',
      );
      return;
    }
    this.cleaned = v;
    if (dropped > 0)
      this.o.logger.info({ version: v, dropped }, 'dropped keys this node no longer owns');
  }

  /**
   * Gives a key this node does not own to its owners, then drops it here. The copy may hold a
   * write the owners lack (a hint replayed to a former owner, a repair from a node that had
   * not heard of the layout yet), so it is sent before it is dropped.
   */
  private async handOver(h: LayoutHistory, key: string): Promise<boolean> {
    // Read under the hold: a purge that came first has dropped the copy (it superseded it),
    // and one that comes later is refused until the owners have it, so GC keeps its tombstone
    // somewhere to supersede the stale copy again instead of the copy outliving the purge.
    const release = this.o.holdPurges(key);
    try {
      const set = await this.o.store.get(key);
      if (set === undefined) return true;
      for (const owner of replicaSets(h, key, this.o.n).read) {
        await this.paced();
        await this.o.write(owner, key, set, this.o.timeoutMs);
      }
      return await this.o.store.purge(key, set);
    } finally {
      release();
    }
  }

  /** Whether one layout version is live (its ring is then the only one). */
  settled(): boolean {
    return isSettled(this.h);
  }

  /**
   * `key` was written here though this node does not own it in the settled layout: a stray
   * (see handOver), handed over on a later tick. The caller has the preference list at hand.
   */
  noteStray(key: string): void {
    // Bounded: past it, the next settled tick makes a full pass instead.
    if (this.strays.size >= LIMITS.layoutStraysMax) this.cleaned = 0;
    else this.strays.add(key);
  }

  private async handOverStrays(): Promise<void> {
    const h = this.h;
    for (const key of [...this.strays]) {
      if (!replicaSets(h, key, this.o.n).read.includes(this.o.self)) {
        // Kept on failure (an owner unreachable): tried again on a later tick.
        if (!(await this.handOver(h, key).catch(() => false))) continue;
      }
      this.strays.delete(key);
    }
  }

  /** Holds the sync push to layoutSyncKeysPerSecondMax. */
  private async paced(): Promise<void> {
    const now = this.o.nowMs();
    if (now - this.secondStartedMs >= 1_000) {
      this.secondStartedMs = now;
      this.keysSentThisSecond = 0;
    }
    if (this.keysSentThisSecond >= LIMITS.layoutSyncKeysPerSecondMax) {
      const waitMs = 1_000 - (now - this.secondStartedMs);
      await new Promise<void>((resolve) => this.o.timers.after(waitMs, resolve));
      this.secondStartedMs = this.o.nowMs();
      this.keysSentThisSecond = 0;
    }
    this.keysSentThisSecond += 1;
  }

  /** During a transition every member each tick; settled, one at random when nothing changed. */
  private async gossipRound(): Promise<void> {
    const peers = this.peers().map((m) => m.id);
    if (peers.length === 0) return;
    const changed = this.lastPushed === undefined || !sameHistory(this.lastPushed, this.h);
    if (!isSettled(this.h) || changed) {
      await this.pushToAll();
      return;
    }
    await this.exchange(peers[Math.floor(this.o.random() * peers.length)] as string);
  }

  private async pushToAll(): Promise<void> {
    this.lastPushed = this.h;
    await Promise.all(this.linkPeers().map((m) => this.exchange(m.id)));
  }

  private async exchange(peer: string): Promise<void> {
    try {
      const reply = await this.o.request(
        peer,
        { type: 'layout', history: this.h },
        this.o.timeoutMs,
      );
      if (reply.type === 'layoutReply') await this.learn(reply.history);
    } catch {
      // A peer that is down or slow learns the history from a later round.
    }
  }

  /** This node has left: it keeps answering gossip a while, so the others see its last word. */
  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.o.logger.info({ self: this.o.self }, 'this node is no longer in the layout; leaving');
    this.background('layout push', this.pushToAll());
    // Hints kept since the sync pass (writes during the transition that found a node down):
    // handed on while the node lingers, best effort (a hint is never a write's only copy
    // outside sloppy quorum, which a transition turns off).
    this.rehomeHints(this.h).catch((err: unknown) =>
      this.o.logger.info(
        { err: (err as Error).message },
        'handing on hints before leaving: incomplete',
      ),
    );
    this.o.timers.after(LIMITS.layoutLeaveLingerMs, () => this.o.onLeft?.());
  }

  /** Merges `other` in; when that changes anything, stores it, then tells the node. */
  private async learn(other: LayoutHistory): Promise<void> {
    const prev = this.h;
    const next = merge(prev, other);
    if (next === prev || sameHistory(next, prev)) return;
    this.h = next;
    const live = new Set(liveNodes(next).map((m) => m.id));
    for (const node of liveNodes(prev)) {
      const id = node.id;
      if (!live.has(id)) {
        this.departed.set(id, { node, untilMs: this.o.nowMs() + LIMITS.layoutLeaveLingerMs });
      }
    }
    for (const id of live) this.departed.delete(id);
    await this.persist(next);
    for (const slot of [...this.acceptors.keys()]) {
      if (slot <= next.versions[0]!.version) this.acceptors.delete(slot);
    }
    this.o.onChange(next, prev);
  }

  private persist(h: LayoutHistory, storeKnown = false): Promise<void> {
    const text = JSON.stringify(layoutToWire(h));
    const grew = this.noteKnown(h) || storeKnown;
    const known = grew ? JSON.stringify([...this.everKnown].sort()) : undefined;
    const run = this.persistChain.then(async () => {
      if (known !== undefined) await this.o.store.putMeta(KNOWN_META, known);
      await this.o.store.putMeta(LAYOUT_META, text);
    });
    this.persistChain = run.catch(() => undefined);
    return run;
  }

  /** Adds the nodes of `h` to everKnown; true if that added any. */
  private noteKnown(h: LayoutHistory): boolean {
    const before = this.everKnown.size;
    for (const v of h.versions) for (const m of v.nodes) this.everKnown.add(m.id);
    return this.everKnown.size > before;
  }

  private async acceptorState(slot: number): Promise<AcceptorState<ProposedLayout>> {
    const cached = this.acceptors.get(slot);
    if (cached !== undefined) return cached;
    const saved = await this.o.store.getMeta(acceptorMeta(slot));
    const state = saved === undefined ? {} : stateFromWire(JSON.parse(saved));
    this.acceptors.set(slot, state);
    return state;
  }

  private async sendPaxos(
    to: string,
    req: PaxosRequest<ProposedLayout>,
    timeoutMs: number,
  ): Promise<PaxosReply<ProposedLayout>> {
    const reply = await this.o.request(to, { type: 'paxos', req }, timeoutMs);
    if (reply.type !== 'paxosReply')
      throw new Error(`${to} answered a Paxos request with ${reply.type}`);
    return reply.reply;
  }
}

// Acceptor state on disk: ballots as they are, the accepted value in its wire form.
interface AcceptorWire {
  promised?: { round: number; node: string };
  accepted?: { ballot: { round: number; node: string }; value: unknown };
}

function stateToWire(s: AcceptorState<ProposedLayout>): AcceptorWire {
  return {
    ...(s.promised ? { promised: s.promised } : {}),
    ...(s.accepted
      ? { accepted: { ballot: s.accepted.ballot, value: proposedToWire(s.accepted.value) } }
      : {}),
  };
}

function stateFromWire(x: AcceptorWire): AcceptorState<ProposedLayout> {
  const promised = x.promised;
  const accepted = x.accepted;
  if (promised !== undefined && accepted !== undefined) {
    // A promise is never below what was accepted; a state that says so was not written here.
    if (compareBallots(promised, accepted.ballot) < 0) throw new Error('corrupt acceptor state');
  }
  return {
    ...(promised ? { promised } : {}),
    ...(accepted
      ? { accepted: { ballot: accepted.ballot, value: proposedFromWire(accepted.value) } }
      : {}),
  };
}
