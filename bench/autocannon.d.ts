// The part of autocannon 9's programmatic API the bench uses (the package ships no types, and
// @types/autocannon would be a new dependency).

declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface RequestParams {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: Buffer | string;
  }

  export interface Request {
    setupRequest?: (req: RequestParams, context: Record<string, unknown>) => RequestParams;
  }

  export interface Options {
    url: string | string[];
    connections?: number;
    pipelining?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    sampleInt?: number;
    requests?: Request[];
    headers?: Record<string, string>;
  }

  export interface Result {
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    totalCompletedRequests: number;
    duration: number;
    statusCodeStats: Record<string, { count: number }>;
  }

  export interface Instance extends EventEmitter {
    stop(): void;
  }

  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
