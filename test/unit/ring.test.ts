import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { RING_SIZE, Ring, hash32, ringShares, type RingArc } from '../../src/core/ring.js';

const ids = (k: number) => Array.from({ length: k }, (_, i) => `n${i + 1}`);

describe('ring placement', () => {
  it('gives every key N distinct nodes, the same on every node that builds the ring', () => {
    const a = new Ring(ids(5), LIMITS.vnodesPerNode);
    const b = new Ring([...ids(5)].reverse(), LIMITS.vnodesPerNode);
    for (let i = 0; i < 2000; i++) {
      const pl = a.preferenceList(`key-${i}`, 3);
      expect(new Set(pl).size).toBe(3);
      expect(b.preferenceList(`key-${i}`, 3)).toEqual(pl);
    }
  });

  it('with N equal to the node count, every key lives on every node', () => {
    const ring = new Ring(ids(3), LIMITS.vnodesPerNode);
    expect([...ring.preferenceList('x', 3)].sort()).toEqual(ids(3));
  });

  it('rejects N outside 1..nodes', () => {
    const ring = new Ring(ids(3), 8);
    expect(() => ring.preferenceList('x', 4)).toThrow(/n must be from 1 to 3/);
    expect(() => ring.preferenceList('x', 0)).toThrow();
  });

  it('moves only about 1/k of primaries when a node joins (consistent hashing)', () => {
    const before = new Ring(ids(4), LIMITS.vnodesPerNode);
    const after = new Ring(ids(5), LIMITS.vnodesPerNode);
    let moved = 0;
    const keys = 20_000;
    for (let i = 0; i < keys; i++) {
      if (before.preferenceList(`k${i}`, 1)[0] !== after.preferenceList(`k${i}`, 1)[0]) moved++;
    }
    // Ideal is 1/5 = 20%; a modulo scheme would move ~80%.
    expect(moved / keys).toBeLessThan(0.3);
    expect(moved / keys).toBeGreaterThan(0.1);
  });

  it('hash32 spreads similar strings', () => {
    expect(hash32('n1#0')).not.toBe(hash32('n1#1'));
    expect(hash32('')).toBe(hash32(''));
  });
});

describe('ring balance', () => {
  // Stated tolerance: with 128 virtual nodes per node, the keys whose first replica is a given
  // node stay within ±25% of the even share, and replica counts (N=3) within ±15%.
  it.each([3, 5, 7])('%i nodes: primary and replica shares within tolerance', (k) => {
    const ring = new Ring(ids(k), LIMITS.vnodesPerNode);
    const keys = 60_000;
    const primary = new Map<string, number>();
    const replicas = new Map<string, number>();
    const n = Math.min(3, k);
    for (let i = 0; i < keys; i++) {
      const pl = ring.preferenceList(`user:${i}:${(i * 7919) % 1000}`, n);
      primary.set(pl[0]!, (primary.get(pl[0]!) ?? 0) + 1);
      for (const id of pl) replicas.set(id, (replicas.get(id) ?? 0) + 1);
    }
    const evenPrimary = keys / k;
    const evenReplicas = (keys * n) / k;
    for (const id of ids(k)) {
      expect(Math.abs((primary.get(id) ?? 0) - evenPrimary) / evenPrimary).toBeLessThan(0.25);
      expect(Math.abs((replicas.get(id) ?? 0) - evenReplicas) / evenReplicas).toBeLessThan(0.15);
    }
  });
});

describe('ring arcs (what the console draws and sums)', () => {
  /** The arc holding hash h, by binary search over arcs in hash order. */
  function arcAt(arcs: readonly RingArc[], h: number): RingArc {
    let lo = 0;
    let hi = arcs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((arcs[mid] as RingArc).to <= h) lo = mid + 1;
      else hi = mid;
    }
    return arcs[lo] as RingArc;
  }

  it.each([
    [1, 1],
    [3, 3],
    [5, 3],
    [7, 2],
  ])('%i nodes, N=%i: arcs tile the hash space and give every key its preference list', (k, n) => {
    const ring = new Ring(ids(k), LIMITS.vnodesPerNode);
    const arcs = ring.arcs(n);
    expect(arcs[0]?.from).toBe(0);
    expect(arcs[arcs.length - 1]?.to).toBe(RING_SIZE);
    for (let i = 1; i < arcs.length; i++) {
      expect(arcs[i]?.from).toBe(arcs[i - 1]?.to);
      // Neighbours with the same list would have been merged into one.
      expect(arcs[i]?.replicas).not.toEqual(arcs[i - 1]?.replicas);
    }
    for (let i = 0; i < 5_000; i++) {
      const key = `k${i}`;
      expect(arcAt(arcs, hash32(key)).replicas, key).toEqual(ring.preferenceList(key, n));
    }
  });

  it('the keys exactly at a point belong to that point, the next hash to the next', () => {
    const ring = new Ring(ids(3), 4);
    const arcs = ring.arcs(1);
    for (const arc of arcs.slice(0, -1)) {
      // `to - 1` is a point: the last hash of the arc; `to` starts the next one.
      expect(arcAt(arcs, arc.to - 1)).toBe(arc);
    }
  });

  it('shares: primaries add up to the whole ring, each node holds N/k of it', () => {
    const ring = new Ring(ids(5), LIMITS.vnodesPerNode);
    const shares = ringShares(ring.arcs(3), ring.nodes);
    let primary = 0;
    let replica = 0;
    for (const id of ids(5)) {
      const s = shares.get(id);
      primary += s?.primary ?? 0;
      replica += s?.replica ?? 0;
      expect(s?.ranges).toBeGreaterThan(0);
      expect(s?.primary).toBeGreaterThan(0.15);
      expect(s?.primary).toBeLessThan(0.25);
    }
    expect(primary).toBeCloseTo(1, 9);
    expect(replica).toBeCloseTo(3, 9);
  });

  it('counts ranges by primary, one range across the wrap-around', () => {
    // Hand-made arcs: n1 owns the start and the end of the space, n2 the middle.
    const arcs: RingArc[] = [
      { from: 0, to: 100, replicas: ['n1', 'n2'] },
      { from: 100, to: 200, replicas: ['n1', 'n3'] },
      { from: 200, to: 300, replicas: ['n2', 'n1'] },
      { from: 300, to: RING_SIZE, replicas: ['n1', 'n2'] },
    ];
    const shares = ringShares(arcs, ['n1', 'n2', 'n3']);
    expect(shares.get('n1')?.ranges).toBe(1);
    expect(shares.get('n2')?.ranges).toBe(1);
    expect(shares.get('n3')).toEqual({ ranges: 0, primary: 0, replica: 100 / RING_SIZE });
    expect(shares.get('n2')?.primary).toBe(100 / RING_SIZE);
    // One primary all round (its arcs differ only in the other replicas): one range.
    const alone = ringShares(arcs.slice(0, 2), ['n1', 'n2', 'n3']);
    expect(alone.get('n1')?.ranges).toBe(1);
    expect(ringShares(new Ring(['n1'], 8).arcs(1), ['n1']).get('n1')).toEqual({
      ranges: 1,
      primary: 1,
      replica: 1,
    });
  });
});
