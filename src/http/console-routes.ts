// GET / and GET /console/<file>: the console page and its scripts and styles. They are public
// static files: nothing in them is about the cluster. Every figure the page shows comes from
// the admin API (GET /admin/console), with the admin token when the node has one. The files
// are read once, when the app is built, so serving them costs no disk access.

import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../core/errors.js';

/** Where `npm run build` puts the page (console/index.html, its CSS, and the compiled scripts). */
export const CONSOLE_DIR = resolve(import.meta.dirname, '../../dist/console');

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
});

/**
 * The page loads only its own files and talks only to its own node; it cannot be framed (so no
 * other site can dress it up and have an operator click a partition); inline script is refused,
 * so markup that ever slipped into the page could not run with the token in reach.
 */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ConsoleAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The servable files of `dir` by name (flat: no subfolders, only known types). Empty if unbuilt. */
export function loadConsoleAssets(dir: string = CONSOLE_DIR): ReadonlyMap<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return assets;
  }
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType !== undefined)
      assets.set(name, { body: readFileSync(join(dir, name)), contentType });
  }
  return assets;
}

const NOT_BUILT = 'the console is not built in this checkout: run npm run build';

export async function consoleRoutes(
  app: FastifyInstance,
  opts: { assets: ReadonlyMap<string, ConsoleAsset> },
): Promise<void> {
  const { assets } = opts;
  const serve = (name: string) => {
    const asset = assets.get(name);
    if (asset === undefined) {
      throw new NotFoundError(
        assets.size === 0 ? NOT_BUILT : `the console has no file ${JSON.stringify(name)}`,
      );
    }
    return asset;
  };

  app.addHook('onSend', async (_req, reply) => {
    reply
      .header('Content-Security-Policy', PAGE_CSP)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      // Small files: always asked for again, so a node that was upgraded serves its own page.
      .header('Cache-Control', 'no-cache');
  });

  app.get('/', async (_req, reply) => {
    const page = serve('index.html');
    return reply.type(page.contentType).send(page.body);
  });
  app.get<{ Params: { file: string } }>('/console/:file', async (req, reply) => {
    const asset = serve(req.params.file);
    return reply.type(asset.contentType).send(asset.body);
  });
}
