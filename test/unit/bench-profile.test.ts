import { describe, expect, it } from 'vitest';
import {
  categoryOf,
  shortFile,
  summarizeProfiles,
  type CallFrame,
  type CpuProfile,
} from '../../bench/profile.js';

const frame = (functionName: string, url = '', lineNumber = -1): CallFrame => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

const IDLE = frame('(idle)');
const BATCH = frame('_batch', 'file:///r/node_modules/classic-level/index.js', 199);
const MERGE = frame('merge', 'file:///r/dist/core/conflicts.js', 10);

/** One sample per entry of `stack`, 1 ms apart, starting at `startTime`. */
function profileOf(startTime: number, stack: CallFrame[]): CpuProfile {
  const frames = [IDLE, BATCH, MERGE];
  return {
    nodes: frames.map((callFrame, id) => ({ id, callFrame })),
    startTime,
    // The first sample is taken 1 ms after the start, and the last lasts 1 ms too.
    endTime: startTime + (stack.length + 1) * 1000,
    samples: stack.map((f) => frames.indexOf(f)),
    timeDeltas: stack.map(() => 1000),
  };
}

describe('bench profile summary', () => {
  it('sorts frames into categories, with kvorum only its own dist code', () => {
    expect(categoryOf(BATCH)).toBe('LevelDB');
    expect(categoryOf(MERGE)).toBe('kvorum (core, replica, storage)');
    expect(categoryOf(frame('pack', 'file:///r/node_modules/msgpackr/pack.js'))).toBe(
      'peer protocol',
    );
    expect(categoryOf(frame('x', 'file:///r/node_modules/foo/dist/x.js'))).toBe('other');
    expect(categoryOf(frame('writev'))).toBe('socket writes');
    expect(categoryOf(frame('(garbage collector)'))).toBe('garbage collection');
    expect(shortFile(BATCH)).toBe('node_modules/classic-level/index.js:200');
    expect(shortFile(frame('writev'))).toBe('');
  });

  it('counts busy and idle time per node and overall, and ranks functions by self time', () => {
    const s = summarizeProfiles([
      { node: 'n1', profile: profileOf(0, [BATCH, BATCH, MERGE, IDLE]) },
      { node: 'n2', profile: profileOf(0, [MERGE, IDLE, IDLE, IDLE]) },
    ]);
    expect(s.window).toBe('whole process');
    const n1 = s.nodes.find((n) => n.node === 'n1');
    expect(n1?.busyMs).toBe(3);
    expect(n1?.idleShare).toBeCloseTo(0.25);
    expect(n1?.busyShares.LevelDB).toBeCloseTo(2 / 3);
    expect(s.all.busyMs).toBe(4);
    expect(s.all.busyShares['kvorum (core, replica, storage)']).toBeCloseTo(0.5);
    expect(s.top.map((f) => [f.name, f.selfMs])).toEqual([
      ['_batch', 2],
      ['merge', 2],
    ]);
  });

  it('counts only samples inside the load window, and falls back to all when none are', () => {
    const p = profileOf(0, [MERGE, MERGE, BATCH, BATCH, IDLE]);
    // Samples fall at 1, 2, 3, 4 and 5 ms; the window holds the two BATCH samples.
    const inWindow = summarizeProfiles([{ node: 'n1', profile: p }], { fromUs: 3000, toUs: 5000 });
    expect(inWindow.window).toBe('load');
    expect(inWindow.all.busyShares.LevelDB).toBe(1);
    const outside = summarizeProfiles([{ node: 'n1', profile: p }], { fromUs: 9e9, toUs: 9e9 + 1 });
    expect(outside.window).toBe('whole process');
    expect(outside.all.busyMs).toBe(4);
  });
});
