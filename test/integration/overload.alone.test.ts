// Admission control under a burst of large writes: 300 concurrent 1 MiB PUTs at w=all through
// one node. Every answer is 204 or an immediate 503 overloaded (never a 504), no peer is marked
// down while megabytes are in transit, small reads beside the burst stay fast, and the node's
// memory is bounded and comes back afterwards. It bounds latency and memory, so it runs alone
// (see vitest.config.ts).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { TestCluster, until } from '../support/cluster.js';

const BURST = 300;
/** Refused uploads whose client may see a reset before its 503 (see the burst test). */
const RESETS_MAX = 15;
const VALUE_BYTES = 1024 * 1024;

let c: TestCluster;
beforeAll(async () => {
  c = await TestCluster.start();
});
afterAll(async () => {
  await c?.stop();
});

function rssMiB(id: string): number {
  const pid = c.procs.get(id)?.pid as number;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:')) as string;
  return Number(line.split(/\s+/)[1]) / 1024;
}

interface Answer {
  readonly status: number;
  readonly error?: string;
  readonly retryAfter: string | null;
}

/** BURST concurrent PUTs of VALUE_BYTES at w=all to `url`, sent by a child process. */
async function burstFromChild(url: string): Promise<Answer[]> {
  const script = `
    const [url, n, bytes] = process.argv.slice(1);
    const value = Buffer.alloc(Number(bytes), 7);
    Promise.all(Array.from({ length: Number(n) }, async (_, i) => {
      try {
        const res = await fetch(url + '/kv/big-' + i + '?w=all', { method: 'PUT', body: value });
        const text = await res.text();
        const error = res.status === 204 ? undefined : JSON.parse(text).error;
        return { status: res.status, error, retryAfter: res.headers.get('retry-after') };
      } catch (err) {
        return { status: 0, error: String(err), retryAfter: null };
      }
    })).then((a) => process.stdout.write(JSON.stringify(a)));
  `;
  const child = spawn(process.execPath, ['-e', script, url, String(BURST), String(VALUE_BYTES)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code).toBe(0);
  return JSON.parse(out) as Answer[];
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number;
}

describe('admission control', () => {
  it(
    '300 concurrent 1 MiB PUTs at w=all: 204 or a fast 503 overloaded, no peer down, small GETs fast, memory back',
    { timeout: 120_000 },
    async () => {
      expect((await c.put('n1', 'small', 'x', '?w=all')).status).toBe(204);
      // The baseline is a node in its steady state, one that has already served large values
      // one at a time (LevelDB's memtable, the allocator's arenas and V8's heap sized for them)
      // and then been quiet long enough for its memory return to run: what the burst must come
      // back to, not the footprint of a node that has never stored anything.
      const warm = Buffer.alloc(VALUE_BYTES, 1);
      for (let i = 0; i < 12; i++) {
        expect((await c.put('n1', `warm-${i}`, warm, '?w=all')).status).toBe(204);
      }
      for (let i = 0; i < 20; i++) await c.get('n1', 'small');
      await until(
        'n1 to run its memory return after the warm-up',
        async () => (((await c.status('n1')).memoryReturn as number) ?? 0) >= 1,
        15_000,
        100,
      );
      const before = rssMiB('n1');

      let bursting = true;
      let peak = before;
      const downSeen: string[] = [];
      const watch = (async () => {
        while (bursting) {
          peak = Math.max(peak, rssMiB('n1'));
          for (const id of c.ids) {
            const s = await c.status(id);
            for (const n of s.nodes)
              if (n.state !== 'up') downSeen.push(`${id} saw ${n.id} ${n.state}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const getLatencies: number[] = [];
      const reader = async () => {
        while (bursting) {
          const t0 = performance.now();
          const res = await c.get('n1', 'small', '?r=one');
          getLatencies.push(performance.now() - t0);
          expect(res.status).toBe(200);
        }
      };
      const readers = [reader(), reader()];

      // The burst comes from its own process, so the readers here measure the node, not a
      // client event loop busy uploading 300 MiB.
      const answers = await burstFromChild(c.url('n1'));
      bursting = false;
      await Promise.all([watch, ...readers]);

      const byStatus = new Map<string, number>();
      for (const a of answers) {
        const k = `${a.status}${a.error ? ` ${a.error}` : ''}`;
        byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
      }
      console.log(`answers: ${JSON.stringify(Object.fromEntries(byStatus))}`);
      const ok = answers.filter((a) => a.status === 204);
      const overloaded = answers.filter((a) => a.status === 503);

      console.log(
        `burst: ${ok.length} x 204, ${overloaded.length} x 503 overloaded; ` +
          `GETs beside it: ${getLatencies.length}, p99 ${p99(getLatencies).toFixed(1)} ms; ` +
          `n1 RSS before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`,
      );
      // Every answer is one of those two, or a reset: no 504 (a healthy peer is never starved
      // of heartbeats or its acks). A refused upload's connection closes without the rest of
      // its body being read, so its client may see the reset before it reads the 503: the
      // contract says so (docs/security.md, and the known gaps in docs/limits.md), and CI saw
      // 1 to 5 of 300. More than RESETS_MAX would be a different failure.
      const resets = answers.filter((a) => a.status === 0 && /fetch failed/.test(a.error ?? ''));
      const seen = JSON.stringify(Object.fromEntries(byStatus));
      expect(ok.length + overloaded.length + resets.length, seen).toBe(BURST);
      expect(resets.length, seen).toBeLessThanOrEqual(RESETS_MAX);
      expect(ok.length).toBeGreaterThan(0);
      for (const a of overloaded) {
        expect(a.error).toBe('overloaded');
        expect(a.retryAfter).toBe(String(LIMITS.overloadRetryAfterS));
      }
      expect(downSeen).toEqual([]);
      expect(getLatencies.length).toBeGreaterThan(10);
      // Small reads are never queued behind the burst: they carry no body to wait for.
      expect(p99(getLatencies)).toBeLessThan(50);
      // Budget: what was in flight never exceeded it by more than one value.
      expect(peak - before).toBeLessThan(
        (LIMITS.inFlightBytesMax * 3) / (1024 * 1024) + VALUE_BYTES / (1024 * 1024),
      );
      // Every acknowledged write is on every replica; a refused one is nowhere.
      const acked = answers.findIndex((a) => a.status === 204);
      const refused = answers.findIndex((a) => a.status === 503);
      for (const id of c.ids) {
        const copy = await c.local(id, `big-${acked}`);
        expect(Buffer.from(copy?.siblings[0]?.value ?? '', 'base64').length).toBe(VALUE_BYTES);
        if (refused !== -1) expect(await c.local(id, `big-${refused}`)).toBeUndefined();
      }

      const after = await until(
        'n1 RSS to come back within 1.5x of its pre-burst level',
        () => {
          const now = rssMiB('n1');
          return now <= before * 1.5 ? now : false;
        },
        30_000,
        500,
      ).catch(() => rssMiB('n1'));
      console.log(
        `n1 RSS before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, 30 s after ${after.toFixed(0)} MiB; ` +
          `memory ${JSON.stringify((await c.status('n1')).memory)}; inFlight ${JSON.stringify((await c.status('n1')).inFlight)}; collections ${String((await c.status('n1')).memoryReturn)}`,
      );
      expect(after).toBeLessThanOrEqual(before * 1.5);
    },
  );
});
