// The typed client's own time limit: a node that accepts the connection and never answers
// costs a caller requestTimeoutMs, not more (the console's fan-out sets it to a second).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KvorumClient, KvorumNetworkError } from '../../src/client/kvorum-client.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** An HTTP server that reads requests and never answers them. */
async function silentNode(): Promise<string> {
  server = createServer(() => undefined);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('KvorumClient time limit', () => {
  it('an admin call to a node that never answers fails after requestTimeoutMs', async () => {
    const client = new KvorumClient(await silentNode(), { requestTimeoutMs: 300 });
    const started = performance.now();
    const err = await client.console('node').catch((e: unknown) => e);
    const tookMs = performance.now() - started;
    expect(err).toBeInstanceOf(KvorumNetworkError);
    expect(String(err)).toMatch(/no answer within 300 ms/);
    expect(tookMs).toBeGreaterThanOrEqual(290);
    expect(tookMs).toBeLessThan(3_000);
  });
});

/** An HTTP server that answers every request with `bytes` of JSON, declared or chunked. */
async function talkativeNode(bytes: number, declared: boolean): Promise<string> {
  server = createServer((_req, res) => {
    const body = JSON.stringify({ pad: 'x'.repeat(bytes - 10) });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (declared) headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(200, headers);
    // Written in pieces, so a chunked answer has no length to be refused by up front.
    for (let at = 0; at < body.length; at += 16 * 1024) res.write(body.slice(at, at + 16 * 1024));
    res.end();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('KvorumClient answer size limit', () => {
  for (const declared of [true, false]) {
    it(`refuses an answer longer than responseBytesMax (${declared ? 'with' : 'without'} a length)`, async () => {
      const url = await talkativeNode(200 * 1024, declared);
      const capped = new KvorumClient(url, { responseBytesMax: 64 * 1024 });
      const err = await capped.console('node').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvorumNetworkError);
      expect(String(err)).toMatch(/more than 65536 bytes/);
      // The same answer within the limit is read whole.
      const roomy = new KvorumClient(url, { responseBytesMax: 256 * 1024 });
      const view = (await roomy.console('node')) as unknown as { pad: string };
      expect(view.pad.length).toBe(200 * 1024 - 10);
    });
  }
});
