// The console page in process (fastify inject): GET / and its files are public, served from
// memory with a CSP that keeps the page to its own node, and say how to build them when absent.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/http/app.js';
import type { HttpBackend } from '../../src/http/backend.js';
import { CONSOLE_DIR, loadConsoleAssets } from '../../src/http/console-routes.js';
import { fakeBackend } from '../support/console-backend.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function appFor(
  backend: HttpBackend,
  assets = loadConsoleAssets(),
): Promise<Awaited<ReturnType<typeof buildHttpApp>>> {
  const app = await buildHttpApp(backend, pino({ level: 'silent' }), undefined, assets);
  apps.push(app);
  return app;
}

describe('the console page', () => {
  it('GET / serves the built page to anyone, with a CSP that keeps it to its own node', async () => {
    const app = await appFor(fakeBackend(async () => []).backend);
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<script type="module" src="/console/main.js">');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // The page holds nothing of the cluster: no node id, no figure.
    expect(res.body).not.toContain('n1');
  });

  it('serves the compiled scripts and the stylesheet by name, and nothing else', async () => {
    const app = await appFor(fakeBackend(async () => []).backend);
    const js = await app.inject({ method: 'GET', url: '/console/main.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('/admin/console');
    const css = await app.inject({ method: 'GET', url: '/console/console.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    for (const url of ['/console/nope.js', '/console/..%2Fconfig.js', '/console/wire.ts']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: 'not_found' });
    }
  });

  it('answers 404 that says how to build it when the page was never built', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'kvorum-console-'));
    try {
      const app = await appFor(fakeBackend(async () => []).backend, loadConsoleAssets(empty));
      const res = await app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(404);
      expect(res.json().message).toMatch(/npm run build/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('loads only files of known types from its folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvorum-console-'));
    try {
      await writeFile(join(dir, 'index.html'), '<!doctype html>');
      await writeFile(join(dir, 'secret.json'), '{}');
      await writeFile(join(dir, 'app.js.map'), '{}');
      expect([...loadConsoleAssets(dir).keys()]).toEqual(['index.html']);
      expect(CONSOLE_DIR).toMatch(/dist[/\\]console$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
