// Every pair of nodes and what is known of the link between them, from both ends: each node
// reports its own faults (block, and the delay and drop on what it sends) and its own pings.

import type { ClusterView, NodeView } from './wire.js';

export interface Direction {
  readonly from: string;
  readonly to: string;
  readonly delay: { readonly ms: number; readonly jitterMs: number } | undefined;
  readonly drop: number | undefined;
  readonly rttMs: number | null;
  readonly pingsSent: number;
  readonly pingsLost: number;
  /** Whether `from`'s failure detector has `to` up; undefined when `from` did not answer. */
  readonly seesUp: boolean | undefined;
}

export type LinkState = 'ok' | 'faulty' | 'blocked' | 'down' | 'unknown';

export interface Link {
  readonly a: string;
  readonly b: string;
  readonly ab: Direction;
  readonly ba: Direction;
  /** Either end blocks the other (a block cuts both directions). */
  readonly blocked: boolean;
  readonly state: LinkState;
}

function direction(from: string, to: string, view: NodeView | undefined): Direction {
  const peer = view?.peers[to];
  return {
    from,
    to,
    delay: view?.faults.delay[to],
    drop: view?.faults.drop[to],
    rttMs: peer?.rttMs ?? null,
    pingsSent: peer?.pingsSent ?? 0,
    pingsLost: peer?.pingsLost ?? 0,
    seesUp: peer?.up,
  };
}

export function linksOf(view: ClusterView): Link[] {
  const byId = new Map(view.nodes.map((e) => [e.id, e.view]));
  const ids = view.layout.nodes.map((n) => n.id);
  const out: Link[] = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = ids[i] as string;
      const b = ids[j] as string;
      const va = byId.get(a);
      const vb = byId.get(b);
      const ab = direction(a, b, va);
      const ba = direction(b, a, vb);
      const blocked =
        (va?.faults.block.includes(b) ?? false) || (vb?.faults.block.includes(a) ?? false);
      let state: LinkState;
      if (blocked) state = 'blocked';
      else if (va === undefined || vb === undefined) state = 'unknown';
      else if (ab.delay || ab.drop || ba.delay || ba.drop) state = 'faulty';
      else if (ab.seesUp === false || ba.seesUp === false) state = 'down';
      else state = 'ok';
      out.push({ a, b, ab, ba, blocked, state });
    }
  }
  return out;
}

/** What a direction's faults are, in a few words ("delay 50±10 ms, drop 20%"), or ''. */
export function faultWords(d: Direction): string {
  const parts: string[] = [];
  if (d.delay)
    parts.push(`delay ${d.delay.ms}${d.delay.jitterMs ? `±${d.delay.jitterMs}` : ''} ms`);
  if (d.drop) parts.push(`drop ${Math.round(d.drop * 100)}%`);
  return parts.join(', ');
}
