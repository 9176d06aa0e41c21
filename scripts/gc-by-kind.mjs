#!/usr/bin/env node
// V8 collections by kind on each node during a PUT w=quorum load sent to n1 only (so n2 and n3
// only apply what n1 replicates), read from each node's /metrics (nodejs_gc_duration_seconds)
// around the measured run. Shows whether a load's CPU goes to full collections: a 10 KiB load
// on a small heap made each follower run a mark-compact every 250 ms.
// Run after `npm run build && npx tsc -p bench/tsconfig.json`.
//
//   node scripts/gc-by-kind.mjs [--keys 5000] [--value-bytes 10240] [--small-keys 0]
//                               [--duration 8] [--connections 32]
//
// --small-keys prefills that many 100-byte keys first, for a heap the size of the bench's.

import { resolve } from 'node:path';
import console from 'node:console';
import { parseArgs } from 'node:util';

const repo = resolve(import.meta.dirname, '..');
const bench = (m) => import(resolve(repo, 'node_modules/.cache/kvorum-bench', m));
const { KvorumCluster } = await bench('kvorum-cluster.js');
const { valueOfSize } = await bench('workload.js');
const { default: autocannon } = await import('autocannon');

const { values: a } = parseArgs({
  options: {
    keys: { type: 'string', default: '5000' },
    'value-bytes': { type: 'string', default: '10240' },
    'small-keys': { type: 'string', default: '0' },
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
  },
});
const keys = Number(a.keys);
const connections = Number(a.connections);
const GC_LINE = /^nodejs_gc_duration_seconds_(count|sum)\{kind="(\w+)"\} (\S+)$/;

const cluster = await KvorumCluster.start(repo, {
  nodes: 3,
  n: 3,
  fsync: false,
  valueBytesMax: 1 << 20,
});

/** Per node: collections and seconds by kind (`major_count`, `minor_sum`, …). */
async function collections() {
  const out = {};
  for (const id of cluster.ids) {
    const text = await (await globalThis.fetch(`${cluster.url(id)}/metrics`)).text();
    const byKind = {};
    for (const line of text.split('\n')) {
      const m = GC_LINE.exec(line);
      if (m) byKind[`${m[2]}_${m[1]}`] = Number(m[3]);
    }
    out[id] = byKind;
  }
  return out;
}

const putOf = (body, path) => (r) => ({
  ...r,
  method: 'PUT',
  path: path(),
  body,
  headers: { 'content-type': 'application/octet-stream' },
});

try {
  const url = cluster.url('n1');
  const body = valueOfSize(Number(a['value-bytes']));
  let next = 0;
  await autocannon({
    url,
    connections,
    amount: keys,
    requests: [{ setupRequest: putOf(body, () => `/kv/k${next++ % keys}?w=all`) }],
  });
  const small = Number(a['small-keys']);
  let nextSmall = 0;
  if (small > 0)
    await autocannon({
      url,
      connections,
      amount: small,
      requests: [{ setupRequest: putOf(valueOfSize(100), () => `/kv/s${nextSmall++}?w=all`) }],
    });
  const before = await collections();
  const result = await autocannon({
    url,
    connections,
    duration: Number(a.duration),
    requests: [
      { setupRequest: putOf(body, () => `/kv/k${Math.floor(Math.random() * keys)}?w=quorum`) },
    ],
  });
  const after = await collections();
  console.log(`${result['2xx']} PUTs of ${body.length} B in ${a.duration} s`);
  for (const id of cluster.ids) {
    const kinds = Object.keys(after[id]).sort();
    const deltas = kinds.map((k) => {
      const d = after[id][k] - (before[id][k] ?? 0);
      return `${k} ${k.endsWith('_sum') ? `${d.toFixed(2)} s` : d}`;
    });
    console.log(`${id}: ${deltas.join(', ')}`);
  }
} finally {
  await cluster.stop();
}
