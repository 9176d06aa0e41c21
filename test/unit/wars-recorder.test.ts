// The reservoirs PBS samples from: bounded per peer and kind, uniform over the replies seen up
// to the horizon, then following a link that changes; and the halving of round trips into the
// model's one-way legs.

import { describe, expect, it } from 'vitest';
import { halvedLegs, localLegs, WarsRecorder } from '../../src/replica/wars-recorder.js';
import { SeededRng } from '../../src/verify/rng.js';

function recorder(samplesMax: number, horizon: number, seed = 1): WarsRecorder {
  const rng = new SeededRng(seed);
  return new WarsRecorder({ samplesMax, horizon, random: () => rng.next() });
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('WarsRecorder', () => {
  it('keeps every reply until full, then never more than samplesMax per peer and kind', () => {
    const rec = recorder(100, 1_000);
    for (let i = 0; i < 60; i++) rec.record('n2', 'write', i);
    expect(rec.roundTrips('n2').write).toEqual(Array.from({ length: 60 }, (_, i) => i));
    for (let i = 60; i < 5_000; i++) rec.record('n2', 'write', i);
    rec.record('n2', 'read', 7);
    expect(rec.roundTrips('n2').write).toHaveLength(100);
    expect(rec.roundTrips('n2').read).toEqual([7]);
    expect(rec.roundTrips('n3')).toEqual({ write: [], read: [] });
  });

  it('is a uniform sample of the replies up to the horizon: early ones as likely as late ones', () => {
    const rec = recorder(200, 4_000, 2);
    for (let i = 0; i < 4_000; i++) rec.record('n2', 'read', i);
    const kept = rec.roundTrips('n2').read;
    // Uniform over 0..3999: mean 2000, and about half from each half (200 samples: sd ~ 0.035).
    expect(Math.abs(mean(kept) - 2_000)).toBeLessThan(250);
    expect(Math.abs(kept.filter((x) => x < 2_000).length / kept.length - 0.5)).toBeLessThan(0.12);
  });

  it('past the horizon, follows a link that slowed down instead of averaging its whole life', () => {
    const rec = recorder(200, 1_000, 3);
    for (let i = 0; i < 20_000; i++) rec.record('n2', 'write', 1);
    for (let i = 0; i < 3_000; i++) rec.record('n2', 'write', 50);
    const kept = rec.roundTrips('n2').write;
    // Each sample survives a reply with chance 1 - 1/1000: after 3000, e^-3 = 5% are old.
    // A plain reservoir over all 23,000 replies would hold 3000/23000 = 13% new ones.
    expect(kept.filter((x) => x === 50).length / kept.length).toBeGreaterThan(0.9);
  });

  it('ignores what is not a duration, and forgets nodes that left the layout', () => {
    const rec = recorder(10, 10);
    rec.record('n2', 'read', -1);
    rec.record('n2', 'read', Number.NaN);
    rec.record('n2', 'read', 2);
    rec.record('n3', 'read', 3);
    expect(rec.roundTrips('n2').read).toEqual([2]);
    rec.retain(new Set(['n1', 'n2']));
    expect(rec.roundTrips('n2').read).toEqual([2]);
    expect(rec.roundTrips('n3').read).toEqual([]);
  });

  it('hands out copies: recording on does not change a snapshot already taken', () => {
    const rec = recorder(10, 10);
    rec.record('n2', 'write', 1);
    const before = rec.roundTrips('n2');
    rec.record('n2', 'write', 2);
    expect(before.write).toEqual([1]);
  });

  it("splits a peer's round trip into two equal one-way legs", () => {
    expect(halvedLegs([2, 4], [1])).toEqual({ w: [1, 2], a: [1, 2], r: [0.5], s: [0.5] });
  });

  it("puts the whole of this node's own round trip where its store acts: a write at the end, a read at the start", () => {
    expect(localLegs([2, 4], [1])).toEqual({ w: [2, 4], a: [0, 0], r: [0], s: [1] });
  });
});
