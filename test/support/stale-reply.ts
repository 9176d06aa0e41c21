// One stale read reply on purpose, for tests of what a node reports about staleness: a key
// written everywhere, then again while n1 cannot reach n3, then read at r=all through n2, which
// finds n3 a version behind. Nothing here waits on timing: the block keeps n1's hint for n3
// back until the read has met the old version.

import { expect } from 'vitest';
import type { TestCluster } from './cluster.js';

const NO_FAULTS = { block: [], delay: {}, drop: {} };

/**
 * Makes n2 meet one stale reply (from n3) at level `all`, at least `lagMs` behind (the HLC
 * wall-time gap between the two writes). Needs nodes n1, n2, n3 and N = 3.
 */
export async function makeStaleReply(c: TestCluster, key: string, lagMs: number): Promise<void> {
  expect((await c.put('n1', key, 'old', '?w=all')).status).toBe(204);
  const block = await c.admin('n1', 'PUT', '/admin/faults', { block: ['n3'] });
  expect(block.status, await block.clone().text()).toBe(200);
  try {
    await new Promise((r) => setTimeout(r, lagMs));
    expect((await c.put('n1', key, 'new', '?w=quorum')).status).toBe(204);
    const read = await c.get('n2', key, '?r=all');
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('new');
  } finally {
    const cleared = await c.admin('n1', 'PUT', '/admin/faults', NO_FAULTS);
    expect(cleared.status).toBe(200);
  }
}
