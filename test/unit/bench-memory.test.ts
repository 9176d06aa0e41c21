// The bench's split of a node's RSS: V8's heap, ArrayBuffers, mapped files and the rest.

import { describe, expect, it } from 'vitest';
import { describeSplit } from '../../bench/memory.js';

const MIB = 1024 * 1024;

const split = {
  rss: 458 * MIB,
  heapTotal: 178 * MIB,
  heapUsed: 141 * MIB,
  external: 25 * MIB,
  arrayBuffers: 21 * MIB,
  collections: 4,
};

describe('describeSplit', () => {
  it('gives the heap used of what it holds, the buffers, and the rest of RSS', () => {
    // other = rss - heap held - external: 458 - 178 - 25.
    expect(describeSplit(split)).toBe('458: heap 141/178 · buffers 21 · other 255');
  });

  it('takes mapped files out of the rest when /proc gave them', () => {
    expect(describeSplit({ ...split, rssFile: 150 * MIB })).toBe(
      '458: heap 141/178 · buffers 21 · files 150 · other 105',
    );
  });
});
