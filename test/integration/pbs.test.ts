// PBS against a real 3-node cluster: GET /admin/pbs answers every (R, W) before and after
// traffic, strict quorums are 1, it takes the admin token and refuses a bad query with 400, and
// `kvorum pbs` prints the table. GET /admin/pbs/curve answers the whole curve of every (R, W)
// in one request, the same way.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbsResult } from '../../src/client/kvorum-client.js';
import type { PbsCurveAnswer } from '../../src/replica/pbs-curve-report.js';
import { TestCluster, until } from '../support/cluster.js';
import { runCli } from '../support/kvorum-cli.js';

const TOKEN = 'pbs-test-token';
const PAIRS = ['1,1', '1,2', '1,3', '2,1', '2,2', '2,3', '3,1', '3,2', '3,3'];

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ adminToken: TOKEN });
});
afterAll(async () => {
  await c?.stop();
});

async function pbs(id: string, query: string): Promise<PbsResult> {
  const res = await c.admin(id, 'GET', `/admin/pbs${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as PbsResult;
}

const pairsOf = (r: PbsResult) => r.predictions.map((p) => `${p.r},${p.w}`);

async function curve(id: string, query: string): Promise<PbsCurveAnswer> {
  const res = await c.admin(id, 'GET', `/admin/pbs/curve${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as PbsCurveAnswer;
}

describe('GET /admin/pbs', () => {
  it('answers before any traffic: strict quorums are 1, the rest unknown, and it says why', async () => {
    const r = await pbs('n3', '');
    expect(r).toMatchObject({ node: 'n3', n: 3, tMs: 0, k: 1, enoughSamples: false });
    expect(pairsOf(r)).toEqual(PAIRS);
    for (const p of r.predictions) expect(p.pConsistent).toBe(p.r + p.w > 3 ? 1 : null);
    expect(r.notes.join(' ')).toMatch(/no replies yet/);
  });

  it('after quorum reads and writes: every (R, W) once, R+W>N is 1, every probability in [0, 1]', async () => {
    for (let i = 0; i < 40; i++) {
      expect((await c.put('n1', `pbs/${i % 8}`, `v${i}`, '?w=quorum')).status).toBe(204);
      expect((await c.get('n1', `pbs/${i % 8}`, '?r=quorum')).status).toBe(200);
    }
    // A quorum write answers before its third ack, which is measured when it comes.
    const r = await until('n1 to have measured every write reply', async () => {
      const answer = await pbs('n1', '?t=2.5&k=3');
      return Object.values(answer.samples).every((s) => s.writes === 40) && answer;
    });
    expect(r).toMatchObject({ node: 'n1', n: 3, tMs: 2.5, k: 3, trials: 10_000 });
    expect(pairsOf(r)).toEqual(PAIRS);
    for (const p of r.predictions) {
      expect(p.strictQuorum, `${p.r},${p.w}`).toBe(p.r + p.w > 3);
      if (p.strictQuorum) expect([p.pConsistent, p.pWithinK]).toEqual([1, 1]);
      for (const x of [p.pConsistent, p.pWithinK]) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
      }
      expect(p.pWithinK).toBeGreaterThanOrEqual(p.pConsistent as number);
      expect(p.readMs!.p50).toBeGreaterThan(0);
      expect(p.writeMs!.p99).toBeGreaterThanOrEqual(p.writeMs!.p50);
    }
    // Every write reached every replica, and each reply was measured (this node's own too).
    expect(Object.keys(r.samples)).toEqual(['n1', 'n2', 'n3']);
    expect(r.samples.n1).toMatchObject({ reads: 40, writeFrom: 'own', readFrom: 'own' });
    expect(r.enoughSamples).toBe(true);
    // n2 coordinated nothing: it says so rather than borrowing n1's view.
    expect((await pbs('n2', '')).enoughSamples).toBe(false);
  });

  it('needs the admin token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const res = await fetch(`${c.url('n1')}/admin/pbs?t=1`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('refuses a bad query with 400 invalid_argument and a sentence that says what to send', async () => {
    for (const [query, message] of [
      ['?t=-1', /t must be a number of milliseconds from 0 to 60000/],
      ['?t=60001', /t must be/],
      ['?t=later', /t must be/],
      ['?k=0', /k must be a whole number of versions from 1 to 100/],
      ['?k=101', /k must be/],
      ['?t=1&t=2', /given more than once/],
      ['?versions=2', /unknown query parameter "versions"/],
    ] as const) {
      const res = await c.admin('n1', 'GET', `/admin/pbs${query}`);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, query).toBe('invalid_argument');
      expect(body.message, query).toMatch(message);
    }
  });

  it('kvorum pbs prints one row per (R, W), and exits 2 on a bad flag', async () => {
    const run = runCli(['pbs', '--url', c.url('n1'), '--t', '5', '--k', '2'], {
      KVORUM_ADMIN_TOKEN: TOKEN,
    });
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^PBS on n1: a read issued 5 ms after a write was acknowledged, N=3/);
    expect(stdout).toMatch(/P\(consistent\)\s+P\(within k=2\)/);
    const rows = stdout.split('\n').filter((l) => /^\d {2}\d {2}/.test(l));
    expect(rows.map((l) => l.slice(0, 4).replace(/\s+/g, ','))).toEqual(PAIRS);
    expect(rows.filter((l) => l.includes('strict'))).toHaveLength(6);
    const bad = await runCli(['pbs', '--url', c.url('n1'), '--t', 'soon']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--t must be milliseconds from 0 to 60000/);
  });
});

describe('GET /admin/pbs/curve', () => {
  it('before a node has measured anything: strict quorums are 1 at every point, the rest null', async () => {
    // n3 coordinates nothing in this file.
    const a = await curve('n3', '');
    expect(a).toMatchObject({ node: 'n3', n: 3, enoughSamples: false });
    expect(a.tMs[0]).toBe(0);
    expect(a.curves.map((p) => `${p.r},${p.w}`)).toEqual(PAIRS);
    for (const p of a.curves)
      expect(p.pConsistent).toEqual(p.strictQuorum ? a.tMs.map(() => 1) : null);
    expect(a.notes.join(' ')).toMatch(/no replies yet/);
  });

  it('after traffic: every (R, W) from one request, on an axis where each line flattens, agreeing with /admin/pbs', async () => {
    // Enough writes through n1 for every member's samples, whatever ran before.
    for (let i = 0; i < 40; i++) {
      expect((await c.put('n1', `curve/${i % 8}`, `v${i}`)).status).toBe(204);
    }
    await until('n1 to have enough samples', async () => (await curve('n1', '')).enoughSamples);
    const a = await curve('n1', '');
    expect(a).toMatchObject({ node: 'n1', n: 3, trials: 10_000 });
    expect(a.curves.map((p) => `${p.r},${p.w}`)).toEqual(PAIRS);
    expect(a.tMs[0]).toBe(0);
    a.tMs.forEach((t, i) => i > 0 && expect(t).toBeGreaterThan(a.tMs[i - 1]!));
    for (const p of a.curves) {
      const points = p.pConsistent as number[];
      expect(points, `${p.r},${p.w}`).toHaveLength(a.tMs.length);
      points.forEach((x, i) => expect(x).toBeGreaterThanOrEqual(points[i - 1] ?? 0));
      // The axis the node picks ends where every (R, W) is consistent 99% of the time.
      expect(points.at(-1), `${p.r},${p.w}`).toBeGreaterThanOrEqual(0.99);
      if (p.strictQuorum) expect(new Set(points)).toEqual(new Set([1]));
      expect(p.readMs!.p99).toBeGreaterThanOrEqual(p.readMs!.p50);
      expect(p.writeMs!.p50).toBeGreaterThan(0);
    }

    // Given points: the same model answers GET /admin/pbs for a while, so they agree (to the
    // trials' noise, should a new model have been made between the two calls).
    const given = await curve('n1', '?t=0,0.5,2.5');
    const single = await pbs('n1', '?t=2.5');
    expect(given.tMs).toEqual([0, 0.5, 2.5]);
    for (const [i, p] of single.predictions.entries()) {
      const fromCurve = given.curves[i]!.pConsistent![2]!;
      expect(Math.abs(fromCurve - (p.pConsistent as number)), `${p.r},${p.w}`).toBeLessThan(0.03);
    }
  });

  it('needs the admin token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const res = await fetch(`${c.url('n1')}/admin/pbs/curve`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('refuses a bad query with 400 invalid_argument and a sentence that says what to send', async () => {
    const tooMany = Array.from({ length: 101 }, (_, i) => i).join(',');
    for (const [query, message] of [
      ['?t=1,x', /each t must be a number of milliseconds from 0 to 60000.*value 2 is "x"/],
      ['?t=5,1', /t must list increasing values/],
      ['?t=70000', /each t must be/],
      [`?t=${tooMany}`, /t lists at most 100 values; got 101/],
      ['?t=1&t=2', /given more than once/],
      ['?k=2', /unknown query parameter "k"/],
    ] as const) {
      const res = await c.admin('n1', 'GET', `/admin/pbs/curve${query}`);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, query).toBe('invalid_argument');
      expect(body.message, query).toMatch(message);
    }
  });
});
