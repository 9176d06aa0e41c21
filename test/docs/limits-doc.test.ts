// The limits table of docs/limits.md is generated from src/config.ts: this renders it again from
// the code as it is now and fails when the page says something else, and checks the generator.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import {
  BEGIN,
  END,
  ROW_CHARS_MAX,
  formatValue,
  limitEntries,
  renderLimitsTable,
  replaceGenerated,
} from '../../scripts/limits-doc.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const CONFIG_SOURCE = readFileSync(resolve(ROOT, 'src/config.ts'), 'utf8');
const PAGE = readFileSync(resolve(ROOT, 'docs/limits.md'), 'utf8');

describe('docs/limits.md', () => {
  it('shows the LIMITS of src/config.ts as they are (npm run docs:limits rewrites it)', () => {
    const expected = replaceGenerated(PAGE, renderLimitsTable(CONFIG_SOURCE, LIMITS));
    expect(PAGE, 'docs/limits.md is out of date: run npm run docs:limits').toBe(expected);
  });

  it('has one row per limit, with its value', () => {
    const table = PAGE.slice(PAGE.indexOf(BEGIN), PAGE.indexOf(END));
    const rows = table.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.map((r) => /^\| `(\w+)`/.exec(r)?.[1])).toEqual(Object.keys(LIMITS));
    expect(table).toMatch(/\| `keyBytesMax` +\| 1,024 bytes +\| A key is at most/);
    expect(table).toMatch(/\| `frameBytesMax` +\| 16 MiB \+ 64 KiB +\|/);
  });

  it('names in "What happens past a limit" are limits that exist', () => {
    const notes = PAGE.slice(
      PAGE.indexOf('## What happens past a limit'),
      PAGE.indexOf('## Known gaps'),
    );
    const names = [...notes.matchAll(/`([a-z][A-Za-z]+(?:Ms|Max|Bytes|Block|S|Default|Ceiling))`/g)]
      .map((m) => m[1] as string)
      .filter((n) => !['maxClockOffsetMs', 'siblingsMax', 'timeoutMs'].includes(n));
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect(Object.keys(LIMITS), name).toContain(name);
  });
});

describe('the limits table generator', () => {
  const source = (body: string) => `export const LIMITS = Object.freeze({\n${body}\n});\n`;

  it('reads each entry with its doc comment, flattened', () => {
    const entries = limitEntries(
      source(
        '  /**\n   * Frames larger than this close the connection.\n   * Checked first.\n   */\n  aBytesMax: 10,\n  /** One line. */\n  bMs: 2,',
      ),
    );
    expect(entries).toEqual([
      {
        name: 'aBytesMax',
        comment: 'Frames larger than this close the connection. Checked first.',
      },
      { name: 'bMs', comment: 'One line.' },
    ]);
  });

  it('refuses an entry without a doc comment, naming it', () => {
    expect(() => limitEntries(source('  /** Min. */\n  minMs: 1,\n  maxMs: 2,'))).toThrow(
      /LIMITS\.maxMs has no doc comment/,
    );
  });

  it('refuses a LIMITS object whose keys the source does not show', () => {
    expect(() => renderLimitsTable(source('  /** A. */\n  aMs: 1,'), { aMs: 1, bMs: 2 })).toThrow(
      /LIMITS\.bMs/,
    );
  });

  it.each([
    ['keyBytesMax', 1024, '1,024 bytes'],
    ['handshakeFrameBytesMax', 4096, '4 KiB'],
    ['frameBytesMax', 16 * 1024 * 1024 + 64 * 1024, '16 MiB + 64 KiB'],
    ['readSpeculateMs', 10, '10 ms'],
    ['requestTimeoutMsDefault', 2_000, '2 s'],
    ['requestTimeoutMsMax', 60_000, '60 s'],
    ['clockAheadMsMax', 300_000, '5 min'],
    ['tombstoneGraceMsDefault', 86_400_000, '1 day'],
    ['overloadRetryAfterS', 1, '1 s'],
    ['tlsCertValidDays', 825, '825 days'],
    ['contextCharsMax', 1024, '1,024 characters'],
    ['layoutRecoverAfterTicks', 8, '8 ticks'],
    ['layoutSyncKeysPerSecondMax', 5_000, '5,000 per second'],
    ['dotCounterBlock', 1 << 20, '1,048,576'],
  ])('shows %s = %d as %s', (name, value, shown) => {
    expect(formatValue(name, value)).toBe(shown);
  });

  it('keeps every row within the page width, shortening a long first sentence at a clause', () => {
    const long =
      'A first sentence that goes on, clause after clause, well past what one row of the table may hold, and then some more words, and more, and more still (with an aside) to the end. Then another.';
    const table = renderLimitsTable(source(`  /** ${long} */\n  someLimitMs: 1,`), {
      someLimitMs: 1,
    });
    for (const row of table.split('\n')) expect(row.length).toBeLessThanOrEqual(ROW_CHARS_MAX);
    expect(table).toMatch(/\| A first sentence that goes on, clause after clause, .* … +\|/);
    expect(table).not.toContain('Then another');
  });
});
