import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { Ring, hash32 } from '../../src/core/ring.js';

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
