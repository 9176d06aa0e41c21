// The client and admin API against a real 3-replica cluster: values, content types, odd keys,
// headers, every bad input of the contract, garbage on the peer port (admin auth: auth.test.ts).

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from '../support/cluster.js';

const TOKEN = 'test-admin-token';
let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ adminToken: TOKEN, valueBytesMax: 64 * 1024 });
});
afterAll(async () => {
  await c?.stop();
});

async function errorOf(
  res: Response,
): Promise<{ error: string; message: string; [k: string]: unknown }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: string; message: string };
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(10);
  return body;
}

describe('client API', () => {
  it('a value written through one node is read through the others, then deleted', async () => {
    expect(
      (await c.put('n1', 'greeting', 'hello', '', { 'content-type': 'text/plain' })).status,
    ).toBe(204);
    for (const id of ['n2', 'n3']) {
      const res = await c.get(id, 'greeting');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain');
      expect(await res.text()).toBe('hello');
    }
    expect((await c.del('n2', 'greeting')).status).toBe(204);
    for (const id of c.ids) expect((await c.get(id, 'greeting')).status).toBe(404);
  });

  it('stores binary values byte for byte with their content type', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256));
    const res = await c.put('n3', 'blob', bytes, '', { 'content-type': 'image/png' });
    expect(res.status).toBe(204);
    const got = await c.get('n1', 'blob');
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('stores JSON bodies raw instead of parsing them', async () => {
    const json = '{"a": [1, 2,   3]}';
    await c.put('n1', 'doc', json, '', { 'content-type': 'application/json' });
    const got = await c.get('n2', 'doc');
    expect(got.headers.get('content-type')).toBe('application/json');
    expect(await got.text()).toBe(json);
  });

  it('keeps an empty value and a value without a content type', async () => {
    expect((await fetch(`${c.url('n1')}/kv/empty`, { method: 'PUT' })).status).toBe(204);
    const got = await c.get('n2', 'empty');
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect((await got.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    ['with space'],
    ['a/b/c'],
    ['ключ-🔑'],
    ['%percent%'],
    ['?question'],
    ['#hash'],
    ['a..b'],
    ['.hidden'],
  ])('odd key %j round-trips', async (key) => {
    expect((await c.put('n1', key, `value of ${key}`)).status).toBe(204);
    const got = await c.get('n3', key);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(`value of ${key}`);
  });

  it('a literal slash and %2F name the same key', async () => {
    await fetch(`${c.url('n1')}/kv/dir/file`, { method: 'PUT', body: 'x' });
    expect(await (await fetch(`${c.url('n2')}/kv/dir%2Ffile`)).text()).toBe('x');
  });

  it('reads carry Server-Timing for every replica asked and a context, also on 404', async () => {
    // Written to every replica, so no reply is stale (that would say "ok;repaired").
    await c.put('n1', 'timed', 'v', '?w=all');
    // A quorum read asks two replicas, the coordinator first, and a third only when one of
    // them is slower than readSpeculateMs (speculative retry); r=all asks every one.
    const res = await c.get('n2', 'timed');
    const timing = res.headers.get('server-timing') ?? '';
    expect(timing).toMatch(/n2;dur=[0-9.]+;desc="ok"/);
    const entries = timing.split(', ');
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(entries.length).toBeLessThanOrEqual(3);
    for (const e of entries) expect(e).toMatch(/^n[123];dur=[0-9.]+;desc="(ok|pending)"$/);
    expect(entries.filter((e) => e.endsWith('desc="ok"')).length).toBeGreaterThanOrEqual(2);
    const all = (await c.get('n2', 'timed', '?r=all')).headers.get('server-timing') ?? '';
    for (const id of c.ids) expect(all).toMatch(new RegExp(`${id};dur=[0-9.]+;desc="ok"`));
    expect(res.headers.get('x-kvorum-context')).toMatch(/^[A-Za-z0-9_-]+$/);
    const missing = await c.get('n2', 'never-written');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).error).toBe('not_found');
    expect(missing.headers.get('x-kvorum-context')).toBeTruthy();
  });

  it('a write carrying the context of a read is accepted', async () => {
    const read = await c.get('n1', 'timed');
    const ctx = read.headers.get('x-kvorum-context') as string;
    expect((await c.put('n2', 'timed', 'v2', '', { 'x-kvorum-context': ctx })).status).toBe(204);
    expect(await (await c.get('n3', 'timed')).text()).toBe('v2');
  });

  it('honours r, w and timeout parameters', async () => {
    expect((await c.put('n1', 'levels', 'x', '?w=all&timeout=5000')).status).toBe(204);
    expect((await c.get('n2', 'levels', '?r=all')).status).toBe(200);
    expect((await c.get('n2', 'levels', '?r=1')).status).toBe(200);
    expect((await c.get('n2', 'levels', '?consistency=linearizable')).status).toBe(200);
  });
});

describe('bad input gets a 4xx JSON error and changes nothing', () => {
  // [what, the request, status, error code, and for a write that names a key an /admin/keys
  // route can look up, that key: each its own, so a key found anywhere names its case].
  const cases: Array<[string, () => Promise<Response>, number, string, string?]> = [
    ['key over 1024 bytes', () => c.put('n1', 'k'.repeat(1025), 'x'), 414, 'key_too_long'],
    ['unicode key over 1024 bytes', () => c.put('n1', 'é'.repeat(513), 'x'), 414, 'key_too_long'],
    [
      'value over the limit',
      () => c.put('n1', 'refused-big', Buffer.alloc(64 * 1024 + 1)),
      413,
      'value_too_large',
      'refused-big',
    ],
    [
      'empty key',
      () => fetch(`${c.url('n1')}/kv/`, { method: 'PUT', body: 'x' }),
      400,
      'invalid_argument',
    ],
    [
      'bad percent-encoding',
      () => fetch(`${c.url('n1')}/kv/%E0%A4%A`, { method: 'PUT', body: 'x' }),
      400,
      'invalid_argument',
    ],
    ['r=two', () => c.get('n1', 'k', '?r=two'), 400, 'invalid_argument'],
    [
      'w above N',
      () => c.put('n1', 'refused-w4', 'x', '?w=4'),
      400,
      'invalid_argument',
      'refused-w4',
    ],
    ['r=0', () => c.get('n1', 'k', '?r=0'), 400, 'invalid_argument'],
    ['r given twice', () => c.get('n1', 'k', '?r=1&r=2'), 400, 'invalid_argument'],
    [
      'linearizable with w=one',
      () => c.put('n1', 'refused-lin-one', 'x', '?w=one&consistency=linearizable'),
      400,
      'invalid_argument',
      'refused-lin-one',
    ],
    ['unknown consistency', () => c.get('n1', 'k', '?consistency=strong'), 400, 'invalid_argument'],
    ['timeout=0', () => c.get('n1', 'k', '?timeout=0'), 400, 'invalid_argument'],
    [
      'malformed context',
      () => c.put('n1', 'refused-context', 'x', '', { 'x-kvorum-context': '!!!' }),
      400,
      'invalid_argument',
      'refused-context',
    ],
    [
      'faults: unknown node',
      () => c.admin('n1', 'PUT', '/admin/faults', { block: ['n9'] }),
      400,
      'invalid_argument',
    ],
    [
      'faults: drop above 1',
      () => c.admin('n1', 'PUT', '/admin/faults', { drop: { n2: 2 } }),
      400,
      'invalid_argument',
    ],
    [
      'faults: not JSON',
      () =>
        fetch(`${c.url('n1')}/admin/faults`, {
          method: 'PUT',
          headers: { ...c.headers(), 'content-type': 'application/json' },
          body: '{nope',
        }),
      400,
      'invalid_argument',
    ],
    [
      'partition: unknown id',
      () => c.admin('n1', 'POST', '/admin/partition', { groups: [['n1'], ['n7']] }),
      400,
      'invalid_argument',
    ],
    [
      'partition: id in two groups',
      () =>
        c.admin('n1', 'POST', '/admin/partition', {
          groups: [
            ['n1', 'n2'],
            ['n2', 'n3'],
          ],
        }),
      400,
      'invalid_argument',
    ],
    [
      'partition: no groups',
      () => c.admin('n1', 'POST', '/admin/partition', { nope: 1 }),
      400,
      'invalid_argument',
    ],
    ['unknown route', () => fetch(`${c.url('n1')}/nope`), 404, 'not_found'],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect((await errorOf(res)).error).toBe(code);
  });

  const hintsOf = async () =>
    Object.fromEntries(
      await Promise.all(c.ids.map(async (id) => [id, (await c.status(id)).hints])),
    );
  const faultsOf = async () =>
    Object.fromEntries(
      await Promise.all(
        c.ids.map(async (id) => [id, await (await c.admin(id, 'GET', '/admin/faults')).json()]),
      ),
    );

  it('a refused write stores nothing on any node and leaves no hint pending', async () => {
    const refused = cases.filter(([, , , , key]) => key !== undefined);
    expect(refused.length).toBeGreaterThan(0);
    const hintsBefore = await hintsOf();
    for (const [what, send, status] of refused) expect((await send()).status, what).toBe(status);
    // The lookup finds what a write stored: an accepted one is on every node.
    expect((await c.put('n1', 'accepted-control', 'x', '?w=all')).status).toBe(204);
    for (const id of c.ids) {
      expect(await c.local(id, 'accepted-control'), id).toBeDefined();
      for (const [what, , , , key] of refused) {
        expect(await c.local(id, key as string), `${what}: ${id}`).toBeUndefined();
      }
    }
    expect(await hintsOf()).toEqual(hintsBefore);
  });

  it("a refused PUT /admin/faults or POST /admin/partition leaves every node's faults as they were", async () => {
    const refused = cases.filter(([what]) => /^(faults|partition):/.test(what));
    expect(refused.length).toBeGreaterThan(0);
    // Set faults in every field first, so a refusal that applied any part of itself (or reset
    // the fields it did not name) shows.
    const known = {
      block: ['n3'],
      delay: { n2: { ms: 5, jitterMs: 1 } },
      drop: { n2: 0.01 },
    };
    const set = await c.admin('n1', 'PUT', '/admin/faults', known);
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual(known);
    try {
      const before = await faultsOf();
      expect(before.n1).toEqual(known);
      for (const [what, send, status] of refused) {
        expect((await send()).status, what).toBe(status);
        expect(await faultsOf(), what).toEqual(before);
      }
    } finally {
      await c.heal();
      await c.waitAllUp();
    }
  });
});

describe('the peer port', () => {
  const peerPort = async (id: string) => {
    const s = await c.status(id);
    const peer = s.nodes.find((n) => n.id === id)!.peer;
    return Number(peer.split(':')[1]);
  };
  /**
   * Sends `bytes` on a new connection and resolves once the node has closed it (a FIN, or a reset
   * for the bytes it did not read). This side never closes first: the deadline only fails the run.
   */
  const closedByNode = (port: number, bytes: Buffer, deadlineMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write(bytes));
      let failure: (Error & { code?: string }) | undefined;
      const deadline = setTimeout(() => {
        reject(new Error(`the node had not closed the connection after ${deadlineMs} ms`));
        sock.destroy();
      }, deadlineMs);
      sock.on('error', (err) => (failure = err));
      sock.on('close', () => {
        clearTimeout(deadline);
        if (failure === undefined || failure.code === 'ECONNRESET') resolve();
        else reject(failure);
      });
    });

  interface LogRecord {
    time?: number;
    msg?: string;
    reason?: string;
  }
  /** The JSON lines node `id` logged (pino) at or after `sinceMs`. */
  const logSince = (id: string, sinceMs: number): LogRecord[] =>
    c.logRecords<LogRecord>(id).filter((r) => (r.time ?? 0) >= sinceMs);

  /**
   * A node's log reaches this process through a pipe, later than its socket events do. An empty
   * PUT /admin/faults (the nodes have none) makes every node log a line now; once each line is
   * here, so is everything the node logged before it.
   */
  const logsCaughtUp = async () => {
    const sinceMs = Date.now();
    for (const id of c.ids)
      expect((await c.admin(id, 'PUT', '/admin/faults', {})).status).toBe(200);
    await until('every node log to catch up', () =>
      c.ids.every((id) => logSince(id, sinceMs).some((r) => r.msg === 'link faults changed')),
    );
  };

  it('random bytes, a 4 GiB frame length and HTTP close only that connection, and leave the node healthy', async () => {
    await c.waitAllUp();
    const port = await peerPort('n2');
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    const sinceMs = Date.now();
    await Promise.all([
      closedByNode(port, random),
      closedByNode(port, huge),
      closedByNode(port, Buffer.from('GET / HTTP/1.1\r\n\r\n')),
    ]);
    await logsCaughtUp();
    // n2 closed each for what it sent, not at its handshake timeout, which closes anything.
    const refusals = logSince('n2', sinceMs).filter((r) => r.msg === 'peer connection refused');
    expect(refusals.map((r) => r.reason)).toEqual(
      Array(3).fill(expect.stringMatching(/^malformed frame: peer declared a frame of \d+ bytes/)),
    );
    // No link between the nodes closed: that would log the peer down on its two ends.
    for (const id of c.ids) {
      expect(
        logSince(id, sinceMs).filter((r) => r.msg === 'peer down'),
        id,
      ).toEqual([]);
    }
    expect((await c.status('n2')).nodes.map((n) => n.state)).toEqual(['up', 'up', 'up']);
    expect((await fetch(`${c.url('n2')}/health`)).status).toBe(200);
    expect((await c.put('n2', 'after-garbage', 'ok', '?w=all')).status).toBe(204);
    expect(await (await c.get('n1', 'after-garbage', '?r=all')).text()).toBe('ok');
  });
});
