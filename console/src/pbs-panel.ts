// The PBS panel asks its node for the curve (GET /admin/pbs/curve) at a slow pace: the model
// moves only as samples accumulate, and each answer costs the node a run of the trials, so a
// refresh every few seconds shows what changes without loading it like the 1 s poll would.

import { AdminError, TokenNeeded, api } from './api.js';
import { byId, fill, h } from './dom.js';
import { pbsView } from './pbs-view.js';

export const PBS_REFRESH_MS = 5_000;

export interface PbsPanel {
  /** Called after every poll the page makes: asks for a new curve when the last is old enough. */
  poke(): void;
}

export function mountPbsPanel(report: (err: unknown) => void): PbsPanel {
  const root = byId('pbs');
  fill(root, h('p', { class: 'muted' }, 'Waiting for the first prediction…'));
  let askedAt = -Infinity;
  let asking = false;

  async function refresh(): Promise<void> {
    asking = true;
    askedAt = performance.now();
    try {
      fill(root, pbsView(await api.pbsCurve(), Date.now()));
    } catch (err) {
      if (err instanceof TokenNeeded) report(err);
      else
        fill(
          root,
          h(
            'p',
            { class: 'muted' },
            err instanceof AdminError
              ? `No prediction: the node answered ${err.status}: ${err.message}`
              : `No prediction: cannot reach this node (${String(err)}).`,
          ),
        );
    } finally {
      asking = false;
    }
  }

  return {
    poke() {
      if (!asking && performance.now() - askedAt >= PBS_REFRESH_MS) void refresh();
    },
  };
}
