// The `kvorum` command (DESIGN 1.1): picks the subcommand, parses its flags, prints help, and
// turns failures into exit statuses: 2 for a usage mistake, 1 for a command that failed.

import { delCommand, getCommand, putCommand } from './client-commands.js';
import {
  healCommand,
  leaveCommand,
  partitionCommand,
  repairCommand,
  statusCommand,
} from './admin-commands.js';
import { clusterCommand } from './cluster.js';
import { pbsCommand } from './pbs-command.js';
import { CommandError, say, type Command } from './command.js';
import { closest, envName, formatFlagHelp, parseArgs, UsageError, type Env } from './flags.js';
import { serveCommand } from './serve.js';
import { verifyCommand } from './verify-command.js';

export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 } as const);

export const COMMANDS: readonly Command[] = Object.freeze([
  clusterCommand,
  serveCommand,
  getCommand,
  putCommand,
  delCommand,
  statusCommand,
  partitionCommand,
  healCommand,
  repairCommand,
  leaveCommand,
  pbsCommand,
  verifyCommand,
] as Command[]);

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'kvorum: a replicated key-value store with tunable consistency',
    '',
    'Usage: kvorum <command> [arguments] [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  this text, or a command's flags: kvorum help <command>`,
    '',
    'Every flag can also come from a KVORUM_<FLAG> environment variable',
    '(--admin-token → KVORUM_ADMIN_TOKEN, --url → KVORUM_URL); a flag on the command line wins.',
    'Exit status: 0 ok, 1 the command failed, 2 bad command line.',
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const details = command.details === '' ? [] : [command.details, ''];
  const example = envName(Object.keys(command.flags)[0] ?? 'url');
  return [
    `Usage: ${command.synopsis}`,
    '',
    `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
    '',
    ...details,
    'Flags:',
    formatFlagHelp(command.flags),
    '',
    `Each flag can also be set as KVORUM_<FLAG> in the environment (e.g. ${example}); the flag wins.`,
    '',
  ].join('\n');
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command !== undefined) return command;
  const guess = closest(name, [...COMMANDS.map((c) => c.name), 'help']);
  const hint = guess === undefined ? '' : `; did you mean ${guess}?`;
  throw new UsageError(`unknown command ${JSON.stringify(name)}${hint} (kvorum --help lists them)`);
}

/** Runs one command line. Sets process.exitCode rather than exiting, so output is flushed. */
export async function main(argv: string[], env: Env = process.env): Promise<void> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      const topic = name === 'help' ? rest[0] : undefined;
      process.stdout.write(topic === undefined ? usage() : commandHelp(findCommand(topic)));
      return;
    }
    if (name.startsWith('-')) {
      throw new UsageError(`the command comes first, before flags like ${name} (kvorum --help)`);
    }
    const command = findCommand(name);
    const args = parseArgs(rest, command.flags, env, `kvorum ${command.name}`);
    if (args.help) {
      process.stdout.write(commandHelp(command));
      return;
    }
    await command.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
      process.exitCode = EXIT.usage;
    } else if (err instanceof CommandError) {
      say(err.message);
      process.exitCode = err.exitCode;
    } else if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
      // A system error (EACCES on the data directory, ENOSPC, …) says enough in its message.
      say(err.message);
      process.exitCode = EXIT.failed;
    } else {
      // A bug, not a user mistake: keep the stack so it can be reported.
      say(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = EXIT.failed;
    }
  }
}
