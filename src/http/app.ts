// Builds the fastify app for one replica: /kv, the admin routes and the console page as
// encapsulated plugins, one error handler, and server limits so slow or stuck clients cannot
// hold the replica. It owns the traffic window that /kv feeds and GET /admin/console reads.
// With a certificate it serves HTTPS only: a plain HTTP request to the port fails the TLS
// handshake.

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { LIMITS } from '../config.js';
import { TrafficWindow } from '../core/traffic-window.js';
import { ConsoleViews } from './admin-console.js';
import { adminRoutes } from './admin-routes.js';
import { handleClientError } from './client-errors.js';
import type { HttpBackend } from './backend.js';
import { errorBody, makeErrorHandler } from './error-mapping.js';
import { kvRoutes } from './kv-routes.js';
import { consoleRoutes, loadConsoleAssets, type ConsoleAsset } from './console-routes.js';

/** The certificate and key the client port serves HTTPS with. */
export interface HttpsIdentity {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export async function buildHttpApp(
  backend: HttpBackend,
  logger: Logger,
  https?: HttpsIdentity,
  consoleAssets: ReadonlyMap<string, ConsoleAsset> = loadConsoleAssets(),
): Promise<FastifyInstance> {
  // Node checks for late requests only every connectionsCheckingInterval: at its default (30 s)
  // a 30 s limit cut slow requests anywhere up to a minute.
  const serverOptions = {
    connectionsCheckingInterval: LIMITS.httpTimeoutCheckIntervalMs,
    maxHeaderSize: LIMITS.httpHeaderBytesMax,
  };
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines come only from the debug hook below, so the hot path logs nothing.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: LIMITS.httpRequestTimeoutMs,
    // fastify hands `https` alone to https.createServer, so the HTTP server limits go in it too.
    ...(https === undefined
      ? { http: serverOptions }
      : {
          https: {
            ...serverOptions,
            cert: https.cert,
            key: https.key,
            minVersion: 'TLSv1.2' as const,
            handshakeTimeout: LIMITS.httpsHandshakeTimeoutMs,
          },
        }),
    clientErrorHandler: handleClientError,
    keepAliveTimeout: LIMITS.httpKeepAliveTimeoutMs,
    // Socket inactivity: longer than the longest ?timeout= a request may ask for, so a slow
    // quorum answers 504 instead of losing its socket; requestTimeout bounds slow clients.
    connectionTimeout: LIMITS.requestTimeoutMsMax + 5_000,
    // Keys can be long and contain slashes: routing must not cut them.
    routerOptions: { maxParamLength: 16 * 1024 },
    bodyLimit: LIMITS.adminBodyBytesMax,
    return503OnClosing: true,
    // Errors raised before routing (bad percent-encoding, over-long params) get the contract's shape too.
    frameworkErrors: (err, _req, res) => {
      const reply = res as FastifyReply;
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void reply
        .code(tooLong ? 414 : 400)
        .type('application/json')
        .send(
          tooLong
            ? errorBody(
                'key_too_long',
                `the key is longer than ${LIMITS.keyBytesMax} bytes of UTF-8`,
              )
            : errorBody(
                'invalid_argument',
                'the URL is not valid percent-encoded UTF-8; encode keys with encodeURIComponent',
              ),
        );
    },
  });
  app.server.maxConnections = LIMITS.httpConnectionsMax;
  app.server.headersTimeout = LIMITS.httpRequestTimeoutMs;

  if (logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.debug(
        { method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request',
      );
    });
  }
  app.setErrorHandler(makeErrorHandler(backend.valueBytesMax));
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/json')
      .send(
        errorBody(
          'not_found',
          `no route ${req.method} ${req.url.split('?')[0]}; see docs/api.md for the routes`,
        ),
      );
  });
  if (consoleAssets.size === 0) {
    logger.warn('the console page is not built (npm run build): GET / answers 404');
  }
  const monotonicMs = () => performance.now();
  const traffic = new TrafficWindow(
    {
      windowMs: LIMITS.trafficWindowMs,
      slotMs: LIMITS.trafficSlotMs,
      levelsMax: LIMITS.trafficLevelsMax,
    },
    monotonicMs(),
  );
  const consoleViews = new ConsoleViews(backend, traffic, monotonicMs);
  await app.register(kvRoutes, { backend, traffic, monotonicMs });
  await app.register(adminRoutes, { backend, consoleViews });
  await app.register(consoleRoutes, { assets: consoleAssets });
  return app;
}
