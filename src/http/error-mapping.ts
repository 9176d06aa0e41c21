// The one place errors become HTTP responses: the contract's JSON shape
// {"error", "message", ...details} for every failure, whatever raised it.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KvorumError, OverloadedError } from '../core/errors.js';
import { serverTiming } from './server-timing.js';

export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

export function errorBody(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): ErrorBody {
  return { error: code, message, ...details };
}

/** Fastify's own errors (body limits, bad JSON, bad media type) mapped to contract codes. */
function fromFastify(
  err: FastifyError,
  valueBytesMax: number,
  isKv: boolean,
): { status: number; body: ErrorBody } | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return isKv
        ? {
            status: 413,
            body: errorBody(
              'value_too_large',
              `the value is larger than the limit of ${valueBytesMax} bytes; store smaller values or raise --value-bytes-max`,
              { limit: valueBytesMax },
            ),
          }
        : {
            status: 413,
            body: errorBody(
              'body_too_large',
              'the request body is larger than this endpoint accepts',
            ),
          };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        body: errorBody('invalid_argument', `the body must be valid JSON: ${err.message}`),
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: errorBody('invalid_argument', err.message) };
    case 'FST_ERR_VALIDATION':
      return { status: 400, body: errorBody('invalid_argument', err.message) };
  }
  if (err.validation) return { status: 400, body: errorBody('invalid_argument', err.message) };
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: errorBody('invalid_argument', err.message) };
  }
  return undefined;
}

/**
 * A write refused before its body was read: reading megabytes only to drop them would cost the
 * node what admission is there to save, so its connection closes once the answer is out. A
 * client still sending may then see a reset before it reads the 503 (it should retry as for a
 * 503); a lingering close, as nginx's, would spare it that and is left to do.
 */
function closeAfterAnswer(reply: FastifyReply): void {
  reply.header('Connection', 'close');
}

export function makeErrorHandler(valueBytesMax: number) {
  return function handleError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
    if (err instanceof KvorumError) {
      if (err instanceof OverloadedError) {
        reply.header('Retry-After', String(err.retryAfterS));
        if (req.method === 'PUT' || req.method === 'POST') closeAfterAnswer(reply);
      }
      if (err.timings !== undefined && err.timings.length > 0)
        reply.header('Server-Timing', serverTiming(err.timings));
      void reply
        .code(err.status)
        .type('application/json')
        .send(errorBody(err.code, err.message, err.details()));
      return;
    }
    const mapped = fromFastify(err, valueBytesMax, req.url.startsWith('/kv/'));
    if (mapped) {
      void reply.code(mapped.status).type('application/json').send(mapped.body);
      return;
    }
    req.log.error({ err }, 'internal error');
    void reply
      .code(500)
      .type('application/json')
      .send(errorBody('internal', 'the replica hit an unexpected error; it has been logged'));
  };
}
