// fetch() that trusts one private CA. Node's built-in fetch takes no per-request CA (that needs
// the undici package's Agent), so requests to a cluster with its own CA go through node:https
// and come back as a standard Response; kvorum needs no extra dependency for it.

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchWithCaInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  readonly signal?: AbortSignal;
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/**
 * Like fetch(url, init), with `ca` (PEM) as the only trusted root for https URLs. Fails the way
 * fetch does: a TypeError whose `cause` is the socket or TLS error, or the signal's abort reason.
 */
export function fetchWithCa(
  url: string | URL,
  init: FetchWithCaInit,
  ca: string | Buffer,
): Promise<Response> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const fail = (err: Error): void => {
      if (init.signal?.aborted === true) reject(init.signal.reason as Error);
      else reject(new TypeError('fetch failed', { cause: err }));
    };
    const req = request(
      target,
      { method: init.method ?? 'GET', headers: init.headers, ca, signal: init.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const empty = status === 204 || status === 304 || chunks.length === 0;
          resolve(
            new Response(empty ? null : Buffer.concat(chunks), {
              status,
              statusText: res.statusMessage ?? '',
              headers: toHeaders(res.headers),
            }),
          );
        });
      },
    );
    req.on('error', fail);
    req.end(init.body);
  });
}
