// The binary form of a Version as the replica store keeps it in LevelDB: compact, hand-written
// (msgpackr belongs to the peer protocol), one allocation per encode, and checked on decode.
//
// Layout, big-endian:
//   [u8 flags][u48 wallMs][u32 logical][u8 nodeLen][node utf8][u16 ctLen][contentType utf8][value]
// flags bit 0 is the tombstone; the other bits must be 0, which leaves room for a later format
// to mark itself without breaking stores written by this one. The value runs to the end.

import type { Version } from '../core/version.js';
import type { Sibling, VersionSet } from '../core/version-set.js';

const FLAG_TOMBSTONE = 0x01;
const FLAGS_KNOWN = FLAG_TOMBSTONE;
/** Bytes of the fixed fields: flags, wallMs, logical, nodeLen, ctLen. */
const HEADER_BYTES = 1 + 6 + 4 + 1 + 2;
/** 2^48 ms after the epoch is the year 10889: a u48 holds every wall clock we will meet. */
const WALL_MS_MAX = 2 ** 48 - 1;
const LOGICAL_MAX = 2 ** 32 - 1;
const NODE_BYTES_MAX = 255;
const CONTENT_TYPE_BYTES_MAX = 65_535;

/** A stored version that cannot be decoded, or a version that cannot be encoded. */
export class VersionCodecError extends Error {
  override readonly name = 'VersionCodecError';
}

export function encodeVersion(version: Version): Buffer {
  const out = Buffer.allocUnsafe(versionBytes(version));
  writeVersion(out, 0, version);
  return out;
}

/** The checked size of `version` encoded: throws what encodeVersion would. */
function versionBytes(version: Version): number {
  const { ts, tombstone, contentType, value } = version;
  if (!Number.isInteger(ts.wallMs) || ts.wallMs < 0 || ts.wallMs > WALL_MS_MAX) {
    throw new VersionCodecError(`wallMs must be an integer from 0 to 2^48-1, got ${ts.wallMs}`);
  }
  if (!Number.isInteger(ts.logical) || ts.logical < 0 || ts.logical > LOGICAL_MAX) {
    throw new VersionCodecError(`logical must be an integer from 0 to 2^32-1, got ${ts.logical}`);
  }
  if (tombstone && value.length !== 0) {
    throw new VersionCodecError('a tombstone carries no value');
  }
  const nodeBytes = Buffer.byteLength(ts.node, 'utf8');
  if (nodeBytes > NODE_BYTES_MAX) {
    throw new VersionCodecError(`node id is ${nodeBytes} bytes, at most ${NODE_BYTES_MAX} fit`);
  }
  const ctBytes = Buffer.byteLength(contentType, 'utf8');
  if (ctBytes > CONTENT_TYPE_BYTES_MAX) {
    throw new VersionCodecError(
      `content type is ${ctBytes} bytes, at most ${CONTENT_TYPE_BYTES_MAX} fit`,
    );
  }
  return HEADER_BYTES + nodeBytes + ctBytes + value.length;
}

/** Writes `version` (sized by versionBytes) into `out` at `at`; returns the end. */
function writeVersion(out: Buffer, at: number, version: Version): number {
  const { ts, tombstone, contentType, value } = version;
  at = out.writeUInt8(tombstone ? FLAG_TOMBSTONE : 0, at);
  at = out.writeUIntBE(ts.wallMs, at, 6);
  at = out.writeUInt32BE(ts.logical, at);
  const nodeAt = at;
  at += 1;
  const nodeBytes = out.write(ts.node, at, 'utf8');
  out.writeUInt8(nodeBytes, nodeAt);
  at += nodeBytes;
  const ctAt = at;
  at += 2;
  const ctBytes = out.write(contentType, at, 'utf8');
  out.writeUInt16BE(ctBytes, ctAt);
  at += ctBytes;
  out.set(value, at);
  return at + value.length;
}

/**
 * Decodes what encodeVersion wrote. The returned value is a view into `bytes` (no copy), so the
 * caller must not reuse that memory; level hands out a fresh buffer per read, which is safe.
 */
export function decodeVersion(bytes: Uint8Array): Version {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES) {
    throw corrupt(`${buf.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  const flags = buf.readUInt8(0);
  if ((flags & ~FLAGS_KNOWN) !== 0) {
    throw corrupt(`unknown flags 0x${flags.toString(16)}`);
  }
  const wallMs = buf.readUIntBE(1, 6);
  const logical = buf.readUInt32BE(7);
  const nodeBytes = buf.readUInt8(11);
  const nodeEnd = 12 + nodeBytes;
  // The u16 content-type length follows the node id, so the header must still fit after it.
  if (nodeEnd + 2 > buf.length) {
    throw corrupt(`node id length ${nodeBytes} runs past the end (${buf.length} bytes)`);
  }
  const node = buf.toString('utf8', 12, nodeEnd);
  const ctBytes = buf.readUInt16BE(nodeEnd);
  const ctStart = nodeEnd + 2;
  const ctEnd = ctStart + ctBytes;
  if (ctEnd > buf.length) {
    throw corrupt(`content type length ${ctBytes} runs past the end (${buf.length} bytes)`);
  }
  const contentType = buf.toString('utf8', ctStart, ctEnd);
  const tombstone = (flags & FLAG_TOMBSTONE) !== 0;
  if (tombstone && ctEnd !== buf.length) {
    throw corrupt(`a tombstone carries ${buf.length - ctEnd} value bytes`);
  }
  return {
    ts: { wallMs, logical, node },
    tombstone,
    contentType,
    value: buf.subarray(ctEnd),
  };
}

function corrupt(detail: string): VersionCodecError {
  return new VersionCodecError(`corrupt stored version: ${detail}`);
}

// A version set, as the store keeps it per key and per hint. Layout, big-endian:
//   [u8 0xD5 marker][u8 clockLen]([u8 nodeLen][node][u48 counter])*
//   [u32 siblingCount]([u8 dotNodeLen, 0 = no dot][dot node][u48 counter if dotted]
//                      [u32 versionLen][version as encodeVersion writes it])*
// The marker cannot start a single version (its flag bits must be 0), so a store written by
// the single-version format is recognised instead of misread.
const SET_MARKER = 0xd5;
const CLOCK_ENTRIES_MAX = 255;

/**
 * `owned` gives the record a buffer of its own instead of a slice of Node's shared pool, for a
 * record whose values will be kept as views into it (see withValuesIn): a pool slab that holds
 * one live view stays whole.
 */
export function encodeSet(set: VersionSet, owned = false): Buffer {
  if (set.clock.length > CLOCK_ENTRIES_MAX) {
    throw new VersionCodecError(`a clock of ${set.clock.length} entries does not fit`);
  }
  // Sized first, then written into one buffer: a set is encoded on every write a replica
  // applies, and the allocations of a buffer per field were a measurable share of that.
  let size = 2 + 4;
  for (const [node, counter] of set.clock) size += dotLikeBytes(node, counter);
  const bodies = new Array<number>(set.siblings.length);
  for (let i = 0; i < set.siblings.length; i++) {
    const s = set.siblings[i] as Sibling;
    const body = versionBytes(s);
    bodies[i] = body;
    size += (s.dot === null ? 1 : dotLikeBytes(s.dot.node, s.dot.counter)) + 4 + body;
  }
  const out = owned ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  let at = out.writeUInt8(SET_MARKER, 0);
  at = out.writeUInt8(set.clock.length, at);
  for (const [node, counter] of set.clock) at = writeDotLike(out, at, node, counter);
  at = out.writeUInt32BE(set.siblings.length, at);
  for (let i = 0; i < set.siblings.length; i++) {
    const s = set.siblings[i] as Sibling;
    at = s.dot === null ? out.writeUInt8(0, at) : writeDotLike(out, at, s.dot.node, s.dot.counter);
    at = out.writeUInt32BE(bodies[i] as number, at);
    at = writeVersion(out, at, s);
  }
  return out;
}

/**
 * `set`, with each sibling's value replaced by the view of the same bytes in `bytes`, the record
 * encodeSet(set) wrote. What a write keeps in memory then shares the record's one buffer instead
 * of pinning the socket read or HTTP body its value arrived in, or holding a copy of its own:
 * one copy and one allocation fewer per write than copying the value out (for 10 KiB values,
 * 10 KiB less for V8's external-memory accounting, whose growth starts full collections).
 */
export function withValuesIn(set: VersionSet, bytes: Buffer): VersionSet {
  let at = 2;
  for (let i = 0; i < set.clock.length; i++) at += 1 + (bytes[at] as number) + 6;
  at += 4;
  const siblings = new Array<Sibling>(set.siblings.length);
  for (let i = 0; i < set.siblings.length; i++) {
    const s = set.siblings[i] as Sibling;
    at += bytes[at] === 0 ? 1 : 1 + (bytes[at] as number) + 6;
    const versionEnd = at + 4 + bytes.readUInt32BE(at);
    siblings[i] =
      s.value.length === 0
        ? s
        : { ...s, value: bytes.subarray(versionEnd - s.value.length, versionEnd) };
    at = versionEnd;
  }
  return { clock: set.clock, siblings };
}

export function decodeSet(bytes: Uint8Array): VersionSet {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > buf.length) throw corrupt(`${what} runs past the end (${buf.length} bytes)`);
  };
  need(2, 'header');
  if (buf.readUInt8(0) !== SET_MARKER) {
    throw corrupt('not a version set (was this store written by an older kvorum?)');
  }
  const clockLen = buf.readUInt8(1);
  at = 2;
  const readNodeCounter = (what: string): [string, number] => {
    need(1, what);
    const len = buf.readUInt8(at);
    at += 1;
    if (len === 0) throw corrupt(`${what} has an empty node id`);
    need(len + 6, what);
    const node = buf.toString('utf8', at, at + len);
    at += len;
    const counter = buf.readUIntBE(at, 6);
    at += 6;
    if (counter === 0) throw corrupt(`${what} has a zero counter`);
    return [node, counter];
  };
  const clock: [string, number][] = [];
  for (let i = 0; i < clockLen; i++) clock.push(readNodeCounter('clock entry'));
  need(4, 'sibling count');
  const count = buf.readUInt32BE(at);
  at += 4;
  const siblings: Sibling[] = [];
  for (let i = 0; i < count; i++) {
    need(1, 'sibling');
    let dot: Sibling['dot'] = null;
    if (buf.readUInt8(at) === 0) at += 1;
    else {
      const [node, counter] = readNodeCounter('dot');
      dot = { node, counter };
    }
    need(4, 'sibling length');
    const len = buf.readUInt32BE(at);
    at += 4;
    need(len, 'sibling');
    const v = decodeVersion(buf.subarray(at, at + len));
    at += len;
    siblings.push({ ...v, dot });
  }
  if (at !== buf.length) throw corrupt(`${buf.length - at} bytes after the last sibling`);
  if (siblings.length === 0) throw corrupt('a version set with no siblings');
  return { clock, siblings };
}

/** The checked size of a clock entry or dot encoded. */
function dotLikeBytes(node: string, counter: number): number {
  const nodeBytes = Buffer.byteLength(node, 'utf8');
  if (nodeBytes === 0 || nodeBytes > NODE_BYTES_MAX) {
    throw new VersionCodecError(`node id is ${nodeBytes} bytes, 1 to ${NODE_BYTES_MAX} fit`);
  }
  if (!Number.isInteger(counter) || counter < 1 || counter > WALL_MS_MAX) {
    throw new VersionCodecError(`counter must be an integer from 1 to 2^48-1, got ${counter}`);
  }
  return 1 + nodeBytes + 6;
}

function writeDotLike(out: Buffer, at: number, node: string, counter: number): number {
  const nodeBytes = out.write(node, at + 1, 'utf8');
  out.writeUInt8(nodeBytes, at);
  return out.writeUIntBE(counter, at + 1 + nodeBytes, 6);
}
