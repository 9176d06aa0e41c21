// The console: polls GET /admin/console about once a second and redraws the cluster, and the
// PBS curve every few seconds; asks for the admin token when the node wants one. Forms (faults,
// try it) are built once and only told about new nodes, so a poll never wipes what someone is
// typing.

import { AdminError, TokenNeeded, api, setToken, token } from './api.js';
import { byId, fill, h } from './dom.js';
import { clockTime } from './format.js';
import { mountFaultsPanel } from './faults-panel.js';
import { linksOf } from './links.js';
import { linksView } from './links-view.js';
import { nodesView } from './nodes-view.js';
import { mountPbsPanel } from './pbs-panel.js';
import { profilesView } from './profiles-view.js';
import { ringView } from './ring-view.js';
import { stalenessView } from './staleness-view.js';
import { trafficView } from './traffic-view.js';
import { mountTryIt } from './try-it.js';
import type { ClusterView } from './wire.js';

const POLL_INTERVAL_MS = 1000;

const live = byId('live');
const banner = byId('banner');
const tokenPanel = byId('token-panel');
const tokenReason = byId('token-reason');
const tokenInput = byId<HTMLInputElement>('token-input');
const forgetToken = byId<HTMLButtonElement>('forget-token');
const consoleMain = byId('console');

let timer: number | undefined;
let polling = false;

function showBanner(text: string | null): void {
  banner.hidden = text === null;
  banner.textContent = text ?? '';
}

function report(err: unknown): void {
  if (err instanceof TokenNeeded) askForToken(err);
}

const faults = mountFaultsPanel(() => void refresh(), report);
const tryIt = mountTryIt(() => void refresh());
const pbs = mountPbsPanel(report);

function askForToken(err: TokenNeeded): void {
  tokenReason.textContent = err.hadToken
    ? 'The node refused that admin token. Enter the right one.'
    : 'This node needs its admin token to show the cluster.';
  tokenPanel.hidden = false;
  // Nothing of the cluster stays on screen without a token the node accepts.
  consoleMain.hidden = true;
  live.dataset.state = 'locked';
  live.textContent = 'token needed';
  tokenInput.focus();
}

function render(view: ClusterView): void {
  const links = linksOf(view);
  fill(
    byId('summary'),
    h('span', { class: 'pill' }, view.cluster),
    h('span', { class: 'pill strong', id: 'summary-profile' }, `profile ${view.profile}`),
    h('span', { class: 'pill' }, `N=${view.n} · r=${view.r} · w=${view.w}`),
    h('span', { class: 'pill' }, `conflicts ${view.conflicts}`),
    h(
      'span',
      { class: 'pill' },
      `layout v${view.layout.version}${view.layout.settled ? '' : ' (changing)'}`,
    ),
    h('span', { class: 'pill' }, `served by ${view.self}`),
  );
  fill(byId('ring'), ringView(view, links));
  fill(byId('nodes'), nodesView(view));
  fill(byId('links'), linksView(links));
  fill(byId('traffic'), trafficView(view));
  fill(byId('staleness'), stalenessView(view));
  fill(byId('profiles'), profilesView(view));
  faults.update(view);
  tryIt.update(view);
}

/** One poll now (unless one is running); the next follows a second after it ends. */
async function refresh(): Promise<void> {
  if (polling) return;
  polling = true;
  window.clearTimeout(timer);
  try {
    const view = await api.cluster();
    tokenPanel.hidden = true;
    consoleMain.hidden = false;
    forgetToken.hidden = token() === null;
    showBanner(null);
    render(view);
    pbs.poke();
    live.dataset.state = 'live';
    live.textContent = `live · ${clockTime(view.at)}`;
  } catch (err) {
    if (err instanceof TokenNeeded) {
      askForToken(err);
      return; // no more polls until a token is given
    }
    live.dataset.state = 'stale';
    live.textContent = 'not updating';
    showBanner(
      err instanceof AdminError
        ? `The node answered ${err.status}: ${err.message}`
        : `Cannot reach this node (${String(err)}); retrying.`,
    );
  } finally {
    polling = false;
  }
  timer = window.setTimeout(() => void refresh(), POLL_INTERVAL_MS);
}

byId<HTMLFormElement>('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken(tokenInput.value);
  tokenInput.value = '';
  void refresh();
});

forgetToken.addEventListener('click', () => {
  setToken(null);
  window.clearTimeout(timer);
  askForToken(new TokenNeeded(false));
});

void refresh();
