// Requests Node's HTTP parser refuses before fastify sees them (a URL or headers over the
// parser's limit, a client too slow to send its request, bytes that are not HTTP) still get the
// contract's JSON error, then the connection closes.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { LIMITS } from '../config.js';
import { errorBody, type ErrorBody } from './error-mapping.js';

/** The parser read this much of the request line and headers without finding their end. */
const HEADER_BYTES_MAX = LIMITS.httpHeaderBytesMax;

/** A request line that alone overflows, for a route whose path is a key: the key is too long. */
const KEY_ROUTE = /^[A-Z]+ \/(kv|admin\/keys)\//;

function answerFor(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): [number, ErrorBody] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return [
      408,
      errorBody(
        'request_timeout',
        `the request did not arrive within ${LIMITS.httpRequestTimeoutMs} ms; send it whole, faster`,
      ),
    ];
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const head = err.rawPacket?.subarray(0, HEADER_BYTES_MAX).toString('latin1') ?? '';
    if (KEY_ROUTE.test(head) && !head.includes('\r\n')) {
      return [
        414,
        errorBody(
          'key_too_long',
          `the key is longer than ${LIMITS.keyBytesMax} bytes of UTF-8; use a shorter key (a hash of it, for example)`,
        ),
      ];
    }
    return [
      431,
      errorBody(
        'headers_too_large',
        `the request line and headers are larger than ${HEADER_BYTES_MAX} bytes`,
      ),
    ];
  }
  return [400, errorBody('invalid_argument', 'the request is not valid HTTP/1.1')];
}

export function handleClientError(err: Error, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, body] = answerFor(err);
  const json = JSON.stringify(body);
  // end(), not destroy(): closing with the rest of a long request unread would reset the
  // connection and the client would lose the answer. What still arrives is read and dropped,
  // for a short while.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
  socket.resume();
  setTimeout(() => socket.destroy(), LIMITS.httpRefusedDrainMs).unref();
}
