// Loopback plumbing shared by the kvorum and etcd clusters: free ports, JSON calls with a
// deadline, and polling a condition with a deadline.

import { createServer, type AddressInfo, type Server } from 'node:net';

/** One HTTP call to a control endpoint (admin, health) must answer within this. */
const CALL_TIMEOUT_MS = 5_000;
const POLL_EVERY_MS = 100;

/** Ports the OS hands out now; another process could take one before we bind it (rare). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
}

/** Sends JSON (when `body` is given) and parses a JSON answer; non-JSON answers give body undefined. */
export async function callJson(method: string, url: string, body?: unknown): Promise<JsonReply> {
  const res = await fetch(url, {
    method,
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

/** Polls `probe` until it returns true; throws after `timeoutMs` naming what it waited for. */
export async function pollUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last && `: ${last}`}`);
    await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
  }
}
