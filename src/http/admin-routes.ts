// /health, /metrics and /admin/*: DESIGN 1.3. Everything but /health needs the bearer token
// when one is configured.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIMITS } from '../config.js';
import { UnauthorizedError } from '../core/errors.js';
import { consoleScopeOf, type ConsoleViews } from './admin-console.js';
import type { HttpBackend } from './backend.js';
import { errorBody } from './error-mapping.js';
import { keyFromUrl } from './kv-routes.js';
import { parsePbsCurveQuery, parsePbsQuery } from './pbs-query.js';

const ADMIN_KEYS_PREFIX = '/admin/keys/';

const BEARER = 'bearer ';

function tokenMatches(header: string | undefined, token: string): boolean {
  // The scheme is case-insensitive (RFC 9110, 11.1); the token is compared byte for byte.
  if (header === undefined || header.slice(0, BEARER.length).toLowerCase() !== BEARER) {
    return false;
  }
  const given = Buffer.from(header.slice(BEARER.length), 'utf8');
  const want = Buffer.from(token, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function adminRoutes(
  app: FastifyInstance,
  opts: { backend: HttpBackend; consoleViews: ConsoleViews },
): Promise<void> {
  const { backend, consoleViews } = opts;

  app.get('/health', async () => ({ status: 'ok', id: backend.id }));

  // Routes registered after this hook need the token; /health above does not.
  await app.register(async (secured) => {
    secured.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const token = backend.adminToken;
      if (token === undefined || tokenMatches(req.headers.authorization, token)) return;
      reply.header('WWW-Authenticate', 'Bearer realm="kvorum-admin"');
      throw new UnauthorizedError(
        req.headers.authorization === undefined
          ? 'this node requires an admin token: send Authorization: Bearer <token>'
          : 'the admin token is wrong',
      );
    });

    const jsonLimit = { bodyLimit: LIMITS.adminBodyBytesMax };

    secured.get('/metrics', async (_req, reply) => {
      const m = await backend.metrics();
      return reply.type(m.contentType).send(m.body);
    });
    secured.get('/admin/status', async () => backend.status());
    secured.get('/admin/faults', async () => backend.getFaults());
    // No body is not "no faults": a client that lost its body must not clear every fault.
    secured.put('/admin/faults', jsonLimit, async (req) => backend.setFaults(req.body));
    secured.post('/admin/partition', jsonLimit, async (req) => backend.partition(req.body));
    secured.post('/admin/heal', jsonLimit, async () => backend.heal());
    secured.post('/admin/repair', jsonLimit, async () => backend.repair());
    secured.get('/admin/layout', async () => backend.layout());
    secured.get('/admin/console', async (req) =>
      consoleScopeOf(req.query as Record<string, unknown>) === 'node'
        ? consoleViews.node()
        : consoleViews.cluster(),
    );
    secured.get('/admin/pbs', async (req) => backend.pbs(parsePbsQuery(req.query)));
    secured.get('/admin/pbs/curve', async (req) => backend.pbsCurve(parsePbsCurveQuery(req.query)));
    secured.post('/admin/join', jsonLimit, async (req) => backend.join(req.body));
    secured.post('/admin/leave', jsonLimit, async (req) => backend.leave(req.body));
    // This replica's own copy of a key, as stored: how an operator sees divergence.
    secured.get('/admin/keys/*', async (req, reply) => {
      const key = keyFromUrl(req.url, ADMIN_KEYS_PREFIX);
      const set = await backend.localKey(key);
      if (set === undefined) {
        return reply
          .code(404)
          .send(errorBody('not_found', `${backend.id} holds nothing for this key`));
      }
      return {
        key,
        node: backend.id,
        clock: Object.fromEntries(set.clock),
        siblings: set.siblings.map((s) => ({
          dot: s.dot === null ? null : `${s.dot.node}.${s.dot.counter}`,
          ts: `${s.ts.wallMs}.${s.ts.logical}.${s.ts.node}`,
          tombstone: s.tombstone,
          contentType: s.contentType,
          value: Buffer.from(s.value.buffer, s.value.byteOffset, s.value.byteLength).toString(
            'base64',
          ),
        })),
      };
    });
  });
}
