// The binary form of a Version as the replica store keeps it in LevelDB: compact, hand-written
// (msgpackr belongs to the peer protocol), one allocation per encode, and checked on decode.
//
// Layout, big-endian:
//   [u8 flags][u48 wallMs][u32 logical][u8 nodeLen][node utf8][u16 ctLen][contentType utf8][value]
// flags bit 0 is the tombstone; the other bits must be 0, which leaves room for a later format
// to mark itself without breaking stores written by this one. The value runs to the end.

import type { Version } from '../core/version.js';

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

  const out = Buffer.allocUnsafe(HEADER_BYTES + nodeBytes + ctBytes + value.length);
  let at = out.writeUInt8(tombstone ? FLAG_TOMBSTONE : 0, 0);
  at = out.writeUIntBE(ts.wallMs, at, 6);
  at = out.writeUInt32BE(ts.logical, at);
  at = out.writeUInt8(nodeBytes, at);
  at += out.write(ts.node, at, 'utf8');
  at = out.writeUInt16BE(ctBytes, at);
  at += out.write(contentType, at, 'utf8');
  out.set(value, at);
  return out;
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
