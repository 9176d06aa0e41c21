// `kvorum get|put|del`: one key-value request to one node (DESIGN 1.2), with the answer on
// stdout as raw bytes and anything that went wrong as one line on stderr (exit status 1).

import { readFile } from 'node:fs/promises';
import { LIMITS } from '../config.js';
import {
  describeHttpFailure,
  KvorumClient,
  KvorumNetworkError,
  type GetResult,
  type ReplicaCount,
  type WriteResult,
} from '../client/kvorum-client.js';
import { CommandError, say, type Command } from './command.js';
import { expectPositionals, UsageError, type FlagSpecs } from './flags.js';

export const DEFAULT_NODE_URL = 'http://127.0.0.1:7001';

/** Accepts what the server accepts for `?r=`/`?w=`; N is unknown here, so only 1…nMax. */
function checkLevel(value: string): string | undefined {
  if (value === 'one' || value === 'quorum' || value === 'all') return undefined;
  const k = /^[0-9]{1,3}$/.test(value) ? Number(value) : NaN;
  if (k >= 1 && k <= LIMITS.nMax) return undefined;
  return `must be one, quorum, all or an integer from 1 to ${LIMITS.nMax}`;
}

export function checkNodeUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return undefined;
  } catch {
    // falls through to the message below
  }
  return 'must be a node URL like http://127.0.0.1:7001';
}

/** Flags every command that talks to a node has. */
export const NODE_URL_FLAG = {
  kind: 'string',
  default: DEFAULT_NODE_URL,
  placeholder: 'url',
  help: 'the node to ask (any node coordinates any request)',
  check: checkNodeUrl,
} as const;

/** The CA of a TLS cluster (`kvorum cluster --tls` writes `<data>/tls/ca.pem`). */
export const CACERT_FLAG = {
  kind: 'string',
  placeholder: 'file',
  help: "trust this CA (PEM) for an https --url, e.g. a TLS cluster's <data>/tls/ca.pem",
} as const;

/** A client for --url, trusting --cacert when given; an unreadable CA file is a usage error. */
export async function nodeClient(
  values: { readonly url: string; readonly cacert?: string | undefined },
  adminToken?: string,
): Promise<KvorumClient> {
  let ca: Buffer | undefined;
  if (values.cacert !== undefined) {
    try {
      ca = await readFile(values.cacert);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
      throw new UsageError(`cannot read --cacert ${values.cacert}: ${why}`);
    }
  }
  return new KvorumClient(values.url, {
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(ca === undefined ? {} : { ca }),
  });
}

const COMMON_FLAGS = {
  url: NODE_URL_FLAG,
  cacert: CACERT_FLAG,
  consistency: {
    kind: 'choice',
    choices: ['linearizable', 'default'],
    help: 'linearizable: single-key linearizable (needs r and w of at least a quorum)',
  },
  timeout: {
    kind: 'integer',
    min: 1,
    max: LIMITS.requestTimeoutMsMax,
    help: 'milliseconds the node may wait for replicas (cluster default otherwise)',
  },
  verbose: {
    kind: 'boolean',
    help: 'also print the status, context and Server-Timing (who answered, how fast) to stderr',
  },
} as const satisfies FlagSpecs;

const R_FLAG = {
  kind: 'string',
  placeholder: 'one|quorum|all|k',
  help: 'replies to wait for (profile default otherwise)',
  check: checkLevel,
} as const;
const W_FLAG = {
  ...R_FLAG,
  help: 'acknowledgements to wait for (profile default otherwise)',
} as const;
const CONTEXT_FLAG = {
  kind: 'string',
  placeholder: 'context',
  help: 'the context a get printed: this write supersedes exactly what that read saw',
} as const;

const GET_FLAGS = { ...COMMON_FLAGS, r: R_FLAG } as const satisfies FlagSpecs;
const PUT_FLAGS = {
  ...COMMON_FLAGS,
  w: W_FLAG,
  'content-type': {
    kind: 'string',
    default: 'application/octet-stream',
    placeholder: 'type',
    help: 'stored with the value and returned by get',
  },
  context: CONTEXT_FLAG,
} as const satisfies FlagSpecs;
const DEL_FLAGS = {
  ...COMMON_FLAGS,
  w: W_FLAG,
  context: CONTEXT_FLAG,
} as const satisfies FlagSpecs;

function toLevel(value: string | undefined): ReplicaCount | undefined {
  if (value === undefined) return undefined;
  return /^[0-9]+$/.test(value) ? Number(value) : (value as ReplicaCount);
}

function keyOf(positionals: readonly string[], usage: string, max: number): string {
  expectPositionals(positionals, 1, max, usage);
  return positionals[0]!;
}

/** Turns "cannot reach" into a command failure; every other error is a bug and propagates. */
export async function askNode<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof KvorumNetworkError) throw new CommandError(err.message);
    throw err;
  }
}

function report(res: GetResult | WriteResult, extra: string): void {
  const timing = res.serverTiming === undefined ? '' : `; server-timing: ${res.serverTiming}`;
  say(`${res.status}${extra}${timing}`);
}

export const getCommand: Command<typeof GET_FLAGS> = {
  name: 'get',
  synopsis: 'kvorum get <key> [flags]',
  summary: 'print a value (raw bytes) to stdout',
  details: [
    'Exit status: 0 with the value on stdout; 1 when not found or the request failed.',
    'With --conflicts siblings, concurrent values come back as JSON {"siblings":[…]} on stdout,',
    'and stderr shows the context to resolve them with: kvorum put <key> <value> --context <context>.',
  ].join('\n'),
  flags: GET_FLAGS,
  async run({ values, positionals }) {
    const key = keyOf(positionals, this.synopsis, 1);
    const client = await nodeClient(values);
    const opts = {
      r: toLevel(values.r),
      consistency: values.consistency,
      timeoutMs: values.timeout,
    };
    const res = await askNode(() => client.get(key, opts));
    if (values.verbose) {
      const type = res.contentType === undefined ? '' : `; content-type: ${res.contentType}`;
      report(res, `${type}; context: ${res.context ?? '(none)'}`);
    }
    if (res.status === 200) {
      process.stdout.write(res.value ?? Buffer.alloc(0));
      return;
    }
    if (res.status === 300) {
      process.stdout.write(`${JSON.stringify(res.body, null, 2)}\n`);
      const count = (res.body as { siblings?: unknown[] } | undefined)?.siblings?.length ?? 0;
      say(
        `${count} concurrent values; to resolve: kvorum put ${JSON.stringify(key)} <value> --context ${res.context ?? ''}`,
      );
      return;
    }
    if (res.status === 404) throw new CommandError('not found');
    throw new CommandError(describeHttpFailure(res.status, res.body));
  },
};

/** Reads the whole of stdin, refusing more than any cluster could store. */
async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) say('reading the value from stdin; end it with Ctrl-D');
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    const buf = chunk as Buffer;
    bytes += buf.length;
    if (bytes > LIMITS.valueBytesCeiling) {
      throw new CommandError(
        `the value on stdin is over ${LIMITS.valueBytesCeiling} bytes, more than any kvorum cluster stores`,
      );
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function finishWrite(res: WriteResult, verbose: boolean): void {
  if (verbose) report(res, '');
  if (res.status >= 200 && res.status <= 299) return;
  throw new CommandError(describeHttpFailure(res.status, res.body));
}

export const putCommand: Command<typeof PUT_FLAGS> = {
  name: 'put',
  synopsis: 'kvorum put <key> [value] [flags]',
  summary: 'store a value (from the argument, or stdin when none is given)',
  details:
    'Examples:\n  kvorum put greeting hello\n  kvorum put photo --content-type image/png < photo.png',
  flags: PUT_FLAGS,
  async run({ values, positionals }) {
    const key = keyOf(positionals, this.synopsis, 2);
    const given = positionals[1];
    const value = given === undefined ? await readStdin() : Buffer.from(given, 'utf8');
    const client = await nodeClient(values);
    const res = await askNode(() =>
      client.put(key, value, {
        w: toLevel(values.w),
        consistency: values.consistency,
        timeoutMs: values.timeout,
        contentType: values['content-type'],
        context: values.context,
      }),
    );
    finishWrite(res, values.verbose);
  },
};

export const delCommand: Command<typeof DEL_FLAGS> = {
  name: 'del',
  synopsis: 'kvorum del <key> [flags]',
  summary: 'delete a key (writes a replicated tombstone)',
  details: '',
  flags: DEL_FLAGS,
  async run({ values, positionals }) {
    const key = keyOf(positionals, this.synopsis, 1);
    const client = await nodeClient(values);
    const res = await askNode(() =>
      client.del(key, {
        w: toLevel(values.w),
        consistency: values.consistency,
        timeoutMs: values.timeout,
        context: values.context,
      }),
    );
    finishWrite(res, values.verbose);
  },
};
