// A node restarted over its store, simulated over real nodes: the node it replaces stops
// following the store, and its hybrid logical clock carries on from where it was.
//
// The HLC's wall part is saved hlcMarkAheadMs ahead of what the node has stamped. A restarted
// node that resumed from that mark stamped ahead of every wall clock in the cluster (10 s, when
// the mark was that far ahead), so in lww mode a later write through another node lost to it,
// and a context read from such a value was refused by the other nodes. A restart now waits until
// its wall clock passes the mark; the two tests below pin that.

import { describe, expect, it } from 'vitest';
import { newestVersion } from '../../src/core/conflicts.js';
import type { WriteRecord } from './history.js';
import { NodeCluster } from './node-cluster.js';
import { forEachSeed } from './sim-seeds.js';

/** A 5-node lww cluster where the first replica of `key` wrote it, crashed and came back. */
async function restartedWriter(seed: number) {
  const c = await NodeCluster.start({ seed, mode: 'lww', nodes: 5 });
  const key = `key-${seed}`;
  const pref = c.preferenceList(key);
  const writer = pref[0]!;
  const outsider = c.ids.find((id) => !pref.includes(id))!;
  const settle = async (w: { done: Promise<void>; record: WriteRecord }) => {
    await c.sched.run(w.done);
    expect(w.record.outcome).toBe('ok');
    return w.record;
  };
  await settle(c.write(writer, key, { r: 3, w: 3 }));
  await c.sched.runFor(1_000);
  c.crash(writer);
  await c.sched.runFor(200);
  await c.restart(writer);
  await c.sched.runFor(2 * c.net.config.detectMaxMs);
  const after = await settle(c.write(writer, key, { r: 3, w: 3 }));
  return { c, key, writer, outsider, after, settle };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('a node restarted over its store', () => {
  it("leaves the node it replaces behind: the store's changes reach only the new one", async () => {
    await forEachSeed(12_500, async (seed) => {
      const c = await NodeCluster.start({ seed, mode: 'siblings', nodes: 3 });
      try {
        const dropped = c.node('n1')!;
        c.crash('n1');
        await c.sched.runFor(200);
        await c.restart('n1');
        await c.sched.runFor(2 * c.net.config.detectMaxMs);
        const before = hex(dropped.antiEntropy.groups('n2'));
        for (let i = 0; i < 5; i++) {
          const { record, done } = c.write('n1', `key-${i}`, { r: 3, w: 3 });
          await c.sched.run(done);
          expect(record.outcome).toBe('ok');
        }
        // Every key of a 3-node cluster with N=3 is on n1 and n2: both trees for n2 move, or would.
        expect(hex(c.node('n1')!.antiEntropy.groups('n2'))).not.toBe(before);
        expect(hex(dropped.antiEntropy.groups('n2')), "the dropped node's tree for n2").toBe(
          before,
        );
      } catch (err) {
        throw c.failed(err);
      } finally {
        await c.stop();
      }
    });
  });
});

describe("a restarted node's clock", () => {
  it('stamps writes within maxClockOffsetMs of every wall clock in the cluster', async () => {
    await forEachSeed(12_000, async (seed) => {
      const { c, after } = await restartedWriter(seed);
      try {
        const stamp = newestVersion(after.result)!.ts.wallMs;
        for (const node of c.nodes())
          expect(
            stamp - node.clock.nowMs(),
            `${after.key}'s stamp ahead of ${node.id}`,
          ).toBeLessThanOrEqual(c.config.maxClockOffsetMs);
      } finally {
        await c.stop();
      }
    });
  });

  it('a write started well after another was acknowledged supersedes it (lww)', async () => {
    await forEachSeed(12_000, async (seed) => {
      const { c, key, outsider, settle } = await restartedWriter(seed);
      try {
        // Five times the largest offset the cluster's clocks may have: no clock can order these
        // two writes the other way round.
        await c.sched.runFor(5 * c.config.maxClockOffsetMs);
        const later = await settle(c.write(outsider, key, { r: 3, w: 3 }));
        const read = await c.sched.run(c.read(outsider, key, { r: 3, w: 3 }));
        if (read instanceof Error) throw read;
        const value = new TextDecoder().decode(newestVersion(read)!.value);
        expect(value, `${key} read after write ${later.id} via ${outsider}`).toBe(later.value);
      } finally {
        await c.stop();
      }
    });
  });
});
