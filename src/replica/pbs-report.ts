// GET /admin/pbs's answer: the latencies this node recorded, per member of the layout, fed to
// the WARS Monte Carlo (src/core/pbs.ts). It always answers: a member with no replies of a
// kind borrows what is closest (its replies of the other kind, over the same link; failing
// that, the other members'), and the answer says so, and says when the samples are thin.

import { LIMITS } from '../config.js';
import {
  predictionsAt,
  simulateWars,
  type LatencyQuantiles,
  type WarsDistributions,
  type WarsSimulation,
} from '../core/pbs.js';
import { halvedLegs, localLegs, type ReplyKind, type RoundTrips } from './wars-recorder.js';

/**
 * own: the member's replies of that kind. writes, reads: its replies of the other kind, which
 * crossed the same link. peers: the other members' replies (none of its own were measured).
 */
export type SampleSource = 'own' | 'writes' | 'reads' | 'peers' | 'none';

export interface MemberSamples {
  /** Write round trips kept for this member. */
  readonly writes: number;
  readonly reads: number;
  readonly writeFrom: SampleSource;
  readonly readFrom: SampleSource;
}

export interface PbsRow {
  readonly r: number;
  readonly w: number;
  readonly strictQuorum: boolean;
  /** null: nothing measured yet (a strict quorum is 1 all the same). */
  readonly pConsistent: number | null;
  readonly pWithinK: number | null;
  readonly readMs: LatencyQuantiles | null;
  readonly writeMs: LatencyQuantiles | null;
}

/** What every PBS answer says of the model behind it, a point's or a curve's. */
export interface PbsAnswerHead {
  /** The node whose measurements these are: it coordinated the writes and reads modelled. */
  readonly node: string;
  readonly n: number;
  readonly trials: number;
  /** Every member's latencies come from at least LIMITS.pbsSamplesMin of its own replies. */
  readonly enoughSamples: boolean;
  /** What stood in for what, and what is thin, one sentence each. */
  readonly notes: readonly string[];
  readonly samples: Readonly<Record<string, MemberSamples>>;
}

export interface PbsAnswer extends PbsAnswerHead {
  readonly tMs: number;
  readonly k: number;
  /** Every (R, W) with 1 <= R, W <= N, R-major. */
  readonly predictions: readonly PbsRow[];
}

export interface PbsModelInput {
  readonly self: string;
  /** The members of the newest layout: the nodes keys are placed on. */
  readonly members: readonly string[];
  readonly n: number;
  readonly roundTrips: (node: string) => RoundTrips;
  readonly random: () => number;
  /** LIMITS.pbsTrials unless a test asks for fewer. */
  readonly trials?: number;
}

export interface PbsReportInput extends PbsModelInput {
  readonly tMs: number;
  readonly k: number;
}

/** Everything of an answer but t and k: the samples used, and the trials run on them. */
export interface PbsModel extends PbsAnswerHead {
  /** undefined when a member has nothing measured, nor lent: only strict quorums are known. */
  readonly sim: WarsSimulation | undefined;
}

const other = (kind: ReplyKind): ReplyKind => (kind === 'write' ? 'read' : 'write');
const plural = (kind: ReplyKind): 'writes' | 'reads' => (kind === 'write' ? 'writes' : 'reads');

/** At most pbsSamplesPerPeer of `samples`, drawn at random when there are more (a pool). */
function capped(samples: readonly number[], random: () => number): readonly number[] {
  const max = LIMITS.pbsSamplesPerPeer;
  if (samples.length <= max) return samples;
  return Array.from(
    { length: max },
    () => samples[Math.floor(random() * samples.length)] as number,
  );
}

interface Resolved {
  readonly samples: readonly number[];
  readonly from: SampleSource;
}

/**
 * A member's round trips of one kind: its own when there are enough, else its replies of the
 * other kind when those are enough (the same link: targeted reads rarely ask the slower
 * peers, while every write reaches them), else whatever it has, else the other members'.
 */
function resolve(
  member: string,
  kind: ReplyKind,
  trips: ReadonlyMap<string, RoundTrips>,
  random: () => number,
): Resolved {
  const own = trips.get(member) as RoundTrips;
  const mine = own[kind];
  const theirs = own[other(kind)];
  const stand = plural(other(kind));
  if (mine.length >= LIMITS.pbsSamplesMin) return { samples: mine, from: 'own' };
  if (theirs.length >= LIMITS.pbsSamplesMin) return { samples: theirs, from: stand };
  if (mine.length > 0) return { samples: mine, from: 'own' };
  if (theirs.length > 0) return { samples: theirs, from: stand };
  for (const k of [kind, other(kind)]) {
    const pool = [...trips].filter(([id]) => id !== member).flatMap(([, t]) => t[k]);
    if (pool.length > 0) return { samples: capped(pool, random), from: 'peers' };
  }
  return { samples: [], from: 'none' };
}

/** What stood in for a member's latencies, and whether they are thin: one sentence each. */
function notesOn(member: string, own: RoundTrips, write: Resolved, read: Resolved): string[] {
  if (write.from === 'none' || read.from === 'none') return [];
  if (write.from === 'peers' || read.from === 'peers')
    return [`${member}: none of its replies measured; the other members' round trips stand in`];
  const out: string[] = [];
  if (write.from === 'reads')
    out.push(`${member}: its ${own.read.length} read round trips stand in for writes (same link)`);
  if (read.from === 'writes')
    out.push(`${member}: its ${own.write.length} write round trips stand in for reads (same link)`);
  const fewest = Math.min(write.samples.length, read.samples.length);
  if (fewest < LIMITS.pbsSamplesMin)
    out.push(`${member}: only ${fewest} round trips measured, fewer than ${LIMITS.pbsSamplesMin}`);
  return out;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
/** Probabilities as answers give them: 4 decimals, finer than the trials' standard error. */
export const roundProbability = (p: number): number => round(p, 4);
/** Latencies as answers give them: to a microsecond. */
export const roundMs = (q: LatencyQuantiles): LatencyQuantiles => ({
  p50: round(q.p50, 3),
  p99: round(q.p99, 3),
});

export function pbsReport(input: PbsReportInput): PbsAnswer {
  return pbsAnswer(pbsModel(input), input.tMs, input.k);
}

/** Resolves each member's samples and runs the trials. */
export function pbsModel(input: PbsModelInput): PbsModel {
  const { self, members, n, random } = input;
  const trials = input.trials ?? LIMITS.pbsTrials;
  const trips = new Map(members.map((m) => [m, input.roundTrips(m)]));
  const notes: string[] = [];
  const samples: Record<string, MemberSamples> = {};
  const nodes: WarsDistributions[] = [];
  let known = members.length >= n;
  let enough = known;
  for (const member of members) {
    const own = trips.get(member) as RoundTrips;
    const write = resolve(member, 'write', trips, random);
    const read = resolve(member, 'read', trips, random);
    samples[member] = {
      writes: own.write.length,
      reads: own.read.length,
      writeFrom: write.from,
      readFrom: read.from,
    };
    notes.push(...notesOn(member, own, write, read));
    if (write.from === 'none' || read.from === 'none') known = false;
    if (
      write.from === 'peers' ||
      read.from === 'peers' ||
      Math.min(write.samples.length, read.samples.length) < LIMITS.pbsSamplesMin
    )
      enough = false;
    const legs = member === self ? localLegs : halvedLegs;
    nodes.push(legs(write.samples, read.samples));
  }
  if (members.length < n)
    notes.push(`the layout has ${members.length} members, fewer than N=${n}: nothing to model`);
  else if (!known)
    notes.push(
      `${self} has measured no replies yet: send reads and writes through it; until then only R+W>N (always 1) is answered`,
    );
  const sim = known ? simulateWars({ n, nodes, trials, random, pairedLegs: true }) : undefined;
  return { node: self, n, trials, enoughSamples: enough, notes, samples, sim };
}

/** The answer for a read issued tMs after commit, within k versions. */
export function pbsAnswer(model: PbsModel, tMs: number, k: number): PbsAnswer {
  const { sim, ...rest } = model;
  const predictions =
    sim === undefined
      ? unmeasured(model.n)
      : predictionsAt(sim, tMs, k).map((p) => ({
          ...p,
          pConsistent: roundProbability(p.pConsistent),
          pWithinK: roundProbability(p.pWithinK),
          readMs: roundMs(p.readMs),
          writeMs: roundMs(p.writeMs),
        }));
  return { ...rest, tMs, k, predictions };
}

/**
 * Answers from one model for up to LIMITS.pbsModelReuseMs: a console drawing the curve asks for
 * many t at once, which then costs one run of the trials (about 10 ms of a core for N=3), and
 * its points come from the same trials, so the curve never dips.
 */
export class PbsPredictor {
  private cached: { readonly atMs: number; readonly model: PbsModel } | undefined;

  constructor(
    private readonly build: () => PbsModel,
    private readonly monotonicMs: () => number,
  ) {}

  /** The model of the last pbsModelReuseMs, or a new one. */
  model(): PbsModel {
    const now = this.monotonicMs();
    if (this.cached === undefined || now - this.cached.atMs >= LIMITS.pbsModelReuseMs)
      this.cached = { atMs: now, model: this.build() };
    return this.cached.model;
  }

  answer(tMs: number, k: number): PbsAnswer {
    return pbsAnswer(this.model(), tMs, k);
  }
}

/** Without latencies only the strict quorums are known: every read quorum meets every write quorum. */
function unmeasured(n: number): PbsRow[] {
  const rows: PbsRow[] = [];
  for (let r = 1; r <= n; r++)
    for (let w = 1; w <= n; w++) {
      const strictQuorum = r + w > n;
      const p = strictQuorum ? 1 : null;
      rows.push({ r, w, strictQuorum, pConsistent: p, pWithinK: p, readMs: null, writeMs: null });
    }
  return rows;
}
