// The built `kvorum` command as a user runs it: help, usage errors (exit 2, one line), `serve`
// refusing bad configs, and the client and admin commands against a scripted fake node.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin/kvorum.js');

interface CliResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs `node bin/kvorum.js …` with none of the caller's KVORUM_* variables leaking in. */
function runCli(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: Buffer | string } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KVORUM_')) env[k] = v;
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(opts.stdin);
  });
}

function expectOneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^kvorum: /);
  return lines[0]!;
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) {
    throw new Error('dist/ is missing: run npm run build (npm test does it in pretest)');
  }
});

describe('kvorum --help', () => {
  it.each([['--help'], ['-h'], ['help'], []])(
    '%j prints usage listing every command and exits 0',
    async (...args) => {
      const res = await runCli(args.flat());
      expect(res.code).toBe(0);
      const text = res.stdout.toString();
      for (const name of ['cluster', 'serve', 'get', 'put', 'del', 'status', 'partition', 'heal']) {
        expect(text).toContain(`  ${name} `);
      }
    },
  );

  it.each(['cluster', 'serve', 'get', 'put', 'del', 'status', 'partition', 'heal'])(
    '%s --help prints its flags and exits 0',
    async (name) => {
      const res = await runCli([name, '--help']);
      expect(res.code).toBe(0);
      expect(res.stdout.toString()).toContain(`Usage: kvorum ${name}`);
      expect(res.stderr).toBe('');
    },
  );
});

describe('a bad command line exits 2 with one line on stderr', () => {
  it.each([
    [['clustr'], 'unknown command "clustr"; did you mean cluster?'],
    [['--nodes', '3'], 'the command comes first'],
    [['cluster', '--nodes', '0'], '--nodes must be an integer from 1 to 16 (got "0")'],
    [['cluster', '--nodes', 'three'], '--nodes must be an integer from 1 to 16 (got "three")'],
    [['cluster', '--nodes'], '--nodes needs a value'],
    [['cluster', '--bogus'], 'unknown flag --bogus for kvorum cluster'],
    [['cluster', '--profile', 'strong'], '--profile must be one of'],
    [
      ['cluster', '--nodes', '2', '--n', '3'],
      '--n must be an integer from 1 to 2 (the node count)',
    ],
    [['cluster', 'extra'], 'unexpected argument "extra"'],
    [['get'], 'missing arguments; usage: kvorum get <key> [flags]'],
    [['get', 'k', '--w', '2'], 'unknown flag --w for kvorum get'],
    [['put', 'k', 'v', '--w', 'most'], '--w must be one, quorum, all or an integer from 1 to 7'],
    [['get', 'k', '--url', 'localhost:7001'], '--url must be a node URL'],
    [['partition', 'n1,n2', 'n2'], 'node n2 is in two partition groups'],
    [['serve'], 'serve needs --config <file>'],
    [['serve', '--config', 'x.json'], 'serve needs --id <id>'],
  ])('%j', async (args, message) => {
    const res = await runCli(args);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toContain(message);
    expect(res.stdout.length).toBe(0);
  });

  it('reads flags from KVORUM_* and names the variable when one is bad', async () => {
    const res = await runCli(['cluster'], { env: { KVORUM_NODES: 'lots' } });
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toBe(
      'kvorum: KVORUM_NODES must be an integer from 1 to 16 (got "lots")',
    );
  });
});

describe('kvorum serve refuses a config it cannot use', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kvorum-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const goodConfig = {
    profile: 'quorum',
    n: 1,
    nodes: [{ id: 'n1', http: 'http://127.0.0.1:7999', peer: '127.0.0.1:8099' }],
  };

  it.each([
    ['a missing file', undefined, 'n1', /cannot read config .*missing\.json: no such file/],
    ['invalid JSON', '{"nodes": [', 'n1', /is not valid JSON/],
    [
      'an invalid config',
      JSON.stringify({ ...goodConfig, n: 2 }),
      'n1',
      /: n must be an integer from 1 to 1/,
    ],
    ['no nodes', JSON.stringify({ nodes: [] }), 'n1', /needs a non-empty "nodes" array/],
    [
      'an id not in the config',
      JSON.stringify(goodConfig),
      'n9',
      /--id n9 is not a node of .* \(its nodes: n1\)/,
    ],
  ])('%s: exit 2, one line', async (_name, content, id, message) => {
    const file = path.join(dir, content === undefined ? 'missing.json' : 'cluster.json');
    if (content !== undefined) await writeFile(file, content);
    const res = await runCli(['serve', '--config', file, '--id', id]);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toMatch(message);
  });

  it('takes --config and --id from KVORUM_CONFIG and KVORUM_ID', async () => {
    const res = await runCli(['serve'], {
      env: { KVORUM_CONFIG: path.join(dir, 'nope.json'), KVORUM_ID: 'n1' },
    });
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toMatch(/cannot read config .*nope\.json: no such file/);
  });
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}
type Reply = (req: Seen, res: ServerResponse) => void;

/** A node that answers as the test scripts it, and remembers what it was asked. */
async function fakeNode(reply: Reply): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(s);
      reply(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

describe('client and admin commands against a node', () => {
  let node: Awaited<ReturnType<typeof fakeNode>> | undefined;
  afterEach(async () => {
    await new Promise((resolve) => node?.server.close(resolve) ?? resolve(undefined));
    node = undefined;
  });

  it('get prints the raw value bytes and sends r, consistency and timeout', async () => {
    const value = Buffer.from([0, 255, 10, 128, 1]);
    node = await fakeNode((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(value),
    );
    const res = await runCli(
      ['get', 'a/b c', '--r', 'all', '--consistency', 'linearizable', '--timeout', '500'],
      {
        env: { KVORUM_URL: node.url },
      },
    );
    expect(res.code).toBe(0);
    expect(res.stdout.equals(value)).toBe(true);
    expect(res.stderr).toBe('');
    expect(node.seen[0]).toMatchObject({
      method: 'GET',
      url: '/kv/a%2Fb%20c?r=all&consistency=linearizable&timeout=500',
    });
  });

  it('get of a missing key prints "not found" and exits 1', async () => {
    node = await fakeNode((_req, res) =>
      json(res, 404, { error: 'not_found', message: 'no such key' }),
    );
    const res = await runCli(['get', 'k', '--url', node.url]);
    expect(res.code).toBe(1);
    expect(expectOneLine(res.stderr)).toBe('kvorum: not found');
  });

  it("an error answer prints the server's message on one line and exits 1", async () => {
    node = await fakeNode((_req, res) =>
      json(res, 503, {
        error: 'unavailable',
        message: 'this read needs 2 replica(s) but only 1 are reachable',
        needed: 2,
        reachable: 1,
      }),
    );
    const res = await runCli(['get', 'k', '--url', node.url]);
    expect(res.code).toBe(1);
    expect(expectOneLine(res.stderr)).toBe(
      'kvorum: this read needs 2 replica(s) but only 1 are reachable (503 unavailable)',
    );
  });

  it('put sends the value, its content type, w and the context header', async () => {
    node = await fakeNode((_req, res) => res.writeHead(204).end());
    const res = await runCli([
      'put',
      'k',
      'héllo',
      '--url',
      node.url,
      '--w',
      '2',
      '--content-type',
      'text/plain',
      '--context',
      'abc',
    ]);
    expect(res.code).toBe(0);
    const seen = node.seen[0]!;
    expect(seen).toMatchObject({ method: 'PUT', url: '/kv/k?w=2' });
    expect(seen.body.toString('utf8')).toBe('héllo');
    expect(seen.headers['content-type']).toBe('text/plain');
    expect(seen.headers['x-kvorum-context']).toBe('abc');
  });

  it('put without a value reads it from stdin', async () => {
    node = await fakeNode((_req, res) => res.writeHead(204).end());
    const value = Buffer.alloc(200_000, 7);
    const res = await runCli(['put', 'big', '--url', node.url], { stdin: value });
    expect(res.code).toBe(0);
    expect(node.seen[0]!.body.equals(value)).toBe(true);
    expect(node.seen[0]!.headers['content-type']).toBe('application/octet-stream');
  });

  it('del sends DELETE and reports a timeout as a failure', async () => {
    node = await fakeNode((_req, res) =>
      json(res, 504, {
        error: 'timeout',
        message: 'only 1 of the 2 replica(s) needed answered within 2000 ms',
        indeterminate: true,
      }),
    );
    const res = await runCli(['del', 'k', '--url', node.url]);
    expect(res.code).toBe(1);
    expect(node.seen[0]!.method).toBe('DELETE');
    expect(expectOneLine(res.stderr)).toContain('(504 timeout)');
  });

  it('status pretty-prints /admin/status with the bearer token from KVORUM_ADMIN_TOKEN', async () => {
    const status = {
      id: 'n1',
      pid: 1,
      profile: 'quorum',
      n: 3,
      r: 'quorum',
      w: 'quorum',
      conflicts: 'lww',
      nodes: [],
      faults: {},
      hints: { pending: 0 },
    };
    node = await fakeNode((_req, res) => json(res, 200, status));
    const res = await runCli(['status', '--url', node.url], {
      env: { KVORUM_ADMIN_TOKEN: 's3cret' },
    });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout.toString())).toEqual(status);
    expect(res.stdout.toString()).toContain('\n  "id": "n1"');
    expect(node.seen[0]!.headers.authorization).toBe('Bearer s3cret');
  });

  it('status without the right token exits 1 with the 401 message', async () => {
    node = await fakeNode((_req, res) =>
      json(res, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <token>' }),
    );
    const res = await runCli(['status', '--url', node.url]);
    expect(res.code).toBe(1);
    expect(expectOneLine(res.stderr)).toBe(
      'kvorum: send Authorization: Bearer <token> (401 unauthorized)',
    );
  });

  it('partition posts the groups and prints where it was applied', async () => {
    node = await fakeNode((_req, res) =>
      json(res, 200, { applied: ['n1', 'n2', 'n3'], failed: [] }),
    );
    const res = await runCli(['partition', 'n1,n2', 'n3', '--url', node.url]);
    expect(res.code).toBe(0);
    expect(node.seen[0]).toMatchObject({ method: 'POST', url: '/admin/partition' });
    expect(JSON.parse(node.seen[0]!.body.toString())).toEqual({ groups: [['n1', 'n2'], ['n3']] });
    expect(res.stdout.toString()).toBe('partition {n1,n2} {n3}: applied on n1, n2, n3\n');
  });

  it('heal that some node could not apply exits 1 and names it', async () => {
    node = await fakeNode((_req, res) =>
      json(res, 200, { applied: ['n1'], failed: [{ id: 'n2', message: 'unreachable' }] }),
    );
    const res = await runCli(['heal', '--url', node.url]);
    expect(res.code).toBe(1);
    expect(node.seen[0]).toMatchObject({ method: 'POST', url: '/admin/heal' });
    expect(expectOneLine(res.stderr)).toBe('kvorum: heal: not applied on n2 (unreachable)');
  });

  it('an unreachable node is one line naming the URL, exit 1', async () => {
    node = await fakeNode(() => undefined);
    const url = node.url;
    await new Promise((resolve) => node!.server.close(resolve));
    node = undefined;
    const res = await runCli(['get', 'k', '--url', url]);
    expect(res.code).toBe(1);
    expect(expectOneLine(res.stderr)).toMatch(
      new RegExp(`^kvorum: cannot reach ${url}/kv/k: .*ECONNREFUSED`),
    );
  });
});
