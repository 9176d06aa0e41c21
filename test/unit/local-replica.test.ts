import { afterEach, describe, expect, it } from 'vitest';
import { SIBLINGS } from '../../src/core/conflicts.js';
import { NotAnIssuerError, ValueTooLargeError } from '../../src/core/errors.js';
import { HybridClock } from '../../src/core/hlc.js';
import type { NewContent } from '../../src/core/replica-links.js';
import { EMPTY_CLOCK, clockGet, type VClock } from '../../src/core/version-set.js';
import { DotCounter } from '../../src/replica/dot-counter.js';
import { LocalReplica, PurgeHeldError } from '../../src/replica/local-replica.js';
import { memoryStore, type LevelReplicaStore } from '../../src/storage/level-store.js';

const text = (s: string): NewContent => ({
  value: new TextEncoder().encode(s),
  contentType: 'text/plain',
  tombstone: false,
});
const TOMBSTONE: NewContent = { value: new Uint8Array(0), contentType: '', tombstone: true };

let store: LevelReplicaStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function replica(block?: number, mayIssue?: (key: string) => boolean) {
  store = memoryStore(SIBLINGS);
  await store.open();
  const dots = new DotCounter(store, block);
  await dots.open();
  const clock = { nowMs: () => 1_000, monotonicMs: () => 0 };
  const local = new LocalReplica({
    self: 'n1',
    store,
    hlc: new HybridClock('n1', clock),
    policy: SIBLINGS,
    siblingsMax: 100,
    dots,
    ...(mayIssue !== undefined ? { mayIssue } : {}),
  });
  const write = (content: NewContent, context: VClock = EMPTY_CLOCK) =>
    local.update('k', { context, content });
  return { local, dots, write, store };
}

/** A set as lww mode stores it (no dots): refused by a siblings-mode replica. */
const LWW_SHAPED = {
  clock: [],
  siblings: [
    {
      dot: null,
      ts: { wallMs: 5, logical: 0, node: 'n9' },
      tombstone: false,
      contentType: 't',
      value: new Uint8Array([1]),
    },
  ],
};

const values = (set: { siblings: readonly { value: Uint8Array }[] } | undefined) =>
  (set?.siblings ?? []).map((s) => new TextDecoder().decode(s.value)).sort();

describe('LocalReplica with a dot counter', () => {
  it('a context from before a tombstone purge does not cover writes made after it', async () => {
    const { write, local } = await replica();
    const x = await write(text('x'));
    const y = await write(text('y'), x.clock);
    const oldContext = y.clock; // a client reads, then goes quiet for a long time
    const deleted = await write(TOMBSTONE, y.clock);
    expect(await local.purge('k', deleted)).toBe(true);
    expect(await local.read('k')).toBeUndefined();

    // After the purge: one write without a context, then the old client's write.
    await write(text('a'));
    const after = await write(text('b'), oldContext);
    // b's client never saw a: both are kept.
    expect(values(after)).toEqual(['a', 'b']);
  });

  it('issues dots above every dot issued before, on any key and across a restart', async () => {
    const { local, dots, store: s } = await replica(16_384);
    const first = await local.update('a', { context: EMPTY_CLOCK, content: text('1') });
    const second = await local.update('b', { context: EMPTY_CLOCK, content: text('2') });
    expect(clockGet(second.clock, 'n1')).toBeGreaterThan(clockGet(first.clock, 'n1'));
    expect(dots.floor()).toBe(clockGet(second.clock, 'n1'));
    // A restart continues from the reserved mark, above everything issued before it.
    const again = new DotCounter(s, 16_384);
    await again.open();
    expect(again.floor()).toBeGreaterThan(clockGet(second.clock, 'n1'));
  });

  it('keeps the reservation ahead of the dots it issues', async () => {
    const { local, store: s } = await replica(16_384);
    let last = 0;
    for (let i = 0; i < 9_000; i += 500) {
      const batch = await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          local.update(`key${i + j}`, { context: EMPTY_CLOCK, content: text('v') }),
        ),
      );
      last = Math.max(last, ...batch.map((set) => clockGet(set.clock, 'n1')));
      // What is on disk always covers what was issued.
      expect(Number(await s.getMeta('dotCounter'))).toBeGreaterThanOrEqual(last);
    }
  });

  it('refuses a block too small to outlast a batch', () => {
    expect(() => new DotCounter(memoryStore(), 100)).toThrow(RangeError);
  });
});

describe('LocalReplica guards', () => {
  it('issues no write for a key it may not issue for (not in its read set), and stores nothing', async () => {
    const { write, local, dots } = await replica(undefined, (key) => key !== 'k');
    const before = dots.floor();
    await expect(write(text('x'))).rejects.toBeInstanceOf(NotAnIssuerError);
    expect(await local.read('k')).toBeUndefined();
    expect(dots.floor()).toBe(before);
    const other = await local.update('other', { context: EMPTY_CLOCK, content: text('y') });
    expect(values(other)).toEqual(['y']);
  });

  it('refuses purges of a key while it is held for a hand-over, and purges once released', async () => {
    const { write, local } = await replica();
    const deleted = await write(TOMBSTONE);
    const release = local.holdPurges('k');
    await expect(local.purge('k', deleted)).rejects.toBeInstanceOf(PurgeHeldError);
    expect(await local.read('k')).toBeDefined();
    release();
    expect(await local.purge('k', deleted)).toBe(true);
    expect(await local.read('k')).toBeUndefined();
  });

  it('refuses a set without dots in siblings mode, and the key stays usable', async () => {
    const { local, write } = await replica();
    await write(text('x'));
    await expect(local.merge('k', LWW_SHAPED)).rejects.toThrow(/only dotted versions/);
    await expect(local.handoff('n2', 'k', LWW_SHAPED)).rejects.toThrow(/only dotted versions/);
    expect(values(await write(text('y')))).toEqual(['x', 'y']);
  });

  it('merges a batch entry by entry: a refused entry fails alone, and applied counts changes', async () => {
    const { local, write } = await replica();
    const x = await write(text('x'));
    const result = await local.mergeMany([
      ['a', x],
      ['bad', LWW_SHAPED],
      ['k', x],
      ['b', x],
    ]);
    // 'k' already holds x: merged, but nothing changed.
    expect(result).toEqual({ applied: 2, failed: [1] });
    expect(values(await local.read('a'))).toEqual(['x']);
    expect(values(await local.read('b'))).toEqual(['x']);
    expect(await local.read('bad')).toBeUndefined();
  });

  it('a context claiming a dot above what this node issued neither covers nor exhausts its counter', async () => {
    const { write } = await replica();
    const x = await write(text('x'));
    const forged: VClock = [['n1', 2 ** 48 - 2]];
    const y = await write(text('y'), forged);
    // Capped at what n1 really issued: x is covered (as a context naming n1.1 would), and the
    // counter stays far from its limit, so later writes still work.
    expect(values(y)).toEqual(['y']);
    expect(clockGet(y.clock, 'n1')).toBeLessThan(2 ** 40);
    expect(values(await write(text('z')))).toEqual(['y', 'z']);
    expect(x.siblings).toHaveLength(1);
  });

  it('refuses a write that would make the key hold more bytes than one frame carries', async () => {
    store = memoryStore(SIBLINGS);
    await store.open();
    const clock = { nowMs: () => 1_000, monotonicMs: () => 0 };
    const local = new LocalReplica({
      self: 'n1',
      store,
      hlc: new HybridClock('n1', clock),
      policy: SIBLINGS,
      siblingsMax: 100,
      setBytesMax: 3_000,
    });
    const big = (n: number): NewContent => ({ ...text(''), value: new Uint8Array(n) });
    const first = await local.update('k', { context: EMPTY_CLOCK, content: big(1_000) });
    await local.update('k', { context: EMPTY_CLOCK, content: big(1_000) });
    await expect(
      local.update('k', { context: EMPTY_CLOCK, content: big(1_000) }),
    ).rejects.toBeInstanceOf(ValueTooLargeError);
    // Resolving is always allowed.
    const all = (await local.read('k'))!.clock;
    expect((await local.update('k', { context: all, content: big(1_000) })).siblings).toHaveLength(
      1,
    );
    expect(first.siblings).toHaveLength(1);
  });
});
