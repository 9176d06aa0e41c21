// The memory return: a full collection once a node is quiet after its memory grew, whether the
// growth came from client uploads or from writes it applied for a coordinator; never while busy,
// and not again while it stays idle.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { Admission } from '../../src/core/admission.js';
import { MemoryReturn } from '../../src/replica/memory-return.js';

const MiB = 1024 * 1024;

function rig() {
  const admission = new Admission({
    bytesMax: 64 * MiB,
    writeBytesMax: 64 * MiB,
    requestsMax: 100,
    retryAfterS: 1,
  });
  const state = { rss: 100 * MiB, heapUsed: 40 * MiB, busy: 0, collections: 0 };
  const m = new MemoryReturn(admission, {
    rss: () => state.rss,
    heapUsed: () => state.heapUsed,
    busy: () => state.busy,
    gc: () => {
      state.collections += 1;
      state.rss = 110 * MiB; // what the collection gave back leaves some growth behind
      state.heapUsed = 45 * MiB;
    },
  });
  const looks = (n: number) => {
    for (let i = 0; i < n; i++) m.look();
  };
  return { admission, state, m, looks };
}

describe('memory return', () => {
  it('collects once the node is quiet after its RSS grew, without a single client upload', () => {
    const { state, m, looks } = rig();
    state.rss += LIMITS.memoryReturnGrowthBytes; // a replica applying a coordinator's writes
    state.busy = 0.9;
    looks(5);
    expect(state.collections).toBe(0); // busy: never mid-burst
    state.busy = 0.01;
    looks(1);
    expect(state.collections).toBe(0); // one quiet look may be a lull between waves
    looks(1);
    expect(state.collections).toBe(1);
    expect(m.collections).toBe(1);
    looks(20);
    expect(state.collections).toBe(1); // idle, no new growth: nothing more to return
  });

  it('does not collect for growth below the threshold, nor while a client request is in flight', () => {
    const { admission, state, looks } = rig();
    state.rss += LIMITS.memoryReturnGrowthBytes - 1;
    looks(5);
    expect(state.collections).toBe(0);
    state.rss += 1;
    const held = admission.admit(0);
    looks(5);
    expect(state.collections).toBe(0);
    admission.release(held);
    looks(2);
    expect(state.collections).toBe(1);
  });

  it('collects once quiet after the used heap grew, when RSS did not (V8 refilled its pages)', () => {
    const { state, looks } = rig();
    state.heapUsed += LIMITS.memoryReturnGrowthBytes - 1;
    looks(5);
    expect(state.collections).toBe(0);
    state.heapUsed += 1;
    looks(2);
    expect(state.collections).toBe(1);
    looks(10);
    expect(state.collections).toBe(1); // measured again from what the collection left
  });

  it('collects after enough upload bytes even when RSS barely moved', () => {
    const { admission, state, looks } = rig();
    admission.release(admission.admit(LIMITS.memoryReturnAfterBytes));
    looks(2);
    expect(state.collections).toBe(1);
  });
});
