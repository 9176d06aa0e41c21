// Hint replay, one round at a time, from a memory-level store (the real hint rules: one hint
// per target and key, a delete that spares a newer hint) through fake links that record every
// writeBatch frame and can fail one, refuse entries, or run something while a frame is out.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { LWW, single } from '../../src/core/conflicts.js';
import type { Timers } from '../../src/core/clock.js';
import { PeerError } from '../../src/core/errors.js';
import type { VersionSet } from '../../src/core/version-set.js';
import type { WriteEntry } from '../../src/net/messages.js';
import {
  HintReplayer,
  type HintLinks,
  type HintReplayerOptions,
} from '../../src/replica/hint-replayer.js';
import { memoryStore, type LevelReplicaStore } from '../../src/storage/level-store.js';

const ENTRIES_PER_FRAME = LIMITS.writeBatchEntriesMax;
const FRAMES_IN_FLIGHT = LIMITS.hintReplayFramesInFlightMax;

const lww = (wallMs: number, value = `v${wallMs}`): VersionSet =>
  single({
    ts: { wallMs, logical: 0, node: 'n1' },
    tombstone: false,
    contentType: 'text/plain',
    value: Buffer.from(value),
  });

const keyOf = (i: number) => `k${String(i).padStart(5, '0')}`;
const textOf = (set: VersionSet | undefined) =>
  Buffer.from(set?.siblings[0]?.value ?? []).toString();

interface Frame {
  readonly node: string;
  readonly keys: readonly string[];
  readonly valueBytes: number;
}

/** Replicas that merge what they are sent into a map, and answer a turn later. */
class FakeLinks implements HintLinks {
  readonly up = new Set(['n2', 'n3']);
  readonly frames: Frame[] = [];
  /** What each replica now holds, by `${node}/${key}`. */
  readonly held = new Map<string, VersionSet>();
  /** Frames (by the order they were sent, from 0) that fail as a timeout would. */
  readonly failFrames = new Set<number>();
  /** Keys every replica refuses to merge. */
  readonly refuse = new Set<string>();
  /** Runs while a frame is out, before the replica answers it. */
  whileOut: ((frame: Frame, index: number) => Promise<void> | void) | undefined;
  /** Frames sent so far, at each failure. */
  readonly sentAtFailure: number[] = [];
  inFlight = 0;
  inFlightMax = 0;

  isUp(node: string): boolean {
    return this.up.has(node);
  }

  async writeBatch(
    node: string,
    entries: readonly WriteEntry[],
  ): Promise<{ failed: readonly number[] }> {
    const index = this.frames.length;
    const frame = {
      node,
      keys: entries.map(([key]) => key),
      valueBytes: entries.reduce((n, [, set]) => n + (set.siblings[0]?.value.length ?? 0), 0),
    };
    this.frames.push(frame);
    this.inFlightMax = Math.max(this.inFlightMax, ++this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      await this.whileOut?.(frame, index);
      if (this.failFrames.has(index)) {
        this.sentAtFailure.push(this.frames.length);
        throw new PeerError(node, 'timeout', `peer ${node} did not answer`);
      }
      const failed: number[] = [];
      entries.forEach(([key, set], i) => {
        if (this.refuse.has(key)) failed.push(i);
        else this.held.set(`${node}/${key}`, set);
      });
      return { failed };
    } finally {
      this.inFlight -= 1;
    }
  }

  framesTo(node: string): Frame[] {
    return this.frames.filter((f) => f.node === node);
  }
}

/** Timers a test fires by hand. */
class ManualTimers implements Timers {
  readonly armed = new Set<() => void>();

  after(_ms: number, fn: () => void): { cancel(): void } {
    this.armed.add(fn);
    return { cancel: () => this.armed.delete(fn) };
  }

  fire(): void {
    const due = [...this.armed];
    this.armed.clear();
    for (const fn of due) fn();
  }
}

let store: LevelReplicaStore;
let links: FakeLinks;
let busy: boolean;
let replayed: Array<[string, number]>;
let warnings: string[];

function replayer(
  timers: Timers = new ManualTimers(),
  from: HintReplayerOptions['store'] = store,
): HintReplayer {
  const logger = pino(
    { level: 'warn', base: null },
    { write: (line: string) => warnings.push(JSON.parse(line).msg as string) },
  );
  return new HintReplayer({
    store: from,
    links,
    logger,
    intervalMs: LIMITS.hintReplayIntervalMs,
    timeoutMs: 1_000,
    timers,
    busy: () => busy,
    onReplayed: (target, count) => replayed.push([target, count]),
  });
}

async function addHints(target: string, count: number, set = lww(1)): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => keyOf(i));
  await Promise.all(keys.map((key) => store.addHint(target, key, set)));
  return keys;
}

const pending = (target: string) => store.pendingHints().get(target) ?? 0;

beforeEach(async () => {
  store = memoryStore(LWW);
  await store.open();
  links = new FakeLinks();
  busy = false;
  replayed = [];
  warnings = [];
});

afterEach(async () => {
  await store.close();
});

describe('HintReplayer, idle', () => {
  it('drains thousands of hints in one round, a full frame per round trip, a few at a time', async () => {
    const keys = await addHints('n3', 5_000);
    await replayer().round();
    expect(pending('n3')).toBe(0);
    const frames = links.framesTo('n3');
    expect(frames.map((f) => f.keys.length)).toEqual([1024, 1024, 1024, 1024, 904]);
    expect(frames.flatMap((f) => f.keys)).toEqual(keys);
    expect(keys.every((key) => links.held.has(`n3/${key}`))).toBe(true);
    // Reading the next frame overlaps the ones out, but never more than the limit are out.
    expect(links.inFlightMax).toBeGreaterThan(1);
    expect(links.inFlightMax).toBeLessThanOrEqual(FRAMES_IN_FLIGHT);
    expect(replayed).toEqual([['n3', 5_000]]);
  });

  it('fills a frame up to its byte budget, and sends a hint larger than it alone', async () => {
    const third = 'x'.repeat(LIMITS.hintReplayFrameBytes / 3 - 100);
    for (let i = 0; i < 7; i++) await store.addHint('n3', keyOf(i), lww(1, third));
    const huge = 'y'.repeat(LIMITS.hintReplayFrameBytes + 1);
    await store.addHint('n3', keyOf(3), lww(2, huge));
    await replayer().round();
    expect(pending('n3')).toBe(0);
    expect(links.framesTo('n3').map((f) => f.keys)).toEqual([
      [keyOf(0), keyOf(1), keyOf(2)],
      [keyOf(3)],
      [keyOf(4), keyOf(5), keyOf(6)],
    ]);
    for (const f of links.frames)
      if (f.keys.length > 1) expect(f.valueBytes).toBeLessThanOrEqual(LIMITS.hintReplayFrameBytes);
  });

  it('replays to every target that is up, and leaves the hints of one that is down', async () => {
    await addHints('n2', 10);
    await addHints('n3', 10);
    await addHints('n4', 10);
    links.up.delete('n4');
    await replayer().round();
    expect([pending('n2'), pending('n3'), pending('n4')]).toEqual([0, 0, 10]);
    expect(links.framesTo('n4')).toEqual([]);
    links.up.add('n4');
    await replayer().round();
    expect(pending('n4')).toBe(0);
  });

  it('keeps a newer hint written while the older one was out, and delivers it next round', async () => {
    await addHints('n3', 3_000);
    const newer = lww(5, 'newer');
    links.whileOut = async (frame) => {
      if (frame.keys.includes(keyOf(1_500))) await store.addHint('n3', keyOf(1_500), newer);
    };
    const r = replayer();
    await r.round();
    expect(pending('n3')).toBe(1);
    const [left] = await store.hintsFor('n3', 10);
    expect(left?.key).toBe(keyOf(1_500));
    expect(textOf(left?.set)).toBe('newer');
    expect(textOf(links.held.get(`n3/${keyOf(1_500)}`))).toBe('v1');
    links.whileOut = undefined;
    await r.round();
    expect(pending('n3')).toBe(0);
    expect(textOf(links.held.get(`n3/${keyOf(1_500)}`))).toBe('newer');
  });

  it('leaves every hint of a frame that failed, sends no more frames, and retries next round', async () => {
    const keys = await addHints('n3', 10 * ENTRIES_PER_FRAME);
    links.failFrames.add(0);
    const r = replayer();
    await r.round();
    const [failed, ...landed] = links.framesTo('n3');
    // Frames already out when the failure came back land; none is sent after it.
    expect(links.frames).toHaveLength(links.sentAtFailure[0] as number);
    expect(links.frames.length).toBeLessThan(10);
    const left = new Set((await store.hintsFor('n3', 100_000)).map((h) => h.key));
    expect(failed?.keys.every((key) => left.has(key))).toBe(true);
    for (const frame of landed) expect(frame.keys.some((key) => left.has(key))).toBe(false);
    expect(left.size).toBe(keys.length - landed.length * ENTRIES_PER_FRAME);
    await r.round();
    expect(pending('n3')).toBe(0);
    expect(keys.every((key) => links.held.has(`n3/${key}`))).toBe(true);
  });

  it('keeps the hints a replica refused, delivers the rest of their frame, and says so', async () => {
    await addHints('n3', 100);
    links.refuse.add(keyOf(7));
    await replayer().round();
    expect((await store.hintsFor('n3', 10)).map((h) => h.key)).toEqual([keyOf(7)]);
    expect(links.held.size).toBe(99);
    expect(warnings).toEqual(['replica refused hints; kept them']);
  });

  it('ends a turn after the backlog it began with, so hints that keep coming wait their round', async () => {
    // n3's turn comes first: targets go in the order their first hint was stored.
    await addHints('n3', 2 * ENTRIES_PER_FRAME);
    await addHints('n2', 10);
    let added = 0;
    links.whileOut = async (frame) => {
      // Each frame to n3 brings a frame's worth of new hints behind it, 40 times at most.
      if (frame.node !== 'n3' || added >= 40) return;
      added += 1;
      const keys = Array.from({ length: ENTRIES_PER_FRAME }, (_, i) => `z${added}-${i}`);
      await Promise.all(keys.map((key) => store.addHint('n3', key, lww(1))));
    };
    // Each read waits for the frames out, so the hints they bring are there to be read.
    const afterFramesOut: HintReplayerOptions['store'] = {
      pendingHints: () => store.pendingHints(),
      deleteHint: (hint) => store.deleteHint(hint),
      hintsFor: async (target, limit, opts) => {
        while (links.inFlight > 0) await new Promise((r) => setImmediate(r));
        return store.hintsFor(target, limit, opts);
      },
    };
    await replayer(new ManualTimers(), afterFramesOut).round();
    expect(links.framesTo('n3')).toHaveLength(2);
    expect(pending('n3')).toBe(added * ENTRIES_PER_FRAME);
    expect(links.framesTo('n2')).toHaveLength(1);
    expect(pending('n2')).toBe(0);
  });
});

describe('HintReplayer, while clients are waiting', () => {
  it('sends one batch per target per round instead of draining', async () => {
    const keys = await addHints('n3', 5_000);
    busy = true;
    const r = replayer();
    for (let round = 0; round < 3; round++) await r.round();
    expect(links.framesTo('n3').map((f) => f.keys)).toEqual([
      keys.slice(0, 256),
      keys.slice(256, 512),
      keys.slice(512, 768),
    ]);
    expect(pending('n3')).toBe(5_000 - 3 * LIMITS.hintReplayBatchMax);
    busy = false;
    await r.round();
    expect(pending('n3')).toBe(0);
  });

  it('stops draining within a frame when clients start waiting', async () => {
    await addHints('n3', 10 * ENTRIES_PER_FRAME);
    links.whileOut = (_frame, index) => {
      if (index === 0) busy = true;
    };
    await replayer().round();
    // The frames read before the first answer came back, then one busy frame at most.
    expect(links.frames.length).toBeLessThanOrEqual(FRAMES_IN_FLIGHT + 1);
    expect(pending('n3')).toBeGreaterThan(5 * ENTRIES_PER_FRAME);
  });
});

describe('HintReplayer, stopped', () => {
  it('sends nothing once stopped, from its timer or a round', async () => {
    await addHints('n3', 10);
    const timers = new ManualTimers();
    const r = replayer(timers);
    r.start();
    expect(timers.armed.size).toBe(1);
    r.stop();
    expect(timers.armed.size).toBe(0);
    timers.fire();
    await r.round();
    expect(links.frames).toEqual([]);
    expect(pending('n3')).toBe(10);
  });

  it('replays on its timer while started', async () => {
    await addHints('n3', 10);
    const timers = new ManualTimers();
    const r = replayer(timers);
    r.start();
    timers.fire();
    await until(() => pending('n3') === 0);
    expect(links.frames).toHaveLength(1);
    r.stop();
  });

  it('sends no further frame once stopped in the middle of a drain', async () => {
    await addHints('n3', 10 * ENTRIES_PER_FRAME);
    const r = replayer();
    links.whileOut = (_frame, index) => {
      if (index === 0) r.stop();
    };
    await r.round();
    expect(links.frames.length).toBeLessThanOrEqual(FRAMES_IN_FLIGHT);
    expect(pending('n3')).toBe(10 * ENTRIES_PER_FRAME - links.frames.length * ENTRIES_PER_FRAME);
  });
});

async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !probe(); i++) await new Promise((r) => setImmediate(r));
  expect(probe()).toBe(true);
}
