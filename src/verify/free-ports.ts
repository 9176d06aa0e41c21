// Loopback ports for local clusters (kvorum verify, tests): `count` distinct ports that are free
// now, each checked by binding it. They are drawn below the kernel's ephemeral range (32768 and
// up on Linux), because that is where outgoing connections get their local ports: a port taken
// from there could be handed to some process's connection before the node that was meant to
// listen on it binds it (EADDRINUSE at start). Another process could still take one of these in
// the gap; on a test machine that is rare, and the start fails loudly if it happens.

import { createServer, type Server } from 'node:net';

const PORT_MIN = 20_000;
/** Linux's default ip_local_port_range starts here. */
const PORT_END = 32_768;
const ATTEMPTS_MAX = 1_000;

function bind(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= ATTEMPTS_MAX) {
        throw new Error(
          `found only ${ports.length} of ${count} free ports in ${PORT_MIN}-${PORT_END - 1}`,
        );
      }
      const port = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN));
      if (ports.includes(port)) continue;
      const s = await bind(port);
      if (s === undefined) continue;
      held.push(s);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
