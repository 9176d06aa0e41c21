// Who may talk to a replica: the admin token on every admin route (the route list is read from
// the app itself, so a new route nobody put in the table fails here), partition and heal
// forwarded with the token, the cluster secret between real processes, and clusters with fsync.

import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { Admission } from '../../src/core/admission.js';
import { buildHttpApp } from '../../src/http/app.js';
import type { HttpBackend } from '../../src/http/backend.js';
import { TestCluster, keyPath, until } from '../support/cluster.js';

const TOKEN = 'test-admin-token-0123456789';
const SECRET = 'test-cluster-secret';
const KEY = 'auth/a key';
const IDS = ['n1', 'n2', 'n3'] as const;

/** Every admin route, one concrete call each: what a rejected call must not do is checked below. */
interface AdminRoute {
  readonly method: 'GET' | 'PUT' | 'POST';
  /** The route as fastify registers it (printRoutes' spelling). */
  readonly route: string;
  readonly url: string;
  /** The JSON body sent by the node `self`; POST and PUT always send one. */
  readonly body?: (self: string) => unknown;
  /** With the right token: what the answer of node `self` must hold. */
  readonly accepted: (res: Response, self: string) => Promise<void>;
  /**
   * With the right token, the status (200 unless said). Join and leave are sent a body the
   * handler refuses (400): past the token check, without changing the cluster under the test.
   */
  readonly acceptedStatus?: number;
}

const otherThan = (self: string) => IDS.find((id) => id !== self) as string;

const ADMIN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    route: '/metrics',
    url: '/metrics',
    accepted: async (res) =>
      expect(await res.text()).toMatch(/# TYPE kvorum_requests_total counter/),
  },
  {
    method: 'GET',
    route: '/admin/status',
    url: '/admin/status',
    accepted: async (res, self) => expect(await res.json()).toMatchObject({ id: self }),
  },
  {
    method: 'GET',
    route: '/admin/faults',
    url: '/admin/faults',
    accepted: async (res) =>
      expect(await res.json()).toEqual({ block: expect.any(Array), delay: {}, drop: {} }),
  },
  {
    method: 'PUT',
    route: '/admin/faults',
    url: '/admin/faults',
    body: (self) => ({ block: [otherThan(self)] }),
    accepted: async (res, self) =>
      expect(await res.json()).toEqual({ block: [otherThan(self)], delay: {}, drop: {} }),
  },
  {
    method: 'POST',
    route: '/admin/partition',
    url: '/admin/partition',
    body: () => ({ groups: [['n1', 'n2'], ['n3']] }),
    accepted: async (res) =>
      expect(await res.json()).toEqual({ applied: ['n1', 'n2', 'n3'], failed: [] }),
  },
  {
    method: 'POST',
    route: '/admin/heal',
    url: '/admin/heal',
    body: () => ({}),
    accepted: async (res) =>
      expect(await res.json()).toEqual({ applied: ['n1', 'n2', 'n3'], failed: [] }),
  },
  {
    method: 'POST',
    route: '/admin/repair',
    url: '/admin/repair',
    body: () => ({}),
    accepted: async (res) =>
      expect(await res.json()).toMatchObject({ keysRepaired: expect.any(Number) }),
  },
  {
    method: 'GET',
    route: '/admin/layout',
    url: '/admin/layout',
    accepted: async (res) =>
      expect(await res.json()).toMatchObject({
        version: 1,
        settled: true,
        nodes: IDS.map((id) => expect.objectContaining({ id, state: 'member' })),
      }),
  },
  {
    method: 'GET',
    route: '/admin/pbs',
    url: '/admin/pbs?t=5&k=2',
    accepted: async (res, self) =>
      expect(await res.json()).toMatchObject({ node: self, tMs: 5, k: 2, n: 3 }),
  },
  {
    method: 'GET',
    route: '/admin/pbs/curve',
    url: '/admin/pbs/curve?t=0,5',
    accepted: async (res, self) =>
      expect(await res.json()).toMatchObject({ node: self, tMs: [0, 5], n: 3 }),
  },
  {
    method: 'POST',
    route: '/admin/join',
    url: '/admin/join',
    body: () => ({ id: 'n9' }),
    acceptedStatus: 400,
    accepted: async (res) => expect(await res.json()).toMatchObject({ error: 'invalid_argument' }),
  },
  {
    method: 'POST',
    route: '/admin/leave',
    url: '/admin/leave',
    body: () => ({ id: 'n9' }),
    acceptedStatus: 400,
    accepted: async (res) =>
      expect(await res.json()).toMatchObject({
        error: 'invalid_argument',
        message: expect.stringMatching(/n9/),
      }),
  },
  {
    method: 'GET',
    route: '/admin/console',
    url: '/admin/console?scope=node',
    accepted: async (res, self) =>
      expect(await res.json()).toMatchObject({ id: self, traffic: { levels: expect.any(Array) } }),
  },
  {
    method: 'GET',
    route: '/admin/keys/*',
    url: `/admin/keys/${keyPath(KEY)}`,
    accepted: async (res, self) =>
      expect(await res.json()).toMatchObject({ key: KEY, node: self, siblings: [{}] }),
  },
];

/** Routes that never need the token (DESIGN 1.3: /health; the client API; the console's static files). */
const PUBLIC_ROUTES = [
  'GET /health',
  'GET /',
  'GET /console/:file',
  'GET /kv/*',
  'PUT /kv/*',
  'DELETE /kv/*',
  // Answered 405 method_not_allowed, with Allow.
  'POST /kv/*',
  'PATCH /kv/*',
  'OPTIONS /kv/*',
];

/** fastify answers HEAD for every GET route, through the same hooks. */
function withHead(routes: readonly string[]): string[] {
  return routes.flatMap((r) => (r.startsWith('GET ') ? [r, `HEAD ${r.slice(4)}`] : [r]));
}

/** `GET /admin/status`-style lines from fastify's printRoutes() tree (each line adds to its parent's path). */
function routesOfTree(tree: string): string[] {
  const out: string[] = [];
  const pathAt: string[] = [];
  for (const line of tree.split('\n')) {
    const at = line.search(/[├└]── /);
    if (at < 0) continue;
    const depth = at / 4;
    const [, segment, methods] = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(at + 4)) ?? [];
    const path = (depth > 0 ? (pathAt[depth - 1] ?? '') : '') + (segment ?? '');
    pathAt[depth] = path;
    pathAt.length = depth + 1;
    for (const m of methods?.split(', ') ?? []) out.push(`${m} ${path}`);
  }
  return out.sort();
}

const sameLengthWrong = `${TOKEN.slice(0, -1)}${TOKEN.endsWith('x') ? 'y' : 'x'}`;

/** Authorization headers that must all be refused (undefined: no header at all). */
const REFUSED: ReadonlyArray<readonly [string, string | undefined]> = [
  ['no token', undefined],
  ['a wrong token', 'Bearer nope'],
  ['a wrong token of the same length', `Bearer ${sameLengthWrong}`],
  ['the right token with its first byte changed', `Bearer X${TOKEN.slice(1)}`],
  ['the right token minus its last byte', `Bearer ${TOKEN.slice(0, -1)}`],
  ['the right token plus a byte', `Bearer ${TOKEN}x`],
  ['the right token without the Bearer scheme', TOKEN],
  ['the right token under the Basic scheme', `Basic ${TOKEN}`],
  // As many characters as the token but one byte more in UTF-8: a length check on the string
  // instead of the bytes would hand timingSafeEqual unequal buffers and answer 500.
  ['a token as long in characters but longer in bytes', `Bearer ${TOKEN.slice(0, -1)}é`],
];

function sendAdmin(
  baseUrl: string,
  route: AdminRoute,
  self: string,
  authorization: string | undefined,
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  const body = route.body?.(self);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${baseUrl}${route.url}`, {
    method: route.method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function expectUnauthorized(res: Response, what: string): Promise<void> {
  expect(res.status, what).toBe(401);
  expect(res.headers.get('www-authenticate'), what).toMatch(/^Bearer /);
  const body = (await res.json()) as Record<string, unknown>;
  // Exactly the error: nothing of what the route would have answered leaks into it.
  expect(Object.keys(body).sort(), what).toEqual(['error', 'message']);
  expect(body.error, what).toBe('unauthorized');
}

/** An in-memory backend that records which of its methods the routes reached. */
function recordingBackend(adminToken: string | undefined): {
  backend: HttpBackend;
  calls: string[];
} {
  const calls: string[] = [];
  const noFaults = { block: [], delay: {}, drop: {} };
  const notUsed = async (): Promise<never> => {
    throw new Error('the client API is not exercised here');
  };
  const backend: HttpBackend = {
    id: 'n1',
    valueBytesMax: 1024,
    conflicts: 'lww',
    adminToken,
    admission: new Admission({
      bytesMax: LIMITS.inFlightBytesMax,
      writeBytesMax: LIMITS.writeBytesInFlightMax,
      requestsMax: LIMITS.inFlightRequestsMax,
      retryAfterS: LIMITS.overloadRetryAfterS,
    }),
    get: notUsed,
    put: notUsed,
    del: notUsed,
    status: () => (calls.push('status'), { id: 'n1' }),
    getFaults: () => (calls.push('getFaults'), noFaults),
    setFaults: () => (calls.push('setFaults'), noFaults),
    partition: async () => (calls.push('partition'), { applied: [], failed: [] }),
    heal: async () => (calls.push('heal'), { applied: [], failed: [] }),
    localKey: async () => (calls.push('localKey'), undefined),
    layout: () => (calls.push('layout'), { version: 1 }),
    pbs: () => (calls.push('pbs'), { predictions: [] }),
    pbsCurve: () => (calls.push('pbsCurve'), { curves: [] }),
    join: async () => (calls.push('join'), { layout: {} }),
    leave: async () => (calls.push('leave'), { version: 1 }),
    repair: async () => (calls.push('repair'), { keysRepaired: 0, peers: {} }),
    metrics: async () => (calls.push('metrics'), { contentType: 'text/plain', body: '' }),
    defaults: {
      n: 3,
      r: 'quorum',
      w: 'quorum',
      linearizable: false,
      timeoutMs: 2000,
      timeoutMsMax: LIMITS.requestTimeoutMsMax,
    },
    console: {
      nodeFacts: () => (
        calls.push('console'),
        {
          id: 'n1',
          pid: 1,
          at: 0,
          keys: 0,
          rssBytes: 0,
          heapUsedBytes: 0,
          cpuPercent: 0,
          hintsPending: 0,
          layoutVersion: 1,
          faults: noFaults,
          peers: {},
          staleness: { windowMs: LIMITS.stalenessWindowMs, levels: [] },
        }
      ),
      clusterFacts: () => {
        throw new Error('the cluster scope is not exercised here');
      },
      peerViews: async () => [],
    },
  };
  return { backend, calls };
}

describe('the admin routes the app registers (in process)', () => {
  it('are exactly the table of this file plus /health and /kv: a new route must be added to it', async () => {
    const app = await buildHttpApp(recordingBackend(TOKEN).backend, pino({ level: 'silent' }));
    try {
      await app.ready();
      const table = ADMIN_ROUTES.map((r) => `${r.method} ${r.route}`);
      // A route missing here is one nobody checked for auth: add it to ADMIN_ROUTES (it then
      // gets every check below) or, if it must stay open, to PUBLIC_ROUTES.
      expect(routesOfTree(app.printRoutes())).toEqual(
        withHead([...PUBLIC_ROUTES, ...table]).sort(),
      );
    } finally {
      await app.close();
    }
  });

  it('every registered route but /health and /kv refuses a missing or wrong token before reaching the backend', async () => {
    const { backend, calls } = recordingBackend(TOKEN);
    const app = await buildHttpApp(backend, pino({ level: 'silent' }));
    try {
      await app.ready();
      const guarded = routesOfTree(app.printRoutes()).filter(
        (r) => !withHead(PUBLIC_ROUTES).includes(r),
      );
      expect(guarded.length).toBeGreaterThanOrEqual(ADMIN_ROUTES.length);
      for (const r of guarded) {
        const [method, route] = r.split(' ') as [string, string];
        const url = route.replace(/\*|:[^/]+/g, 'some-key');
        for (const [what, authorization] of REFUSED) {
          const res = await app.inject({
            method: method as 'GET',
            url,
            headers: {
              'content-type': 'application/json',
              ...(authorization === undefined ? {} : { authorization }),
            },
            ...(method === 'GET' || method === 'HEAD' ? {} : { payload: '{}' }),
          });
          expect(res.statusCode, `${r} with ${what}`).toBe(401);
          if (method !== 'HEAD')
            expect(res.json(), `${r} with ${what}`).toMatchObject({ error: 'unauthorized' });
          expect(calls, `${r} with ${what} reached the backend`).toEqual([]);
        }
      }
    } finally {
      await app.close();
    }
  });

  it('the right token reaches the backend on every admin route, and no token is needed when none is configured', async () => {
    for (const token of [TOKEN, undefined]) {
      const { backend, calls } = recordingBackend(token);
      const app = await buildHttpApp(backend, pino({ level: 'silent' }));
      try {
        for (const route of ADMIN_ROUTES) {
          calls.length = 0;
          const res = await app.inject({
            method: route.method,
            url: route.url,
            headers: {
              'content-type': 'application/json',
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            },
            ...(route.body === undefined ? {} : { payload: JSON.stringify(route.body('n1')) }),
          });
          const what = `${route.method} ${route.url} with token ${String(token)}`;
          expect(res.statusCode, what).not.toBe(401);
          expect(calls, what).toHaveLength(1);
        }
      } finally {
        await app.close();
      }
    }
  });
});

describe('admin auth on a token-protected cluster', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.start({ adminToken: TOKEN });
    const put = await c.put('n1', KEY, 'v', '?w=all');
    expect(put.status).toBe(204);
  });
  afterAll(async () => {
    await c?.stop();
  });

  const faultsOf = async (id: string) =>
    (await (await c.admin(id, 'GET', '/admin/faults')).json()) as {
      block: string[];
      delay: Record<string, unknown>;
      drop: Record<string, number>;
    };
  const exchangesOf = async (id: string) =>
    ((await c.status(id)).antiEntropy as { exchanges: number }).exchanges;

  it('every admin route on every node answers 401 unauthorized to each wrong credential and changes nothing', async () => {
    // A delay on every node that a refused heal must not clear, and a refused partition or
    // PUT must not replace.
    for (const id of IDS) {
      const res = await c.admin(id, 'PUT', '/admin/faults', {
        delay: { [otherThan(id)]: { ms: 1, jitterMs: 0 } },
      });
      expect(res.status).toBe(200);
    }
    const faultsBefore = await Promise.all(IDS.map(faultsOf));
    const exchangesBefore = await Promise.all(IDS.map(exchangesOf));
    try {
      for (const id of IDS) {
        for (const route of ADMIN_ROUTES) {
          for (const [what, authorization] of REFUSED) {
            const res = await sendAdmin(c.url(id), route, id, authorization);
            await expectUnauthorized(res, `${route.method} ${route.url} on ${id} with ${what}`);
          }
        }
      }
      expect(await Promise.all(IDS.map(faultsOf))).toEqual(faultsBefore);
      expect(faultsBefore.every((f) => Object.keys(f.delay).length === 1)).toBe(true);
      expect(await Promise.all(IDS.map(exchangesOf))).toEqual(exchangesBefore);
      expect((await fetch(`${c.url('n1')}/health`)).status).toBe(200);
    } finally {
      await c.heal();
    }
  });

  it('the right token is accepted by every admin route on every node', async () => {
    try {
      // The scheme is case-insensitive (RFC 9110, 11.1): one spelling per node.
      const schemes = ['Bearer', 'bearer', 'BEARER'];
      for (const [i, id] of IDS.entries()) {
        for (const route of ADMIN_ROUTES) {
          const auth = `${schemes[i % schemes.length]} ${TOKEN}`;
          const res = await sendAdmin(c.url(id), route, id, auth);
          const what = `${route.method} ${route.url} on ${id}`;
          expect(res.status, what).toBe(route.acceptedStatus ?? 200);
          await route.accepted(res, id);
        }
      }
    } finally {
      await c.heal();
    }
  });

  it('status reports the contract fields', async () => {
    const s = await c.status('n2');
    expect(s).toMatchObject({
      id: 'n2',
      profile: 'quorum',
      n: 3,
      r: 'quorum',
      w: 'quorum',
      conflicts: 'lww',
      hints: { pending: expect.any(Number) },
    });
    expect(s.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(typeof s.pid).toBe('number');
  });

  it('metrics are in Prometheus text format', async () => {
    const text = await (await fetch(`${c.url('n1')}/metrics`, { headers: c.headers() })).text();
    expect(text).toMatch(/# TYPE kvorum_requests_total counter/);
  });

  it('partition through n1 applies on every node (the token is forwarded), the minority answers 503, and heal through n3 clears every node', async () => {
    const res = await c.admin('n1', 'POST', '/admin/partition', { groups: [['n1', 'n2'], ['n3']] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ applied: ['n1', 'n2', 'n3'], failed: [] });
    expect(await Promise.all(IDS.map(faultsOf))).toEqual([
      { block: ['n3'], delay: {}, drop: {} },
      { block: ['n3'], delay: {}, drop: {} },
      { block: ['n1', 'n2'], delay: {}, drop: {} },
    ]);
    await c.waitSees('n3', 'down', ['n1', 'n2']);
    await c.waitSees('n1', 'down', ['n3']);
    const minority = await c.put('n3', 'auth/minority', 'x');
    expect(minority.status).toBe(503);
    expect(await minority.json()).toMatchObject({ error: 'unavailable' });
    expect((await c.put('n1', 'auth/majority', 'y')).status).toBe(204);

    const healed = await c.admin('n3', 'POST', '/admin/heal', {});
    expect(healed.status).toBe(200);
    expect(await healed.json()).toEqual({ applied: ['n1', 'n2', 'n3'], failed: [] });
    for (const f of await Promise.all(IDS.map(faultsOf))) {
      expect(f).toEqual({ block: [], delay: {}, drop: {} });
    }
    await c.waitAllUp();
    expect((await c.put('n3', 'auth/minority', 'z', '?w=all')).status).toBe(204);
  });
});

interface LogRecord {
  msg?: string;
  reason?: string;
  peer?: string;
  fsync?: boolean;
  pid?: number;
}

/** The JSON log lines node `id` printed (pino), from its current log buffer. */
function logRecords(c: TestCluster, id: string): LogRecord[] {
  return c.logRecords<LogRecord>(id);
}

const SECRET_REFUSED = 'peer could not prove the cluster secret';
const CLOSED_IN_HANDSHAKE = 'peer closed the connection during the handshake';

/** How many times `peer` closed a handshake with `id` (what `id` logs when `peer` refused it). */
const closedInHandshake = (c: TestCluster, id: string, peer: string) =>
  logRecords(c, id).filter((r) => r.msg?.startsWith(CLOSED_IN_HANDSHAKE) && r.peer === peer).length;

/** How many times `id` refused a handshake with `peer` because the secret was not proven. */
const secretRefusals = (c: TestCluster, id: string, peer: string) =>
  logRecords(c, id).filter(
    (r) => r.msg === 'peer connection refused' && r.reason === SECRET_REFUSED && r.peer === peer,
  ).length;

const stateOf = async (c: TestCluster, id: string, of: string) =>
  (await c.status(id)).nodes.find((n) => n.id === of)?.state;

/**
 * Polls until `enough()` holds, asserting at every poll that `outsider` and the members see each
 * other down and that the members hold nothing of `keys`: a window measured in refused
 * handshakes, not in milliseconds.
 */
async function watchOutsider(
  c: TestCluster,
  outsider: string,
  members: readonly string[],
  keys: readonly string[],
  enough: () => boolean,
): Promise<void> {
  await until(
    `${outsider} to be refused by ${members.join(',')} enough times`,
    async () => {
      for (const m of members) {
        expect(await stateOf(c, outsider, m), `${outsider} sees ${m}`).toBe('down');
        expect(await stateOf(c, m, outsider), `${m} sees ${outsider}`).toBe('down');
        for (const key of keys) expect(await c.local(m, key), `${key} on ${m}`).toBeUndefined();
      }
      return enough();
    },
    30_000,
  );
}

describe('the cluster secret between real processes', () => {
  let c: TestCluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  /** Kills `id`, waits until the others see it down, and starts it again with a fresh log. */
  async function restartWith(
    cluster: TestCluster,
    id: string,
    extraArgs: readonly string[],
    env: Readonly<Record<string, string | undefined>> = {},
  ): Promise<void> {
    await cluster.kill(id);
    for (const other of cluster.ids.filter((o) => o !== id)) {
      await cluster.waitSees(other, 'down', [id]);
    }
    cluster.logs.delete(id);
    await cluster.restart(id, extraArgs, env);
  }

  it('a cluster started with a secret replicates: a write at w=all through n1 is read at r=all through n2', async () => {
    c = await TestCluster.start({ clusterSecret: SECRET });
    expect((await c.put('n1', 'secret/k', 'v', '?w=all')).status).toBe(204);
    const read = await c.get('n2', 'secret/k', '?r=all');
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('v');
    for (const id of IDS) expect(await c.localValues(id, 'secret/k')).toEqual(['v']);
  });

  it('a node with the wrong secret never joins, stores nothing on its peers, logs the refusal, and joins once restarted with the right one', async () => {
    c = await TestCluster.start({ clusterSecret: SECRET });
    const cluster = c;
    await restartWith(cluster, 'n3', ['--cluster-secret', 'not-the-secret']);

    const refusedAll = await cluster.put('n3', 'secret/all', 'a', '?w=all');
    expect(refusedAll.status).toBe(503);
    const one = await cluster.put('n3', 'secret/one', 'b', '?w=one');
    expect(one.status).toBe(204);
    // Only the lower id dials, so n1 and n2 dial n3 (with the backoff they built while it was
    // down), refuse the proof in its answer and log why; n3 logs that they closed on it.
    await watchOutsider(cluster, 'n3', ['n1', 'n2'], ['secret/all', 'secret/one'], () =>
      ['n1', 'n2'].every(
        (m) => secretRefusals(cluster, m, 'n3') >= 2 && closedInHandshake(cluster, 'n3', m) >= 2,
      ),
    );
    // The refused w=all write left nothing behind; the w=one write waits as hints for n1 and n2.
    expect(await cluster.local('n3', 'secret/all')).toBeUndefined();
    expect(await cluster.localValues('n3', 'secret/one')).toEqual(['b']);
    expect((await cluster.status('n3')).hints.pending).toBe(2);

    await restartWith(cluster, 'n3', []);
    await cluster.waitAllUp();
    for (const m of ['n1', 'n2']) {
      await until(`the hinted write on ${m}`, async () =>
        (await cluster.localValues(m, 'secret/one')).includes('b'),
      );
    }
    expect((await cluster.put('n3', 'secret/all', 'c', '?w=all')).status).toBe(204);
    expect(await (await cluster.get('n1', 'secret/all', '?r=all')).text()).toBe('c');
    // The fresh n3 log: nobody closed a handshake on it this time.
    expect(closedInHandshake(cluster, 'n3', 'n1') + closedInHandshake(cluster, 'n3', 'n2')).toBe(0);
  });

  it('a node started without any secret (--insecure-peers) cannot join a cluster that has one, and says why', async () => {
    c = await TestCluster.start({ clusterSecret: SECRET });
    const cluster = c;
    await restartWith(cluster, 'n3', ['--insecure-peers'], { KVORUM_CLUSTER_SECRET: undefined });

    expect((await cluster.put('n3', 'nosecret/all', 'a', '?w=all')).status).toBe(503);
    expect((await cluster.put('n3', 'nosecret/one', 'b', '?w=one')).status).toBe(204);
    // n3 checks nothing without a secret; n1 and n2 dial it, find no proof in its answer, and
    // refuse. n3 logs that they closed on it.
    await watchOutsider(cluster, 'n3', ['n1', 'n2'], ['nosecret/all', 'nosecret/one'], () =>
      ['n1', 'n2'].every(
        (m) => secretRefusals(cluster, m, 'n3') >= 2 && closedInHandshake(cluster, 'n3', m) >= 2,
      ),
    );
    expect(await cluster.local('n3', 'nosecret/all')).toBeUndefined();
    expect(await cluster.localValues('n3', 'nosecret/one')).toEqual(['b']);
  });
});

describe('a cluster with fsync on', () => {
  let c: TestCluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  const startedRecord = (cluster: TestCluster, id: string) =>
    logRecords(cluster, id).find((r) => r.msg === 'replica started');

  it('runs every node with fsync, and acknowledged writes survive kill -9 of every node', async () => {
    c = await TestCluster.start({ fsync: true });
    const cluster = c;
    const pidsBefore: number[] = [];
    for (const id of IDS) {
      expect(startedRecord(cluster, id), `${id} start line`).toMatchObject({ fsync: true });
      pidsBefore.push((await cluster.status(id)).pid as number);
    }
    const keys = Array.from({ length: 20 }, (_, i) => `fsync/${i}`);
    const puts = await Promise.all(keys.map((k) => cluster.put('n1', k, `v${k}`, '?w=all')));
    expect(puts.map((r) => r.status)).toEqual(keys.map(() => 204));
    // Acknowledged by one replica only, then every process dies at once.
    expect((await cluster.put('n2', 'fsync/last', 'last', '?w=one')).status).toBe(204);
    await Promise.all(IDS.map((id) => cluster.kill(id)));

    for (const id of IDS) cluster.logs.delete(id);
    await Promise.all(IDS.map((id) => cluster.restart(id)));
    await cluster.waitAllUp();
    for (const [i, id] of IDS.entries()) {
      expect(startedRecord(cluster, id), `${id} start line after restart`).toMatchObject({
        fsync: true,
      });
      expect((await cluster.status(id)).pid).not.toBe(pidsBefore[i]);
      for (const k of keys) expect(await cluster.localValues(id, k)).toEqual([`v${k}`]);
    }
    for (const k of keys) expect(await (await cluster.get('n3', k, '?r=all')).text()).toBe(`v${k}`);
    const last = await cluster.get('n3', 'fsync/last', '?r=all');
    expect(last.status).toBe(200);
    expect(await last.text()).toBe('last');
  });
});
