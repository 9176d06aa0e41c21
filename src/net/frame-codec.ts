// Peer frames on the wire: a 4-byte big-endian length, then the msgpack encoding of a message's
// array form (messages.ts). The only module that touches msgpackr.

import { Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr';
import { LIMITS } from '../config.js';
import { fromWire, toWire, type PeerMessage } from './messages.js';

const HEADER_BYTES = 4;

/** A frame that cannot be a message: bad length or undecodable msgpack. The sender is broken or hostile. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

// useRecords: false keeps every frame self-describing, so peers never depend on structures they
// negotiated earlier. The unpacker resets record state on each call, so one instance serves all
// connections; maps become plain objects, and msgpackr renames a `__proto__` key to `__proto_`.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false });

/**
 * Encodes one message as a complete frame. msgpackr reserves the header bytes in front of the
 * body it writes, so the frame is built without a copy.
 */
export function encodeFrame(msg: PeerMessage): Buffer {
  const frame: Buffer = packr.pack(toWire(msg), RESERVE_START_SPACE | HEADER_BYTES);
  const bodyBytes = frame.length - HEADER_BYTES;
  if (bodyBytes > LIMITS.frameBytesMax) {
    throw new FrameError(
      `a ${msg.type} frame of ${bodyBytes} bytes exceeds the limit of ${LIMITS.frameBytesMax}`,
    );
  }
  frame.writeUInt32BE(bodyBytes, 0);
  return frame;
}

/**
 * Decodes one frame body to its msgpack value. Binary fields come back as views into `body`, so
 * the caller must not reuse that memory afterwards.
 */
export function decodePayload(body: Uint8Array): unknown {
  try {
    return unpackr.unpack(body);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new FrameError(`undecodable frame of ${body.length} bytes: ${why.slice(0, 120)}`);
  }
}

/**
 * Splits a byte stream into messages. Frames may arrive split across chunks or several to a
 * chunk; memory held for a partial frame is what has arrived, never its declared length. Throws
 * FrameError for bad framing or msgpack, ProtocolError (messages.ts) for msgpack that is not a
 * message; after either the stream is out of sync and the caller must close the connection.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFilled = 0;
  /** Declared length of the frame whose body is being collected, or -1 while reading a header. */
  private bodyBytes = -1;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private failed = false;
  private framesSeen = 0;

  /**
   * `leading` caps the first frames of a stream tighter: the handshake's hellos are tiny, so a
   * peer that has not proven anything yet cannot make this side collect a large frame. It counts
   * frames rather than waiting for a "handshake done" call because the first request may share a
   * chunk with the last hello.
   */
  constructor(
    private readonly frameBytesMax: number = LIMITS.frameBytesMax,
    private readonly leading: { readonly frames: number; readonly frameBytesMax: number } = {
      frames: 0,
      frameBytesMax: 0,
    },
  ) {}

  push(chunk: Buffer): PeerMessage[] {
    if (this.failed) throw new FrameError('frame stream is out of sync after an earlier error');
    try {
      return this.pushChunk(chunk);
    } catch (err) {
      this.failed = true;
      this.parts = [];
      throw err;
    }
  }

  private pushChunk(chunk: Buffer): PeerMessage[] {
    const out: PeerMessage[] = [];
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.bodyBytes < 0) {
        let len: number;
        if (this.headerFilled === 0 && end - pos >= HEADER_BYTES) {
          len = chunk.readUInt32BE(pos);
          pos += HEADER_BYTES;
        } else {
          const n = Math.min(HEADER_BYTES - this.headerFilled, end - pos);
          chunk.copy(this.header, this.headerFilled, pos, pos + n);
          this.headerFilled += n;
          pos += n;
          if (this.headerFilled < HEADER_BYTES) break;
          this.headerFilled = 0;
          len = this.header.readUInt32BE(0);
        }
        this.checkLength(len);
        if (end - pos >= len) {
          // The common case: the whole body is in this chunk, decode it in place.
          out.push(fromWire(decodePayload(chunk.subarray(pos, pos + len))));
          pos += len;
          continue;
        }
        this.bodyBytes = len;
      }
      const n = Math.min(this.bodyBytes - this.partsBytes, end - pos);
      this.parts.push(chunk.subarray(pos, pos + n));
      this.partsBytes += n;
      pos += n;
      if (this.partsBytes === this.bodyBytes) {
        const body =
          this.parts.length === 1
            ? (this.parts[0] as Buffer)
            : Buffer.concat(this.parts, this.partsBytes);
        this.parts = [];
        this.partsBytes = 0;
        this.bodyBytes = -1;
        out.push(fromWire(decodePayload(body)));
      }
    }
    return out;
  }

  private checkLength(len: number): void {
    const maxBytes =
      this.framesSeen < this.leading.frames ? this.leading.frameBytesMax : this.frameBytesMax;
    this.framesSeen += 1;
    if (len > maxBytes) {
      throw new FrameError(`peer declared a frame of ${len} bytes; the limit is ${maxBytes}`);
    }
    if (len === 0) throw new FrameError('peer sent an empty frame');
  }
}
