// The page's only way to the node: the admin API with the bearer token when the node has one,
// and /kv for the "try it" box. The token lives in this tab's sessionStorage (gone when the
// tab closes), never in a cookie or localStorage, and goes only to this page's own origin.

import type { ClusterView, FaultResult, LinkFaults, PbsCurves } from './wire.js';

const TOKEN_KEY = 'kvorum.adminToken';

/** The node refused the call for want of the right token (401). */
export class TokenNeeded extends Error {
  constructor(readonly hadToken: boolean) {
    super(hadToken ? 'the admin token was refused' : 'this node needs its admin token');
  }
}

/** The node answered an admin call with an error: its JSON `message` when it sent one. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value === null || value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const t = token();
  if (t !== null) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 401) throw new TokenNeeded(t !== null);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const message =
      typeof parsed === 'object' && parsed !== null && 'message' in parsed
        ? String((parsed as { message: unknown }).message)
        : `HTTP ${res.status}`;
    throw new AdminError(res.status, message);
  }
  return parsed as T;
}

export const api = {
  cluster: () => admin<ClusterView>('GET', '/admin/console'),
  pbsCurve: () => admin<PbsCurves>('GET', '/admin/pbs/curve'),
  partition: (groups: readonly (readonly string[])[]) =>
    admin<FaultResult>('POST', '/admin/partition', { groups }),
  heal: () => admin<FaultResult>('POST', '/admin/heal', {}),
  faults: () => admin<LinkFaults>('GET', '/admin/faults'),
  setFaults: (spec: LinkFaults) => admin<LinkFaults>('PUT', '/admin/faults', spec),
};
