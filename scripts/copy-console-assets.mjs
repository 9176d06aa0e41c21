// Part of `npm run build`: puts the console's page, stylesheet and icon beside its compiled scripts
// in dist/console, which is all a node serves (src/http/console-routes.ts).

import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';

const from = resolve(import.meta.dirname, '../console');
const to = resolve(import.meta.dirname, '../dist/console');
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (['.html', '.css', '.svg'].includes(extname(name)))
    copyFileSync(join(from, name), join(to, name));
}
