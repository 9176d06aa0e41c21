// The latencies PBS predicts from: per peer, bounded reservoirs of the write and read round
// trips this node's coordinator measured (its own local replica included), and how they become
// the WARS model's four one-way distributions.
//
// One-way legs over the network are not observable here: the paper's Cassandra prototype
// timestamped each message at both ends, which needs clocks synchronized far better than the
// latencies measured (loopback round trips are tenths of a millisecond; NTP keeps clocks within
// milliseconds), and the peer protocol carries no such timestamps. So a peer's round trip is
// split in half, W = A = write/2 and R = S = read/2, and the halves of one round trip are drawn
// together (WarsInput.pairedLegs), so predicted latencies keep the measured distribution. The
// cost is smaller than it looks: the model's commit time and read order use whole round trips,
// and whether replica i held the write depends on W_i - R_i, where a one-way delay common to a
// link's write and read requests cancels (kvorum's delay fault is one). What halving gets wrong
// is a link whose requests and answers are skewed differently for writes than for reads: it
// shifts W_i - R_i by half of (W_i - A_i) - (R_i - S_i).
//
// This node's own replica crosses no network, so its legs are known without a guess (localLegs).

import type { WarsDistributions } from '../core/pbs.js';

export type ReplyKind = 'write' | 'read';

export interface WarsRecorderOptions {
  /** Samples kept per peer and kind. */
  readonly samplesMax: number;
  /** Replies weighed uniformly before newer ones start to count more (LIMITS.pbsSampleHorizon). */
  readonly horizon: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/**
 * A reservoir (Vitter's algorithm R) whose count of replies seen stops at the horizon: up to it
 * every reply is kept with equal chance, past it each new one replaces a random sample with a
 * fixed chance, so the samples follow a link that changes instead of averaging its whole life.
 */
class Reservoir {
  private readonly samples: Float64Array;
  private kept = 0;
  private seen = 0;

  constructor(private readonly o: WarsRecorderOptions) {
    this.samples = new Float64Array(o.samplesMax);
  }

  add(ms: number): void {
    this.seen = Math.min(this.seen + 1, this.o.horizon);
    if (this.kept < this.samples.length) {
      this.samples[this.kept++] = ms;
      return;
    }
    const slot = Math.floor(this.o.random() * this.seen);
    if (slot < this.samples.length) this.samples[slot] = ms;
  }

  values(): number[] {
    return Array.from(this.samples.subarray(0, this.kept));
  }
}

/** A peer's round trips as kept: copies, safe to hold while recording goes on. */
export interface RoundTrips {
  readonly write: readonly number[];
  readonly read: readonly number[];
}

export class WarsRecorder {
  private readonly peers = new Map<string, Record<ReplyKind, Reservoir>>();

  constructor(private readonly o: WarsRecorderOptions) {
    if (!(o.samplesMax >= 1 && o.horizon >= o.samplesMax))
      throw new RangeError('a reservoir needs samplesMax >= 1 and a horizon of at least that');
  }

  /** One reply's round trip, as the coordinator measured it. */
  record(node: string, kind: ReplyKind, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    let peer = this.peers.get(node);
    if (peer === undefined) {
      peer = { write: new Reservoir(this.o), read: new Reservoir(this.o) };
      this.peers.set(node, peer);
    }
    peer[kind].add(ms);
  }

  /** Drops what was kept for nodes no longer in the layout, so departed nodes cost nothing. */
  retain(members: ReadonlySet<string>): void {
    for (const node of this.peers.keys()) if (!members.has(node)) this.peers.delete(node);
  }

  roundTrips(node: string): RoundTrips {
    const peer = this.peers.get(node);
    return { write: peer?.write.values() ?? [], read: peer?.read.values() ?? [] };
  }
}

/** W = A = half of each write round trip, R = S = half of each read round trip (see above). */
export function halvedLegs(write: readonly number[], read: readonly number[]): WarsDistributions {
  const w = write.map((ms) => ms / 2);
  const r = read.map((ms) => ms / 2);
  return { w, a: w, r, s: r };
}

/**
 * This node's own replica: its round trip is all the store's work, and when the store acts is
 * known. A merge becomes visible to reads when its batch commits, just before it resolves
 * (W = the round trip, A = 0); a read sees the state as it starts (R = 0, S = the round trip).
 * So a write another replica acknowledged first is not yet visible to a local read.
 */
export function localLegs(write: readonly number[], read: readonly number[]): WarsDistributions {
  return { w: write, a: write.map(() => 0), r: read.map(() => 0), s: read };
}
