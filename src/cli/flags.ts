// The kvorum command's flag parser: `--name value`, `--name=value`, boolean `--name`, and a
// KVORUM_<NAME> environment fallback for every flag. Each mistake becomes a UsageError whose
// message is the one line the user sees (DESIGN 1.1: bad flags exit 2 with one clear line).

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface FlagBase {
  /** One line for `--help`. */
  readonly help: string;
}

export interface StringFlag extends FlagBase {
  readonly kind: 'string';
  readonly default?: string;
  /** Shown in help: `--url <url>`. */
  readonly placeholder?: string;
  /** Returns what is wrong ("must be a URL like http://host:port"), or undefined when fine. */
  readonly check?: (value: string) => string | undefined;
}

export interface IntegerFlag extends FlagBase {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}

/** A boolean flag is false unless given; `--fsync=false` and `KVORUM_FSYNC=0` also work. */
export interface BooleanFlag extends FlagBase {
  readonly kind: 'boolean';
}

export interface ChoiceFlag<C extends string = string> extends FlagBase {
  readonly kind: 'choice';
  readonly choices: readonly C[];
  readonly default?: C;
}

export type FlagSpec = StringFlag | IntegerFlag | BooleanFlag | ChoiceFlag;
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<F> = F extends { kind: 'integer' }
  ? number
  : F extends { kind: 'boolean' }
    ? boolean
    : F extends { kind: 'choice'; choices: readonly (infer C)[] }
      ? C
      : string;

/** The parsed values, typed from the specs: a flag with a default (or a boolean) is always set. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends { kind: 'boolean' } | { default: unknown }
    ? ValueOf<S[K]>
    : ValueOf<S[K]> | undefined;
};

export interface ParsedArgs<S extends FlagSpecs> {
  readonly values: FlagValues<S>;
  readonly positionals: readonly string[];
  /** Flags the user set on the command line or in the environment, as opposed to defaults. */
  readonly explicit: ReadonlySet<keyof S & string>;
  /** `--help` or `-h` was given; the caller prints help instead of running. */
  readonly help: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** `base-port` → `KVORUM_BASE_PORT`. */
export function envName(flag: string): string {
  return `KVORUM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

const TRUE_WORDS = new Set(['', 'true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
/** Long enough to show what was typed, short enough to keep the error on one line. */
const ECHO_CHARS_MAX = 40;

function quoted(raw: string): string {
  const s = raw.length > ECHO_CHARS_MAX ? `${raw.slice(0, ECHO_CHARS_MAX)}…` : raw;
  return JSON.stringify(s);
}

/** Converts one raw value by its spec; `source` is how the user wrote it (`--nodes`, `KVORUM_NODES`). */
function convert(spec: FlagSpec, raw: string, source: string): string | number | boolean {
  switch (spec.kind) {
    case 'string': {
      const problem = spec.check?.(raw);
      if (problem !== undefined) throw new UsageError(`${source} ${problem} (got ${quoted(raw)})`);
      return raw;
    }
    case 'integer': {
      const n = /^-?[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
        throw new UsageError(
          `${source} must be an integer from ${spec.min} to ${spec.max} (got ${quoted(raw)})`,
        );
      }
      return n;
    }
    case 'boolean': {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new UsageError(`${source} must be true or false (got ${quoted(raw)})`);
    }
    case 'choice': {
      if (!spec.choices.includes(raw)) {
        throw new UsageError(
          `${source} must be one of ${spec.choices.join(', ')} (got ${quoted(raw)})`,
        );
      }
      return raw;
    }
  }
}

/** Levenshtein distance, for "did you mean" on a mistyped flag or command. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(row[j - 1]! + 1, prev[j]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest known name within two edits, if any: a typo, not a different word. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/**
 * Parses argv against `specs`, then fills unset flags from KVORUM_* variables in `env`, then
 * from defaults. Flags win over the environment; an empty environment variable counts as
 * unset. `command` names the command in error messages ("kvorum cluster").
 */
export function parseArgs<S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  env: Env,
  command: string,
): ParsedArgs<S> {
  const values: Record<string, string | number | boolean | undefined> = {};
  const explicit = new Set<string>();
  const positionals: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === '--help' || token === '-h') {
      help = true;
      continue;
    }
    // "-" alone (stdin) and negative numbers are values, not flags.
    if (!token.startsWith('-') || token === '-' || /^-[0-9]/.test(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.startsWith('--') ? token.slice(2, eq === -1 ? undefined : eq) : '';
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      const shown = eq === -1 ? token : token.slice(0, eq);
      const guess = closest(name, Object.keys(specs));
      const hint = guess === undefined ? '' : `; did you mean --${guess}?`;
      throw new UsageError(
        `unknown flag ${shown} for ${command}${hint} (${command} --help lists them)`,
      );
    }
    let raw: string;
    if (eq !== -1) {
      raw = token.slice(eq + 1);
    } else if (spec.kind === 'boolean') {
      raw = 'true';
    } else {
      const next = argv[i + 1];
      // A following flag means the value was forgotten; `--name=--x` passes such a value on purpose.
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError(`--${name} needs a value${exampleOf(name, spec)}`);
      }
      raw = next;
      i++;
    }
    values[name] = convert(spec, raw, `--${name}`);
    explicit.add(name);
  }

  for (const [name, spec] of Object.entries(specs)) {
    if (explicit.has(name)) continue;
    const variable = envName(name);
    const raw = env[variable];
    if (raw !== undefined && raw !== '') {
      values[name] = convert(spec, raw, variable);
      explicit.add(name);
    } else if (spec.kind === 'boolean') {
      values[name] = false;
    } else {
      values[name] = spec.default;
    }
  }

  return {
    values: values as FlagValues<S>,
    positionals,
    explicit: explicit as Set<keyof S & string>,
    help,
  };
}

function exampleOf(name: string, spec: FlagSpec): string {
  switch (spec.kind) {
    case 'integer':
      return ` (e.g. --${name} ${spec.default ?? spec.min})`;
    case 'choice':
      return ` (one of ${spec.choices.join(', ')})`;
    case 'string':
      return spec.placeholder === undefined ? '' : ` (--${name} <${spec.placeholder}>)`;
    case 'boolean':
      return '';
  }
}

/** Choices longer than this are listed in the description instead of the placeholder. */
const INLINE_CHOICES_CHARS_MAX = 24;

/** The flags section of a command's help: one line per flag, its meaning and default. */
export function formatFlagHelp(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    let left = `--${name}`;
    let right = spec.help;
    if (spec.kind === 'integer') left += ' <n>';
    if (spec.kind === 'string') left += ` <${spec.placeholder ?? 'value'}>`;
    if (spec.kind === 'choice') {
      const inline = spec.choices.join('|');
      if (inline.length <= INLINE_CHOICES_CHARS_MAX) left += ` <${inline}>`;
      else [left, right] = [`${left} <${name}>`, `${right}: ${spec.choices.join(', ')}`];
    }
    if (spec.kind !== 'boolean' && spec.default !== undefined) right += ` [${spec.default}]`;
    return { left, right };
  });
  const width = Math.max(0, ...rows.map((r) => r.left.length));
  return rows.map((r) => `  ${r.left.padEnd(width)}  ${r.right}`).join('\n');
}

/** Checks a positional count; `usage` is the command's synopsis ("kvorum get <key>"). */
export function expectPositionals(
  positionals: readonly string[],
  min: number,
  max: number,
  usage: string,
): void {
  if (positionals.length < min) throw new UsageError(`missing arguments; usage: ${usage}`);
  if (positionals.length > max) {
    const extra = positionals[max]!;
    throw new UsageError(`unexpected argument ${quoted(extra)}; usage: ${usage}`);
  }
}
