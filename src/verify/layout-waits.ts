// What the membership nemesis waits for between its steps, each a poll of the admin API with a
// deadline: a member seeing a killed node down (so its removal is a dead node's, which the
// transition does not wait for), and every member reporting one settled layout of exactly the
// nodes it should hold (so the next change is not refused, and the final state is theirs).

import type { LayoutView, NodeApi } from './node-api.js';
import { sleep } from './sleep.js';

/** How often a wait asks again. */
const POLL_MS = 100;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** True once `via` reports `node` down; false at the deadline (or when `signal` aborts). */
export async function awaitSeenDown(
  via: NodeApi,
  node: string,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const until = performance.now() + deadlineMs;
  while (performance.now() < until && signal?.aborted !== true) {
    try {
      const status = await via.status();
      const peer = status.nodes.find((x) => x.id === node);
      if (peer === undefined || peer.state === 'down') return true;
    } catch {
      // Asked again below.
    }
    await sleep(POLL_MS, signal);
  }
  return false;
}

export type SettledWait =
  | { readonly outcome: 'settled'; readonly version: number; readonly elapsedMs: number }
  | { readonly outcome: 'timeout'; readonly why: string }
  | { readonly outcome: 'interrupted' };

/**
 * Waits until every node in `members` answers GET /admin/layout settled, on one version, with
 * exactly the ids in `members` as its nodes. At the deadline, says what the members last said.
 */
export async function awaitSettled(
  members: readonly NodeApi[],
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<SettledWait> {
  const started = performance.now();
  const expected = members.map((m) => m.id).sort();
  let last: string[] = [];
  while (performance.now() - started < deadlineMs) {
    if (signal?.aborted === true) return { outcome: 'interrupted' };
    const views = await Promise.all(
      members.map((m) => m.layout().then(describe, (err: unknown) => message(err))),
    );
    last = views.map((v, i) => `${members[i]!.id}: ${typeof v === 'string' ? v : v.text}`);
    const versions = new Set(views.map((v) => (typeof v === 'string' ? -1 : v.version)));
    const agreed = views.every(
      (v) => typeof v !== 'string' && v.settled && v.ids.join(',') === expected.join(','),
    );
    if (agreed && versions.size === 1) {
      return {
        outcome: 'settled',
        version: [...versions][0]!,
        elapsedMs: performance.now() - started,
      };
    }
    await sleep(POLL_MS, signal);
  }
  return {
    outcome: 'timeout',
    why: `the layout did not settle on ${expected.join(',')} within ${deadlineMs} ms (${last.join('; ')})`,
  };
}

function describe(view: LayoutView) {
  const ids = view.nodes.map((x) => x.id).sort();
  const states = view.nodes.map((x) => (x.state === 'member' ? x.id : `${x.id}:${x.state}`));
  return {
    version: view.version,
    settled: view.settled,
    ids,
    text: `v${view.version} ${view.settled ? 'settled' : 'moving'} [${states.join(',')}]`,
  };
}
