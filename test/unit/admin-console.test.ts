// GET /admin/console in process (fastify inject): its query checks, the traffic the /kv routes
// feed it, and one fan-out shared by calls that come close together.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import type { ConsoleClusterView, ConsoleNodeView } from '../../src/core/console-view.js';
import { buildHttpApp } from '../../src/http/app.js';
import type { HttpBackend } from '../../src/http/backend.js';
import { CLUSTER_FACTS, NO_FAULTS, auth, fakeBackend } from '../support/console-backend.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function appFor(backend: HttpBackend): Promise<Awaited<ReturnType<typeof buildHttpApp>>> {
  const app = await buildHttpApp(backend, pino({ level: 'silent' }));
  apps.push(app);
  return app;
}

describe('GET /admin/console', () => {
  it.each([
    ['scope=everything', /scope must be cluster or node/],
    ['scope=node&scope=node', /scope was given more than once/],
    ['scope=node&verbose=1', /unknown query parameter "verbose"/],
    ['limit=5', /unknown query parameter "limit"/],
  ])('?%s is a 400 that says what is wrong', async (query, message) => {
    const app = await appFor(fakeBackend(async () => []).backend);
    const res = await app.inject({ method: 'GET', url: `/admin/console?${query}`, headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json()).toMatchObject({
      error: 'invalid_argument',
      message: expect.stringMatching(message),
    });
  });

  it('needs the admin token, like every admin route', async () => {
    const app = await appFor(fakeBackend(async () => []).backend);
    const res = await app.inject({ method: 'GET', url: '/admin/console?scope=node' });
    expect(res.statusCode).toBe(401);
    expect(Object.keys(res.json()).sort()).toEqual(['error', 'message']);
  });

  it('scope=node counts the /kv answers by level and status class, as clients saw them', async () => {
    const app = await appFor(fakeBackend(async () => []).backend);
    for (let i = 0; i < 3; i++) {
      expect(
        (await app.inject({ method: 'PUT', url: `/kv/up-${i}`, payload: 'v' })).statusCode,
      ).toBe(204);
      expect(
        (await app.inject({ method: 'PUT', url: `/kv/down/${i}`, payload: 'v' })).statusCode,
      ).toBe(503);
    }
    expect((await app.inject({ method: 'GET', url: '/kv/x?r=one' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/kv/x?r=all' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'PUT', url: '/kv/x?w=9', payload: 'v' })).statusCode).toBe(
      400,
    );
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/kv/x?w=one&consistency=linearizable',
          payload: 'v',
        })
      ).statusCode,
    ).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/kv/x?r=one&r=all' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/kv/x' })).statusCode).toBe(405);

    const res = await app.inject({
      method: 'GET',
      url: '/admin/console?scope=node',
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    const view = res.json() as ConsoleNodeView;
    expect(view).toMatchObject({
      id: 'n1',
      faults: NO_FAULTS,
      traffic: { windowMs: LIMITS.trafficWindowMs },
    });
    const byLevel = Object.fromEntries(view.traffic.levels.map((f) => [f.level, f]));
    expect(Object.keys(byLevel).sort()).toEqual([
      'read all',
      'read invalid',
      'read one',
      'write invalid',
      'write quorum',
    ]);
    expect(byLevel['write quorum']).toMatchObject({
      requests: 6,
      statuses: { '2xx': 3, '503': 3, '504': 0, other: 0 },
    });
    expect(byLevel['read one']?.statuses).toEqual({ '2xx': 0, '503': 0, '504': 0, other: 1 });
    expect(byLevel['write invalid']?.requests).toBe(2);
    expect(byLevel['write quorum']?.p50Ms).toBeGreaterThan(0);
    expect(byLevel['write quorum']?.perSecond).toBeGreaterThan(0);
  });

  it('scope=cluster adds the cluster facts and every peer, sorted, and shares one fan-out between close calls', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { backend, calls } = fakeBackend(async () => {
      await gate;
      return [
        { id: 'n3', error: 'cannot reach http://n3: ECONNREFUSED' },
        { id: 'n0', error: 'x' },
      ];
    });
    const app = await appFor(backend);
    const pending = [1, 2, 3].map(() =>
      app.inject({ method: 'GET', url: '/admin/console', headers: auth }),
    );
    await new Promise((r) => setTimeout(r, 20));
    release();
    const answers = await Promise.all(pending);
    expect(calls.peerViews).toBe(1);
    const view = answers[0]?.json() as ConsoleClusterView;
    expect(view).toMatchObject({ ...CLUSTER_FACTS, self: 'n1' });
    expect(view.nodes.map((e) => e.id)).toEqual(['n0', 'n1', 'n3']);
    expect(view.nodes[1]?.view?.id).toBe('n1');
    expect(view.nodes[2]).toEqual({ id: 'n3', error: 'cannot reach http://n3: ECONNREFUSED' });
    // Once the reuse period has passed, the next call asks the peers again.
    await new Promise((r) => setTimeout(r, LIMITS.consoleViewReuseMs + 10));
    await app.inject({ method: 'GET', url: '/admin/console', headers: auth });
    expect(calls.peerViews).toBe(2);
  });

  it('a fan-out that failed is not reused', async () => {
    let fail = true;
    const { backend, calls } = fakeBackend(async () => {
      if (fail) throw new Error('boom');
      return [];
    });
    const app = await appFor(backend);
    expect(
      (await app.inject({ method: 'GET', url: '/admin/console', headers: auth })).statusCode,
    ).toBe(500);
    fail = false;
    expect(
      (await app.inject({ method: 'GET', url: '/admin/console', headers: auth })).statusCode,
    ).toBe(200);
    expect(calls.peerViews).toBe(2);
  });
});
