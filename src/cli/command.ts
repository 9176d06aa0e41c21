// The shape every kvorum subcommand shares, and the error that ends one with exit status 1.

import type { FlagSpecs, ParsedArgs } from './flags.js';

/** Secrets every replica needs; `cluster` passes them to its nodes through the environment. */
export const SECRET_FLAGS = {
  'admin-token': {
    kind: 'string',
    placeholder: 'token',
    help: 'require this bearer token on /admin calls',
  },
  'cluster-secret': {
    kind: 'string',
    placeholder: 'secret',
    help: 'shared secret peers present in the handshake',
  },
} as const satisfies FlagSpecs;

export interface Command<S extends FlagSpecs = FlagSpecs> {
  readonly name: string;
  /** One line: "kvorum get <key> [flags]". */
  readonly synopsis: string;
  /** One line for the command list in `kvorum --help`. */
  readonly summary: string;
  /** Extra help text after the synopsis (examples, exit statuses); may be empty. */
  readonly details: string;
  readonly flags: S;
  // A method (not a property) so that commands with different flag specs share one list.
  run(args: ParsedArgs<S>): Promise<void>;
}

/** A command that ran and failed (server said no, node unreachable): one line, exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Writes one `kvorum: …` line to stderr; every message the CLI itself prints goes through here. */
export function say(line: string): void {
  process.stderr.write(`kvorum: ${line}\n`);
}
