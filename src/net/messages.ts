// Peer protocol messages: one discriminated union, and the only place that maps them to and
// from the array form that goes on the wire. Numeric type ids are part of the protocol:
// ONLY APPEND TO MSG, never renumber. PROTOCOL_VERSION is checked in the handshake.

import type { Version } from '../core/version.js';

export const PROTOCOL_VERSION = 1;

export const MSG = Object.freeze({
  hello: 1,
  helloAck: 2,
  ping: 3,
  pong: 4,
  read: 5,
  readReply: 6,
  write: 7,
  writeReply: 8,
  error: 9,
} as const);

export interface Hello {
  readonly type: 'hello';
  readonly protocol: number;
  readonly cluster: string;
  readonly node: string;
  /** Random bytes the other side must MAC to prove it holds the cluster secret. */
  readonly nonce: Uint8Array;
  /** HMAC over the other side's nonce, or null when no secret is configured / not yet known. */
  readonly mac: Uint8Array | null;
}
export interface HelloAck {
  readonly type: 'helloAck';
  readonly protocol: number;
  readonly node: string;
  readonly nonce: Uint8Array;
  readonly mac: Uint8Array | null;
}
export interface Ping {
  readonly type: 'ping';
  readonly id: number;
}
export interface Pong {
  readonly type: 'pong';
  readonly id: number;
}
export interface ReadRequest {
  readonly type: 'read';
  readonly id: number;
  readonly key: string;
}
export interface ReadReply {
  readonly type: 'readReply';
  readonly id: number;
  readonly version: Version | null;
}
export interface WriteRequest {
  readonly type: 'write';
  readonly id: number;
  readonly key: string;
  readonly version: Version;
}
export interface WriteReply {
  readonly type: 'writeReply';
  readonly id: number;
  /** False when the replica already held a newer version (still a success). */
  readonly applied: boolean;
}
export interface ErrorReply {
  readonly type: 'error';
  readonly id: number;
  readonly message: string;
}

export type PeerRequest = Ping | ReadRequest | WriteRequest;
export type PeerReply = Pong | ReadReply | WriteReply | ErrorReply;
export type PeerMessage = Hello | HelloAck | PeerRequest | PeerReply;

/** Replies without their id: what a request handler returns. */
export type PeerReplyBody =
  | { readonly type: 'pong' }
  | { readonly type: 'readReply'; readonly version: Version | null }
  | { readonly type: 'writeReply'; readonly applied: boolean }
  | { readonly type: 'error'; readonly message: string };

/** Requests without their id: what callers of the transport pass in. */
export type PeerRequestBody =
  | { readonly type: 'ping' }
  | { readonly type: 'read'; readonly key: string }
  | { readonly type: 'write'; readonly key: string; readonly version: Version };

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** The storage format keeps wall time in 48 bits. */
const WALL_MS_MAX = 2 ** 48 - 1;

type WireVersion = [number, number, string, boolean, string, Uint8Array];

function versionToWire(v: Version): WireVersion {
  return [v.ts.wallMs, v.ts.logical, v.ts.node, v.tombstone, v.contentType, v.value];
}

function bad(what: string): never {
  throw new ProtocolError(`malformed ${what}`);
}

const isUint = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isStr = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;

function versionFromWire(x: unknown): Version {
  if (!Array.isArray(x) || x.length !== 6) bad('version');
  const [wallMs, logical, node, tombstone, contentType, value] = x as unknown[];
  if (
    !isUint(wallMs) ||
    wallMs > WALL_MS_MAX ||
    !isUint(logical) ||
    logical > 0xffff_ffff ||
    !isStr(node, 64) ||
    typeof tombstone !== 'boolean'
  )
    bad('version');
  if (!isStr(contentType, 1024) || !isBytes(value)) bad('version');
  return { ts: { wallMs, logical, node }, tombstone, contentType, value };
}

export function toWire(m: PeerMessage): unknown[] {
  switch (m.type) {
    case 'hello':
      return [MSG.hello, m.protocol, m.cluster, m.node, m.nonce, m.mac];
    case 'helloAck':
      return [MSG.helloAck, m.protocol, m.node, m.nonce, m.mac];
    case 'ping':
      return [MSG.ping, m.id];
    case 'pong':
      return [MSG.pong, m.id];
    case 'read':
      return [MSG.read, m.id, m.key];
    case 'readReply':
      return [MSG.readReply, m.id, m.version === null ? null : versionToWire(m.version)];
    case 'write':
      return [MSG.write, m.id, m.key, versionToWire(m.version)];
    case 'writeReply':
      return [MSG.writeReply, m.id, m.applied];
    case 'error':
      return [MSG.error, m.id, m.message];
    default: {
      const never: never = m;
      throw new ProtocolError(`unknown message ${JSON.stringify(never)}`);
    }
  }
}

/** Validates a decoded frame and builds the typed message; throws ProtocolError on anything else. */
export function fromWire(x: unknown): PeerMessage {
  if (!Array.isArray(x) || x.length < 2 || x.length > 8) bad('frame');
  const a = x as unknown[];
  const t = a[0];
  switch (t) {
    case MSG.hello: {
      const [, protocol, cluster, node, nonce, mac] = a;
      if (!isUint(protocol) || !isStr(cluster, 128) || !isStr(node, 64) || !isBytes(nonce))
        bad('hello');
      if (mac !== null && !isBytes(mac)) bad('hello');
      return { type: 'hello', protocol, cluster, node, nonce, mac };
    }
    case MSG.helloAck: {
      const [, protocol, node, nonce, mac] = a;
      if (!isUint(protocol) || !isStr(node, 64) || !isBytes(nonce)) bad('helloAck');
      if (mac !== null && !isBytes(mac)) bad('helloAck');
      return { type: 'helloAck', protocol, node, nonce, mac };
    }
    case MSG.ping:
    case MSG.pong: {
      if (!isUint(a[1])) bad('ping');
      return { type: t === MSG.ping ? 'ping' : 'pong', id: a[1] };
    }
    case MSG.read: {
      const [, id, key] = a;
      if (!isUint(id) || !isStr(key, 4096)) bad('read');
      return { type: 'read', id, key };
    }
    case MSG.readReply: {
      const [, id, v] = a;
      if (!isUint(id)) bad('readReply');
      return { type: 'readReply', id, version: v === null ? null : versionFromWire(v) };
    }
    case MSG.write: {
      const [, id, key, v] = a;
      if (!isUint(id) || !isStr(key, 4096)) bad('write');
      return { type: 'write', id, key, version: versionFromWire(v) };
    }
    case MSG.writeReply: {
      const [, id, applied] = a;
      if (!isUint(id) || typeof applied !== 'boolean') bad('writeReply');
      return { type: 'writeReply', id, applied };
    }
    case MSG.error: {
      const [, id, message] = a;
      if (!isUint(id) || !isStr(message, 4096)) bad('error');
      return { type: 'error', id, message };
    }
    default:
      return bad(`frame type ${String(t)}`);
  }
}
