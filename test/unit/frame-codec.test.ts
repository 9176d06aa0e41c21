import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import type { Version } from '../../src/core/version.js';
import { decodePayload, encodeFrame, FrameDecoder, FrameError } from '../../src/net/frame-codec.js';
import { MSG, PROTOCOL_VERSION, ProtocolError, type PeerMessage } from '../../src/net/messages.js';

const version: Version = {
  ts: { wallMs: 1_790_000_000_123, logical: 7, node: 'n2' },
  tombstone: false,
  contentType: 'application/octet-stream',
  value: new Uint8Array([0, 1, 2, 250, 255]),
};

const EVERY_MESSAGE: readonly PeerMessage[] = [
  {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    cluster: 'kvorum',
    node: 'n1',
    nonce: new Uint8Array(16).fill(7),
    mac: null,
  },
  {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    cluster: 'kvorum',
    node: 'n1',
    nonce: new Uint8Array(16),
    mac: new Uint8Array(32).fill(1),
  },
  {
    type: 'helloAck',
    protocol: PROTOCOL_VERSION,
    node: 'n2',
    nonce: new Uint8Array(16).fill(9),
    mac: null,
  },
  {
    type: 'helloAck',
    protocol: PROTOCOL_VERSION,
    node: 'n2',
    nonce: new Uint8Array(16),
    mac: new Uint8Array(32).fill(2),
  },
  { type: 'ping', id: 0 },
  { type: 'pong', id: 4_294_967_295 },
  { type: 'read', id: 1, key: 'user:42 ✓' },
  { type: 'readReply', id: 2, version },
  { type: 'readReply', id: 3, version: null },
  { type: 'readReply', id: 4, version: { ...version, tombstone: true, value: new Uint8Array(0) } },
  { type: 'write', id: 5, key: 'k', version },
  { type: 'writeReply', id: 6, applied: true },
  { type: 'writeReply', id: 7, applied: false },
  { type: 'error', id: 8, message: 'disk full' },
];

/** Binary fields decode as Buffers; compare them as plain bytes. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

function frameOf(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** msgpack for a one-entry map {"__proto__": {"polluted": true}}, written by hand. */
const PROTO_MAP = Buffer.concat([
  Buffer.from([0x81, 0xa9]),
  Buffer.from('__proto__'),
  Buffer.from([0x81, 0xa8]),
  Buffer.from('polluted'),
  Buffer.from([0xc3]),
]);

describe('frame codec', () => {
  it.each(EVERY_MESSAGE.map((m) => [`${m.type} ${'id' in m ? m.id : ''}`, m] as const))(
    'round-trips %s',
    (_name, msg) => {
      const frame = encodeFrame(msg);
      expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
      const out = new FrameDecoder().push(frame);
      expect(out).toHaveLength(1);
      expect(plain(out[0])).toEqual(plain(msg));
    },
  );

  it('reassembles a frame that arrives one byte at a time', () => {
    const msg: PeerMessage = { type: 'write', id: 9, key: 'byte-by-byte', version };
    const frame = encodeFrame(msg);
    const dec = new FrameDecoder();
    const out: PeerMessage[] = [];
    for (let i = 0; i < frame.length; i++) {
      const got = dec.push(frame.subarray(i, i + 1));
      if (i < frame.length - 1) expect(got).toEqual([]);
      out.push(...got);
    }
    expect(plain(out)).toEqual([plain(msg)]);
  });

  it('returns every frame of a chunk that holds three, in order', () => {
    const msgs = EVERY_MESSAGE.slice(5, 8);
    const out = new FrameDecoder().push(Buffer.concat(msgs.map(encodeFrame)));
    expect(plain(out)).toEqual(plain(msgs));
  });

  it('handles frames split across coalesced chunk boundaries, at every split point', () => {
    const msgs = EVERY_MESSAGE.slice(6, 11);
    const stream = Buffer.concat(msgs.map(encodeFrame));
    for (let a = 1; a < stream.length - 1; a += 3) {
      const b = Math.min(stream.length - 1, a + 17);
      const dec = new FrameDecoder();
      const out = [
        ...dec.push(stream.subarray(0, a)),
        ...dec.push(stream.subarray(a, b)),
        ...dec.push(stream.subarray(b)),
      ];
      expect(plain(out)).toEqual(plain(msgs));
    }
  });

  it('decodes a large value split across many chunks', () => {
    const big: Version = { ...version, value: Buffer.alloc(1024 * 1024, 0xab) };
    const stream = encodeFrame({ type: 'write', id: 1, key: 'big', version: big });
    const dec = new FrameDecoder();
    const out: PeerMessage[] = [];
    for (let i = 0; i < stream.length; i += 65_536)
      out.push(...dec.push(stream.subarray(i, i + 65_536)));
    expect(out).toHaveLength(1);
    const m = out[0] as PeerMessage & { type: 'write' };
    expect(Buffer.from(m.version.value).equals(big.value)).toBe(true);
  });

  it('rejects a 4 GiB declared length before buffering anything', () => {
    const dec = new FrameDecoder();
    const before = process.memoryUsage().arrayBuffers;
    expect(() => dec.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))).toThrow(FrameError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    // The stream is out of sync after an error; the decoder says so instead of guessing.
    expect(() => dec.push(encodeFrame({ type: 'ping', id: 1 }))).toThrow(FrameError);
  });

  it('rejects a declared length one past the limit, even when the header arrives split', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(LIMITS.frameBytesMax + 1, 0);
    const dec = new FrameDecoder();
    expect(dec.push(header.subarray(0, 2))).toEqual([]);
    expect(() => dec.push(header.subarray(2))).toThrow(/limit/);
  });

  it('holds the leading frames to their own limit, and later frames to the normal one', () => {
    const small = encodeFrame({ type: 'ping', id: 1 });
    const large = encodeFrame({ type: 'error', id: 1, message: 'x'.repeat(200) });
    const leading = { frames: 2, frameBytesMax: 100 };
    // A large frame right behind the handshake, in the same chunk, is fine.
    expect(
      new FrameDecoder(LIMITS.frameBytesMax, leading).push(Buffer.concat([small, small, large])),
    ).toHaveLength(3);
    expect(() =>
      new FrameDecoder(LIMITS.frameBytesMax, leading).push(Buffer.concat([small, large])),
    ).toThrow(/limit is 100/);
    expect(() => new FrameDecoder(100).push(large)).toThrow(FrameError);
  });

  it('refuses to encode a frame its receiver would reject', () => {
    const huge: Version = { ...version, value: Buffer.alloc(LIMITS.frameBytesMax + 1) };
    expect(() => encodeFrame({ type: 'write', id: 1, key: 'k', version: huge })).toThrow(
      FrameError,
    );
  });

  it.each([
    ['truncated msgpack', Buffer.from([0x93, 0x01])],
    ['trailing bytes after the value', Buffer.from([0x92, MSG.ping, 0x01, 0x02])],
    ['an empty frame', Buffer.alloc(0)],
    ['random bytes', Buffer.from('d9ffc7d6a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex')],
  ])('throws FrameError on %s', (_name, body) => {
    expect(() => new FrameDecoder().push(frameOf(body))).toThrow(FrameError);
  });

  it.each([
    ['a bare number', Buffer.from([0x05])],
    ['an unknown message type', Buffer.from([0x92, 0x7f, 0x01])],
    ['a ping whose id is a string', Buffer.from([0x92, MSG.ping, 0xa1, 0x61])],
    ['the reserved msgpack byte 0xc1', Buffer.from([0xc1])],
  ])('throws ProtocolError on %s', (_name, body) => {
    expect(() => new FrameDecoder().push(frameOf(body))).toThrow(ProtocolError);
  });

  it('never throws anything but FrameError or ProtocolError on random input', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x80000000;
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(
        Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
      );
      try {
        new FrameDecoder().push(frameOf(body));
      } catch (err) {
        expect(err instanceof FrameError || err instanceof ProtocolError).toBe(true);
      }
    }
  });

  it('decodes a "__proto__" map key as data, without touching any prototype', () => {
    const out = decodePayload(PROTO_MAP) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // msgpackr renames the key rather than assigning through the __proto__ setter.
    expect(Object.keys(out)).toEqual(['__proto_']);
  });

  it('rejects a message that smuggles a "__proto__" map, and pollutes nothing', () => {
    const body = Buffer.concat([Buffer.from([0x92, MSG.ping]), PROTO_MAP]);
    expect(() => new FrameDecoder().push(frameOf(body))).toThrow(ProtocolError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
