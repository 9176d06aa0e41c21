// Consistent hashing with virtual nodes (Karger et al.; Dynamo section 4.2): each node owns
// many points on a 32-bit ring, and a key's preference list is the first N distinct nodes
// clockwise from the key's hash.

export function hash32(s: string): number {
  // FNV-1a over UTF-16 code units, then murmur3's fmix32 finaliser so that nearby strings
  // ("n1#0", "n1#1") land far apart on the ring.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 2^32: the ring's hash space is [0, RING_SIZE). */
export const RING_SIZE = 2 ** 32;

/**
 * One stretch of the ring: every key whose hash h has `from <= h < to` has `replicas` as its
 * preference list (`replicas[0]` is the key's primary).
 */
export interface RingArc {
  readonly from: number;
  readonly to: number;
  readonly replicas: readonly string[];
}

/** A node's part of the ring: what an operator means by "the ranges it owns". */
export interface RingShare {
  /** Stretches of the ring whose primary is this node (neighbours with one primary merged). */
  readonly ranges: number;
  /** Fraction of the hash space whose keys have this node first in their preference list. */
  readonly primary: number;
  /** Fraction of the hash space whose keys this node holds a replica of. */
  readonly replica: number;
}

export class Ring {
  private readonly points: Uint32Array;
  private readonly owners: string[];
  readonly nodes: readonly string[];

  constructor(nodeIds: readonly string[], vnodesPerNode: number) {
    if (nodeIds.length === 0) throw new Error('a ring needs at least one node');
    if (new Set(nodeIds).size !== nodeIds.length) throw new Error('ring node ids must be unique');
    this.nodes = [...nodeIds].sort();
    const entries: Array<[number, string]> = [];
    for (const id of this.nodes) {
      for (let v = 0; v < vnodesPerNode; v++) entries.push([hash32(`${id}#${v}`), id]);
    }
    // Ties (two nodes on one point) break by id, so every node builds the same ring.
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    this.points = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
  }

  /** The first `n` distinct nodes clockwise from the key's position. */
  preferenceList(key: string, n: number): string[] {
    if (n < 1 || n > this.nodes.length) {
      throw new Error(`n must be from 1 to ${this.nodes.length}, got ${n}`);
    }
    return this.listFrom(this.firstPointAtOrAfter(hash32(key)), n);
  }

  /**
   * The whole ring as stretches of hash space with their preference lists, in hash order;
   * neighbouring stretches with the same list are one. A key belongs to the first point at or
   * after its hash, so point i owns (point i-1, point i], and the first point also owns the
   * wrap-around past the last one (given as its own stretch at the end of the space).
   */
  arcs(n: number): RingArc[] {
    if (n < 1 || n > this.nodes.length) {
      throw new Error(`n must be from 1 to ${this.nodes.length}, got ${n}`);
    }
    const out: RingArc[] = [];
    const push = (from: number, to: number, replicas: string[]) => {
      if (to <= from) return; // a point tied with the one before it owns nothing
      const last = out[out.length - 1];
      if (last !== undefined && last.to === from && sameList(last.replicas, replicas)) {
        out[out.length - 1] = { from: last.from, to, replicas: last.replicas };
      } else {
        out.push({ from, to, replicas });
      }
    };
    let from = 0;
    for (let i = 0; i < this.points.length; i++) {
      const to = (this.points[i] as number) + 1;
      push(from, to, this.listFrom(i, n));
      from = Math.max(from, to);
    }
    push(from, RING_SIZE, this.listFrom(0, n));
    return out;
  }

  private listFrom(start: number, n: number): string[] {
    const out: string[] = [];
    const count = this.points.length;
    for (let i = 0; out.length < n && i < count; i++) {
      const owner = this.owners[(start + i) % count] as string;
      if (!out.includes(owner)) out.push(owner);
    }
    return out;
  }

  private firstPointAtOrAfter(h: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Each node's share of the ring, from its arcs; every node of `nodes` gets an entry. */
export function ringShares(
  arcs: readonly RingArc[],
  nodes: readonly string[],
): Map<string, RingShare> {
  const ranges = new Map<string, number>(nodes.map((id) => [id, 0]));
  const primary = new Map<string, number>(nodes.map((id) => [id, 0]));
  const replica = new Map<string, number>(nodes.map((id) => [id, 0]));
  let previousPrimary: string | undefined;
  for (const arc of arcs) {
    const size = arc.to - arc.from;
    const first = arc.replicas[0] as string;
    primary.set(first, (primary.get(first) ?? 0) + size);
    if (first !== previousPrimary) ranges.set(first, (ranges.get(first) ?? 0) + 1);
    previousPrimary = first;
    for (const id of arc.replicas) replica.set(id, (replica.get(id) ?? 0) + size);
  }
  // The stretch at the end of the space and the one at its start are one range when they
  // share a primary (unless that primary has the whole ring: then it is one range already).
  const head = arcs[0]?.replicas[0];
  if (head !== undefined && head === previousPrimary && (ranges.get(head) ?? 0) > 1) {
    ranges.set(head, (ranges.get(head) ?? 0) - 1);
  }
  const out = new Map<string, RingShare>();
  for (const id of nodes) {
    out.set(id, {
      ranges: ranges.get(id) ?? 0,
      primary: (primary.get(id) ?? 0) / RING_SIZE,
      replica: (replica.get(id) ?? 0) / RING_SIZE,
    });
  }
  return out;
}
