// `kvorum status|partition|heal|repair|leave`: the admin API (DESIGN 1.3) from the command line, sending
// the bearer token from --admin-token / KVORUM_ADMIN_TOKEN when one is set.

import {
  KvorumClient,
  KvorumHttpError,
  type ClusterFaultResult,
  type FaultFailure,
} from '../client/kvorum-client.js';
import { askNode, CACERT_FLAG, NODE_URL_FLAG, nodeClient } from './client-commands.js';
import { CommandError, type Command } from './command.js';
import { expectPositionals, UsageError, type FlagSpecs } from './flags.js';

export const ADMIN_FLAGS = {
  url: NODE_URL_FLAG,
  cacert: CACERT_FLAG,
  'admin-token': {
    kind: 'string',
    placeholder: 'token',
    help: 'bearer token, when the cluster was started with one',
  },
} as const satisfies FlagSpecs;

/** Same rule as node ids in cluster.json (src/config.ts). */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function adminClient(values: {
  url: string;
  cacert: string | undefined;
  'admin-token': string | undefined;
}): Promise<KvorumClient> {
  return nodeClient(values, values['admin-token']);
}

/** Admin calls throw KvorumHttpError on an error status; a person needs only its one line. */
export async function askAdmin<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await askNode(call);
  } catch (err) {
    if (err instanceof KvorumHttpError) throw new CommandError(err.message);
    throw err;
  }
}

/** `n1,n2 n3` → [["n1","n2"],["n3"]], rejecting what the server would reject, with a clearer line. */
export function parseGroups(args: readonly string[]): string[][] {
  const seen = new Set<string>();
  return args.map((arg) => {
    const ids = arg.split(',');
    for (const id of ids) {
      if (!NODE_ID.test(id)) {
        throw new UsageError(
          `partition groups are node ids separated by commas, like n1,n2 n3 (got ${JSON.stringify(arg)})`,
        );
      }
      if (seen.has(id)) throw new UsageError(`node ${id} is in two partition groups`);
      seen.add(id);
    }
    return ids;
  });
}

function describeFailure(f: FaultFailure): string {
  if (typeof f === 'string') return f;
  const why = f.message ?? f.error;
  return why === undefined ? f.id : `${f.id} (${why})`;
}

/** Prints what was applied; a node that could not apply the change makes the command fail. */
function finish(what: string, result: ClusterFaultResult): void {
  const applied = result.applied.length === 0 ? 'no node' : result.applied.join(', ');
  process.stdout.write(`${what}: applied on ${applied}\n`);
  if (result.failed.length > 0) {
    throw new CommandError(
      `${what}: not applied on ${result.failed.map(describeFailure).join(', ')}`,
    );
  }
}

export const statusCommand: Command<typeof ADMIN_FLAGS> = {
  name: 'status',
  synopsis: 'kvorum status [flags]',
  summary: "print a node's view of the cluster (GET /admin/status)",
  details: '',
  flags: ADMIN_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    const status = await askAdmin(async () => (await adminClient(values)).status());
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  },
};

export const partitionCommand: Command<typeof ADMIN_FLAGS> = {
  name: 'partition',
  synopsis: 'kvorum partition <ids,…> [<ids,…> …] [flags]',
  summary: 'split the peer network into groups, cluster-wide (POST /admin/partition)',
  details: [
    'Each argument is one group; every node blocks every node outside its group, and a node in',
    'no group is isolated. Client HTTP keeps working on every node. Example:',
    '  kvorum partition n1,n2 n3      # {n1,n2} and {n3}; undo with: kvorum heal',
  ].join('\n'),
  flags: ADMIN_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 1, Number.MAX_SAFE_INTEGER, this.synopsis);
    const groups = parseGroups(positionals);
    const result = await askAdmin(async () => (await adminClient(values)).partition(groups));
    finish(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' ')}`, result);
  },
};

export const healCommand: Command<typeof ADMIN_FLAGS> = {
  name: 'heal',
  synopsis: 'kvorum heal [flags]',
  summary: "clear every node's link faults (POST /admin/heal)",
  details: '',
  flags: ADMIN_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    finish('heal', await askAdmin(async () => (await adminClient(values)).heal()));
  },
};

export const repairCommand: Command<typeof ADMIN_FLAGS> = {
  name: 'repair',
  synopsis: 'kvorum repair [flags]',
  summary: 'run anti-entropy from one node with every peer now (POST /admin/repair)',
  details: [
    "Compares the node's Merkle trees with each peer's and merges the keys that differ, both",
    'ways. Prints what each exchange found; exits 1 if an exchange with a peer failed.',
  ].join('\n'),
  flags: ADMIN_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 0, 0, this.synopsis);
    const result = await askAdmin(async () => (await adminClient(values)).repair());
    const failed: string[] = [];
    for (const [peer, r] of Object.entries(result.peers)) {
      if (r.error !== undefined) failed.push(`${peer} (${r.error})`);
      else
        process.stdout.write(
          `${peer}: ${r.keysDiffering} keys differed, ${r.keysRepaired} repaired in ${r.durationMs} ms${r.truncated ? ' (more left for the next exchange)' : ''}\n`,
        );
    }
    if (Object.keys(result.peers).length === 0) process.stdout.write('no peer is up\n');
    if (failed.length > 0) throw new CommandError(`repair failed with ${failed.join(', ')}`);
  },
};

export const leaveCommand: Command<typeof ADMIN_FLAGS> = {
  name: 'leave',
  synopsis: 'kvorum leave <id> [flags]',
  summary: 'remove a node from the cluster (POST /admin/leave)',
  details: [
    "The node's key ranges move to the nodes that take them over, and it is dropped from the",
    'layout once they hold the data; a live leaving node serves until then and exits 0. A dead',
    'node is removed the same way: its data is rebuilt from the remaining replicas. Watch the',
    'move with GET /admin/layout (settled: true when it is done). Refused (409) while another',
    'change is in progress, or when fewer than N nodes would be left; but a dead node that holds',
    'up the change in progress (a joiner that never started, a member that died) is excused from',
    'it, so it can finish: run leave again once settled if the node is still listed.',
  ].join('\n'),
  flags: ADMIN_FLAGS,
  async run({ values, positionals }) {
    expectPositionals(positionals, 1, 1, this.synopsis);
    const id = positionals[0] as string;
    if (!NODE_ID.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a node id`);
    const layout = await askAdmin(async () => (await adminClient(values)).leave(id));
    const states = layout.nodes.map((n) => `${n.id} ${n.state}`).join(', ');
    process.stdout.write(`layout version ${layout.version}: ${states}\n`);
    if (layout.excused && layout.nodes.some((n) => n.id === id && n.state !== 'leaving')) {
      process.stdout.write(
        `${id} is down and was excused from the change in progress; once the layout has ` +
          `settled it is still a member: run kvorum leave ${id} again to remove it\n`,
      );
    }
  },
};
