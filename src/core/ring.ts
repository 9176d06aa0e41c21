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
    const start = this.firstPointAtOrAfter(hash32(key));
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
