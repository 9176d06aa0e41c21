// The console as a person uses it, in a real headless Chromium (Debian's package, driven by
// puppeteer-core; nothing downloads a browser): against a real 3-node cluster with an admin
// token, give the token, see the PBS panel say nothing is measured yet, make a stale read and
// see it in the staleness table, then with clients writing see the PBS curve drawn, one line per
// (R, W); click a partition {n1,n2} | {n3} while a client keeps writing to n3, see through the
// admin API that every node blocks the other side and on the page that n3's writes turn to
// 503, try a PUT and a GET from the page, take a screenshot, heal by click, then set and clear a
// delay and a drop on a link by click.
// With KVORUM_SCREENSHOT=1 the screenshot replaces docs/console.png (the README's picture).

import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from '../support/cluster.js';
import { makeStaleReply } from '../support/stale-reply.js';

// What the functions evaluated in the page use of it. The tests' tsconfig has Node's types, not
// the DOM library (adding it would retype Node globals for every test), so they are declared
// here, for this module only.
interface PageElement {
  readonly textContent: string | null;
  readonly hidden: boolean;
  value: string;
  readonly dataset: Readonly<Record<string, string | undefined>>;
  readonly children: ArrayLike<PageElement>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: { querySelector(selector: string): PageElement | null; cookie: string };
declare const sessionStorage: { getItem(key: string): string | null };
declare const localStorage: { readonly length: number };

const TOKEN = 'browser-test-admin-token';
const SCREENSHOT = resolve(import.meta.dirname, '../../docs/console.png');
/** A poll a second, and a few seconds for a partition to show: a generous bound per step. */
const STEP_MS = 20_000;
/** Every (R, W) for N = 3, R-major: the PBS chart's lines. */
const PAIRS = ['1,1', '1,2', '1,3', '2,1', '2,2', '2,3', '3,1', '3,2', '3,3'];

/** Chromium or Chrome to drive: KVORUM_CHROMIUM, or Debian's package where it installs. */
function findChromium(): string | undefined {
  const given = process.env.KVORUM_CHROMIUM;
  if (given !== undefined && given !== '') return given;
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) =>
    existsSync(p),
  );
}

const CHROMIUM = findChromium();
const SKIPPED =
  'SKIPPED the console browser test: no Chromium found. Install it with `apt-get install -y chromium` ' +
  '(Debian/Ubuntu; .ci/run does this), or set KVORUM_CHROMIUM to a Chromium or Chrome binary.';
if (CHROMIUM === undefined) console.warn(SKIPPED);

let cluster: TestCluster | undefined;
let browser: Browser | undefined;
let profileDir: string | undefined;

beforeAll(async () => {
  if (CHROMIUM === undefined) return;
  cluster = await TestCluster.start({ adminToken: TOKEN });
  profileDir = await mkdtemp(join(tmpdir(), 'kvorum-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profileDir,
    // Root in a container has no user namespace for Chromium's sandbox; the page is our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  const pid = browser?.process()?.pid;
  await Promise.race([
    browser?.close().catch(() => undefined),
    new Promise((r) => setTimeout(r, 5_000)),
  ]);
  // Whatever close left running: puppeteer starts Chromium as a process group led by `pid`.
  if (pid !== undefined) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await cluster?.stop();
  if (profileDir !== undefined) await rm(profileDir, { recursive: true, force: true });
});

/** Admin GET from the test itself, with the token: the cluster's word, not the page's. */
async function faultsOf(c: TestCluster, id: string): Promise<{ block: string[] }> {
  const res = await c.admin(id, 'GET', '/admin/faults');
  return (await res.json()) as { block: string[] };
}

/** The share (0..1) of answers of class `status` the page shows for a node's level, or 0. */
async function shownShare(page: Page, node: string, level: string, status: string) {
  return page.evaluate(
    (n, l, s) => {
      const row = document.querySelector(`#traffic-table tr[data-node="${n}"][data-level="${l}"]`);
      const cell = row?.querySelector(`[data-status="${s}"]`);
      return cell === null || cell === undefined ? 0 : Number(cell.dataset.share);
    },
    node,
    level,
    status,
  );
}

async function click(page: Page, selector: string): Promise<void> {
  await page.waitForSelector(selector, { visible: true, timeout: STEP_MS });
  await page.click(selector);
}

/** A client writing to `node` every 50 ms until stopped: what the page's traffic figures are about. */
function writerTo(c: TestCluster, node: string) {
  const statuses: number[] = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running && i < 2_000; i++) {
      const res = await c.put(node, `writer-${i % 50}`, `v${i}`).catch(() => undefined);
      if (res !== undefined) statuses.push(res.status);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    statuses,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('the console in a headless Chromium', () => {
  it('PBS curve and stale replies after traffic; partition by click: the admin API shows the blocks, the page shows n3 writes turning to 503; heal and link faults by click', async (ctx) => {
    if (CHROMIUM === undefined) ctx.skip(SKIPPED);
    const c = cluster as TestCluster;
    const page = await (browser as Browser).newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.setViewport({ width: 1400, height: 1000 });
    // Started once the page has shown that no traffic was measured yet.
    let writer: ReturnType<typeof writerTo> | undefined;
    let majorityWriter: ReturnType<typeof writerTo> | undefined;
    try {
      // The page asks for the token before it shows anything of the cluster.
      await page.goto(`${c.url('n1')}/`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#token-panel:not([hidden])', { timeout: STEP_MS });
      expect(await page.$eval('#console', (e) => (e as unknown as PageElement).hidden)).toBe(true);
      await page.type('#token-input', TOKEN);
      await click(page, '#token-form button[type="submit"]');
      for (const id of c.ids) {
        await page.waitForSelector(`#nodes-table tr[data-node="${id}"][data-state="up"]`, {
          timeout: STEP_MS,
        });
      }
      // Kept in the tab only.
      expect(
        await page.evaluate(() => ({
          session: sessionStorage.getItem('kvorum.adminToken'),
          local: localStorage.length,
          cookie: document.cookie,
        })),
      ).toEqual({ session: TOKEN, local: 0, cookie: '' });

      // No client has sent anything yet: the PBS panel says so instead of drawing a curve.
      await page.waitForSelector('#pbs [data-state="empty"] #pbs-empty', { timeout: STEP_MS });
      expect(await page.$eval('#pbs-empty', (e) => e.textContent)).toMatch(
        /No traffic measured yet.*Send some through n1/,
      );
      expect(await page.$('#pbs-chart')).toBeNull();

      // A read through n2 that meets n3 a version behind shows in n2's staleness row.
      await makeStaleReply(c, 'browser-stale', 60);
      const staleRow = '#staleness-table tr[data-node="n2"][data-level="all"]';
      await page.waitForSelector(staleRow, { timeout: STEP_MS });
      expect(
        await page.$eval(staleRow, (e) => ({
          replies: (e as unknown as PageElement).dataset.replies,
          behind: (e as unknown as PageElement).querySelector('[data-lag="p50"]')?.textContent,
        })),
      ).toEqual({ replies: '1', behind: expect.stringMatching(/^\d+(\.\d)? ms$/) });
      expect(await page.$('#staleness-table tr[data-node="n1"][data-level="all"]')).toBeNull();

      writer = writerTo(c, 'n3');
      // The majority side's writes, for the contrast: they keep succeeding.
      majorityWriter = writerTo(c, 'n1');
      await until(
        "the page to show n3's writes succeeding",
        async () => (await shownShare(page, 'n3', 'write quorum', '2xx')) > 0,
        STEP_MS,
      );

      // With n1's writes measured, the PBS curve: one line per (R, W), the strict quorums flat
      // at 1, and each line flattened by the end of the axis the node picked.
      await page.waitForSelector('#pbs [data-state="curve"] #pbs-chart path.pbs-line', {
        timeout: STEP_MS,
      });
      const lines = await page.$$eval('#pbs-chart path.pbs-line', (paths) =>
        paths.map((p) => ({
          pair: `${p.getAttribute('data-r')},${p.getAttribute('data-w')}`,
          strict: p.getAttribute('data-strict') !== null,
          last: Number(p.getAttribute('data-last')),
          points: (p.getAttribute('d') ?? '').split('L').length,
        })),
      );
      expect(lines.map((l) => l.pair).sort()).toEqual(PAIRS);
      expect(lines.filter((l) => l.strict).map((l) => l.pair)).toEqual(
        PAIRS.filter((pair) => pair !== '1,1' && pair !== '1,2' && pair !== '2,1'),
      );
      for (const l of lines) {
        expect(l.last, l.pair).toBeGreaterThanOrEqual(l.strict ? 1 : 0.99);
        expect(l.points, l.pair).toBeGreaterThan(10);
      }
      expect(await page.$$eval('#pbs-table tbody tr', (rows) => rows.length)).toBe(9);

      // Partition {n1,n2} | {n3} by clicking each node's group, then the button.
      await click(page, '[data-testid="group-n1-A"]');
      await click(page, '[data-testid="group-n2-A"]');
      await click(page, '[data-testid="group-n3-B"]');
      expect(await page.$eval('#partition-button', (b) => b.textContent)).toBe(
        'Partition {n1,n2} | {n3}',
      );
      await click(page, '#partition-button');
      await page.waitForFunction(
        () => document.querySelector('#faults-result')?.textContent?.startsWith('partitioned'),
        { timeout: STEP_MS },
      );
      expect(await page.$eval('#faults-result', (e) => e.textContent)).toBe(
        'partitioned: applied on n1, n2, n3',
      );

      // The admin API says so, node by node.
      expect((await faultsOf(c, 'n1')).block).toEqual(['n3']);
      expect((await faultsOf(c, 'n2')).block).toEqual(['n3']);
      expect((await faultsOf(c, 'n3')).block).toEqual(['n1', 'n2']);

      // The page: the links to n3 are blocked, and n3's writes turn to 503.
      for (const link of ['n1-n3', 'n2-n3']) {
        await page.waitForSelector(`#links-table tr[data-link="${link}"][data-state="blocked"]`, {
          timeout: STEP_MS,
        });
      }
      await until(
        "the page to show n3's writes answered 503",
        async () => (await shownShare(page, 'n3', 'write quorum', '503')) >= 0.2,
        STEP_MS,
      );
      expect(writer.statuses).toContain(503);
      expect(await shownShare(page, 'n1', 'write quorum', '503')).toBe(0);
      expect(await shownShare(page, 'n1', 'write quorum', '2xx')).toBe(1);

      // Try it: a PUT and a GET from the page, on the majority side, with their timings.
      await page.select('#try-method', 'PUT');
      await page.$eval('#try-key', (e) => ((e as unknown as PageElement).value = 'greeting'));
      await page.$eval('#try-value', (e) => ((e as unknown as PageElement).value = 'hello'));
      await page.select('#try-w', 'quorum');
      await click(page, '#try-send');
      await page.waitForFunction(
        () => document.querySelector('#try-status')?.textContent === '204',
        { timeout: STEP_MS },
      );
      await page.select('#try-method', 'GET');
      await page.select('#try-r', 'all');
      await click(page, '#try-send');
      // r=all during the partition: n3 is down to n1, so the read is refused, naming it down.
      await page.waitForFunction(
        () => document.querySelector('#try-status')?.textContent === '503',
        { timeout: STEP_MS },
      );
      expect(await page.$eval('#try-timings tr[data-node="n3"]', (e) => e.textContent)).toMatch(
        /down/,
      );
      await page.select('#try-r', 'quorum');
      await click(page, '#try-send');
      await page.waitForFunction(
        () => document.querySelector('#try-status')?.textContent === '200',
        { timeout: STEP_MS },
      );
      expect(await page.$eval('#try-body', (e) => e.textContent)).toBe('hello');
      // The page's own requests count in n1's traffic like any client's.
      await page.waitForSelector('#traffic-table tr[data-node="n1"][data-level="read quorum"]', {
        timeout: STEP_MS,
      });
      // Who answered: n1 and n2; n3 is named down, not asked.
      const timed = await page.$$eval('#try-timings tbody tr', (rows) =>
        Object.fromEntries(
          rows.map((r) => [r.getAttribute('data-node'), r.children[2]?.textContent]),
        ),
      );
      expect(timed).toMatchObject({ n1: 'ok', n2: 'ok' });
      expect(timed.n3 ?? 'down').toBe('down');

      // The picture for the README: the partition, its 503s, a read with its timings, the stale
      // reply and the PBS curve.
      const shot: `${string}.png` =
        process.env.KVORUM_SCREENSHOT === '1'
          ? (SCREENSHOT as `${string}.png`)
          : `${profileDir as string}/console.png`;
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(20_000);

      // Heal by click: every node's faults are gone, the page shows the links up again.
      await click(page, '#heal-button');
      await page.waitForFunction(
        () => document.querySelector('#faults-result')?.textContent?.startsWith('healed'),
        { timeout: STEP_MS },
      );
      for (const id of c.ids) expect((await faultsOf(c, id)).block).toEqual([]);
      for (const link of ['n1-n2', 'n1-n3', 'n2-n3']) {
        await page.waitForSelector(`#links-table tr[data-link="${link}"][data-state="ok"]`, {
          timeout: STEP_MS,
        });
      }
      const n3Writes = writer.statuses;
      await until(
        'n3 to accept writes again',
        () => n3Writes.slice(-3).every((s) => s === 204) && n3Writes.length > 3,
        STEP_MS,
      );

      // A delay and a drop on the link n1 -> n2, by click, then cleared.
      await page.select('#link-to', 'n2');
      for (const [field, value] of [
        ['#link-delay', '40'],
        ['#link-jitter', '0'],
        ['#link-drop', '5'],
      ] as const) {
        await page.$eval(field, (e, v) => ((e as unknown as PageElement).value = v), value);
      }
      await click(page, '#link-apply');
      await page.waitForFunction(
        () => document.querySelector('#faults-result')?.textContent?.startsWith('link n1→n2'),
        { timeout: STEP_MS },
      );
      expect(await (await c.admin('n1', 'GET', '/admin/faults')).json()).toEqual({
        block: [],
        delay: { n2: { ms: 40, jitterMs: 0 } },
        drop: { n2: 0.05 },
      });
      await page.waitForSelector('#links-table tr[data-link="n1-n2"][data-state="faulty"]', {
        timeout: STEP_MS,
      });
      await click(page, '#link-clear');
      await page.waitForFunction(
        () => document.querySelector('#faults-result')?.textContent?.endsWith('cleared'),
        { timeout: STEP_MS },
      );
      expect(await (await c.admin('n1', 'GET', '/admin/faults')).json()).toEqual({
        block: [],
        delay: {},
        drop: {},
      });
      expect(pageErrors).toEqual([]);
    } finally {
      await writer?.stop();
      await majorityWriter?.stop();
      await page.close();
    }
  }, 120_000);
});
