// Peer protocol messages: one discriminated union, and the only place that maps them to and
// from the array form that goes on the wire. Numeric type ids are part of the protocol:
// ONLY APPEND TO MSG, never renumber. PROTOCOL_VERSION is checked in the handshake.

import type { Sibling, VClock, VersionSet } from '../core/version-set.js';
import { LIMITS } from '../config.js';
import type { Ballot, PaxosReply, PaxosRequest } from '../core/consensus.js';
import {
  layoutFromWire,
  layoutToWire,
  proposedFromWire,
  proposedToWire,
  type LayoutHistory,
  type ProposedLayout,
} from '../core/layout.js';

/**
 * 2: version sets (dotted version vectors) replaced single versions; anti-entropy.
 * 3: layout gossip and consensus (elastic membership); writeBatch (hint replay).
 */
export const PROTOCOL_VERSION = 3;

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
  update: 10,
  updateReply: 11,
  handoff: 12,
  purge: 13,
  purgeReply: 14,
  aeGroups: 15,
  aeGroupsReply: 16,
  aeLeaves: 17,
  aeLeavesReply: 18,
  aeKeys: 19,
  aeKeysReply: 20,
  aeFetch: 21,
  aeFetchReply: 22,
  layout: 23,
  layoutReply: 24,
  paxos: 25,
  paxosReply: 26,
  writeBatch: 27,
  writeBatchReply: 28,
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
  readonly set: VersionSet | null;
}
/** Merge `set` into what the replica holds for `key` (writes, repairs, hint replay). */
export interface WriteRequest {
  readonly type: 'write';
  readonly id: number;
  readonly key: string;
  readonly set: VersionSet;
}
export interface WriteReply {
  readonly type: 'writeReply';
  readonly id: number;
  /** False when the replica already held everything in the set (still a success). */
  readonly applied: boolean;
}
/** One key and the set to merge into it, as a writeBatch carries them. */
export type WriteEntry = readonly [key: string, set: VersionSet];
/**
 * Merge each entry's set into what the replica holds for its key, as a `write` would: many
 * sets in one round trip (hint replay catching a replica up).
 */
export interface WriteBatchRequest {
  readonly type: 'writeBatch';
  readonly id: number;
  readonly entries: readonly WriteEntry[];
}
export interface WriteBatchReply {
  readonly type: 'writeBatchReply';
  readonly id: number;
  /** Entries that changed what the replica held. */
  readonly applied: number;
  /** Indices (ascending) of the entries the replica could not merge; every other one it holds. */
  readonly failed: readonly number[];
}
/** Siblings mode: issue a write (give it a dot) against the replica's own state. */
export interface UpdateRequest {
  readonly type: 'update';
  readonly id: number;
  readonly key: string;
  readonly context: VClock;
  readonly tombstone: boolean;
  readonly contentType: string;
  readonly value: Uint8Array;
}
export interface UpdateReply {
  readonly type: 'updateReply';
  readonly id: number;
  /** The set the replica now holds, or null when it refused: the sibling cap, or notIssuer. */
  readonly set: VersionSet | null;
  readonly siblings: number;
  readonly limit: number;
  /** Refused: the replica is not in the key's read set as it knows the layout (NotAnIssuerError). */
  readonly notIssuer?: true;
}
/** Sloppy quorum: keep `set` as a hint for `home`, which is down. Answered with writeReply. */
export interface HandoffRequest {
  readonly type: 'handoff';
  readonly id: number;
  readonly home: string;
  readonly key: string;
  readonly set: VersionSet;
}
/** Tombstone GC: drop `key` if it still holds exactly `set`, and hints `set` covers. */
export interface PurgeRequest {
  readonly type: 'purge';
  readonly id: number;
  readonly key: string;
  readonly set: VersionSet;
}
export interface PurgeReply {
  readonly type: 'purgeReply';
  readonly id: number;
  readonly purged: boolean;
}
/** Anti-entropy: the top level of the sender's hash tree for the keys both nodes replicate. */
export interface AeGroupsRequest {
  readonly type: 'aeGroups';
  readonly id: number;
}
export interface AeGroupsReply {
  readonly type: 'aeGroupsReply';
  readonly id: number;
  /** 8 bytes per group. */
  readonly hashes: Uint8Array;
}
export interface AeLeavesReply {
  readonly type: 'aeLeavesReply';
  readonly id: number;
  /** 8 bytes per leaf, the asked groups' leaves in the order asked. */
  readonly hashes: Uint8Array;
}
export interface AeLeavesRequest {
  readonly type: 'aeLeaves';
  readonly id: number;
  readonly groups: readonly number[];
}
export interface AeKeysRequest {
  readonly type: 'aeKeys';
  readonly id: number;
  readonly segments: readonly number[];
}
export interface AeKeysReply {
  readonly type: 'aeKeysReply';
  readonly id: number;
  readonly keys: readonly string[];
  /** 8 bytes per key: the digest of the set held for it. */
  readonly digests: Uint8Array;
}
export interface AeFetchRequest {
  readonly type: 'aeFetch';
  readonly id: number;
  readonly keys: readonly string[];
}
export interface AeFetchReply {
  readonly type: 'aeFetchReply';
  readonly id: number;
  readonly sets: readonly (VersionSet | null)[];
}
/** Layout gossip: the sender's history; the receiver merges it and answers with its own. */
export interface LayoutRequest {
  readonly type: 'layout';
  readonly id: number;
  readonly history: LayoutHistory;
}
export interface LayoutReply {
  readonly type: 'layoutReply';
  readonly id: number;
  readonly history: LayoutHistory;
}
/** Consensus on the next layout version: one Paxos request for the receiver's acceptor. */
export interface PaxosMessage {
  readonly type: 'paxos';
  readonly id: number;
  readonly req: PaxosRequest<ProposedLayout>;
}
export interface PaxosReplyMessage {
  readonly type: 'paxosReply';
  readonly id: number;
  readonly reply: PaxosReply<ProposedLayout>;
}
export interface ErrorReply {
  readonly type: 'error';
  readonly id: number;
  readonly message: string;
}

export type PeerRequest =
  | Ping
  | ReadRequest
  | WriteRequest
  | WriteBatchRequest
  | UpdateRequest
  | HandoffRequest
  | PurgeRequest
  | AeGroupsRequest
  | AeLeavesRequest
  | AeKeysRequest
  | AeFetchRequest
  | LayoutRequest
  | PaxosMessage;
export type PeerReply =
  | Pong
  | ReadReply
  | WriteReply
  | WriteBatchReply
  | UpdateReply
  | PurgeReply
  | AeGroupsReply
  | AeLeavesReply
  | AeKeysReply
  | AeFetchReply
  | LayoutReply
  | PaxosReplyMessage
  | ErrorReply;
export type PeerMessage = Hello | HelloAck | PeerRequest | PeerReply;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** Replies without their id: what a request handler returns. */
export type PeerReplyBody = WithoutId<PeerReply>;
/** Requests without their id: what callers of the transport pass in. */
export type PeerRequestBody = WithoutId<PeerRequest>;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** The storage format keeps wall time in 48 bits. */
const WALL_MS_MAX = 2 ** 48 - 1;

/** Anti-entropy requests name at most this many groups, segments or keys. */
const AE_ITEMS_MAX = LIMITS.aeItemsPerMessageMax;
const CLOCK_ENTRIES_MAX = LIMITS.clockEntriesMax;
const BATCH_ENTRIES_MAX = LIMITS.writeBatchEntriesMax;
const SIBLINGS_WIRE_MAX = LIMITS.siblingsWireMax;

// A set on the wire: [[node, counter, node, counter, ...], [sibling, ...]], each sibling
// [dotNode | null, dotCounter, wallMs, logical, tsNode, tombstone, contentType, value].
type WireSibling = [string | null, number, number, number, string, boolean, string, Uint8Array];
type WireSet = [(string | number)[], WireSibling[]];

function clockToWire(clock: VClock): (string | number)[] {
  const flat: (string | number)[] = [];
  for (const [node, counter] of clock) flat.push(node, counter);
  return flat;
}

function setToWire(set: VersionSet): WireSet {
  return [
    clockToWire(set.clock),
    set.siblings.map((s) => [
      s.dot === null ? null : s.dot.node,
      s.dot === null ? 0 : s.dot.counter,
      s.ts.wallMs,
      s.ts.logical,
      s.ts.node,
      s.tombstone,
      s.contentType,
      s.value,
    ]),
  ];
}

function bad(what: string): never {
  throw new ProtocolError(`malformed ${what}`);
}

const isUint = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isStr = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;

const COUNTER_MAX = 2 ** 48 - 1;
/** Dots and clocks name actors: a node id (64) and an epoch (src/replica/actor.ts). */
const ACTOR_CHARS_MAX = 96;

function clockFromWire(x: unknown): VClock {
  if (!Array.isArray(x) || x.length % 2 !== 0 || x.length > 2 * CLOCK_ENTRIES_MAX) bad('clock');
  const out: [string, number][] = [];
  for (let i = 0; i < x.length; i += 2) {
    const node: unknown = x[i];
    const counter: unknown = x[i + 1];
    if (!isStr(node, ACTOR_CHARS_MAX) || !isUint(counter) || counter === 0 || counter > COUNTER_MAX)
      bad('clock');
    const prev = out[out.length - 1];
    if (prev !== undefined && prev[0] >= node) bad('clock');
    out.push([node, counter]);
  }
  return out;
}

function siblingFromWire(x: unknown): Sibling {
  if (!Array.isArray(x) || x.length !== 8) bad('sibling');
  const [dotNode, dotCounter, wallMs, logical, node, tombstone, contentType, value] =
    x as unknown[];
  if (
    dotNode !== null &&
    (!isStr(dotNode, ACTOR_CHARS_MAX) || !isUint(dotCounter) || dotCounter === 0)
  )
    bad('sibling');
  if (dotNode !== null && (dotCounter as number) > COUNTER_MAX) bad('sibling');
  if (
    !isUint(wallMs) ||
    wallMs > WALL_MS_MAX ||
    !isUint(logical) ||
    logical > 0xffff_ffff ||
    !isStr(node, 64) ||
    typeof tombstone !== 'boolean'
  )
    bad('sibling');
  if (!isStr(contentType, 1024) || !isBytes(value)) bad('sibling');
  if (tombstone && value.length !== 0) bad('sibling');
  return {
    dot: dotNode === null ? null : { node: dotNode, counter: dotCounter as number },
    ts: { wallMs, logical, node },
    tombstone,
    contentType,
    value,
  };
}

function setFromWire(x: unknown): VersionSet {
  if (!Array.isArray(x) || x.length !== 2) bad('version set');
  const [clock, siblings] = x as unknown[];
  if (!Array.isArray(siblings) || siblings.length === 0 || siblings.length > SIBLINGS_WIRE_MAX)
    bad('version set');
  return { clock: clockFromWire(clock), siblings: siblings.map(siblingFromWire) };
}

const setOrNull = (x: unknown): VersionSet | null => (x === null ? null : setFromWire(x));

function uintList(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || x.length > AE_ITEMS_MAX || !x.every(isUint)) bad(what);
  return x as number[];
}

function keyList(x: unknown, what: string): string[] {
  if (!Array.isArray(x) || x.length > AE_ITEMS_MAX || !x.every((k) => isStr(k, 4096))) bad(what);
  return x as string[];
}

function entriesFromWire(x: unknown): WriteEntry[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > BATCH_ENTRIES_MAX) bad('writeBatch');
  return x.map((entry: unknown): WriteEntry => {
    if (!Array.isArray(entry) || entry.length !== 2) bad('writeBatch');
    const [key, set] = entry as unknown[];
    if (!isStr(key, 4096)) bad('writeBatch');
    return [key, setFromWire(set)];
  });
}

/** Indices into a batch: ascending, each below the entry limit. */
function indicesFromWire(x: unknown): number[] {
  if (!Array.isArray(x) || x.length > BATCH_ENTRIES_MAX) bad('writeBatchReply');
  let prev = -1;
  for (const i of x) {
    if (!isUint(i) || i <= prev || i >= BATCH_ENTRIES_MAX) bad('writeBatchReply');
    prev = i;
  }
  return x as number[];
}

type WireBallot = [number, string];
const ballotToWire = (b: Ballot): WireBallot => [b.round, b.node];

function ballotFromWire(x: unknown): Ballot {
  if (!Array.isArray(x) || x.length !== 2) bad('ballot');
  const [round, node] = x as unknown[];
  if (!isUint(round) || round < 1 || round > Number.MAX_SAFE_INTEGER || !isStr(node, 64))
    bad('ballot');
  return { round, node };
}

/** The layout codec checks every field; its errors become this protocol's. */
function checked<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw new ProtocolError(`malformed ${what}: ${(err as Error).message.slice(0, 200)}`);
  }
}

function paxosRequestToWire(r: PaxosRequest<ProposedLayout>): unknown[] {
  return r.kind === 'prepare'
    ? ['prepare', r.slot, ballotToWire(r.ballot), null]
    : ['accept', r.slot, ballotToWire(r.ballot), proposedToWire(r.value)];
}

function paxosRequestFromWire(x: unknown): PaxosRequest<ProposedLayout> {
  if (!Array.isArray(x) || x.length !== 4) bad('paxos');
  const [kind, slot, ballot, value] = x as unknown[];
  if (!isUint(slot) || slot < 1 || slot > Number.MAX_SAFE_INTEGER) bad('paxos');
  if (kind === 'prepare' && value === null)
    return { kind: 'prepare', slot, ballot: ballotFromWire(ballot) };
  if (kind === 'accept') {
    const proposal = checked('paxos', () => proposedFromWire(value));
    return { kind: 'accept', slot, ballot: ballotFromWire(ballot), value: proposal };
  }
  return bad('paxos');
}

function paxosReplyToWire(r: PaxosReply<ProposedLayout>): unknown[] {
  const accepted =
    r.kind === 'promise' && r.accepted !== undefined
      ? [ballotToWire(r.accepted.ballot), proposedToWire(r.accepted.value)]
      : null;
  return [r.kind, r.ok, ballotToWire(r.promised), accepted];
}

function paxosReplyFromWire(x: unknown): PaxosReply<ProposedLayout> {
  if (!Array.isArray(x) || x.length !== 4) bad('paxosReply');
  const [kind, ok, promised, accepted] = x as unknown[];
  if (typeof ok !== 'boolean') bad('paxosReply');
  if (kind === 'accepted' && accepted === null)
    return { kind: 'accepted', ok, promised: ballotFromWire(promised) };
  if (kind !== 'promise') bad('paxosReply');
  if (accepted === null) return { kind: 'promise', ok, promised: ballotFromWire(promised) };
  if (!Array.isArray(accepted) || accepted.length !== 2) bad('paxosReply');
  const [ballot, value] = accepted as unknown[];
  return {
    kind: 'promise',
    ok,
    promised: ballotFromWire(promised),
    accepted: {
      ballot: ballotFromWire(ballot),
      value: checked('paxosReply', () => proposedFromWire(value)),
    },
  };
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
      return [MSG.readReply, m.id, m.set === null ? null : setToWire(m.set)];
    case 'write':
      return [MSG.write, m.id, m.key, setToWire(m.set)];
    case 'writeReply':
      return [MSG.writeReply, m.id, m.applied];
    case 'writeBatch':
      return [MSG.writeBatch, m.id, m.entries.map(([key, set]) => [key, setToWire(set)])];
    case 'writeBatchReply':
      return [MSG.writeBatchReply, m.id, m.applied, m.failed];
    case 'update':
      return [MSG.update, m.id, m.key, clockToWire(m.context), m.tombstone, m.contentType, m.value];
    case 'updateReply':
      return [
        MSG.updateReply,
        m.id,
        m.set === null ? null : setToWire(m.set),
        m.siblings,
        m.limit,
        ...(m.notIssuer ? [true] : []),
      ];
    case 'handoff':
      return [MSG.handoff, m.id, m.home, m.key, setToWire(m.set)];
    case 'purge':
      return [MSG.purge, m.id, m.key, setToWire(m.set)];
    case 'purgeReply':
      return [MSG.purgeReply, m.id, m.purged];
    case 'aeGroups':
      return [MSG.aeGroups, m.id];
    case 'aeGroupsReply':
      return [MSG.aeGroupsReply, m.id, m.hashes];
    case 'aeLeaves':
      return [MSG.aeLeaves, m.id, m.groups];
    case 'aeLeavesReply':
      return [MSG.aeLeavesReply, m.id, m.hashes];
    case 'aeKeys':
      return [MSG.aeKeys, m.id, m.segments];
    case 'aeKeysReply':
      return [MSG.aeKeysReply, m.id, m.keys, m.digests];
    case 'aeFetch':
      return [MSG.aeFetch, m.id, m.keys];
    case 'aeFetchReply':
      return [MSG.aeFetchReply, m.id, m.sets.map((x) => (x === null ? null : setToWire(x)))];
    case 'layout':
      return [MSG.layout, m.id, layoutToWire(m.history)];
    case 'layoutReply':
      return [MSG.layoutReply, m.id, layoutToWire(m.history)];
    case 'paxos':
      return [MSG.paxos, m.id, paxosRequestToWire(m.req)];
    case 'paxosReply':
      return [MSG.paxosReply, m.id, paxosReplyToWire(m.reply)];
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
      return { type: 'readReply', id, set: setOrNull(v) };
    }
    case MSG.write: {
      const [, id, key, v] = a;
      if (!isUint(id) || !isStr(key, 4096)) bad('write');
      return { type: 'write', id, key, set: setFromWire(v) };
    }
    case MSG.update: {
      const [, id, key, context, tombstone, contentType, value] = a;
      if (!isUint(id) || !isStr(key, 4096) || typeof tombstone !== 'boolean') bad('update');
      if (!isStr(contentType, 1024) || !isBytes(value)) bad('update');
      return {
        type: 'update',
        id,
        key,
        context: clockFromWire(context),
        tombstone,
        contentType,
        value,
      };
    }
    case MSG.updateReply: {
      const [, id, set, siblings, limit, notIssuer] = a;
      if (!isUint(id) || !isUint(siblings) || !isUint(limit)) bad('updateReply');
      if (notIssuer !== undefined && notIssuer !== true) bad('updateReply');
      const reply = { type: 'updateReply', id, set: setOrNull(set), siblings, limit } as const;
      return notIssuer === true ? { ...reply, notIssuer } : reply;
    }
    case MSG.handoff: {
      const [, id, home, key, set] = a;
      if (!isUint(id) || !isStr(home, 64) || !isStr(key, 4096)) bad('handoff');
      return { type: 'handoff', id, home, key, set: setFromWire(set) };
    }
    case MSG.purge: {
      const [, id, key, set] = a;
      if (!isUint(id) || !isStr(key, 4096)) bad('purge');
      return { type: 'purge', id, key, set: setFromWire(set) };
    }
    case MSG.purgeReply: {
      const [, id, purged] = a;
      if (!isUint(id) || typeof purged !== 'boolean') bad('purgeReply');
      return { type: 'purgeReply', id, purged };
    }
    case MSG.aeGroups: {
      if (!isUint(a[1])) bad('aeGroups');
      return { type: 'aeGroups', id: a[1] };
    }
    case MSG.aeGroupsReply:
    case MSG.aeLeavesReply: {
      const [, id, hashes] = a;
      if (!isUint(id) || !isBytes(hashes) || hashes.length % 8 !== 0) bad('hashes');
      return t === MSG.aeGroupsReply
        ? { type: 'aeGroupsReply', id, hashes }
        : { type: 'aeLeavesReply', id, hashes };
    }
    case MSG.aeLeaves: {
      const [, id, groups] = a;
      if (!isUint(id)) bad('aeLeaves');
      return { type: 'aeLeaves', id, groups: uintList(groups, 'aeLeaves') };
    }
    case MSG.aeKeys: {
      const [, id, segments] = a;
      if (!isUint(id)) bad('aeKeys');
      return { type: 'aeKeys', id, segments: uintList(segments, 'aeKeys') };
    }
    case MSG.aeKeysReply: {
      const [, id, keys, digests] = a;
      if (!isUint(id) || !Array.isArray(keys) || !keys.every((k) => isStr(k, 4096)))
        bad('aeKeysReply');
      if (!isBytes(digests) || digests.length !== keys.length * 8) bad('aeKeysReply');
      return { type: 'aeKeysReply', id, keys: keys as string[], digests };
    }
    case MSG.aeFetch: {
      const [, id, keys] = a;
      if (!isUint(id)) bad('aeFetch');
      return { type: 'aeFetch', id, keys: keyList(keys, 'aeFetch') };
    }
    case MSG.aeFetchReply: {
      const [, id, sets] = a;
      if (!isUint(id) || !Array.isArray(sets) || sets.length > AE_ITEMS_MAX) bad('aeFetchReply');
      return { type: 'aeFetchReply', id, sets: sets.map(setOrNull) };
    }
    case MSG.writeReply: {
      const [, id, applied] = a;
      if (!isUint(id) || typeof applied !== 'boolean') bad('writeReply');
      return { type: 'writeReply', id, applied };
    }
    case MSG.writeBatch: {
      const [, id, entries] = a;
      if (!isUint(id)) bad('writeBatch');
      return { type: 'writeBatch', id, entries: entriesFromWire(entries) };
    }
    case MSG.writeBatchReply: {
      const [, id, applied, failed] = a;
      if (!isUint(id) || !isUint(applied)) bad('writeBatchReply');
      const indices = indicesFromWire(failed);
      if (applied + indices.length > BATCH_ENTRIES_MAX) bad('writeBatchReply');
      return { type: 'writeBatchReply', id, applied, failed: indices };
    }
    case MSG.layout:
    case MSG.layoutReply: {
      const [, id, wire] = a;
      if (!isUint(id)) bad('layout');
      const history = checked('layout', () => layoutFromWire(wire));
      return t === MSG.layout
        ? { type: 'layout', id, history }
        : { type: 'layoutReply', id, history };
    }
    case MSG.paxos: {
      const [, id, req] = a;
      if (!isUint(id)) bad('paxos');
      return { type: 'paxos', id, req: paxosRequestFromWire(req) };
    }
    case MSG.paxosReply: {
      const [, id, reply] = a;
      if (!isUint(id)) bad('paxosReply');
      return { type: 'paxosReply', id, reply: paxosReplyFromWire(reply) };
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
