// The documentation a newcomer navigates: README.md and docs/*.md. Every relative link and
// #anchor lands on a file of this repository and a heading that exists there (anchors as GitHub
// renders them), the README stays a front door that reaches every page, every page lists its
// sections at the top, and no table row is too long to read in an editor.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headings, links, section, tableRows } from '../support/markdown.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = resolve(ROOT, 'docs');
const PAGES = [
  'README.md',
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (page: string) => readFileSync(resolve(ROOT, page), 'utf8');

/** The longest table row the pages may have (prettier pads every row of a table to the longest). */
const TABLE_ROW_CHARS_MAX = 200;
/** "A front door of at most about 200 lines." */
const README_LINES_MAX = 200;

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe.each(PAGES)('%s', (page) => {
  const text = read(page);

  it('links only to files of this repository and to headings that exist', () => {
    const problems: string[] = [];
    for (const { target, line } of links(text)) {
      if (isExternal(target)) continue;
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? resolve(ROOT, page) : resolve(ROOT, dirname(page), path);
      const where = `${page}:${line}: ${target}`;
      const inside = relative(ROOT, file);
      if (inside.startsWith('..') || inside.split(sep)[0] === '..') {
        problems.push(`${where} points outside the repository`);
        continue;
      }
      if (!existsSync(file)) {
        problems.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(file).isDirectory() || !file.endsWith('.md')) {
        problems.push(`${where}: an anchor into a file that is not a Markdown page`);
        continue;
      }
      const slugs = headings(readFileSync(file, 'utf8')).map((h) => h.slug);
      if (!slugs.includes(anchor)) problems.push(`${where}: no heading #${anchor} there`);
    }
    expect(problems).toEqual([]);
  });

  it(`has no table row longer than ${TABLE_ROW_CHARS_MAX} characters`, () => {
    const long = tableRows(text)
      .filter((row) => row.text.length > TABLE_ROW_CHARS_MAX)
      .map((row) => `${page}:${row.number} is ${row.text.length} characters`);
    expect(long).toEqual([]);
  });
});

describe.each(PAGES.filter((p) => p.startsWith('docs/')))('%s', (page) => {
  it('lists its sections at the top', () => {
    const text = read(page);
    const firstSection = text.search(/^## /m);
    expect(firstSection, 'a page of docs/ has sections').toBeGreaterThan(0);
    const top = text.slice(0, firstSection);
    expect(top).toMatch(/^Contents:$/m);
    const listed = links(top).map((l) => l.target);
    const sections = headings(text)
      .filter((h) => h.level === 2)
      .map((h) => `#${h.slug}`);
    expect(listed.filter((l) => l.startsWith('#'))).toEqual(expect.arrayContaining(sections));
  });
});

describe('README.md', () => {
  const readme = read('README.md');

  it(`is a front door of at most ${README_LINES_MAX} lines`, () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(README_LINES_MAX);
  });

  it('links to every page of docs/', () => {
    const linked = new Set(links(readme).map((l) => l.target.split('#')[0]));
    const missing = PAGES.filter((p) => p.startsWith('docs/') && !linked.has(p));
    expect(missing).toEqual([]);
  });

  it('sums up the profiles with the very table docs/consistency.md has', () => {
    const table = (text: string) =>
      tableRows(text)
        .map((r) => r.text)
        .filter((row, i, rows) => rows.slice(0, i + 1).some((r) => r.startsWith('| profile ')))
        .join('\n');
    const summary = table(section(readme, 'What each profile guarantees'));
    expect(summary).toMatch(/^\| profile /);
    expect(summary).toBe(
      table(section(read('docs/consistency.md'), 'Profiles and what they promise')),
    );
  });
});
