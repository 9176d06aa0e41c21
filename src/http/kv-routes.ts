// /kv/<key>: the client API of DESIGN 1.2. Values are stored byte for byte with their
// Content-Type, so this plugin replaces fastify's parsers with one that keeps raw bytes.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIMITS } from '../config.js';
import type { ReplicaTiming } from '../core/coordinator.js';
import { encodeContext } from '../core/context.js';
import { InvalidArgumentError, KeyTooLongError } from '../core/errors.js';
import type { RequestParams } from '../core/quorum.js';
import type { HttpBackend } from './backend.js';
import { errorBody } from './error-mapping.js';

const KV_PREFIX = '/kv/';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const CONTEXT_HEADER = 'x-kvorum-context';

/** The key is everything after /kv/ up to the query, percent-decoded, so slashes may be literal or %2F. */
export function keyFromUrl(url: string): string {
  const q = url.indexOf('?');
  const raw = q === -1 ? url.slice(KV_PREFIX.length) : url.slice(KV_PREFIX.length, q);
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(
      'the key is not valid percent-encoded UTF-8; encode it with encodeURIComponent',
    );
  }
  if (key.length === 0) throw new InvalidArgumentError('the key is empty; use /kv/<key>');
  if (Buffer.byteLength(key, 'utf8') > LIMITS.keyBytesMax) {
    throw new KeyTooLongError(
      `the key is longer than ${LIMITS.keyBytesMax} bytes of UTF-8; use a shorter key (a hash of it, for example)`,
    );
  }
  return key;
}

function one(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined || typeof v === 'string') return v;
  throw new InvalidArgumentError(`query parameter ${name} was given more than once`);
}

function paramsOf(req: FastifyRequest): RequestParams {
  const q = req.query as Record<string, unknown>;
  return {
    r: one(q, 'r'),
    w: one(q, 'w'),
    consistency: one(q, 'consistency'),
    timeout: one(q, 'timeout'),
  };
}

function contextOf(req: FastifyRequest): string | undefined {
  const c = req.headers[CONTEXT_HEADER];
  if (Array.isArray(c)) throw new InvalidArgumentError('send X-Kvorum-Context at most once');
  return c;
}

export function serverTiming(timings: readonly ReplicaTiming[]): string {
  let s = '';
  for (const t of timings) {
    if (s.length > 0) s += ', ';
    s += `${t.node};dur=${t.durMs.toFixed(1)};desc="${t.desc}"`;
  }
  return s;
}

export async function kvRoutes(
  app: FastifyInstance,
  opts: { backend: HttpBackend },
): Promise<void> {
  const { backend } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: backend.valueBytesMax },
    (_req, body, done) => {
      done(null, body);
    },
  );

  app.get('/kv/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyFromUrl(req.url);
    const result = await backend.get(key, paramsOf(req));
    const v = result.version;
    reply.header('Server-Timing', serverTiming(result.timings));
    reply.header('X-Kvorum-Context', encodeContext(v?.ts));
    if (v === undefined || v.tombstone) {
      return reply
        .code(404)
        .type('application/json')
        .send(errorBody('not_found', 'no value is stored under this key'));
    }
    return reply
      .code(200)
      .type(v.contentType)
      .send(Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength));
  });

  app.put('/kv/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyFromUrl(req.url);
    const contentType = req.headers['content-type'] ?? DEFAULT_CONTENT_TYPE;
    if (contentType.length > LIMITS.contentTypeCharsMax) {
      throw new InvalidArgumentError(
        `Content-Type is longer than ${LIMITS.contentTypeCharsMax} characters`,
      );
    }
    const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
    const result = await backend.put(key, body, contentType, paramsOf(req), contextOf(req));
    reply.header('Server-Timing', serverTiming(result.timings));
    return reply.code(204).send();
  });

  app.delete('/kv/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyFromUrl(req.url);
    const result = await backend.del(key, paramsOf(req), contextOf(req));
    reply.header('Server-Timing', serverTiming(result.timings));
    return reply.code(204).send();
  });
}
