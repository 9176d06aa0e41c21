// What an attacker or a careless client can do to a default cluster, and what it must get:
// contexts that would drag clocks forward, methods and URLs the API does not have, admin bodies
// that are not fault specs, values a browser could run, a data directory that cannot be opened,
// a restart hint that works outside a checkout, slow requests, and floods of bad peer
// connections that must not flood the log.

import { type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { encodeLwwContext, parseContext } from '../../src/core/context.js';
import { BIN, freeBasePort, TestCluster, until } from '../support/cluster.js';
import { runCli } from '../support/kvorum-cli.js';

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start();
});
afterAll(async () => {
  await c?.stop();
});

async function errorOf(res: Response): Promise<{ error: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as { error: string; message: string };
}

/** The HLC stamp of what a read of `key` through `id` saw. */
async function stampOf(id: string, key: string): Promise<number> {
  const ctx = (await c.get(id, key)).headers.get('x-kvorum-context') as string;
  const parsed = parseContext(ctx);
  if (parsed.kind !== 'lww') throw new Error('expected an lww context');
  return parsed.ts.wallMs;
}

/** One raw HTTP/1.1 exchange: what the server wrote before it closed the connection. */
function rawHttp(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const sock = connect(port, '127.0.0.1', () => sock.write(request));
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('clock safety', () => {
  it('a context stamped beyond the cluster clock offset gets 400 and moves no clock', async () => {
    expect((await c.put('n1', 'clock', 'v1', '?w=all')).status).toBe(204);
    const aheadMs = 4 * 60_000;
    const future = encodeLwwContext({ wallMs: Date.now() + aheadMs, logical: 0, node: 'n1' });
    for (const id of c.ids) {
      const res = await c.put(id, 'clock', 'from-the-future', '?w=all', {
        'x-kvorum-context': future,
      });
      expect(res.status).toBe(400);
      const body = await errorOf(res);
      expect(body.error).toBe('invalid_argument');
      expect(body.message).toMatch(/ahead of this node's clock.*maxClockOffsetMs \(500\)/);
    }
    // Nothing was written, and a new write on every node is stamped near now, not minutes on.
    expect(await (await c.get('n2', 'clock', '?r=all')).text()).toBe('v1');
    for (const id of c.ids) {
      expect((await c.put(id, `clock-after-${id}`, 'x', '?w=all')).status).toBe(204);
      expect(await stampOf(id, `clock-after-${id}`)).toBeLessThan(Date.now() + aheadMs / 2);
    }
  });

  it('a context within the offset is accepted and the write is stamped above it', async () => {
    const ts = Date.now() + 200;
    const ctx = encodeLwwContext({ wallMs: ts, logical: 7, node: 'n2' });
    expect((await c.put('n3', 'near', 'v', '?w=all', { 'x-kvorum-context': ctx })).status).toBe(
      204,
    );
    expect(await stampOf('n1', 'near')).toBeGreaterThanOrEqual(ts);
  });
});

describe('HTTP edges', () => {
  it.each(['POST', 'PATCH'])('%s on /kv/<key> is 405 with Allow, and writes nothing', async (m) => {
    const res = await fetch(`${c.url('n1')}/kv/no-such-method`, { method: m, body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
    expect((await errorOf(res)).error).toBe('method_not_allowed');
    for (const id of c.ids) expect(await c.local(id, 'no-such-method')).toBeUndefined();
  });

  it.each([
    ['a null body', 'null'],
    ['an array', '[]'],
  ])('PUT /admin/faults with %s is 400 and leaves the faults as they were', async (_, body) => {
    const faults = { block: [], delay: { n2: { ms: 5, jitterMs: 0 } }, drop: {} };
    expect((await c.admin('n1', 'PUT', '/admin/faults', faults)).status).toBe(200);
    try {
      const res = await fetch(`${c.url('n1')}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).error).toBe('invalid_argument');
      const now = await (await c.admin('n1', 'GET', '/admin/faults')).json();
      expect(now).toEqual(faults);
    } finally {
      await c.heal();
    }
  });

  it('PUT /admin/faults without a body is 400, not "clear every fault"', async () => {
    const faults = { block: [], delay: {}, drop: { n3: 0.5 } };
    expect((await c.admin('n2', 'PUT', '/admin/faults', faults)).status).toBe(200);
    try {
      const res = await fetch(`${c.url('n2')}/admin/faults`, { method: 'PUT' });
      expect(res.status).toBe(400);
      expect(await (await c.admin('n2', 'GET', '/admin/faults')).json()).toEqual(faults);
    } finally {
      await c.heal();
    }
  });

  it("a 100 KB key gets kvorum's JSON 414 key_too_long, and a huge header a JSON 431", async () => {
    const port = portOf(c.url('n1'));
    const longKey = await rawHttp(
      port,
      `GET /kv/${'k'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(longKey).toMatch(/^HTTP\/1\.1 414 /);
    expect(longKey).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(longKey.slice(longKey.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: 'key_too_long',
    });

    const bigHeader = await rawHttp(
      port,
      `GET /kv/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(LIMITS.httpHeaderBytesMax + 100)}\r\n\r\n`,
    );
    expect(bigHeader).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(bigHeader.slice(bigHeader.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: 'headers_too_large',
    });
    expect((await fetch(`${c.url('n1')}/health`)).status).toBe(200);
  });

  it('a stored value is served with nosniff and a sandbox CSP, whatever its content type', async () => {
    const html = '<script>fetch("/admin/status")</script>';
    await c.put('n1', 'page', html, '', { 'content-type': 'text/html' });
    const res = await c.get('n2', 'page');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(await res.text()).toBe(html);
  });

  it(
    'a request whose body never arrives is cut with a JSON 408 soon after httpRequestTimeoutMs',
    { timeout: LIMITS.httpRequestTimeoutMs + 30_000 },
    async () => {
      const started = Date.now();
      const answer = await rawHttp(
        portOf(c.url('n3')),
        'PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc',
      );
      const tookMs = Date.now() - started;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        error: 'request_timeout',
      });
      // Node looks for late requests every httpTimeoutCheckIntervalMs: before, every 30 s.
      expect(tookMs).toBeGreaterThanOrEqual(LIMITS.httpRequestTimeoutMs - 100);
      expect(tookMs).toBeLessThan(
        LIMITS.httpRequestTimeoutMs + 5 * LIMITS.httpTimeoutCheckIntervalMs,
      );
      expect(await c.local('n3', 'slow')).toBeUndefined();
    },
  );
});

describe('the peer port under a flood of bad connections', () => {
  it('10 s of garbage connections write at most 50 log lines, and the node keeps serving', async () => {
    const proc = c.procs.get('n2') as ChildProcess;
    let lines = 0;
    const count = (chunk: Buffer) => {
      for (const b of chunk) if (b === 0x0a) lines += 1;
    };
    proc.stdout?.on('data', count);
    proc.stderr?.on('data', count);
    const status = await c.status('n2');
    const peerPort = Number(status.nodes.find((n) => n.id === 'n2')!.peer.split(':')[1]);
    const garbage = [
      Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), // a frame that is not msgpack
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0xff, 0xff, 0xff, 0xff]), // a 4 GiB length
    ];
    const deadline = Date.now() + 10_000;
    let connections = 0;
    try {
      while (Date.now() < deadline) {
        await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) =>
              new Promise<void>((resolve) => {
                const sock = connect(peerPort, '127.0.0.1', () =>
                  sock.end(garbage[i % garbage.length] as Buffer),
                );
                sock.on('error', () => resolve());
                sock.on('close', () => resolve());
                sock.setTimeout(2_000, () => sock.destroy());
              }),
          ),
        );
        connections += 20;
      }
      // Whatever was held back is said once the second is over.
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      proc.stdout?.off('data', count);
      proc.stderr?.off('data', count);
    }
    expect(connections).toBeGreaterThan(200);
    expect(lines).toBeLessThanOrEqual(50);
    expect(c.logs.get('n2')!.join('')).toMatch(/"suppressed":\d+/);
    await c.waitSees('n2', 'up');
    expect((await c.put('n2', 'after-flood', 'ok', '?w=all')).status).toBe(204);
  });
});

describe('starting and restarting nodes', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const ch of children.splice(0))
      if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('a data directory that cannot be opened is named with the cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-hard-'));
    dirs.push(dir);
    // A file where the directory should be: mkdir fails whoever runs the test (root too).
    const blocked = join(dir, 'not-a-dir');
    await writeFile(blocked, 'x');
    const res = await runCli([
      'serve',
      '--config',
      c.configPath,
      '--id',
      'n1',
      '--data',
      join(blocked, 'n1'),
    ]).done;
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`cannot open the data directory ${join(blocked, 'n1')}`);
    expect(res.stderr).toMatch(/ENOTDIR|not a directory/);
  });

  it('a data directory another node holds open is named, with the lock as the cause', async () => {
    const res = await runCli([
      'serve',
      '--config',
      c.configPath,
      '--id',
      'n1',
      '--data',
      join(c.dir, 'n1'),
    ]).done;
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`cannot open the data directory ${join(c.dir, 'n1')}`);
    expect(res.stderr).toMatch(/lock.*is another kvorum node running on it\?/i);
    expect((await fetch(`${c.url('n1')}/health`)).status).toBe(200);
  });

  it('kvorum cluster prints a restart command that works from any directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-hard-'));
    dirs.push(dir);
    const base = await freeBasePort(3);
    const cluster = runCli(['cluster', '--nodes', '3', '--base-port', String(base), '--data', dir]);
    children.push(cluster.child);
    const url = (i: number) => `http://127.0.0.1:${base + i}`;
    await until(
      'the local cluster to serve',
      async () => {
        for (let i = 0; i < 3; i++)
          if ((await fetch(`${url(i)}/health`)).status !== 200) return false;
        return true;
      },
      20_000,
    );
    const pid = ((await (await fetch(`${url(1)}/admin/status`)).json()) as { pid: number }).pid;
    process.kill(pid, 'SIGKILL');
    const m = await cluster.waitForStderr(/To restart it: (.*)$/);
    const command = m[1] as string;
    expect(command).toBe(
      `${process.execPath} ${BIN} serve --config ${join(dir, 'cluster.json')} --id n2`,
    );
    expect(command).not.toContain('npx');
    // Run exactly that, from another directory.
    const [exe, ...args] = command.split(' ');
    const { spawn } = await import('node:child_process');
    const again = spawn(exe as string, args, { cwd: tmpdir(), stdio: 'ignore' });
    children.push(again);
    await until(
      'n2 to serve again',
      async () => (await fetch(`${url(1)}/health`)).status === 200,
      15_000,
    );
    cluster.child.kill('SIGTERM');
    again.kill('SIGTERM');
    await cluster.done;
  });
});
