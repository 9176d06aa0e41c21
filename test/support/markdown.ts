// Reads the documentation the way a reader's tools do, for the tests that keep README.md and
// docs/ true: headings and the anchors GitHub gives them, links, tables, and the shell commands
// of fenced code blocks. Enough Markdown for these pages, not a general parser.

export interface Heading {
  readonly level: number;
  readonly text: string;
  /** The anchor GitHub renders for it (`#slug`), duplicates numbered as GitHub numbers them. */
  readonly slug: string;
}

export interface Link {
  readonly target: string;
  /** 1-based line of the page, for messages. */
  readonly line: number;
}

interface Line {
  readonly text: string;
  readonly number: number;
  /** The fence's info string (`sh`, `console`, `''`) inside a fenced block, else undefined. */
  readonly fence: string | undefined;
}

const FENCE = /^\s*(`{3,}|~{3,})\s*([\w-]*)/;

/** Every line with whether it is inside a fenced code block (fence lines themselves count as inside). */
function classify(markdown: string): Line[] {
  const out: Line[] = [];
  let open: { marker: string; info: string } | undefined;
  markdown.split('\n').forEach((text, i) => {
    const m = FENCE.exec(text);
    if (open === undefined && m) {
      open = { marker: m[1] as string, info: m[2] ?? '' };
      out.push({ text, number: i + 1, fence: open.info });
    } else if (open !== undefined && m && (m[1] as string).startsWith(open.marker) && !m[2]) {
      out.push({ text, number: i + 1, fence: open.info });
      open = undefined;
    } else {
      out.push({ text, number: i + 1, fence: open?.info });
    }
  });
  return out;
}

/** Prose lines only: code blocks and HTML comments blanked, line numbers kept. */
function proseLines(markdown: string): Line[] {
  let inComment = false;
  return classify(markdown).map((line) => {
    if (line.fence !== undefined) return { ...line, text: '' };
    let text = line.text;
    let kept = '';
    while (text.length > 0) {
      if (inComment) {
        const end = text.indexOf('-->');
        if (end < 0) text = '';
        else {
          text = text.slice(end + 3);
          inComment = false;
        }
      } else {
        const start = text.indexOf('<!--');
        if (start < 0) {
          kept += text;
          text = '';
        } else {
          kept += text.slice(0, start);
          text = text.slice(start + 4);
          inComment = true;
        }
      }
    }
    return { ...line, text: kept };
  });
}

/** Rendered text of a heading: link syntax, strong emphasis and code-span backticks removed. */
function headingText(raw: string): string {
  return raw
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*\*/g, '')
    .replace(/`([^`]*)`/g, '$1')
    .trim();
}

/** GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped, spaces to '-'. */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const line of proseLines(markdown)) {
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (!m) continue;
    const text = headingText(m[2] as string);
    const base = githubSlug(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.push({ level: (m[1] as string).length, text, slug: n === 0 ? base : `${base}-${n}` });
  }
  return out;
}

/** Inline links and images, outside code blocks, code spans and HTML comments. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.text.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(
      /!?\[(?:[^\]`]|`[^`]*`)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    )) {
      out.push({ target: m[1] as string, line: line.number });
    }
  }
  return out;
}

/** Table rows (lines starting with '|') outside code blocks. */
export function tableRows(markdown: string): Line[] {
  return proseLines(markdown).filter((l) => l.text.startsWith('|'));
}

/**
 * The part of a page under the heading `text` (any level), up to the next heading of the same
 * or a higher level; throws when the page has no such heading.
 */
export function section(markdown: string, text: string): string {
  const lines = classify(markdown);
  const isHeading = (l: Line) => l.fence === undefined && /^#{1,6}\s/.test(l.text);
  const level = (l: Line) => (/^(#+)/.exec(l.text)?.[1] as string).length;
  const start = lines.findIndex(
    (l) => isHeading(l) && headingText(l.text.replace(/^#+/, '')) === text,
  );
  if (start < 0) throw new Error(`no heading "${text}"`);
  const lvl = level(lines[start] as Line);
  let end = lines.findIndex((l, i) => i > start && isHeading(l) && level(l) <= lvl);
  if (end < 0) end = lines.length;
  return lines
    .slice(start, end)
    .map((l) => l.text)
    .join('\n');
}

/** Drops a trailing `# comment`: a '#' after whitespace, outside quotes. */
function stripComment(command: string): string {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i] as string;
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(command[i - 1] as string))) {
      return command.slice(0, i).trimEnd();
    }
  }
  return command.trimEnd();
}

/**
 * The commands of a page's `sh` and `console` blocks, in order: in `sh` blocks every line that is
 * not blank or a comment, in `console` blocks the lines after a `$ ` prompt (the rest is output).
 * A line ending in `\` continues on the next; continuations are joined with one space, and a
 * trailing comment is dropped.
 */
export function shellCommands(markdown: string): string[] {
  const out: string[] = [];
  let pending: string | undefined;
  for (const line of classify(markdown)) {
    const fence = line.fence;
    if (fence !== 'sh' && fence !== 'console') continue;
    if (FENCE.test(line.text)) continue;
    let text = line.text;
    if (pending === undefined) {
      if (fence === 'console') {
        if (!text.startsWith('$ ')) continue;
        text = text.slice(2);
      }
      if (text.trim() === '' || text.trim().startsWith('#')) continue;
    }
    const continues = /\\\s*$/.test(text);
    const part = continues ? text.replace(/\s*\\\s*$/, '') : stripComment(text);
    pending = pending === undefined ? part.trim() : `${pending} ${part.trim()}`;
    if (!continues) {
      out.push(pending);
      pending = undefined;
    }
  }
  return out;
}
