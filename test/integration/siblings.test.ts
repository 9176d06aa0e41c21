// --conflicts siblings over real processes: concurrent writes on the two sides of a partition
// come back as a 300, a write with that read's context resolves them on every replica, and a
// write with an older context becomes a sibling instead of overwriting; three writes sent at
// once with one context all survive.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from '../support/cluster.js';

const CTX = 'x-kvorum-context';

interface SiblingsBody {
  siblings: Array<{ value: string; contentType: string; deleted?: boolean }>;
}

/** Every replica holds exactly `values` as live siblings. */
const everywhere = (c: TestCluster, key: string, values: string[]) =>
  until(`every replica to hold ${values.join(',')} for ${key}`, async () => {
    for (const id of c.ids) {
      if (JSON.stringify(await c.localValues(id, key)) !== JSON.stringify(values)) return false;
    }
    return true;
  });

const texts = (body: SiblingsBody) =>
  body.siblings
    .filter((s) => !s.deleted)
    .map((s) => Buffer.from(s.value, 'base64').toString())
    .sort();

describe('siblings mode', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.start({ conflicts: 'siblings', siblingsMax: 3 });
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  it('keeps both sides of a partition as siblings and resolves them with the read context', async () => {
    const key = 'cart';
    expect((await c.put('n1', key, 'empty', '?w=all')).status).toBe(204);
    const first = await c.get('n1', key);
    expect(first.status).toBe(200);
    const ctx = first.headers.get(CTX) as string;
    expect(ctx).toMatch(/^[A-Za-z0-9_-]+$/);

    await c.partition([['n1', 'n2'], ['n3']]);
    await c.waitSees('n3', 'down', ['n1', 'n2']);
    const left = await c.put('n1', key, 'left', '?w=one', { [CTX]: ctx });
    const right = await c.put('n3', key, 'right', '?w=one', { [CTX]: ctx });
    expect([left.status, right.status]).toEqual([204, 204]);
    await c.heal();
    await c.waitAllUp();

    // Hints carry each side's write to the other; a read merges whatever it finds anyway.
    const conflicted = await until('a 300 with both sides', async () => {
      const res = await c.get('n2', key, '?r=all');
      if (res.status !== 300) return false;
      const body = (await res.json()) as SiblingsBody;
      return texts(body).join(',') === 'left,right' ? { res, body } : false;
    });
    expect(conflicted.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(conflicted.body.siblings.every((s) => s.contentType.length > 0)).toBe(true);
    const seen = conflicted.res.headers.get(CTX) as string;

    expect((await c.put('n3', key, 'left+right', '', { [CTX]: seen })).status).toBe(204);
    const resolved = await c.get('n1', key, '?r=all');
    expect(resolved.status).toBe(200);
    expect(await resolved.text()).toBe('left+right');
    await everywhere(c, key, ['left+right']);
  });

  it('a write with an older context becomes a sibling instead of overwriting', async () => {
    const key = 'profile';
    await c.put('n1', key, 'v1', '?w=all');
    const old = (await c.get('n2', key)).headers.get(CTX) as string;
    await c.put('n2', key, 'v2', '?w=all', { [CTX]: old });
    // Written with the context from before v2: it did not see v2, so both stay.
    await c.put('n3', key, 'v3', '?w=all', { [CTX]: old });
    const res = await c.get('n1', key, '?r=all');
    expect(res.status).toBe(300);
    expect(texts((await res.json()) as SiblingsBody)).toEqual(['v2', 'v3']);
    // v1 is gone: both writes saw it.
    await everywhere(c, key, ['v2', 'v3']);
  });

  it('writes without a context never overwrite each other', async () => {
    const key = 'blind';
    await c.put('n1', key, 'a', '?w=all');
    await c.put('n2', key, 'b', '?w=all');
    const res = await c.get('n3', key, '?r=all');
    expect(res.status).toBe(300);
    expect(texts((await res.json()) as SiblingsBody)).toEqual(['a', 'b']);
  });

  it('a delete is a sibling like any write, and a delete with the context resolves to 404', async () => {
    const key = 'doc';
    await c.put('n1', key, 'draft', '?w=all');
    const ctx = (await c.get('n1', key)).headers.get(CTX) as string;
    await c.del('n2', key, '?w=all', { [CTX]: ctx });
    await c.put('n3', key, 'edit', '?w=all', { [CTX]: ctx });
    const both = await c.get('n1', key, '?r=all');
    expect(both.status).toBe(300);
    const body = (await both.json()) as SiblingsBody;
    expect(texts(body)).toEqual(['edit']);
    expect(body.siblings.filter((s) => s.deleted === true)).toHaveLength(1);
    const seen = both.headers.get(CTX) as string;
    expect((await c.del('n1', key, '?w=all', { [CTX]: seen })).status).toBe(204);
    const gone = await c.get('n2', key, '?r=all');
    expect(gone.status).toBe(404);
    expect(gone.headers.get(CTX)).toBeTruthy();
  });

  it('refuses writes past the sibling cap with 409 naming the key in the log, until resolved', async () => {
    const key = 'hot-key';
    for (const v of ['1', '2', '3']) expect((await c.put('n1', key, v, '?w=all')).status).toBe(204);
    const refused = await c.put('n2', key, '4', '?w=all');
    expect(refused.status).toBe(409);
    const err = (await refused.json()) as { error: string; siblings: number; limit: number };
    expect(err).toMatchObject({ error: 'too_many_siblings', siblings: 3, limit: 3 });
    // Nothing was written by the refused write.
    const read = await c.get('n3', key, '?r=all');
    expect(texts((await read.json()) as SiblingsBody)).toEqual(['1', '2', '3']);
    expect(c.logs.get('n2')?.join('')).toMatch(/"key":"hot-key".*sibling cap/);
    const metrics = await (await c.admin('n2', 'GET', '/metrics')).text();
    expect(metrics).toMatch(/kvorum_sibling_cap_refusals_total [1-9]/);
    // The resolving write is accepted.
    const ctx = read.headers.get(CTX) as string;
    expect((await c.put('n2', key, 'merged', '?w=all', { [CTX]: ctx })).status).toBe(204);
    expect(await (await c.get('n1', key)).text()).toBe('merged');
  });

  it('refuses consistency=linearizable, which needs a single-valued register', async () => {
    const res = await c.get('n1', 'x', '?consistency=linearizable');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/lww/);
  });

  it('answers 400 for a context naming nodes outside the cluster, and writes nothing', async () => {
    const foreign = Buffer.from('2|n1.1,zz.7').toString('base64url');
    const res = await c.put('n1', 'foreign-ctx', 'v', '', { [CTX]: foreign });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/not in this cluster/);
    const tooLong = Buffer.from(
      `2|${Array.from({ length: 70 }, (_, i) => `n${String(i).padStart(2, '0')}.1`).join(',')}`,
    ).toString('base64url');
    expect((await c.put('n1', 'foreign-ctx', 'v', '', { [CTX]: tooLong })).status).toBe(400);
    expect((await c.get('n1', 'foreign-ctx', '?r=all')).status).toBe(404);
  });

  it('answers 400 for a malformed context and writes nothing', async () => {
    const res = await c.put('n1', 'bad-ctx', 'v', '', { [CTX]: 'not a context!' });
    expect(res.status).toBe(400);
    expect((await c.get('n1', 'bad-ctx', '?r=all')).status).toBe(404);
  });
});

describe('siblings under true concurrency', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start({ conflicts: 'siblings' });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
  });

  // With a merge that dropped concurrent siblings, a run failed within its first six rounds.
  const ROUNDS = 20;
  const WRITERS = ['n1', 'n2', 'n3'];

  // Whatever order the three writes reach each replica in (issued first, or merged into a
  // replica that then issues its own), none covers another's dot, so all three stay: DESIGN
  // 2.3, no acknowledged write is ever lost. Only that is asserted, in every round.
  it(`three writes with one context, sent at once through n1, n2 and n3, all survive as siblings on every node (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `race-${round}`;
      expect((await c.put('n1', key, 'original', '?w=all')).status).toBe(204);
      const seen = await c.get('n2', key, '?r=all');
      expect(seen.status).toBe(200);
      const ctx = seen.headers.get(CTX) as string;

      const acks = await Promise.all(
        WRITERS.map((id) => c.put(id, key, `from-${id}`, '', { [CTX]: ctx })),
      );
      expect(
        acks.map((r) => r.status),
        key,
      ).toEqual([204, 204, 204]);

      const expected = WRITERS.map((id) => `from-${id}`);
      for (const id of c.ids) {
        const res = await c.get(id, key, '?r=all');
        expect(res.status, `${key} via ${id}`).toBe(300);
        expect(texts((await res.json()) as SiblingsBody), `${key} via ${id}`).toEqual(expected);
      }
      // Each replica's own copy, once the background replication of the W=quorum writes lands.
      await everywhere(c, key, expected);
    }
  });
});

describe('lww mode accepts a siblings context and ignores it', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start({ nodes: 3 });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('lets one client code path work in both modes', async () => {
    // A context as a siblings cluster would hand out.
    const clockCtx = Buffer.from('2|n1.4,n2.1').toString('base64url');
    expect((await c.put('n1', 'k', 'a', '?w=all', { [CTX]: clockCtx })).status).toBe(204);
    const res = await c.get('n2', 'k');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('a');
    const lwwCtx = res.headers.get(CTX) as string;
    expect((await c.put('n3', 'k', 'b', '?w=all', { [CTX]: lwwCtx })).status).toBe(204);
    expect(await (await c.get('n1', 'k')).text()).toBe('b');
  });
});

describe('a siblings node that lost its disk', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start({ conflicts: 'siblings' });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('issues under a new actor id, so writes it can no longer see are kept as siblings', async () => {
    expect((await c.put('n1', 'k', 'before', '?w=all')).status).toBe(204);
    const actorBefore = Object.keys((await c.local('n2', 'k'))!.clock);
    await c.kill('n1');
    await rm(join(c.dir, 'n1'), { recursive: true, force: true });
    await c.restart('n1');
    await c.waitAllUp();
    // A write without a context, through the wiped node: it never saw 'before'.
    expect((await c.put('n1', 'k', 'after', '?w=all')).status).toBe(204);
    const res = await c.get('n2', 'k', '?r=all');
    expect(res.status).toBe(300);
    expect(texts((await res.json()) as SiblingsBody)).toEqual(['after', 'before']);
    const actorsAfter = Object.keys((await c.local('n2', 'k'))!.clock);
    expect(actorsAfter).toHaveLength(2);
    expect(actorsAfter).toEqual(expect.arrayContaining(actorBefore));
    expect(actorsAfter.every((a) => a.startsWith('n1~'))).toBe(true);
  });
});
