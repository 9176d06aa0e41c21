// The HTTP calls `kvorum verify` makes to one node: client reads and writes classified as a
// history needs them (ok / fail / info), and the admin calls of the nemesis and the final read.
// Uses fetch directly rather than KvorumClient: the outcome of an operation depends on exactly
// how it failed (refused before sending vs. cut off after), and the client timeout must be short.

import type { PbsResult } from '../client/kvorum-client.js';
import type { Outcome } from './history.js';
import type { LocalCopy } from './final-state.js';
import { VERIFY_LIMITS } from './verify-limits.js';

export interface LinkFaultSpec {
  readonly block: readonly string[];
  readonly delay: Readonly<Record<string, { readonly ms: number; readonly jitterMs: number }>>;
  readonly drop: Readonly<Record<string, number>>;
}

export const NO_LINK_FAULTS: LinkFaultSpec = Object.freeze({
  block: Object.freeze([]),
  delay: Object.freeze({}),
  drop: Object.freeze({}),
});

export interface KvAnswer {
  readonly outcome: Outcome;
  /** HTTP status, or the network failure (`ECONNREFUSED`, `client-timeout`, …). */
  readonly status: string;
  /** ok read: the live values (none when absent). */
  readonly values?: readonly string[];
  /** The read's X-Kvorum-Context. */
  readonly context?: string;
}

interface SiblingsBody {
  readonly siblings: readonly { readonly value: string; readonly deleted?: boolean }[];
}

/** An admin call that did not succeed; the nemesis reports it and carries on. */
export class AdminCallError extends Error {
  override readonly name = 'AdminCallError';
}

export class NodeApi {
  private readonly auth: Record<string, string>;

  constructor(
    readonly id: string,
    readonly url: string,
    adminToken?: string,
    private readonly opTimeoutMs: number = VERIFY_LIMITS.opTimeoutMs,
  ) {
    this.auth = adminToken === undefined ? {} : { authorization: `Bearer ${adminToken}` };
  }

  private kvUrl(key: string): string {
    return `${this.url}/kv/${encodeURIComponent(key)}?timeout=${this.opTimeoutMs}`;
  }

  private get clientTimeoutMs(): number {
    return this.opTimeoutMs + VERIFY_LIMITS.clientMarginMs;
  }

  async read(key: string): Promise<KvAnswer> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.kvUrl(key), { signal: AbortSignal.timeout(this.clientTimeoutMs) });
      text = await res.text();
    } catch (err) {
      // A read changes nothing, so an unknown read is simply left out by the checker.
      return networkAnswer(err);
    }
    const context = res.headers.get('x-kvorum-context') ?? undefined;
    const status = String(res.status);
    switch (res.status) {
      case 200:
        return { outcome: 'ok', status, values: [text], context };
      case 404:
        return { outcome: 'ok', status, values: [], context };
      case 300: {
        const values = siblingValues(text);
        // An answer we cannot read tells nothing about the register: leave it out.
        if (values === undefined) return { outcome: 'info', status: `${status} unreadable` };
        return { outcome: 'ok', status, values, context };
      }
      default:
        return {
          outcome: res.status === 503 || isClientError(res.status) ? 'fail' : 'info',
          status,
        };
    }
  }

  /** PUT; `context` is a read's X-Kvorum-Context when the write supersedes what it saw. */
  async write(key: string, value: string, context?: string): Promise<KvAnswer> {
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (context !== undefined) headers['x-kvorum-context'] = context;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.kvUrl(key), {
        method: 'PUT',
        headers,
        body: value,
        signal: AbortSignal.timeout(this.clientTimeoutMs),
      });
      text = await res.text();
    } catch (err) {
      return networkAnswer(err);
    }
    return { outcome: writeOutcome(res.status, text), status: String(res.status) };
  }

  async health(timeoutMs: number = VERIFY_LIMITS.adminTimeoutMs): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  async status(): Promise<NodeStatus> {
    return (await this.admin('GET', '/admin/status')) as NodeStatus;
  }

  async setFaults(spec: LinkFaultSpec): Promise<void> {
    await this.admin('PUT', '/admin/faults', spec);
  }

  /** Cluster-wide: every node clears its faults. */
  async heal(): Promise<void> {
    await this.admin('POST', '/admin/heal', {});
  }

  /** Runs an anti-entropy exchange with every peer this node sees up. */
  async repair(): Promise<void> {
    await this.admin('POST', '/admin/repair', {}, VERIFY_LIMITS.adminTimeoutMs * 5);
  }

  /** GET /admin/layout: this node's view of the newest layout version. */
  async layout(): Promise<LayoutView> {
    return (await this.admin('GET', '/admin/layout')) as LayoutView;
  }

  /** POST /admin/leave: answers once the change is agreed; `dead`: removed as a dead node. */
  async leave(id: string): Promise<{ readonly version: number; readonly dead: boolean }> {
    const body = await this.admin(
      'POST',
      '/admin/leave',
      { id },
      VERIFY_LIMITS.membershipCallTimeoutMs,
    );
    return body as { version: number; dead: boolean };
  }

  /** GET /admin/pbs: this node's prediction for a read issued `tMs` after a write. */
  async pbs(tMs: number): Promise<PbsResult> {
    // The API takes at most 3 decimals.
    return (await this.admin('GET', `/admin/pbs?t=${Number(tMs.toFixed(3))}`)) as PbsResult;
  }

  /** This node's own copy of `key`, or null when it holds nothing. */
  async localCopy(key: string): Promise<LocalCopy | null> {
    const path = `/admin/keys/${encodeURIComponent(key)}`;
    const res = await this.call('GET', path, undefined, VERIFY_LIMITS.adminTimeoutMs);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new AdminCallError(`${this.id} GET ${path}: HTTP ${res.status}`);
    return res.body as LocalCopy;
  }

  private async admin(
    method: string,
    path: string,
    json?: unknown,
    timeoutMs: number = VERIFY_LIMITS.adminTimeoutMs,
  ): Promise<unknown> {
    const res = await this.call(method, path, json, timeoutMs);
    if (res.status < 200 || res.status > 299) {
      const message =
        typeof res.body === 'object' && res.body !== null && 'message' in res.body
          ? String((res.body as { message: unknown }).message)
          : `HTTP ${res.status}`;
      throw new AdminCallError(`${this.id} ${method} ${path}: ${message}`);
    }
    return res.body;
  }

  private async call(
    method: string,
    path: string,
    json: unknown,
    timeoutMs: number,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { ...this.auth };
    if (json !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        // not JSON: keep the text for the message
      }
      return { status: res.status, body };
    } catch (err) {
      throw new AdminCallError(`${this.id} ${method} ${path}: ${networkReason(err)}`);
    }
  }
}

export interface NodeStatus {
  readonly id: string;
  readonly profile: 'cp' | 'quorum' | 'ap';
  readonly conflicts: 'lww' | 'siblings';
  readonly n: number;
  readonly nodes: readonly { readonly id: string; readonly http: string; readonly state: string }[];
}

export interface LayoutView {
  readonly version: number;
  readonly nodes: readonly {
    readonly id: string;
    readonly http: string;
    readonly state: 'joining' | 'member' | 'leaving';
  }[];
  /** One version live, and every node holds the ranges it owns in it. */
  readonly settled: boolean;
}

/** The live values of a 300 body, or undefined when it is not the documented shape. */
function siblingValues(text: string): string[] | undefined {
  try {
    const body = JSON.parse(text) as SiblingsBody;
    if (!Array.isArray(body.siblings)) return undefined;
    return body.siblings
      .filter((s) => s.deleted !== true)
      .map((s) => Buffer.from(s.value, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

function isClientError(status: number): boolean {
  return status >= 400 && status < 500;
}

/**
 * 204 is ok. 503 and 4xx are definite failures: nothing was written (DESIGN 1.2). 504 is
 * unknown unless the body says otherwise: a linearizable write whose read phase timed out
 * answers 504 without `indeterminate`, having sent nothing. Anything else (500) is unknown.
 */
export function writeOutcome(status: number, body: string): Outcome {
  if (status === 204) return 'ok';
  if (status === 503 || isClientError(status)) return 'fail';
  if (status === 504) {
    try {
      const parsed = JSON.parse(body) as { indeterminate?: unknown };
      return parsed.indeterminate === true ? 'info' : 'fail';
    } catch {
      return 'info';
    }
  }
  return 'info';
}

/** Refused before anything was sent: definitely not applied. Cut off later: unknown. */
function networkAnswer(err: unknown): KvAnswer {
  const reason = networkReason(err);
  return { outcome: reason === 'ECONNREFUSED' ? 'fail' : 'info', status: reason };
}

function networkReason(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return 'client-timeout';
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
