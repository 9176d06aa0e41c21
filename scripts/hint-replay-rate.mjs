#!/usr/bin/env node
// How fast a replica that was partitioned away catches up by hinted handoff. Starts a local
// 3-node cluster (one `kvorum serve` process per node, on free loopback ports, in a temp dir),
// cuts n3 off, writes --keys keys with w=one through n1 (each leaves a hint for n3), heals, and
// times until no node holds a hint. With --load-ms, a writer keeps writing other keys through n1
// for that long after the heal, to show replay backing off while clients wait. Run after
// `npm run build`; prints one JSON line of figures.
//
//   node scripts/hint-replay-rate.mjs [--keys 50000] [--concurrency 64] [--value-bytes 100]
//                                     [--load-ms 0] [--bin bin/kvorum.js] [--cpu-prof <dir>]

import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { console, fetch, performance } = globalThis;

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '64' },
    'value-bytes': { type: 'string', default: '100' },
    'load-ms': { type: 'string', default: '0' },
    bin: { type: 'string', default: resolve(import.meta.dirname, '../bin/kvorum.js') },
    'cpu-prof': { type: 'string' },
  },
});
const KEYS = Number(opts.keys);
const CONCURRENCY = Number(opts.concurrency);
const VALUE = Buffer.alloc(Number(opts['value-bytes']), 'v');
const LOAD_MS = Number(opts['load-ms']);
const BIN = resolve(opts.bin);
const IDS = ['n1', 'n2', 'n3'];

const { freePorts } = await import(resolve(BIN, '../../dist/verify/free-ports.js'));
const dir = await mkdtemp(join(tmpdir(), 'kvorum-hint-rate-'));
const ports = await freePorts(2 * IDS.length);
const nodes = IDS.map((id, i) => ({
  id,
  http: `http://127.0.0.1:${ports[i]}`,
  peer: `127.0.0.1:${ports[IDS.length + i]}`,
}));
const url = (id) => nodes.find((n) => n.id === id).http;
const procs = [];

async function main() {
  const config = {
    cluster: 'hint-rate',
    profile: 'quorum',
    n: 3,
    data: dir,
    nodes,
    // No exchanges: only hint replay may bring n3 up to date while this measures it.
    antiEntropyIntervalMs: 0,
    clusterSecret: randomBytes(24).toString('base64url'),
  };
  const configPath = join(dir, 'cluster.json');
  await writeFile(configPath, JSON.stringify(config));
  for (const id of IDS) {
    const child = spawn(
      process.execPath,
      [
        ...(opts['cpu-prof']
          ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts['cpu-prof'], id)]
          : []),
        BIN,
        ...['serve', '--config', configPath, '--id', id, '--log-level', 'warn'],
      ],
      { env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' }, stdio: 'inherit' },
    );
    procs.push(child);
  }
  await until('every node up', async () => {
    const all = await Promise.all(IDS.map(status));
    return all.every((s) => s.nodes.every((n) => n.state === 'up'));
  });

  await post('n1', '/admin/partition', { groups: [['n1', 'n2'], ['n3']] });
  await until('n1 to see n3 down', async () => stateOf(await status('n1'), 'n3') === 'down');
  const writeStart = performance.now();
  await writeKeys('k', KEYS);
  const writeMs = performance.now() - writeStart;
  const hints = await pendingHints();

  const cpuBefore = await cpuMsByNode();
  await post('n1', '/admin/heal', {});
  const healedAt = performance.now();
  const load = LOAD_MS > 0 ? loadFor(LOAD_MS) : Promise.resolve({ writes: 0 });
  let firstReplayMs;
  let atLoadEnd;
  for (;;) {
    const pending = await pendingHints();
    const t = performance.now() - healedAt;
    if (firstReplayMs === undefined && pending < hints) firstReplayMs = t;
    if (atLoadEnd === undefined && LOAD_MS > 0 && t >= LOAD_MS) atLoadEnd = { ms: t, pending };
    if (pending === 0) break;
    if (t > 600_000) throw new Error(`hints still pending 10 minutes after the heal: ${pending}`);
    await sleep(20);
  }
  const drainedMs = performance.now() - healedAt;
  const cpuAfter = await cpuMsByNode();
  const cpuMs = Object.fromEntries(IDS.map((id) => [id, cpuAfter[id] - cpuBefore[id]]));
  const { writes: loadWrites } = await load;
  const drainFromFirstMs = drainedMs - (firstReplayMs ?? 0);
  const loadFigures =
    LOAD_MS > 0
      ? {
          loadMs: LOAD_MS,
          loadWrites,
          pendingAtLoadEnd: atLoadEnd?.pending,
          replayedDuringLoadPerS: atLoadEnd
            ? Math.round((hints - atLoadEnd.pending) / ((atLoadEnd.ms - firstReplayMs) / 1000))
            : undefined,
          drainAfterLoadMs: atLoadEnd ? Math.round(drainedMs - atLoadEnd.ms) : undefined,
        }
      : {};
  console.log(
    JSON.stringify({
      keys: KEYS,
      valueBytes: VALUE.length,
      writeMs: Math.round(writeMs),
      hints,
      healToFirstReplayMs: Math.round(firstReplayMs ?? 0),
      healToNoHintsMs: Math.round(drainedMs),
      hintsPerSecondFromFirstReplay: Math.round(hints / (drainFromFirstMs / 1000)),
      hintsPerSecondFromHeal: Math.round(hints / (drainedMs / 1000)),
      // CPU the nodes spent from the heal to the end of the drain: on a shared machine the
      // wall-clock rate varies with what else runs, the work per hint does not.
      cpuMsDuringDrain: cpuMs,
      hintsPerCpuSecondOfBusiestNode: Math.round(
        hints / (Math.max(...Object.values(cpuMs)) / 1000),
      ),
      ...loadFigures,
    }),
  );
  await checkN3HasKeys();
}

async function writeKeys(prefix, count) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await put('n1', `${prefix}${i}`, 'one');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Writes other keys through n1 (w=quorum: n3 is back) until `ms` have passed. */
async function loadFor(ms) {
  const end = performance.now() + ms;
  let writes = 0;
  const worker = async (w) => {
    for (let i = 0; performance.now() < end; i++) {
      await put('n1', `load-${w}-${i}`, 'quorum');
      writes += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return { writes };
}

async function put(id, key, w) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url(id)}/kv/${key}?w=${w}`, { method: 'PUT', body: VALUE });
    await res.arrayBuffer();
    if (res.status < 300) return;
    // 503 overloaded is admission doing its job: wait as it says and try again.
    if (res.status !== 503 || attempt > 20) throw new Error(`PUT ${key}: ${res.status}`);
    await sleep(50);
  }
}

/** A sample of keys reads back from n3's own store: the hints delivered what they held. */
async function checkN3HasKeys() {
  for (const i of [0, Math.floor(KEYS / 2), KEYS - 1]) {
    const res = await fetch(`${url('n3')}/admin/keys/k${i}`);
    if (res.status !== 200) throw new Error(`n3 does not hold k${i} after the drain`);
  }
}

/** User plus system CPU time of each node's process so far (Linux: /proc/<pid>/stat). */
async function cpuMsByNode() {
  const out = {};
  for (const [i, id] of IDS.entries()) {
    const stat = await readFile(`/proc/${procs[i].pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second).
    out[id] = (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return out;
}

async function pendingHints() {
  const all = await Promise.all(IDS.map(status));
  return all.reduce((sum, s) => sum + s.hints.pending, 0);
}

async function status(id) {
  const res = await fetch(`${url(id)}/admin/status`);
  if (res.status !== 200) throw new Error(`status of ${id}: ${res.status}`);
  return res.json();
}

const stateOf = (s, id) => s.nodes.find((n) => n.id === id)?.state;

async function post(id, path, body) {
  const res = await fetch(`${url(id)}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

async function until(what, probe, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

try {
  await main();
} finally {
  for (const child of procs) child.kill('SIGTERM');
  await Promise.all(
    procs.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : 0)),
  );
  await rm(dir, { recursive: true, force: true });
}
