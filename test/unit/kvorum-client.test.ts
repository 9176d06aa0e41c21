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
