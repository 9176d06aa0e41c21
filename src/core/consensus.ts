// Single-decree Paxos (Lamport, "Paxos Made Simple", 2001), one instance per slot: a slot is
// the layout version being decided, so two operators changing the layout at once cannot both
// win. The acceptor is a pure step function whose state the caller persists; the proposer
// reaches acceptors (its own node's included) only through an injected `send`, so the same code
// runs over TCP and in a seeded simulation.

import type { Timers } from './clock.js';
import { NoMajorityError } from './errors.js';
import { majority } from './quorum.js';

/** Totally ordered by round, then node id, so no two proposers ever use the same ballot. */
export interface Ballot {
  readonly round: number;
  readonly node: string;
}

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  // Code-unit order, not localeCompare: every node must order the same ids the same way.
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

export interface AcceptedValue<V> {
  readonly ballot: Ballot;
  readonly value: V;
}

/**
 * One acceptor's state for one slot. The caller persists it durably before sending the reply
 * that goes with it: an acceptor that forgets a promise or an acceptance in a crash can let
 * two different values be chosen.
 */
export interface AcceptorState<V> {
  /** The highest ballot promised (or accepted at); requests below it are refused. */
  readonly promised?: Ballot;
  /** The value accepted at the highest ballot so far. */
  readonly accepted?: AcceptedValue<V>;
}

/** Phase 1a: asks acceptors to refuse every ballot below `ballot` in this slot. */
export interface PrepareRequest {
  readonly kind: 'prepare';
  readonly slot: number;
  readonly ballot: Ballot;
}

/** Phase 2a: asks acceptors to accept `value` at `ballot` in this slot. */
export interface AcceptRequest<V> {
  readonly kind: 'accept';
  readonly slot: number;
  readonly ballot: Ballot;
  readonly value: V;
}

export type PaxosRequest<V> = PrepareRequest | AcceptRequest<V>;

/**
 * Phase 1b. ok: the acceptor promised the request's ballot (`promised` is that ballot) and says
 * what it accepted before, if anything. Not ok: it had promised `promised`, a higher ballot.
 */
export interface PromiseReply<V> {
  readonly kind: 'promise';
  readonly ok: boolean;
  readonly promised: Ballot;
  readonly accepted?: AcceptedValue<V>;
}

/** Phase 2b. Not ok: the acceptor had promised `promised`, a higher ballot. */
export interface AcceptedReply {
  readonly kind: 'accepted';
  readonly ok: boolean;
  readonly promised: Ballot;
}

export type PaxosReply<V> = PromiseReply<V> | AcceptedReply;

export interface AcceptorStep<V> {
  /**
   * The same object as the state given when nothing changed, so the caller can skip the write
   * (but not the wait for its earlier writes still in flight, which the reply may depend on).
   */
  readonly state: AcceptorState<V>;
  readonly reply: PaxosReply<V>;
}

/** What an acceptor does with one request for the slot whose state it is given. Pure. */
export function acceptorStep<V>(state: AcceptorState<V>, req: PaxosRequest<V>): AcceptorStep<V> {
  checkSlot(req.slot);
  checkBallot(req.ballot);
  const promised = state.promised;
  // An equal ballot is granted again: a ballot belongs to one attempt of one proposer, so an
  // equal one is a retransmission and gets the answer the first copy got.
  const order = promised === undefined ? 1 : compareBallots(req.ballot, promised);
  switch (req.kind) {
    case 'prepare': {
      if (promised !== undefined && order < 0)
        return { state, reply: { kind: 'promise', ok: false, promised } };
      const next = order === 0 ? state : { ...state, promised: req.ballot };
      const reply: PromiseReply<V> =
        state.accepted === undefined
          ? { kind: 'promise', ok: true, promised: req.ballot }
          : { kind: 'promise', ok: true, promised: req.ballot, accepted: state.accepted };
      return { state: next, reply };
    }
    case 'accept': {
      if (promised !== undefined && order < 0)
        return { state, reply: { kind: 'accepted', ok: false, promised } };
      const again =
        state.accepted !== undefined && compareBallots(state.accepted.ballot, req.ballot) === 0;
      const next = again
        ? state
        : { promised: req.ballot, accepted: { ballot: req.ballot, value: req.value } };
      return { state: next, reply: { kind: 'accepted', ok: true, promised: req.ballot } };
    }
    default: {
      const unknown: never = req;
      throw new Error(`unknown Paxos request ${JSON.stringify(unknown)}`);
    }
  }
}

export interface ProposerDeps<V> {
  /** This node's id: the `node` of every ballot it proposes with. */
  readonly self: string;
  /** The voters: members of the current layout, this node among them if it is one. */
  readonly acceptors: readonly string[];
  /**
   * Delivers one request (to this node's own acceptor too: the caller routes local calls) and
   * resolves with the reply; rejects on timeout or when the acceptor is unreachable.
   */
  send(to: string, req: PaxosRequest<V>, timeoutMs: number): Promise<PaxosReply<V>>;
  /** Whether two values are the same, for `ownValueWon` (values may have crossed the wire). */
  readonly equals: (a: V, b: V) => boolean;
  readonly timers: Timers;
  /** Uniform in [0, 1): backoff jitter. */
  readonly random: () => number;
  /** How long one prepare or accept waits for each acceptor. */
  readonly timeoutMs: number;
  /** Ballots tried before giving up. */
  readonly attemptsMax: number;
  /** Backoff between ballots doubles from min to max, with jitter. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export interface Decision<V> {
  /** The value chosen for the slot: this proposer's own, or one it found already accepted. */
  readonly decided: V;
  readonly ownValueWon: boolean;
  /** The ballot at which a majority accepted `decided`. */
  readonly ballot: Ballot;
  /** Ballots tried, the deciding one included. */
  readonly attempts: number;
}

/**
 * Proposes `value` for `slot` and resolves with the value chosen, which is another proposer's
 * when one got there first. Rejects with NoMajorityError after attemptsMax ballots without a
 * majority; a value may have been chosen even so, and proposing again learns which.
 *
 * Ballots must never repeat, or two values can be accepted at one ballot: run one propose per
 * slot per node at a time, and after a restart pass a `roundMin` above every round this node
 * used for the slot before (persisted by the caller; rounds grow by one or more per attempt).
 */
export async function propose<V>(
  deps: ProposerDeps<V>,
  slot: number,
  value: V,
  roundMin = 1,
): Promise<Decision<V>> {
  checkSlot(slot);
  checkDeps(deps);
  const needed = majority(deps.acceptors.length);
  let round = roundMin;
  let answered = 0;
  let outbid = false;
  for (let attempt = 1; ; attempt++) {
    const ballot: Ballot = { round, node: deps.self };
    checkBallot(ballot);
    const result = await tryBallot(deps, slot, ballot, value, needed);
    if (result.decided !== undefined) {
      const ownValueWon = deps.equals(result.decided, value);
      return { decided: result.decided, ownValueWon, ballot, attempts: attempt };
    }
    answered = Math.max(answered, result.answered);
    outbid ||= result.highest !== undefined;
    if (attempt >= deps.attemptsMax) {
      throw new NoMajorityError(slot, needed, answered, deps.acceptors.length, attempt, outbid);
    }
    // Above every ballot an acceptor said it promised, or the next attempt is refused again.
    round = Math.max(round, result.highest?.round ?? 0) + 1;
    await sleep(deps.timers, backoffMs(deps, attempt));
  }
}

interface BallotResult<V> {
  readonly decided?: V;
  /** The most acceptors that answered in one phase of this ballot. */
  readonly answered: number;
  /** The highest ballot that a refusing acceptor had promised. */
  readonly highest?: Ballot;
}

async function tryBallot<V>(
  deps: ProposerDeps<V>,
  slot: number,
  ballot: Ballot,
  own: V,
  needed: number,
): Promise<BallotResult<V>> {
  const p1 = await gather(deps, { kind: 'prepare', slot, ballot }, needed);
  if (p1.granted.length < needed) return p1;
  // The value accepted at the highest ballot may already be chosen: proposing anything else
  // could choose a second value. Only when no promise carries one is the choice free.
  let prior: AcceptedValue<V> | undefined;
  for (const reply of p1.granted) {
    if (reply.kind !== 'promise' || reply.accepted === undefined) continue;
    if (prior === undefined || compareBallots(reply.accepted.ballot, prior.ballot) > 0)
      prior = reply.accepted;
  }
  const value = prior === undefined ? own : prior.value;
  const p2 = await gather(deps, { kind: 'accept', slot, ballot, value }, needed);
  const answered = Math.max(p1.answered, p2.answered);
  if (p2.granted.length < needed) return { answered, ...(p2.highest && { highest: p2.highest }) };
  return { decided: value, answered };
}

interface Gathered<V> {
  readonly granted: readonly PaxosReply<V>[];
  readonly answered: number;
  readonly highest?: Ballot;
}

/**
 * Sends `req` to every acceptor and resolves as soon as `needed` granted it, or as soon as the
 * acceptors still to answer could no longer make `needed`. Replies after that are ignored.
 */
function gather<V>(
  deps: ProposerDeps<V>,
  req: PaxosRequest<V>,
  needed: number,
): Promise<Gathered<V>> {
  return new Promise((resolve, reject) => {
    const granted: PaxosReply<V>[] = [];
    let answered = 0;
    let failed = 0;
    let highest: Ballot | undefined;
    let done = false;
    const decideIfDone = (): void => {
      const pending = deps.acceptors.length - answered - failed;
      if (done || (granted.length < needed && granted.length + pending >= needed)) return;
      done = true;
      resolve(highest === undefined ? { granted, answered } : { granted, answered, highest });
    };
    for (const to of deps.acceptors) {
      sendOne(deps, to, req).then(
        (reply) => {
          if (done) return;
          const wrong = protocolError(req, reply);
          if (wrong !== undefined) {
            done = true;
            reject(new Error(`acceptor ${to} answered ${req.kind} ${show(req.ballot)}: ${wrong}`));
            return;
          }
          answered += 1;
          if (reply.ok) granted.push(reply);
          else if (highest === undefined || compareBallots(reply.promised, highest) > 0)
            highest = reply.promised;
          decideIfDone();
        },
        () => {
          failed += 1;
          decideIfDone();
        },
      );
    }
  });
}

/** `send`, with a synchronous throw counted as a failed send like a rejection. */
async function sendOne<V>(
  deps: ProposerDeps<V>,
  to: string,
  req: PaxosRequest<V>,
): Promise<PaxosReply<V>> {
  return deps.send(to, req, deps.timeoutMs);
}

/**
 * Why a reply cannot be the acceptor's answer to `req`, or undefined when it can. A reply that
 * fails these would break the safety argument (a misrouted reply, or a reused ballot), so the
 * proposal stops rather than count it.
 */
function protocolError<V>(req: PaxosRequest<V>, reply: PaxosReply<V>): string | undefined {
  const kind = req.kind === 'prepare' ? 'promise' : 'accepted';
  if (reply.kind !== kind) return `a ${reply.kind} reply`;
  const order = compareBallots(reply.promised, req.ballot);
  if (reply.ok && order !== 0) return `ok for another ballot ${show(reply.promised)}`;
  if (!reply.ok && order <= 0) return `a refusal naming the lower ballot ${show(reply.promised)}`;
  if (reply.kind === 'promise' && reply.accepted !== undefined) {
    if (compareBallots(reply.accepted.ballot, req.ballot) >= 0)
      return `a value accepted at ${show(reply.accepted.ballot)}, not below the ballot being prepared (was a ballot reused?)`;
  }
  return undefined;
}

function backoffMs<V>(deps: ProposerDeps<V>, attempt: number): number {
  const ceilingMs = Math.min(deps.backoffMaxMs, deps.backoffMinMs * 2 ** (attempt - 1));
  // Half fixed, half random, so proposers that keep outbidding each other drift apart.
  return ceilingMs / 2 + (deps.random() * ceilingMs) / 2;
}

function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.after(ms, resolve);
  });
}

const show = (b: Ballot): string => `(${b.round}, ${b.node})`;

function checkSlot(slot: number): void {
  if (!Number.isSafeInteger(slot) || slot < 0)
    throw new RangeError(`a slot is a non-negative integer, got ${slot}`);
}

/** A NaN or fractional round would break the total order that safety rests on. */
function checkBallot(b: Ballot): void {
  if (!Number.isSafeInteger(b.round) || b.round < 1 || typeof b.node !== 'string')
    throw new RangeError(`a ballot is a positive integer round and a node id, got ${show(b)}`);
}

function checkDeps<V>(deps: ProposerDeps<V>): void {
  const n = deps.acceptors.length;
  if (n === 0) throw new RangeError('propose needs at least one acceptor');
  // A duplicate would count one acceptor's vote twice toward the majority.
  if (new Set(deps.acceptors).size !== n)
    throw new RangeError(`acceptors must be distinct, got ${deps.acceptors.join(',')}`);
  if (!Number.isInteger(deps.attemptsMax) || deps.attemptsMax < 1)
    throw new RangeError(`attemptsMax must be a positive integer, got ${deps.attemptsMax}`);
  if (!(deps.timeoutMs > 0))
    throw new RangeError(`timeoutMs must be positive, got ${deps.timeoutMs}`);
  if (!(deps.backoffMinMs >= 0 && deps.backoffMaxMs >= deps.backoffMinMs))
    throw new RangeError(
      `backoff must satisfy 0 <= min <= max, got ${deps.backoffMinMs}..${deps.backoffMaxMs}`,
    );
}
