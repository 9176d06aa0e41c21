// Peers authenticate by default: an impostor on the peer port of a cluster started with
// default settings proves nothing, writes nothing and cuts no link; a node without a secret
// refuses to start unless told --insecure-peers, and then says what that gives up.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { single } from '../../src/core/conflicts.js';
import { encodeFrame, FrameDecoder } from '../../src/net/frame-codec.js';
import { firstHello, newNonce, proofHello } from '../../src/net/handshake.js';
import { TestCluster, until } from '../support/cluster.js';
import { runCli } from '../support/kvorum-cli.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

interface Impostor {
  /** Resolves when the node closed the connection (true) or the hold time ran out (false). */
  readonly closedByNode: Promise<boolean>;
  /** Whether the node answered the hello (it always does: it cannot tell yet). */
  readonly sawAck: () => boolean;
}

/**
 * A process that knows the cluster's name and a node id, but not the secret: it dials `port`
 * claiming to be `claim`, answers the node's challenge without a proof, and then sends a write
 * of `key` stamped far in the future, as a real peer would. Holds the socket for `holdMs`.
 */
function impostor(port: number, claim: string, key: string, holdMs: number): Impostor {
  let ack = false;
  const closedByNode = new Promise<boolean>((resolve) => {
    const nonce = newNonce();
    const id = { self: claim, cluster: 'kvorum-test', secret: undefined };
    const decoder = new FrameDecoder();
    const sock = connect(port, '127.0.0.1', () => sock.write(encodeFrame(firstHello(id, nonce))));
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, holdMs);
    sock.on('data', (chunk: Buffer) => {
      for (const msg of decoder.push(chunk)) {
        if (msg.type !== 'helloAck') continue;
        ack = true;
        sock.write(encodeFrame(proofHello(id, nonce, msg.nonce)));
        const set = single({
          ts: { wallMs: Date.now() + 280_000, logical: 0, node: claim },
          tombstone: false,
          contentType: 'text/plain',
          value: Buffer.from('forged'),
        });
        sock.write(encodeFrame({ type: 'write', id: 1, key, set }));
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  return { closedByNode, sawAck: () => ack };
}

async function peerPortOf(cl: TestCluster, id: string): Promise<number> {
  const s = await cl.status(id);
  return Number(s.nodes.find((n) => n.id === id)!.peer.split(':')[1]);
}

describe('peer authentication', () => {
  it('a cluster with default settings refuses an impostor without the secret: it writes nothing and cuts no link', async () => {
    c = await TestCluster.start();
    const cl = c;
    // n1 dials n2 in a real cluster; the impostor claims to be n1 on n2's port.
    const attack = impostor(await peerPortOf(cl, 'n2'), 'n1', 'forged', 5_000);
    // While it tries, the real n1-n2 link keeps carrying writes at w=all.
    for (let i = 0; i < 10; i++)
      expect((await cl.put('n1', `during-${i}`, 'ok', '?w=all')).status).toBe(204);
    expect(await attack.closedByNode).toBe(true);
    expect(attack.sawAck()).toBe(true);
    await until('n2 to log why it refused', () =>
      cl.logs.get('n2')!.join('').includes('peer could not prove the cluster secret'),
    );
    for (const id of cl.ids) expect(await cl.local(id, 'forged')).toBeUndefined();
    for (const id of cl.ids) await cl.waitSees(id, 'up');
    expect((await cl.put('n2', 'after', 'ok', '?w=all')).status).toBe(204);
  });

  it('with --insecure-peers the node warns at start, and an impostor can write: what the flag gives up', async () => {
    c = await TestCluster.start({ insecurePeers: true });
    const cl = c;
    for (const id of cl.ids) {
      expect(cl.logs.get(id)!.join('')).toContain('peers are not authenticated (--insecure-peers)');
    }
    const attack = impostor(await peerPortOf(cl, 'n2'), 'n1', 'forged', 5_000);
    await until('the forged write to land on n2', async () =>
      (await cl.localValues('n2', 'forged')).includes('forged'),
    );
    expect(attack.sawAck()).toBe(true);
  });
});

describe('kvorum serve without a cluster secret', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('refuses to start (exit 2, one line naming the ways to give one)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvorum-auth-'));
    const file = join(dir, 'cluster.json');
    await writeFile(
      file,
      JSON.stringify({ nodes: [{ id: 'n1', http: 'http://127.0.0.1:1', peer: '127.0.0.1:2' }] }),
    );
    const res = await runCli(['serve', '--config', file, '--id', 'n1', '--data', join(dir, 'd')])
      .done;
    expect(res.code).toBe(2);
    const lines = res.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /n1 has no cluster secret: set "clusterSecret" in .*cluster\.json .*--cluster-secret \/ KVORUM_CLUSTER_SECRET.*--insecure-peers/,
    );
  });
});
