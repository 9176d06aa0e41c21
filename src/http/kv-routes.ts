// /kv/<key>: the client API of DESIGN 1.2. Values are stored byte for byte with their
// Content-Type, so this plugin replaces fastify's parsers with one that keeps raw bytes.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIMITS } from '../config.js';
import { newestVersion } from '../core/conflicts.js';
import { encodeClockContext, encodeLwwContext } from '../core/context.js';
import { compareHlc } from '../core/hlc.js';
import type { Version } from '../core/version.js';
import { EMPTY_CLOCK, type VersionSet } from '../core/version-set.js';
import { InvalidArgumentError, KeyTooLongError } from '../core/errors.js';
import {
  resolveRequestOptions,
  type ConsistencyDefaults,
  type RequestParams,
} from '../core/quorum.js';
import { INVALID_LEVEL, trafficLevel, type TrafficWindow } from '../core/traffic-window.js';
import type { HttpBackend } from './backend.js';
import { errorBody } from './error-mapping.js';
import { serverTiming } from './server-timing.js';

const KV_PREFIX = '/kv/';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const CONTEXT_HEADER = 'x-kvorum-context';
const VALUE_CSP = "default-src 'none'; sandbox";
/** What /kv/<key> answers to; anything else is 405 with this as `Allow`. */
const KV_METHODS_ALLOWED = 'GET, HEAD, PUT, DELETE';
const KV_METHODS_REFUSED = ['POST', 'PATCH', 'OPTIONS'] as const;

/** The key is everything after /kv/ up to the query, percent-decoded, so slashes may be literal or %2F. */
export function keyFromUrl(url: string, prefix = KV_PREFIX): string {
  const q = url.indexOf('?');
  const raw = q === -1 ? url.slice(prefix.length) : url.slice(prefix.length, q);
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

function bytesOf(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .type('application/json')
    .send(errorBody('not_found', 'no value is stored under this key'));
}

/**
 * A stored value is served with the Content-Type its writer chose, which may be text/html. A
 * browser must neither sniff it into something else nor run it with this node's origin (the
 * console's, holding the admin token): `nosniff`, and a CSP sandbox with no sources at all.
 */
function sendValue(reply: FastifyReply, v: Version): FastifyReply {
  return reply
    .code(200)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Security-Policy', VALUE_CSP)
    .type(v.contentType)
    .send(bytesOf(v.value));
}

/**
 * What a siblings-mode read shows, oldest first: every live value, and one "deleted" entry if
 * a delete is among the concurrent writes (several concurrent deletes say the same thing).
 * Only tombstones: the key reads as deleted.
 */
export function presentSiblings(set: VersionSet | undefined): Version[] {
  if (set === undefined) return [];
  const live = set.siblings.filter((s) => !s.tombstone);
  if (live.length === 0) return [];
  const shown: Version[] = [...live];
  const tomb = set.siblings.find((s) => s.tombstone);
  if (tomb !== undefined) shown.push(tomb);
  return shown.sort((a, b) => compareHlc(a.ts, b.ts));
}

/**
 * The traffic row a finished request counts under: its operation and the level it was served
 * at (the profile's defaults where it named none), or `invalid` when its parameters were not
 * usable (it was answered 400). Never throws: it runs after the answer is out.
 */
function levelOf(req: FastifyRequest, defaults: ConsistencyDefaults): string | undefined {
  const op =
    req.method === 'GET' || req.method === 'HEAD'
      ? 'read'
      : req.method === 'PUT' || req.method === 'DELETE'
        ? 'write'
        : undefined;
  if (op === undefined) return undefined;
  try {
    return trafficLevel(op, resolveRequestOptions(paramsOf(req), defaults), defaults.n);
  } catch {
    return `${op} ${INVALID_LEVEL}`;
  }
}

export interface KvRoutesOptions {
  readonly backend: HttpBackend;
  /** Every answered /kv request is counted here, for the console. */
  readonly traffic: TrafficWindow;
  /** The monotonic clock the traffic window counts in. */
  readonly monotonicMs: () => number;
}

export async function kvRoutes(app: FastifyInstance, opts: KvRoutesOptions): Promise<void> {
  const { backend, traffic, monotonicMs } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: backend.valueBytesMax },
    (_req, body, done) => {
      done(null, body);
    },
  );

  // Before the body is read: a node over budget refuses at once, having taken nothing in. A
  // chunked body may be as large as a value can be, so it reserves that much.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const bytes =
      req.headers['transfer-encoding'] !== undefined
        ? backend.valueBytesMax
        : Math.min(Number.isFinite(declared) ? declared : 0, backend.valueBytesMax);
    const admitted = backend.admission.admit(bytes);
    reply.raw.once('close', () => backend.admission.release(admitted));
  });

  // As the client saw it: status and time to the answer, overloaded refusals included.
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const level = levelOf(req, backend.defaults);
    if (level !== undefined)
      traffic.record(level, reply.statusCode, reply.elapsedTime, monotonicMs());
  });

  app.get('/kv/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyFromUrl(req.url);
    const result = await backend.get(key, paramsOf(req));
    const set = result.set;
    reply.header('Server-Timing', serverTiming(result.timings));
    if (backend.conflicts === 'siblings') {
      reply.header('X-Kvorum-Context', encodeClockContext(set?.clock ?? EMPTY_CLOCK));
      const shown = presentSiblings(set);
      if (shown.length === 0) return notFound(reply);
      if (shown.length > 1) {
        return reply
          .code(300)
          .type('application/json')
          .send({
            siblings: shown.map((s) => ({
              value: s.tombstone ? '' : bytesOf(s.value).toString('base64'),
              contentType: s.contentType,
              ...(s.tombstone ? { deleted: true } : {}),
            })),
          });
      }
      return sendValue(reply, shown[0] as Version);
    }
    const v = newestVersion(set);
    reply.header('X-Kvorum-Context', encodeLwwContext(v?.ts));
    if (v === undefined || v.tombstone) return notFound(reply);
    return sendValue(reply, v);
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

  // A method the API does not have on an existing resource is 405, not "no such route".
  app.route({
    method: [...KV_METHODS_REFUSED],
    url: '/kv/*',
    handler: async (req: FastifyRequest, reply: FastifyReply) =>
      reply
        .code(405)
        .header('Allow', KV_METHODS_ALLOWED)
        .type('application/json')
        .send(
          errorBody(
            'method_not_allowed',
            `${req.method} is not a method of /kv/<key>; use ${KV_METHODS_ALLOWED}`,
            { allow: KV_METHODS_ALLOWED.split(', ') },
          ),
        ),
  });

  app.delete('/kv/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyFromUrl(req.url);
    const result = await backend.del(key, paramsOf(req), contextOf(req));
    reply.header('Server-Timing', serverTiming(result.timings));
    return reply.code(204).send();
  });
}
