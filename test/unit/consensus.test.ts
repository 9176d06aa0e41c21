// Single-decree Paxos: the acceptor's state machine case by case, the proposer's rules in
// scripted runs, and safety under a seeded network that delays, drops, duplicates and reorders
// messages while acceptors crash and restart from what they persisted. A failure names its seed;
// SIM_SEED=<seed> runs that seed alone.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import {
  acceptorStep,
  compareBallots,
  propose,
  type AcceptorState,
  type Ballot,
  type Decision,
  type PaxosReply,
  type PaxosRequest,
  type ProposerDeps,
} from '../../src/core/consensus.js';
import { NoMajorityError, PeerError } from '../../src/core/errors.js';
import { Scheduler } from '../sim/scheduler.js';
import { replayOne, SIM_ONLY } from '../sim/sim-seeds.js';
import { seededRng } from '../support/rng.js';

/** Stands in for a layout version: what kvorum will agree on. */
interface Layout {
  readonly version: number;
  readonly members: readonly string[];
  readonly by: string;
}

const sameLayout = (a: Layout, b: Layout): boolean =>
  a.version === b.version && a.by === b.by && a.members.join() === b.members.join();

const b = (round: number, node: string): Ballot => ({ round, node });
const layout = (by: string, version = 2): Layout => ({ version, members: ['n1', by], by });

describe('ballots', () => {
  it.each([
    [b(1, 'n1'), b(2, 'n1'), -1],
    [b(2, 'n1'), b(1, 'n9'), 1],
    [b(3, 'n1'), b(3, 'n2'), -1],
    [b(3, 'n10'), b(3, 'n9'), -1],
    [b(3, 'n2'), b(3, 'n2'), 0],
  ])('%j against %j orders as %i (round first, then node id)', (x, y, sign) => {
    expect(Math.sign(compareBallots(x, y))).toBe(sign);
  });
});

describe('acceptor', () => {
  type S = AcceptorState<string>;
  const prepare = (r: number, n: string): PaxosRequest<string> => ({
    kind: 'prepare',
    slot: 1,
    ballot: b(r, n),
  });
  const accept = (r: number, n: string, value: string): PaxosRequest<string> => ({
    kind: 'accept',
    slot: 1,
    ballot: b(r, n),
    value,
  });
  const promise = (ok: boolean, p: Ballot, accepted?: S['accepted']): PaxosReply<string> =>
    accepted === undefined
      ? { kind: 'promise', ok, promised: p }
      : { kind: 'promise', ok, promised: p, accepted };
  const accepted = (ok: boolean, p: Ballot): PaxosReply<string> => ({
    kind: 'accepted',
    ok,
    promised: p,
  });
  const X = { ballot: b(1, 'a'), value: 'x' };
  const Y3 = { ballot: b(3, 'c'), value: 'y' };

  it.each<[string, S, PaxosRequest<string>, S, PaxosReply<string>]>([
    [
      'a fresh acceptor promises',
      {},
      prepare(1, 'a'),
      { promised: b(1, 'a') },
      promise(true, b(1, 'a')),
    ],
    [
      'a lower round is refused, naming the promise',
      { promised: b(2, 'a') },
      prepare(1, 'b'),
      { promised: b(2, 'a') },
      promise(false, b(2, 'a')),
    ],
    [
      'the same round from a lower node id is refused',
      { promised: b(1, 'b') },
      prepare(1, 'a'),
      { promised: b(1, 'b') },
      promise(false, b(1, 'b')),
    ],
    [
      'a repeated prepare gets the same promise',
      { promised: b(1, 'a') },
      prepare(1, 'a'),
      { promised: b(1, 'a') },
      promise(true, b(1, 'a')),
    ],
    [
      'a promise reports the value accepted before',
      { promised: b(2, 'b'), accepted: X },
      prepare(3, 'c'),
      { promised: b(3, 'c'), accepted: X },
      promise(true, b(3, 'c'), X),
    ],
    [
      'a fresh acceptor accepts',
      {},
      accept(1, 'a', 'x'),
      { promised: b(1, 'a'), accepted: X },
      accepted(true, b(1, 'a')),
    ],
    [
      'an accept below the promise is refused',
      { promised: b(2, 'b') },
      accept(1, 'a', 'x'),
      { promised: b(2, 'b') },
      accepted(false, b(2, 'b')),
    ],
    [
      'an accept at the promised ballot is accepted',
      { promised: b(3, 'c') },
      accept(3, 'c', 'y'),
      { promised: b(3, 'c'), accepted: Y3 },
      accepted(true, b(3, 'c')),
    ],
    [
      'an accept above the promise replaces the value and raises the promise',
      { promised: b(2, 'b'), accepted: X },
      accept(3, 'c', 'y'),
      { promised: b(3, 'c'), accepted: Y3 },
      accepted(true, b(3, 'c')),
    ],
    [
      'a repeated accept changes nothing',
      { promised: b(1, 'a'), accepted: X },
      accept(1, 'a', 'x'),
      { promised: b(1, 'a'), accepted: X },
      accepted(true, b(1, 'a')),
    ],
  ])('%s', (_name, state, req, next, reply) => {
    const step = acceptorStep(state, req);
    expect(step.reply).toEqual(reply);
    expect(step.state).toEqual(next);
    // Unchanged state comes back as the same object, so the caller may skip the write.
    if (JSON.stringify(next) === JSON.stringify(state)) expect(step.state).toBe(state);
  });

  it.each([
    ['a NaN round', prepare(NaN, 'a')],
    ['round 0', prepare(0, 'a')],
    ['a negative slot', { ...accept(1, 'a', 'x'), slot: -1 }],
  ])('refuses %s: ballots and slots must be totally ordered', (_name, req) => {
    expect(() => acceptorStep({}, req)).toThrow(RangeError);
  });
});

// ---- A seeded network of acceptors -----------------------------------------------------------

interface Faults {
  /** One message's latency, uniform in [min, max] ms (messages overtake each other). */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Probability that a message is lost, and that it arrives twice. */
  readonly dropRate: number;
  readonly dupRate: number;
  /** An acceptor's write takes up to this long; it answers only once its write is durable. */
  readonly diskMaxMs: number;
}

const CALM: Faults = { delayMinMs: 1, delayMaxMs: 1, dropRate: 0, dupRate: 0, diskMaxMs: 0 };
const ROUGH: Faults = { delayMinMs: 0, delayMaxMs: 25, dropRate: 0.1, dupRate: 0.1, diskMaxMs: 4 };

const SIM_TIMEOUT_MS = 60;
const SIM_ATTEMPTS_MAX = 12;

interface SimAcceptor {
  up: boolean;
  /** Work begun before a crash must not finish after it. */
  epoch: number;
  /** What the acceptor answers from, and what it has on disk (all a restart keeps). */
  live: Map<number, AcceptorState<Layout>>;
  durable: Map<number, AcceptorState<Layout>>;
  diskFreeAt: number;
}

interface Acceptance {
  readonly node: string;
  readonly slot: number;
  readonly ballot: Ballot;
  readonly value: Layout;
}

class PaxosNet {
  readonly sched: Scheduler;
  readonly rng: () => number;
  readonly nodes = new Map<string, SimAcceptor>();
  /** Every acceptance that reached disk: the record of what the cluster chose. */
  readonly acceptances: Acceptance[] = [];
  readonly sent: { from: string; to: string; req: PaxosRequest<Layout> }[] = [];
  /** Writes a crash cut short: their replies never went out. */
  lostWrites = 0;

  constructor(
    seed: number,
    readonly ids: readonly string[],
    public faults: Faults,
    /** A broken acceptor for the control run: it forgets its disk when it restarts. */
    readonly amnesia = false,
  ) {
    this.sched = new Scheduler(seed);
    this.rng = seededRng(seed);
    for (const id of ids) {
      this.nodes.set(id, {
        up: true,
        epoch: 0,
        live: new Map(),
        durable: new Map(),
        diskFreeAt: 0,
      });
    }
  }

  private node(id: string): SimAcceptor {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no acceptor ${id}`);
    return n;
  }

  preset(id: string, slot: number, state: AcceptorState<Layout>): void {
    this.node(id).live.set(slot, state);
    this.node(id).durable.set(slot, state);
  }

  crash(id: string): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    n.epoch += 1;
    if (this.amnesia) n.durable = new Map();
    n.live = new Map(n.durable);
    n.diskFreeAt = this.sched.now;
    this.sched.note(`${id} crashed`);
  }

  restart(id: string): void {
    this.node(id).up = true;
    this.sched.note(`${id} restarted`);
  }

  private delayMs(): number {
    const { delayMinMs, delayMaxMs } = this.faults;
    return delayMinMs + Math.floor(this.rng() * (delayMaxMs - delayMinMs + 1));
  }

  /** Whether `id` runs: a crash takes down the node's proposer along with its acceptor. */
  private isUp(id: string): boolean {
    return this.nodes.get(id)?.up ?? true;
  }

  /**
   * Sends a message from `from` to `to` unless it is dropped, perhaps twice; `arrive` runs at
   * each arrival that finds `to` up.
   */
  private transmit(from: string, to: string, label: string, arrive: () => void): void {
    if (!this.isUp(from)) return this.sched.note(`${from} is down: not sent ${label}`);
    if (this.rng() < this.faults.dropRate) return this.sched.note(`dropped ${label}`);
    const copies = this.rng() < this.faults.dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.sched.at(
        this.delayMs(),
        () => (this.isUp(to) ? arrive() : this.sched.note(`${to} is down: lost ${label}`)),
        label,
      );
    }
  }

  send(from: string, to: string, req: PaxosRequest<Layout>, timeoutMs: number) {
    this.sent.push({ from, to, req });
    const label = `${from}->${to} ${req.kind} s${req.slot} (${req.ballot.round}, ${req.ballot.node})`;
    return new Promise<PaxosReply<Layout>>((resolve, reject) => {
      let settled = false;
      const timer = this.sched.at(
        timeoutMs,
        () => {
          settled = true;
          reject(new PeerError(to, 'timeout'));
        },
        `${from}: ${to} timed out`,
      );
      const answered = (reply: PaxosReply<Layout>): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(reply);
      };
      // A copy per delivery, as if through the codec: nothing is shared between nodes.
      this.transmit(from, to, label, () =>
        this.deliver(to, structuredClone(req), (reply) => {
          const back = `${to}->${from} ${reply.kind} ${reply.ok ? 'ok' : 'refused'}`;
          this.transmit(to, from, back, () => answered(structuredClone(reply)));
        }),
      );
    });
  }

  /** The acceptor's caller: step, persist in order, and answer once the write is durable. */
  private deliver(id: string, req: PaxosRequest<Layout>, answer: (r: PaxosReply<Layout>) => void) {
    const n = this.node(id);
    const { state, reply } = acceptorStep(n.live.get(req.slot) ?? {}, req);
    n.live.set(req.slot, state);
    const epoch = n.epoch;
    n.diskFreeAt =
      Math.max(this.sched.now, n.diskFreeAt) + Math.floor(this.rng() * (this.faults.diskMaxMs + 1));
    this.sched.at(
      n.diskFreeAt - this.sched.now,
      () => {
        if (n.epoch !== epoch) return void (this.lostWrites += 1);
        n.durable.set(req.slot, state);
        if (req.kind === 'accept' && reply.ok)
          this.acceptances.push({ node: id, slot: req.slot, ballot: req.ballot, value: req.value });
        answer(reply);
      },
      `${id} wrote ${req.kind}`,
    );
  }

  deps(self: string, over: Partial<ProposerDeps<Layout>> = {}): ProposerDeps<Layout> {
    return {
      self,
      acceptors: this.ids,
      send: (to, req, timeoutMs) => this.send(self, to, req, timeoutMs),
      equals: sameLayout,
      timers: { after: (ms, fn) => this.sched.at(ms, fn, `${self} backs off`) },
      random: this.rng,
      timeoutMs: SIM_TIMEOUT_MS,
      attemptsMax: SIM_ATTEMPTS_MAX,
      backoffMinMs: 5,
      backoffMaxMs: 200,
      ...over,
    };
  }
}

const ids = (k: number): string[] => Array.from({ length: k }, (_, i) => `n${i + 1}`);

describe('proposer', () => {
  it('a single proposer decides its own value in one ballot', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    const d = await net.sched.run(propose(net.deps('n1'), 7, layout('n1')));
    expect(d).toEqual({
      decided: layout('n1'),
      ownValueWon: true,
      ballot: b(1, 'n1'),
      attempts: 1,
    });
    await net.sched.runUntilIdle();
    expect(net.acceptances.map((a) => a.node).sort()).toEqual(ids(3));
  });

  it('a value already chosen is decided again, not the new proposal', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    const chosen = { promised: b(3, 'n2'), accepted: { ballot: b(3, 'n2'), value: layout('n2') } };
    net.preset('n1', 7, chosen);
    net.preset('n2', 7, chosen);
    const d = await net.sched.run(propose(net.deps('n3'), 7, layout('n3')));
    expect(d.decided).toEqual(layout('n2'));
    expect(d.ownValueWon).toBe(false);
  });

  it('after a refusal the next ballot goes above the highest promised round', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    for (const id of ids(3)) net.preset(id, 7, { promised: b(41, 'n3') });
    const d = await net.sched.run(propose(net.deps('n1'), 7, layout('n1')));
    const rounds = new Set(
      net.sent.filter((m) => m.req.kind === 'prepare').map((m) => m.req.ballot.round),
    );
    expect([...rounds]).toEqual([1, 42]);
    expect(d).toMatchObject({ ownValueWon: true, ballot: b(42, 'n1'), attempts: 2 });
  });

  it('of the values promises carry, the one accepted at the highest ballot is proposed', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    net.preset('n1', 7, {
      promised: b(1, 'n1'),
      accepted: { ballot: b(1, 'n1'), value: layout('n1') },
    });
    net.preset('n2', 7, {
      promised: b(2, 'n2'),
      accepted: { ballot: b(2, 'n2'), value: layout('n2') },
    });
    net.crash('n3');
    // n4 is not a member (a joining node, say): proposers need not be acceptors.
    const d = await net.sched.run(propose(net.deps('n4'), 7, layout('n4'), 5));
    expect(d).toMatchObject({ decided: layout('n2'), ownValueWon: false, ballot: b(5, 'n4') });
  });

  it('slots are independent instances', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    await net.sched.run(propose(net.deps('n1'), 1, layout('n1', 1)));
    const d = await net.sched.run(propose(net.deps('n2'), 2, layout('n2', 2)));
    expect(d).toMatchObject({ decided: layout('n2', 2), ownValueWon: true, attempts: 1 });
  });

  it('a minority of acceptors down still decides', async () => {
    const net = new PaxosNet(1, ids(5), CALM);
    net.crash('n4');
    net.crash('n5');
    const d = await net.sched.run(propose(net.deps('n1'), 7, layout('n1')));
    expect(d).toMatchObject({ ownValueWon: true, attempts: 1 });
  });

  it('a majority down fails with NoMajorityError after consensusAttemptsMax ballots', async () => {
    const net = new PaxosNet(1, ids(5), CALM);
    for (const id of ['n3', 'n4', 'n5']) net.crash(id);
    const deps = net.deps('n1', {
      timeoutMs: LIMITS.consensusTimeoutMs,
      attemptsMax: LIMITS.consensusAttemptsMax,
      backoffMinMs: LIMITS.consensusBackoffMinMs,
      backoffMaxMs: LIMITS.consensusBackoffMaxMs,
    });
    const err = await net.sched.run(propose(deps, 7, layout('n1'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoMajorityError);
    expect(err).toMatchObject({
      slot: 7,
      needed: 3,
      answered: 2,
      acceptors: 5,
      attempts: LIMITS.consensusAttemptsMax,
      outbid: false,
      status: 503,
    });
    expect((err as Error).message).toMatch(/3 of the 5 acceptors must answer and at most 2 did/);
    expect(net.sent.filter((m) => m.req.kind === 'prepare')).toHaveLength(
      5 * LIMITS.consensusAttemptsMax,
    );
    // Phase 1 times out each ballot; the backoff between them doubles up to its cap.
    let backoffMaxMs = 0;
    for (let a = 1; a < LIMITS.consensusAttemptsMax; a++)
      backoffMaxMs += Math.min(
        LIMITS.consensusBackoffMaxMs,
        LIMITS.consensusBackoffMinMs * 2 ** (a - 1),
      );
    expect(net.sched.now).toBeLessThanOrEqual(
      LIMITS.consensusAttemptsMax * LIMITS.consensusTimeoutMs + backoffMaxMs,
    );
  });

  it('a promise carrying a value accepted at the ballot being prepared stops the proposal: a reused ballot', async () => {
    const net = new PaxosNet(1, ids(3), CALM);
    // As if this node restarted and started again at a round it had already used.
    net.preset('n2', 7, {
      promised: b(1, 'n1'),
      accepted: { ballot: b(1, 'n1'), value: layout('n1') },
    });
    net.crash('n3');
    await expect(net.sched.run(propose(net.deps('n1'), 7, layout('n9')))).rejects.toThrow(/reused/);
  });

  it.each<[string, Partial<ProposerDeps<Layout>>]>([
    ['no acceptors', { acceptors: [] }],
    ['a duplicate acceptor', { acceptors: ['n1', 'n1', 'n2'] }],
    ['zero attempts', { attemptsMax: 0 }],
  ])('refuses %s', async (_name, over) => {
    const net = new PaxosNet(1, ids(3), CALM);
    await expect(propose(net.deps('n1', over), 7, layout('n1'))).rejects.toThrow(RangeError);
  });
});

// ---- Safety under faults, over many seeds ----------------------------------------------------

const SEEDS = 300;

interface Scenario {
  readonly acceptors: number;
  readonly proposers: number;
  readonly faults: Faults;
  /** Acceptors crash and restart (from disk) at random while the proposers run. */
  readonly crashes: boolean;
  /** Fewer ballots make proposers give up midway, leaving partial acceptances behind. */
  readonly attemptsMax?: number;
  /** The control's broken acceptors, which forget their disk when they restart. */
  readonly amnesia?: boolean;
}

interface Run {
  readonly net: PaxosNet;
  readonly proposed: readonly Layout[];
  /** Decisions of the competing proposers, then the learner's. */
  readonly decisions: readonly Decision<Layout>[];
  readonly gaveUp: number;
}

const SLOT = 7;

/** Proposes `value` at a random time; a NoMajorityError counts as giving up, any other fails. */
function startProposer(
  net: PaxosNet,
  value: Layout,
  attemptsMax: number | undefined,
  run: { decisions: Decision<Layout>[]; gaveUp: number },
): Promise<void> {
  const over = attemptsMax === undefined ? {} : { attemptsMax };
  return new Promise((resolve, reject) => {
    const start = (): void => {
      propose(net.deps(value.by, over), SLOT, value).then(
        (d) => {
          net.sched.note(
            `${value.by} decided ${d.decided.by} at (${d.ballot.round}, ${d.ballot.node})`,
          );
          run.decisions.push(d);
          resolve();
        },
        (err: unknown) => {
          if (!(err instanceof NoMajorityError)) return reject(err);
          net.sched.note(`${value.by} gave up: ${err.message}`);
          run.gaveUp += 1;
          resolve();
        },
      );
    };
    net.sched.at(Math.floor(net.rng() * 100), start, `${value.by} proposes`);
  });
}

async function runScenario(seed: number, sc: Scenario): Promise<Run> {
  const net = new PaxosNet(seed, ids(sc.acceptors), sc.faults, sc.amnesia);
  const { sched, rng } = net;
  if (sc.crashes) {
    for (const id of net.ids) {
      for (let t = Math.floor(rng() * 60); t < 600; t += 20 + Math.floor(rng() * 150)) {
        const downMs = 5 + Math.floor(rng() * 80);
        sched.at(t, () => net.crash(id), `crash ${id}`);
        sched.at(t + downMs, () => net.restart(id), `restart ${id}`);
        t += downMs;
      }
    }
  }
  const proposed = ids(sc.proposers).map((id) => layout(id));
  const run = { decisions: [] as Decision<Layout>[], gaveUp: 0 };
  await sched.run(Promise.all(proposed.map((v) => startProposer(net, v, sc.attemptsMax, run))));
  // Late messages may still make acceptors accept: they count toward what was chosen.
  await sched.runUntilIdle();
  // Then, on a healed network, a proposer that is not a member (so its ballots are new) learns
  // the slot's value: one chosen earlier must survive, whoever gave up along the way.
  for (const id of net.ids) net.restart(id);
  net.faults = CALM;
  const learner = layout('learner');
  await sched.run(startProposer(net, learner, undefined, run));
  await sched.runUntilIdle();
  return { net, proposed: [...proposed, learner], ...run };
}

/** What is wrong with the run's outcome, or undefined when Paxos held. */
function safetyViolation(run: Run): string | undefined {
  const { net, proposed, decisions } = run;
  const first = decisions[0]?.decided;
  for (const d of decisions) {
    if (!proposed.some((p) => sameLayout(p, d.decided)))
      return `decided ${JSON.stringify(d.decided)}, which nobody proposed`;
    if (first !== undefined && !sameLayout(d.decided, first))
      return `proposers decided different values: ${decisions.map((x) => `${x.decided.by}'s at (${x.ballot.round}, ${x.ballot.node})`).join(', ')}`;
    if (d.ownValueWon !== proposed.some((p) => sameLayout(p, d.decided) && p.by === d.ballot.node))
      return `${d.ballot.node} reported ownValueWon=${d.ownValueWon} for ${d.decided.by}'s value`;
  }
  // Chosen: accepted by a majority at one ballot (Lamport's definition, checked on what the
  // acceptors wrote, not on what proposers heard). Every chosen value must be the decided one.
  const byBallot = new Map<string, { value: Layout; nodes: Set<string> }>();
  for (const a of net.acceptances) {
    const key = `(${a.ballot.round}, ${a.ballot.node})`;
    const entry = byBallot.get(key) ?? { value: a.value, nodes: new Set<string>() };
    if (!sameLayout(entry.value, a.value)) return `two values accepted at ballot ${key}`;
    entry.nodes.add(a.node);
    byBallot.set(key, entry);
  }
  const majorityOf = Math.floor(net.ids.length / 2) + 1;
  for (const [key, e] of byBallot) {
    if (e.nodes.size < majorityOf) continue;
    if (first === undefined || !sameLayout(e.value, first))
      return `acceptors chose ${e.value.by} at ${key} but proposers decided ${first?.by ?? 'nothing'}`;
  }
  return undefined;
}

interface Tally {
  runs: number;
  /** Runs in which a competing proposer (not the learner) decided. */
  decided: number;
  gaveUp: number;
  lostWrites: number;
}

/** Runs `sc` for SEEDS seeds from `base` (or SIM_SEED alone); a failure names its seed. */
async function checkSafety(base: number, sc: Scenario): Promise<Tally> {
  const seeds =
    SIM_ONLY !== undefined ? [SIM_ONLY] : Array.from({ length: SEEDS }, (_, i) => base + i);
  const tally: Tally = { runs: 0, decided: 0, gaveUp: 0, lostWrites: 0 };
  for (const seed of seeds) {
    let run: Run;
    try {
      run = await runScenario(seed, sc);
    } catch (err) {
      // The scheduler's own failures already name the seed, with a transcript.
      if (err instanceof Error && err.message.includes(replayOne(seed))) throw err;
      throw new Error(`seed ${seed} (${replayOne(seed)} replays it): ${String(err)}`, {
        cause: err,
      });
    }
    const wrong = safetyViolation(run);
    if (wrong !== undefined) throw run.net.sched.failure(`SAFETY: ${wrong}`);
    tally.runs += 1;
    if (run.decisions.length > 1) tally.decided += 1;
    tally.gaveUp += run.gaveUp;
    tally.lostWrites += run.net.lostWrites;
  }
  return tally;
}

describe(`safety over ${SEEDS} seeds: every proposer that returns has the one chosen value`, () => {
  // With SIM_SEED one run replays; the tallies below describe the full set of seeds.
  const all = SIM_ONLY === undefined;

  it('two competing proposers, three acceptors, a lossy duplicating reordering network', async () => {
    const t = await checkSafety(10_000, {
      acceptors: 3,
      proposers: 2,
      faults: ROUGH,
      crashes: false,
    });
    if (all) expect(t.decided).toBe(t.runs);
  });

  it('three competing proposers, five acceptors', async () => {
    const t = await checkSafety(20_000, {
      acceptors: 5,
      proposers: 3,
      faults: ROUGH,
      crashes: false,
    });
    if (all) expect(t.decided).toBe(t.runs);
  });

  it('acceptors crash and restart with their persisted state', async () => {
    const sc = { acceptors: 3, proposers: 3, faults: ROUGH, crashes: true, attemptsMax: 4 };
    const t = await checkSafety(30_000, sc);
    // Crashes did cut writes short (their replies never went out), and proposers still decided.
    if (all) expect(t.lostWrites).toBeGreaterThan(0);
    if (all) expect(t.decided).toBeGreaterThan(t.runs / 2);
  });

  it('proposers that give up midway leave a value the learner finds', async () => {
    const faults = { ...ROUGH, dropRate: 0.2 };
    const sc = { acceptors: 5, proposers: 3, faults, crashes: true, attemptsMax: 3 };
    const t = await checkSafety(50_000, sc);
    if (all) expect(t.gaveUp).toBeGreaterThan(t.runs);
  });

  it('control: the same checks catch acceptors that forget their state on restart', async () => {
    const sc = { acceptors: 3, proposers: 3, faults: ROUGH, crashes: true, amnesia: true };
    let caught: number | undefined;
    for (let seed = 40_000; seed < 40_000 + SEEDS && caught === undefined; seed++) {
      if (safetyViolation(await runScenario(seed, sc)) !== undefined) caught = seed;
    }
    expect(caught, 'no violation found even with amnesiac acceptors').toBeDefined();
  });
});
