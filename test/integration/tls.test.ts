// TLS for real deployments: a cluster started with certificates answers HTTPS to clients that
// trust its CA (curl, the CLI, the typed client), refuses plain HTTP, and refuses at the TLS
// handshake any peer without a certificate from the cluster CA, without touching its links.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchWithCa } from '../../src/client/fetch-with-ca.js';
import { clusterTlsPaths, ensureClusterCertificates } from '../../src/cli/tls-certs.js';
import { encodeFrame } from '../../src/net/frame-codec.js';
import { firstHello, newNonce } from '../../src/net/handshake.js';
import { freeBasePort, TestCluster, until } from '../support/cluster.js';
import { runCli, stopRunningClis } from '../support/kvorum-cli.js';

let c: TestCluster | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await stopRunningClis();
  await c?.stop();
  c = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function curl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', ...args], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr }),
    );
  });
}

async function peerPortOf(cl: TestCluster, id: string): Promise<number> {
  const s = await cl.status(id);
  return Number(s.nodes.find((n) => n.id === id)!.peer.split(':')[1]);
}

/**
 * Dials a peer port over TLS with `opts` (the client trusts the node, so only the node's verdict
 * on us counts), sends a Hello once TLS is up, and reports how the connection ended.
 */
function tlsPeerAttempt(
  port: number,
  opts: ConnectionOptions,
): Promise<{ appData: boolean; error: string | undefined }> {
  return new Promise((resolve) => {
    let appData = false;
    let error: string | undefined;
    const sock = tlsConnect({
      host: '127.0.0.1',
      port,
      ...opts,
      checkServerIdentity: () => undefined,
    });
    sock.on('secureConnect', () => {
      const id = { self: 'n1', cluster: 'kvorum-test', secret: undefined };
      sock.write(encodeFrame(firstHello(id, newNonce())));
    });
    sock.on('data', () => (appData = true));
    sock.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    sock.on('close', () => resolve({ appData, error }));
  });
}

describe('a TLS cluster', () => {
  it('answers HTTPS to clients with the generated CA, and peers replicate over mutual TLS (w=all, r=all)', async () => {
    c = await TestCluster.start({ tls: true });
    expect(c.url('n1')).toMatch(/^https:\/\//);
    expect((await c.put('n1', 'x', 'over-tls', '?w=all')).status).toBe(204);
    const got = await c.get('n2', 'x', '?r=all');
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('over-tls');
    for (const id of c.ids) expect(await c.localValues(id, 'x')).toEqual(['over-tls']);
    const viaCurl = await curl(['--cacert', c.caFile, `${c.url('n3')}/kv/x`]);
    expect(viaCurl).toMatchObject({ code: 0, stdout: 'over-tls' });
    // Partition and heal reach the other nodes' /admin/faults over https, trusting the CA.
    await c.partition([['n1', 'n2'], ['n3']]);
    await c.waitSees('n1', 'down', ['n3']);
    await c.heal();
    await c.waitAllUp();
    // Without the CA, curl does not trust the node.
    const untrusted = await curl([`${c.url('n1')}/kv/x`]);
    expect(untrusted.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
  });

  it('refuses plain HTTP on its client port: the request fails, and HTTPS still works', async () => {
    c = await TestCluster.start({ tls: true });
    const plain = c.url('n1').replace(/^https:/, 'http:');
    const err = await fetch(`${plain}/kv/x`).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string } },
    );
    expect(err).toBeInstanceOf(TypeError);
    // The TLS server reads a non-TLS ClientHello and closes the socket: no HTTP answer at all.
    expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(err?.cause?.code);
    const viaCurl = await curl([`${plain}/kv/x`]);
    expect(viaCurl.code).not.toBe(0);
    expect((await c.fetch(`${c.url('n1')}/health`)).status).toBe(200);
    // The node says why, in a rate-limited line.
    const cl = c;
    await until('n1 to log the refused client handshake', () =>
      cl
        .logRecords<{ msg?: string; kind?: string }>('n1')
        .some((r) => r.msg === 'client TLS handshake refused' && r.kind === 'https-refused'),
    );
  });

  it('refuses a peer without a certificate, and one from another CA, at the TLS handshake; no link is cut', async () => {
    c = await TestCluster.start({ tls: true });
    const cl = c;
    const port = await peerPortOf(cl, 'n2');
    const other = await mkdtemp(join(tmpdir(), 'kvorum-other-ca-'));
    dirs.push(other);
    await ensureClusterCertificates(other, 'other', [
      { id: 'n1', http: 'https://127.0.0.1:1', peer: '127.0.0.1:2' },
    ]);
    const o = clusterTlsPaths(other);
    const attempts = {
      'no certificate': {},
      'a certificate from another CA': {
        cert: await readFile(o.cert('n1')),
        key: await readFile(o.key('n1')),
      },
    };
    for (const [what, opts] of Object.entries(attempts)) {
      const logged = cl.logs.get('n2')!.join('').split('tls-refused').length;
      const result = await tlsPeerAttempt(port, { ...opts, ca: cl.ca });
      // The node never answered the Hello: the handshake ended before any peer frame.
      expect(result.appData, what).toBe(false);
      await until(
        `n2 to log the refused TLS handshake (${what})`,
        () => cl.logs.get('n2')!.join('').split('tls-refused').length > logged,
      );
    }
    expect(cl.logs.get('n2')!.join('')).toContain('peer connection refused in the TLS handshake');
    // Plain TCP gets no further: the Hello is not TLS, so nothing answers it.
    const plain = await new Promise<boolean>((resolve) => {
      let answered = false;
      const sock = connect(port, '127.0.0.1', () =>
        sock.write(
          encodeFrame(
            firstHello({ self: 'n1', cluster: 'kvorum-test', secret: undefined }, newNonce()),
          ),
        ),
      );
      sock.on('data', () => (answered = true));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(answered));
    });
    expect(plain).toBe(false);
    // A certificate from the cluster CA does not let one node pass for another.
    const n3 = clusterTlsPaths(cl.dir);
    const impersonation = await tlsPeerAttempt(port, {
      cert: await readFile(n3.cert('n3')),
      key: await readFile(n3.key('n3')),
      ca: cl.ca,
    });
    expect(impersonation.appData).toBe(false);
    await until('n2 to log the claim its certificate does not back', () =>
      cl.logs.get('n2')!.join('').includes('the peer claims to be n1 but its certificate names'),
    );
    for (const id of cl.ids) await cl.waitSees(id, 'up');
    expect((await cl.put('n1', 'after', 'ok', '?w=all')).status).toBe(204);
  });

  it('kvorum get/put --url https://… --cacert <ca.pem> work; without --cacert one clear line, exit 1', async () => {
    c = await TestCluster.start({ tls: true });
    const url = c.url('n1');
    const put = await runCli(['put', 'k', 'hello', '--url', url, '--cacert', c.caFile]).done;
    expect(put).toMatchObject({ code: 0, stderr: '' });
    const get = await runCli(['get', 'k', '--url', c.url('n2'), '--cacert', c.caFile]).done;
    expect(get).toMatchObject({ code: 0, stdout: 'hello' });
    const status = await runCli(['status', '--url', url, '--cacert', c.caFile]).done;
    expect(status.code).toBe(0);
    const bare = await runCli(['get', 'k', '--url', url]).done;
    expect(bare.code).toBe(1);
    const lines = bare.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kvorum: cannot reach https:\/\/.*certificate.*--cacert/);
    const missing = await runCli(['get', 'k', '--url', url, '--cacert', join(c.dir, 'nope.pem')])
      .done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --cacert .*nope\.pem: no such file/);
  });
});

describe('kvorum cluster --tls', () => {
  it('makes a CA and per-node certificates under <data>/tls/ (keys 0600) and serves HTTPS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-tls-'));
    dirs.push(dir);
    const base = await freeBasePort(3);
    const cluster = runCli([
      'cluster',
      '--nodes',
      '3',
      '--base-port',
      String(base),
      '--data',
      dir,
      '--tls',
    ]);
    const url = (i: number) => `https://127.0.0.1:${base + i}`;
    await cluster.waitForStderr(/made a throwaway CA with openssl/);
    const p = clusterTlsPaths(dir);
    const ca = await readFile(p.ca);
    await until(
      'the TLS cluster to serve',
      async () => {
        for (let i = 0; i < 3; i++)
          if ((await fetchWithCa(`${url(i)}/health`, {}, ca)).status !== 200) return false;
        return true;
      },
      30_000,
    );
    for (const id of ['n1', 'n2', 'n3']) {
      expect((await stat(p.cert(id))).isFile()).toBe(true);
      expect((await stat(p.key(id))).mode & 0o777).toBe(0o600);
    }
    expect((await stat(p.caKey)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as {
      nodes: { http: string }[];
    };
    expect(config.nodes.map((n) => n.http)).toEqual([url(0), url(1), url(2)]);
    // Health says a node serves; w=all also needs its peer links, which come up over mutual TLS.
    await until('n1 to see every peer up over TLS', async () => {
      const res = await fetchWithCa(`${url(0)}/admin/status`, {}, ca);
      const body = (await res.json()) as { nodes: { state: string }[] };
      return body.nodes.every((n) => n.state === 'up');
    });
    const put = await fetchWithCa(`${url(0)}/kv/x?w=all`, { method: 'PUT', body: 'hi' }, ca);
    expect(put.status).toBe(204);
    const viaCurl = await curl(['--cacert', p.ca, `${url(2)}/kv/x`]);
    expect(viaCurl).toMatchObject({ code: 0, stdout: 'hi' });
    cluster.child.kill('SIGTERM');
    const done = await cluster.done;
    expect(done.stdout).toContain(`curl --cacert ${p.ca} `);
  });
});
