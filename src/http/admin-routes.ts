// /health, /metrics and /admin/*: DESIGN 1.3. Everything but /health needs the bearer token
// when one is configured.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LIMITS } from '../config.js';
import { UnauthorizedError } from '../core/errors.js';
import type { HttpBackend } from './backend.js';

function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length), 'utf8');
  const want = Buffer.from(token, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function adminRoutes(
  app: FastifyInstance,
  opts: { backend: HttpBackend },
): Promise<void> {
  const { backend } = opts;

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
    secured.put('/admin/faults', jsonLimit, async (req) => backend.setFaults(req.body ?? {}));
    secured.post('/admin/partition', jsonLimit, async (req) => backend.partition(req.body));
    secured.post('/admin/heal', jsonLimit, async () => backend.heal());
  });
}
