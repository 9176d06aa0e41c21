#!/usr/bin/env node
// Server CPU per operation split by role. Starts a local cluster with the bench's launcher,
// sends every request to n1 only, so n1 is the coordinator and the other nodes do nothing but
// apply what it replicates, and reads each process's CPU (/proc, all threads) around the
// measured run. With --perf <dir>, records each node with `perf record -g` during the run
// (start the run with NODE_OPTIONS=--perf-basic-prof-only-functions to see JavaScript frames).
// Run after `npm run build && npx tsc -p bench/tsconfig.json`; prints one line per run.
//
//   node scripts/cpu-by-role.mjs [--nodes 3] [--op put|get] [--level quorum] [--value-bytes 100]
//                                [--keys 5000] [--duration 8] [--connections 32]
//                                [--cpu-prof <dir>] [--perf <dir>]

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { parseArgs } from 'node:util';

const repo = resolve(import.meta.dirname, '..');
const bench = (m) => import(resolve(repo, 'node_modules/.cache/kvorum-bench', m));
const { KvorumCluster } = await bench('kvorum-cluster.js');
const { processCpuSeconds } = await bench('cpu.js');
const { default: autocannon } = await import('autocannon');

const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    op: { type: 'string', default: 'put' },
    level: { type: 'string', default: 'quorum' },
    'value-bytes': { type: 'string', default: '100' },
    keys: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    'cpu-prof': { type: 'string' },
    perf: { type: 'string' },
  },
});
const nodes = Number(a.nodes);
const keys = Number(a.keys);
const durationS = Number(a.duration);
const connections = Number(a.connections);
const body = Buffer.alloc(Number(a['value-bytes']), 'x');
const query = nodes === 1 ? '' : a.op === 'put' ? `?w=${a.level}` : `?r=${a.level}`;

const cluster = await KvorumCluster.start(repo, {
  nodes,
  n: nodes,
  fsync: false,
  valueBytesMax: 1 << 20,
  ...(a['cpu-prof'] ? { cpuProfDir: a['cpu-prof'] } : {}),
});
try {
  const url = cluster.url('n1');
  const put = (path) => (r) => {
    r.method = 'PUT';
    r.path = path();
    r.body = body;
    r.headers = { 'content-type': 'application/octet-stream' };
    return r;
  };
  let next = 0;
  // Every key written once on every replica, so GETs find them and PUTs overwrite.
  await autocannon({
    url,
    connections,
    amount: keys,
    requests: [{ setupRequest: put(() => `/kv/k${next++ % keys}?w=all`) }],
  });
  const randomKey = () => `/kv/k${Math.floor(Math.random() * keys)}${query}`;
  const get = (r) => {
    r.method = 'GET';
    r.path = randomKey();
    r.headers = {};
    return r;
  };
  const load = (seconds) =>
    autocannon({
      url,
      connections,
      duration: seconds,
      requests: [{ setupRequest: a.op === 'put' ? put(randomKey) : get }],
    });
  await load(2); // warm-up
  const pids = cluster.pids();
  const before = new Map([...pids].map(([id, pid]) => [id, processCpuSeconds(pid)]));
  const perfs = a.perf
    ? [...pids].map(([id, pid]) =>
        spawn(
          'perf',
          [
            'record',
            '-F',
            '999',
            '-g',
            '-p',
            String(pid),
            '-o',
            `${a.perf}/${id}.data`,
            '--',
            'sleep',
            String(durationS - 1),
          ],
          { stdio: 'ignore' },
        ),
      )
    : [];
  const result = await load(durationS);
  await Promise.all(
    perfs.map((p) => new Promise((done) => (p.exitCode !== null ? done() : p.on('exit', done)))),
  );
  const ok = result['2xx'];
  let total = 0;
  const perNode = [...pids].map(([id, pid]) => {
    const used = processCpuSeconds(pid) - before.get(id);
    total += used;
    return `${id} ${((used * 1e6) / ok).toFixed(1)} us`;
  });
  console.log(
    `${nodes} node(s), ${a.op} ${nodes === 1 ? '' : a.level} ${body.length} B: ${(ok / durationS).toFixed(0)} req/s, ` +
      `non-2xx ${result.non2xx}, server CPU per op ${((total * 1e6) / ok).toFixed(1)} us: ${perNode.join(', ')}`,
  );
} finally {
  await cluster.stop();
}
