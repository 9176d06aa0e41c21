// The client and admin API against a real 3-replica cluster: values, content types, odd keys,
// headers, every bad input of the contract, admin auth, and garbage on the peer port.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

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
    await c.put('n1', 'timed', 'v');
    // A quorum read asks two replicas, the coordinator first; r=all asks every one.
    const res = await c.get('n2', 'timed');
    const timing = res.headers.get('server-timing') ?? '';
    expect(timing).toMatch(/n2;dur=[0-9.]+;desc="ok"/);
    expect(timing.split(', ')).toHaveLength(2);
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
  const cases: Array<[string, () => Promise<Response>, number, string]> = [
    ['key over 1024 bytes', () => c.put('n1', 'k'.repeat(1025), 'x'), 414, 'key_too_long'],
    ['unicode key over 1024 bytes', () => c.put('n1', 'é'.repeat(513), 'x'), 414, 'key_too_long'],
    [
      'value over the limit',
      () => c.put('n1', 'big', Buffer.alloc(64 * 1024 + 1)),
      413,
      'value_too_large',
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
    ['w above N', () => c.put('n1', 'k', 'x', '?w=4'), 400, 'invalid_argument'],
    ['r=0', () => c.get('n1', 'k', '?r=0'), 400, 'invalid_argument'],
    ['r given twice', () => c.get('n1', 'k', '?r=1&r=2'), 400, 'invalid_argument'],
    [
      'linearizable with w=one',
      () => c.put('n1', 'k', 'x', '?w=one&consistency=linearizable'),
      400,
      'invalid_argument',
    ],
    ['unknown consistency', () => c.get('n1', 'k', '?consistency=strong'), 400, 'invalid_argument'],
    ['timeout=0', () => c.get('n1', 'k', '?timeout=0'), 400, 'invalid_argument'],
    [
      'malformed context',
      () => c.put('n1', 'k', 'x', '', { 'x-kvorum-context': '!!!' }),
      400,
      'invalid_argument',
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

  it('rejected writes stored nothing', async () => {
    for (const key of ['big', 'k']) expect((await c.get('n2', key, '?r=all')).status).toBe(404);
    const faults = (await (await c.admin('n1', 'GET', '/admin/faults')).json()) as {
      block: string[];
    };
    expect(faults.block).toEqual([]);
  });
});

describe('admin auth', () => {
  it('answers 401 without a token or with a wrong one, 200 with the right one', async () => {
    for (const path of ['/admin/status', '/admin/faults', '/metrics']) {
      const none = await fetch(`${c.url('n1')}${path}`);
      expect(none.status).toBe(401);
      expect((await errorOf(none)).error).toBe('unauthorized');
      const wrong = await fetch(`${c.url('n1')}${path}`, {
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.status).toBe(401);
      expect((await fetch(`${c.url('n1')}${path}`, { headers: c.headers() })).status).toBe(200);
    }
    const partition = await fetch(`${c.url('n1')}/admin/partition`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"groups":[["n1"]]}',
    });
    expect(partition.status).toBe(401);
    expect((await fetch(`${c.url('n1')}/health`)).status).toBe(200);
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
});

describe('the peer port', () => {
  const peerPort = async (id: string) => {
    const s = await c.status(id);
    const peer = s.nodes.find((n) => n.id === id)!.peer;
    return Number(peer.split(':')[1]);
  };
  const sendRaw = (port: number, bytes: Buffer) =>
    new Promise<void>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => sock.write(bytes));
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
      setTimeout(() => sock.destroy(), 3000);
    });

  it('random bytes and a 4 GiB frame length close that connection and leave the node healthy', async () => {
    const port = await peerPort('n2');
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    await Promise.all([
      sendRaw(port, random),
      sendRaw(port, huge),
      sendRaw(port, Buffer.from('GET / HTTP/1.1\r\n\r\n')),
    ]);
    expect((await fetch(`${c.url('n2')}/health`)).status).toBe(200);
    await c.waitSees('n2', 'up');
    expect((await c.put('n2', 'after-garbage', 'ok', '?w=all')).status).toBe(204);
    expect(await (await c.get('n1', 'after-garbage', '?r=all')).text()).toBe('ok');
  });
});
