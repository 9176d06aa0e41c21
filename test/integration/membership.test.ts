// Elastic membership with real processes: nodes join a running cluster (serve --join) and
// leave it (POST /admin/leave), alive or killed, under a steady write load, and no
// acknowledged write is lost: each reads back at r=quorum from the nodes that joined.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, TestCluster, freePorts, until } from '../support/cluster.js';

let c: TestCluster;
beforeAll(async () => {
  c = await TestCluster.start({ antiEntropyIntervalMs: 0 });
});
afterAll(async () => {
  await c?.stop();
});

const settled = async (via: string, version: number) => {
  const t0 = performance.now();
  try {
    return await until(
      `layout version ${version} settled at ${via}`,
      async () => {
        const l = await c.layout(via);
        return l.version >= version && l.settled ? l : false;
      },
      40_000,
      100,
    );
  } catch (err) {
    console.log(JSON.stringify(await c.layout(via)), c.dump().slice(-6000));
    throw err;
  } finally {
    console.log(`version ${version} settled after ${Math.round(performance.now() - t0)} ms`);
  }
};

/** Writes fresh keys through `via` until stopped; resolves with the ones acknowledged. */
function writeLoad(via: () => string, prefix: string) {
  let running = true;
  const acked = new Map<string, string>();
  const failed: number[] = [];
  const done = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}${i}`;
      const res = await c.put(via(), key, `w${i}`, '?w=quorum').catch(() => undefined);
      if (res?.status === 204) acked.set(key, `w${i}`);
      else failed.push(res?.status ?? 0);
    }
  })();
  return {
    acked,
    failed,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('membership', () => {
  it('a node joins a running cluster: it takes its ranges, and every write reads back from it', async () => {
    const acked: string[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await c.put('n1', `k${i}`, `v${i}`, '?w=quorum');
      expect(res.status).toBe(204);
      acked.push(`k${i}`);
    }
    const before = await c.layout('n1');
    expect(before).toMatchObject({ version: 1, settled: true });

    await c.join('n4', 'n1');
    const after = await settled('n1', 2);
    expect(after.nodes.map((n) => `${n.id}:${n.state}`)).toEqual([
      'n1:member',
      'n2:member',
      'n3:member',
      'n4:member',
    ]);
    const status = await c.status('n4');
    expect(status.keys as number).toBeGreaterThan(0);
    // Once settled, a node keeps only the keys it owns: N copies of each key in all.
    await until(
      'each key on exactly N=3 nodes',
      async () => {
        let total = 0;
        for (const id of ['n1', 'n2', 'n3', 'n4']) total += (await c.status(id)).keys as number;
        return total === acked.length * 3 ? total : false;
      },
      20_000,
      200,
    );
    for (const key of acked) {
      const res = await c.get('n4', key, '?r=quorum');
      expect(res.status, key).toBe(200);
      expect(await res.text()).toBe(`v${key.slice(1)}`);
    }
  });

  it(
    'under a steady write load: n5 joins, n1 leaves alive (and exits 0), a killed n2 is removed; nothing acknowledged is lost',
    { timeout: 180_000 },
    async () => {
      const base = (await c.layout('n3')).version;
      const load = writeLoad(() => 'n3', 'load-');
      try {
        await until('some writes acknowledged', () => load.acked.size >= 20, 30_000, 50);
        await c.join('n5', 'n3');
        await settled('n3', base + 1);

        const n1 = c.procs.get('n1')!;
        const n1Exit = new Promise<number | null>((resolve) => n1.once('exit', resolve));
        const left = await c.admin('n3', 'POST', '/admin/leave', { id: 'n1' });
        expect(left.status).toBe(200);
        expect(((await left.json()) as { dead: boolean }).dead).toBe(false);
        await settled('n3', base + 2);
        expect(await n1Exit).toBe(0);

        await c.kill('n2');
        await until(
          'n3 sees n2 down',
          async () => (await c.status('n3')).nodes.some((n) => n.id === 'n2' && n.state === 'down'),
          10_000,
          100,
        );
        const removed = await c.admin('n3', 'POST', '/admin/leave', { id: 'n2' });
        expect(removed.status).toBe(200);
        expect(((await removed.json()) as { dead: boolean }).dead).toBe(true);
        const last = await settled('n3', base + 3);
        const ids = last.nodes.map((n) => n.id);
        expect(ids).toContain('n5');
        expect(ids).not.toContain('n1');
        expect(ids).not.toContain('n2');
        await until('more writes after the last change', () => load.acked.size >= 60, 30_000, 50);
      } finally {
        await load.stop();
      }
      console.log(
        `load: ${load.acked.size} acknowledged, ${load.failed.length} not (${JSON.stringify(
          Object.fromEntries(
            [...new Set(load.failed)].map((s) => [s, load.failed.filter((x) => x === s).length]),
          ),
        )})`,
      );
      for (const id of ['n4', 'n5']) {
        expect((await c.status(id)).keys as number, `${id} keys`).toBeGreaterThan(0);
      }
      const lost: string[] = [];
      for (const [key, value] of load.acked) {
        for (const id of ['n4', 'n5']) {
          const res = await c.get(id, key, '?r=quorum');
          if (res.status !== 200 || (await res.text()) !== value)
            lost.push(`${key}@${id}:${res.status}`);
        }
      }
      expect(lost).toEqual([]);
    },
  );

  it('refuses a leave that would leave fewer than N nodes, and a join of an id that is a member (exit 2)', async () => {
    const layout = await c.layout('n3');
    expect(layout.nodes).toHaveLength(3);
    const refused = await c.admin('n3', 'POST', '/admin/leave', { id: 'n4' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /would leave 2 nodes, fewer than N=3/,
    );
    expect((await c.layout('n3')).version).toBe(layout.version);

    const [httpPort, peerPort] = await freePorts(2);
    const child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--join',
        c.url('n3'),
        '--id',
        'n4',
        '--http',
        `127.0.0.1:${httpPort}`,
        '--peer',
        `127.0.0.1:${peerPort}`,
        '--data',
        join(c.dir, 'n4-again'),
        '--insecure-peers',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(/refused to add n4/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect((await c.layout('n3')).version).toBe(layout.version);
  });
});

describe('membership: removing a dead node', () => {
  let d: TestCluster;
  beforeAll(async () => {
    d = await TestCluster.start({ nodes: 4, antiEntropyIntervalMs: 0 });
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('hands the hints kept for it to the new owners: none stays pending, every write is on every owner', async () => {
    await d.kill('n4');
    await until(
      'n1 sees n4 down',
      async () => (await d.status('n1')).nodes.some((n) => n.id === 'n4' && n.state === 'down'),
      10_000,
      100,
    );
    const written: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await d.put(`n${1 + (i % 3)}`, `h${i}`, `v${i}`, '?w=2');
      expect(res.status).toBe(204);
      written.push(`h${i}`);
    }
    const pendingFor = async () => {
      let total = 0;
      for (const id of ['n1', 'n2', 'n3']) {
        const hints = (await d.status(id)).hints as unknown as { byTarget: Record<string, number> };
        total += hints.byTarget.n4 ?? 0;
      }
      return total;
    };
    expect(await pendingFor()).toBeGreaterThan(0);

    const res = await d.admin('n1', 'POST', '/admin/leave', { id: 'n4' });
    expect(res.status).toBe(200);
    await until(
      'the layout without n4 settled',
      async () => {
        const l = await d.layout('n1');
        return l.settled && !l.nodes.some((n) => n.id === 'n4');
      },
      40_000,
      100,
    );
    await until('no hint kept for n4', async () => (await pendingFor()) === 0, 20_000, 200);
    for (const key of written) {
      for (const id of ['n1', 'n2', 'n3']) {
        const copy = await d.localValues(id, key);
        expect(copy, `${key} on ${id}`).toEqual([`v${key.slice(1)}`]);
      }
    }
  });
});

describe('membership: siblings contexts across a departure', () => {
  let s: TestCluster;
  beforeAll(async () => {
    s = await TestCluster.start({ conflicts: 'siblings', antiEntropyIntervalMs: 0 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("a node that joined after n1 left accepts a context naming n1's dots", async () => {
    expect((await s.put('n1', 'ctx-key', 'first', '?w=all')).status).toBe(204);
    await s.join('n4', 'n2');
    const settledWithout = async (id: string, gone: string) =>
      until(
        `layout settled without ${gone}`,
        async () => {
          const l = await s.layout(id);
          return l.settled && !l.nodes.some((n) => n.id === gone) ? l : false;
        },
        40_000,
        100,
      );
    await until('n4 a member', async () => (await s.layout('n2')).settled, 40_000, 100);
    expect((await s.admin('n2', 'POST', '/admin/leave', { id: 'n1' })).status).toBe(200);
    await settledWithout('n2', 'n1');
    await s.join('n5', 'n2');
    await until('n5 a member', async () => (await s.layout('n2')).settled, 40_000, 100);
    const read = await s.get('n2', 'ctx-key', '?r=quorum');
    const ctx = read.headers.get('x-kvorum-context') as string;
    expect(Buffer.from(ctx, 'base64url').toString()).toMatch(/n1~/);
    const res = await s.put('n5', 'ctx-key', 'second', '?w=quorum', { 'x-kvorum-context': ctx });
    expect(res.status, await res.text()).toBe(204);
  });
});

describe('membership: a joiner that never starts', () => {
  let e: TestCluster;
  beforeAll(async () => {
    e = await TestCluster.start({ antiEntropyIntervalMs: 0 });
  });
  afterAll(async () => {
    await e?.stop();
  });

  it('holds its transition up until a leave excuses it; a second leave removes it; every write reads back', async () => {
    // Agreed, but no process ever serves these ports (serve --join gave up, say).
    const [httpPort, peerPort] = await freePorts(2);
    const joined = await e.admin('n1', 'POST', '/admin/join', {
      id: 'n4',
      http: `http://127.0.0.1:${httpPort}`,
      peer: `127.0.0.1:${peerPort}`,
    });
    expect(joined.status).toBe(200);
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await e.put(`n${1 + (i % 3)}`, `j${i}`, `v${i}`, '?w=quorum');
      expect(res.status, `put j${i} during the transition`).toBe(204);
      written.push(`j${i}`);
    }
    const stuck = await e.layout('n2');
    expect(stuck.settled).toBe(false);
    expect(stuck.nodes.find((n) => n.id === 'n4')?.state).toBe('joining');
    // Another change is refused meanwhile, as always; a leave of the dead joiner is not.
    expect((await e.admin('n2', 'POST', '/admin/leave', { id: 'n3' })).status).toBe(409);

    const excused = await e.admin('n2', 'POST', '/admin/leave', { id: 'n4' });
    expect(excused.status).toBe(200);
    expect(await excused.json()).toMatchObject({ dead: true, excused: true });
    for (const id of ['n1', 'n2', 'n3']) {
      await until(
        `${id}: the transition ends without n4`,
        async () => {
          const l = await e.layout(id);
          return l.settled && l.nodes.find((n) => n.id === 'n4')?.state === 'member';
        },
        30_000,
        100,
      );
    }

    const removed = await e.admin('n3', 'POST', '/admin/leave', { id: 'n4' });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ dead: true, excused: false });
    for (const id of ['n1', 'n2', 'n3']) {
      await until(
        `${id}: settled without n4`,
        async () => {
          const l = await e.layout(id);
          return l.settled && !l.nodes.some((n) => n.id === 'n4');
        },
        30_000,
        100,
      );
    }
    for (const key of written) {
      const res = await e.get('n3', key, '?r=quorum');
      expect(res.status, key).toBe(200);
      expect(await res.text()).toBe(`v${key.slice(1)}`);
    }
  });
});
