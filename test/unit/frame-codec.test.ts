import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { single } from '../../src/core/conflicts.js';
import type { Version } from '../../src/core/version.js';
import type { VClock, VersionSet } from '../../src/core/version-set.js';
import { decodePayload, encodeFrame, FrameDecoder, FrameError } from '../../src/net/frame-codec.js';
import {
  fromWire,
  MSG,
  PROTOCOL_VERSION,
  ProtocolError,
  toWire,
  type PeerMessage,
} from '../../src/net/messages.js';
import { seededRng } from '../support/rng.js';
import {
  applyDecided,
  initialHistory,
  layoutToWire,
  proposedToWire,
  type ProposedLayout,
} from '../../src/core/layout.js';

const COUNTER_MAX = 2 ** 48 - 1;

const version: Version = {
  ts: { wallMs: 1_790_000_000_123, logical: 7, node: 'n2' },
  tombstone: false,
  contentType: 'application/octet-stream',
  value: new Uint8Array([0, 1, 2, 250, 255]),
};

const tombstoneVersion: Version = {
  ts: { wallMs: 1_790_000_000_456, logical: 0, node: 'n3' },
  tombstone: true,
  contentType: '',
  value: new Uint8Array(0),
};

/** A siblings-mode set: two concurrent writes, one of them a delete, counters at both ends. */
const dotted: VersionSet = {
  clock: [
    ['n1', 3],
    ['n2', COUNTER_MAX],
    ['n3', 1],
  ],
  siblings: [
    { ...version, dot: { node: 'n1', counter: 3 } },
    { ...tombstoneVersion, dot: { node: 'n2', counter: COUNTER_MAX } },
  ],
};

const context: VClock = [
  ['n1', 2],
  ['n3', 9],
];

const NODES_3 = ['n1', 'n2', 'n3'].map((id, i) => ({
  id,
  http: `http://127.0.0.1:${7001 + i}`,
  peer: `127.0.0.1:${7101 + i}`,
}));
const history = initialHistory(NODES_3);
const n4 = { id: 'n4', http: 'http://127.0.0.1:7004', peer: '127.0.0.1:7104' };
const joined = applyDecided(history, { version: 2, nodes: [...NODES_3, n4] }, []);
const proposal: ProposedLayout = { next: { version: 2, nodes: [...NODES_3, n4] }, excused: [] };
const ballot = { round: 1_700_000_000_001, node: 'n2' };

const hashes = (n: number) => Uint8Array.from({ length: 8 * n }, (_, i) => (i * 37 + 11) & 0xff);

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
  { type: 'readReply', id: 2, set: single(version) },
  { type: 'readReply', id: 3, set: null },
  { type: 'readReply', id: 4, set: single(tombstoneVersion) },
  { type: 'readReply', id: 40, set: dotted },
  { type: 'write', id: 5, key: 'k', set: single(version) },
  { type: 'write', id: 41, key: 'k', set: dotted },
  { type: 'writeReply', id: 6, applied: true },
  { type: 'writeReply', id: 7, applied: false },
  { type: 'error', id: 8, message: 'disk full' },
  {
    type: 'update',
    id: 10,
    key: 'cart:7',
    context,
    tombstone: false,
    contentType: 'application/json',
    value: new Uint8Array([0x7b, 0x7d]),
  },
  {
    type: 'update',
    id: 11,
    key: 'cart:7',
    context: [],
    tombstone: true,
    contentType: '',
    value: new Uint8Array(0),
  },
  { type: 'updateReply', id: 12, set: dotted, siblings: 2, limit: 100 },
  { type: 'updateReply', id: 13, set: null, siblings: 100, limit: 100 },
  { type: 'updateReply', id: 13, set: null, siblings: 0, limit: 0, notIssuer: true },
  { type: 'handoff', id: 14, home: 'n3', key: 'k', set: dotted },
  { type: 'handoff', id: 15, home: 'n4', key: 'lww', set: single(version) },
  { type: 'purge', id: 16, key: 'gone', set: single(tombstoneVersion) },
  { type: 'purgeReply', id: 17, purged: true },
  { type: 'purgeReply', id: 18, purged: false },
  { type: 'aeGroups', id: 19 },
  { type: 'aeGroupsReply', id: 20, hashes: hashes(32) },
  { type: 'aeGroupsReply', id: 21, hashes: new Uint8Array(0) },
  { type: 'aeLeaves', id: 22, groups: [0, 5, 31] },
  { type: 'aeLeaves', id: 23, groups: [] },
  { type: 'aeLeavesReply', id: 24, hashes: hashes(96) },
  { type: 'aeKeys', id: 25, segments: [1, 2, 1023] },
  { type: 'aeKeysReply', id: 26, keys: ['a', 'b ✓', ''], digests: hashes(3) },
  { type: 'aeKeysReply', id: 27, keys: [], digests: new Uint8Array(0) },
  { type: 'aeFetch', id: 28, keys: ['a', 'missing'] },
  { type: 'aeFetchReply', id: 29, sets: [dotted, null, single(version)] },
  { type: 'aeFetchReply', id: 30, sets: [] },
  { type: 'layout', id: 31, history },
  { type: 'layoutReply', id: 32, history: joined },
  { type: 'paxos', id: 33, req: { kind: 'prepare', slot: 2, ballot } },
  { type: 'paxos', id: 34, req: { kind: 'accept', slot: 2, ballot, value: proposal } },
  { type: 'paxosReply', id: 35, reply: { kind: 'promise', ok: true, promised: ballot } },
  {
    type: 'paxosReply',
    id: 36,
    reply: {
      kind: 'promise',
      ok: false,
      promised: { round: 9, node: 'n3' },
      accepted: { ballot, value: proposal },
    },
  },
  { type: 'paxosReply', id: 37, reply: { kind: 'accepted', ok: true, promised: ballot } },
  {
    type: 'writeBatch',
    id: 38,
    entries: [
      ['k', single(version)],
      ['cart:7', dotted],
      ['gone', single(tombstoneVersion)],
    ],
  },
  { type: 'writeBatch', id: 39, entries: [['only ✓', dotted]] },
  { type: 'writeBatchReply', id: 43, applied: 3, failed: [] },
  { type: 'writeBatchReply', id: 44, applied: 0, failed: [0, 2, LIMITS.writeBatchEntriesMax - 1] },
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

/** What `fn` threw, or undefined when it returned: the caller counts and checks both outcomes. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Any array as a frame, whatever toWire would make of it: how a broken or hostile peer sends. */
const rawPackr = new Packr({ useRecords: false });
const rawFrame = (wire: unknown): Buffer => frameOf(rawPackr.pack(wire));

/** A set's wire form, as the write message carries it. */
const wireSetOf = (set: VersionSet): unknown =>
  (plain(toWire({ type: 'write', id: 1, key: 'k', set })) as unknown[])[3];

function named(type: PeerMessage['type'], id: number): PeerMessage {
  const m = EVERY_MESSAGE.find((x) => x.type === type && 'id' in x && x.id === id);
  if (m === undefined) throw new Error(`no ${type} ${id} in EVERY_MESSAGE`);
  return m;
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

  it.each(EVERY_MESSAGE.map((m) => [`${m.type} ${'id' in m ? m.id : ''}`, m] as const))(
    'fromWire(toWire(%s)) is the message',
    (_name, msg) => {
      expect(fromWire(toWire(msg))).toEqual(msg);
    },
  );

  it('has a round-trip case for every message type, and the type ids never change', () => {
    expect(new Set(EVERY_MESSAGE.map((m) => m.type))).toEqual(new Set(Object.keys(MSG)));
    expect(PROTOCOL_VERSION).toBe(3);
    expect({ ...MSG }).toEqual({
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
    });
  });

  it('writes sets in the documented wire form: a flat clock, then 8-field siblings', () => {
    const { wallMs, logical } = version.ts;
    const ct = version.contentType;
    const bytes = [...version.value];
    expect(plain(toWire({ type: 'readReply', id: 2, set: single(version) }))).toEqual([
      MSG.readReply,
      2,
      [[], [[null, 0, wallMs, logical, 'n2', false, ct, bytes]]],
    ]);
    expect(plain(toWire({ type: 'write', id: 5, key: 'k', set: dotted }))).toEqual([
      MSG.write,
      5,
      'k',
      [
        ['n1', 3, 'n2', COUNTER_MAX, 'n3', 1],
        [
          ['n1', 3, wallMs, logical, 'n2', false, ct, bytes],
          ['n2', COUNTER_MAX, tombstoneVersion.ts.wallMs, 0, 'n3', true, '', []],
        ],
      ],
    ]);
    expect(plain(toWire(named('update', 10)))).toEqual([
      MSG.update,
      10,
      'cart:7',
      ['n1', 2, 'n3', 9],
      false,
      'application/json',
      [0x7b, 0x7d],
    ]);
    expect(plain(toWire(named('aeFetchReply', 29)))).toEqual([
      MSG.aeFetchReply,
      29,
      [wireSetOf(dotted), null, wireSetOf(single(version))],
    ]);
    expect(plain(toWire(named('writeBatch', 38)))).toEqual([
      MSG.writeBatch,
      38,
      [
        ['k', wireSetOf(single(version))],
        ['cart:7', wireSetOf(dotted)],
        ['gone', wireSetOf(single(tombstoneVersion))],
      ],
    ]);
    expect(plain(toWire(named('writeBatchReply', 44)))).toEqual([
      MSG.writeBatchReply,
      44,
      0,
      [0, 2, LIMITS.writeBatchEntriesMax - 1],
    ]);
  });

  it('keeps 48-bit counters and 32-bit logical clocks exact through msgpack', () => {
    const set: VersionSet = {
      clock: [['n1', COUNTER_MAX]],
      siblings: [
        {
          ...version,
          ts: { wallMs: 2 ** 48 - 1, logical: 0xffff_ffff, node: 'n1' },
          dot: { node: 'n1', counter: COUNTER_MAX },
        },
      ],
    };
    const [out] = new FrameDecoder().push(encodeFrame({ type: 'write', id: 1, key: 'k', set }));
    expect(plain(out)).toEqual(plain({ type: 'write', id: 1, key: 'k', set }));
  });

  it('reassembles a frame that arrives one byte at a time', () => {
    const msg: PeerMessage = { type: 'write', id: 9, key: 'byte-by-byte', set: dotted };
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
    const msgs = [named('pong', 4_294_967_295), named('read', 1), named('readReply', 2)];
    const out = new FrameDecoder().push(Buffer.concat(msgs.map(encodeFrame)));
    expect(plain(out)).toEqual(plain(msgs));
  });

  it('handles frames split across coalesced chunk boundaries, at every split point', () => {
    const msgs = [
      named('read', 1),
      named('readReply', 2),
      named('readReply', 3),
      named('readReply', 40),
      named('write', 41),
      named('update', 10),
      named('aeKeysReply', 26),
      named('aeFetchReply', 29),
      named('writeBatch', 38),
      named('writeBatchReply', 44),
    ];
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
    const stream = encodeFrame({ type: 'write', id: 1, key: 'big', set: single(big) });
    const dec = new FrameDecoder();
    const out: PeerMessage[] = [];
    for (let i = 0; i < stream.length; i += 65_536)
      out.push(...dec.push(stream.subarray(i, i + 65_536)));
    expect(out).toHaveLength(1);
    const m = out[0] as PeerMessage & { type: 'write' };
    expect(m.set.siblings).toHaveLength(1);
    expect(Buffer.from(m.set.siblings[0]?.value ?? []).equals(big.value)).toBe(true);
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
    expect(() => encodeFrame({ type: 'write', id: 1, key: 'k', set: single(huge) })).toThrow(
      FrameError,
    );
    const half: Version = { ...version, value: Buffer.alloc(LIMITS.frameBytesMax / 2 + 1) };
    expect(() =>
      encodeFrame({ type: 'aeFetchReply', id: 1, sets: [single(half), single(half)] }),
    ).toThrow(FrameError);
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

  it('throws ProtocolError for a malformed set inside a frame, and stays failed after it', () => {
    const dec = new FrameDecoder();
    const bad = [MSG.write, 1, 'k', [['n2', 1, 'n1', 1], [lwwSib()]]];
    expect(() => dec.push(rawFrame(bad))).toThrow(ProtocolError);
    expect(() => dec.push(encodeFrame({ type: 'ping', id: 1 }))).toThrow(FrameError);
    // A valid frame ahead of the bad one in the same chunk is not returned: the stream is bad.
    expect(() =>
      new FrameDecoder().push(Buffer.concat([encodeFrame(named('write', 41)), rawFrame(bad)])),
    ).toThrow(ProtocolError);
  });

  it('rejects every one of 2000 random bodies, each with a FrameError or a ProtocolError', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x80000000;
    const outcomes = { frameError: 0, protocolError: 0, decoded: 0 };
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(
        Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
      );
      const error = thrownBy(() => new FrameDecoder().push(frameOf(body)));
      if (error === undefined) outcomes.decoded += 1;
      else if (error instanceof FrameError) outcomes.frameError += 1;
      else if (error instanceof ProtocolError) outcomes.protocolError += 1;
      else throw new Error(`body ${body.toString('hex')} threw ${String(error)}`);
    }
    // Random bytes are never a well-formed message, and both checks get exercised.
    expect(outcomes.decoded).toBe(0);
    expect(outcomes.frameError + outcomes.protocolError).toBe(2000);
    expect(outcomes.frameError).toBeGreaterThan(0);
    expect(outcomes.protocolError).toBeGreaterThan(0);
  });

  it('corrupted valid frames either fail with FrameError or ProtocolError or decode to messages that round-trip', () => {
    const rnd = seededRng(7);
    const frames = EVERY_MESSAGE.map((m) => encodeFrame(m));
    let rejected = 0;
    let decoded = 0;
    for (let i = 0; i < 5000; i++) {
      const frame = Buffer.from(frames[i % frames.length] as Buffer);
      for (let flips = 1 + Math.floor(rnd() * 3); flips > 0; flips--) {
        // Leave the length header alone: that path is covered above.
        const at = 4 + Math.floor(rnd() * (frame.length - 4));
        frame[at] = Math.floor(rnd() * 256);
      }
      let out: PeerMessage[] = [];
      const error = thrownBy(() => (out = new FrameDecoder().push(frame)));
      if (error !== undefined) {
        rejected += 1;
        expect(error instanceof FrameError || error instanceof ProtocolError, String(error)).toBe(
          true,
        );
        continue;
      }
      decoded += 1;
      // What the decoder lets through is a valid message: it encodes again, to itself.
      expect(out).toHaveLength(1);
      const again = new FrameDecoder().push(encodeFrame(out[0] as PeerMessage));
      expect(plain(again)).toEqual(plain(out));
    }
    expect(rejected + decoded).toBe(5000);
    expect(rejected).toBeGreaterThan(1000);
    expect(decoded).toBeGreaterThan(0);
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
    // The same map where a readReply's set belongs.
    const inSet = Buffer.concat([Buffer.from([0x93, MSG.readReply, 0x01]), PROTO_MAP]);
    expect(() => new FrameDecoder().push(frameOf(inSet))).toThrow(ProtocolError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// ---- Malformed wire forms. Each case builds the raw array a peer could send, bypassing toWire.

type WireSib = unknown[];
type WireSet = [unknown, unknown];

const WALL = 1_790_000_000_000;
function dottedSib(node: string, counter: unknown): WireSib {
  return [node, counter, WALL, 0, node, false, 'text/plain', new Uint8Array([1, 2])];
}
function lwwSib(): WireSib {
  return [null, 0, WALL, 3, 'n1', false, 'text/plain', new Uint8Array([9])];
}
/** A valid siblings-mode set: clock n1:1 n2:2, one sibling for each. */
function goodSet(): WireSet {
  return [
    ['n1', 1, 'n2', 2],
    [dottedSib('n1', 1), dottedSib('n2', 2)],
  ];
}
const withClock = (clock: unknown): WireSet => [clock, goodSet()[1]];
const withSiblings = (siblings: unknown): WireSet => [goodSet()[0], siblings];
/** goodSet with field `i` of its first sibling replaced. */
function withField(i: number, v: unknown): WireSet {
  const s = goodSet();
  (s[1] as WireSib[])[0]![i] = v;
  return s;
}
/** A sorted clock of `n` entries. */
const longClock = (n: number): unknown[] =>
  Array.from({ length: n }, (_, i) => [`n${String(i).padStart(3, '0')}`, i + 1]).flat();
const manyLwwSiblings = (n: number): WireSib[] => Array.from({ length: n }, lwwSib);

const BAD_CLOCKS: Array<[string, unknown]> = [
  ['unsorted clock nodes', ['n2', 2, 'n1', 1]],
  ['duplicate clock nodes', ['n1', 1, 'n1', 2]],
  ['a zero clock counter', ['n1', 0, 'n2', 2]],
  ['a clock counter of 2^48', ['n1', 2 ** 48, 'n2', 2]],
  ['a negative clock counter', ['n1', -1]],
  ['a fractional clock counter', ['n1', 1.5]],
  ['a string clock counter', ['n1', '1']],
  ['an odd-length clock array', ['n1', 1, 'n2']],
  ['a clock of one node and no counter', ['n1']],
  [`a clock of ${LIMITS.clockEntriesMax + 1} entries`, longClock(LIMITS.clockEntriesMax + 1)],
  ['a clock node that is not a string', [7, 1]],
  ['a clock actor of 97 characters', ['n'.repeat(97), 1]],
  ['a clock that is not an array', 'n1'],
  ['a clock that is null', null],
  ['a clock in map form', { n1: 1 }],
];

const BAD_SETS: Array<[string, () => unknown]> = [
  ...BAD_CLOCKS.map(([what, clock]): [string, () => unknown] => [what, () => withClock(clock)]),
  ['a set with zero siblings', () => withSiblings([])],
  [
    `a set of ${LIMITS.siblingsWireMax + 1} siblings`,
    () => withSiblings(manyLwwSiblings(LIMITS.siblingsWireMax + 1)),
  ],
  ['siblings that are not an array', () => withSiblings(lwwSib())],
  ['a set of three parts', () => [...goodSet(), []]],
  ['a set of one part', () => [goodSet()[0]]],
  ['a set that is not an array', () => 'set'],
  ['a set in map form', () => ({ clock: [], siblings: [lwwSib()] })],
  ['a sibling of 7 fields', () => withSiblings([lwwSib().slice(0, 7)])],
  ['a sibling of 9 fields', () => withSiblings([[...lwwSib(), null]])],
  ['a sibling that is not an array', () => withSiblings([7])],
  [
    'a tombstone sibling with value bytes',
    () => withSiblings([[null, 0, WALL, 0, 'n1', true, '', new Uint8Array([1])]]),
  ],
  ['a dotted sibling with counter 0', () => withField(1, 0)],
  ['a dotted sibling with counter 2^48', () => withField(1, 2 ** 48)],
  ['a dotted sibling with a negative counter', () => withField(1, -1)],
  ['a dotted sibling with a fractional counter', () => withField(1, 0.5)],
  ['a dotted sibling with a string counter', () => withField(1, '1')],
  ['a dot node that is not a string', () => withField(0, 3)],
  ['a dot actor of 97 characters', () => withField(0, 'n'.repeat(97))],
  ['a wall time of 2^48', () => withField(2, 2 ** 48)],
  ['a negative wall time', () => withField(2, -1)],
  ['a logical clock of 2^32', () => withField(3, 2 ** 32)],
  ['a timestamp node that is not a string', () => withField(4, null)],
  ['a tombstone flag that is not a boolean', () => withField(5, 0)],
  ['a content type that is not a string', () => withField(6, null)],
  ['a content type of 1025 characters', () => withField(6, 'x'.repeat(1025))],
  ['a value that is a string', () => withField(7, 'abc')],
  ['a value that is an array of numbers', () => withField(7, [1, 2])],
];

/** Every message that carries a set, with `s` in the set's place. */
const SET_CARRIERS: Array<[string, (s: unknown) => unknown[]]> = [
  ['readReply', (s) => [MSG.readReply, 1, s]],
  ['write', (s) => [MSG.write, 1, 'k', s]],
  ['updateReply', (s) => [MSG.updateReply, 1, s, 2, 100]],
  ['handoff', (s) => [MSG.handoff, 1, 'n3', 'k', s]],
  ['purge', (s) => [MSG.purge, 1, 'k', s]],
  ['aeFetchReply', (s) => [MSG.aeFetchReply, 1, [goodSet(), null, s]]],
  [
    'writeBatch',
    (s) => [
      MSG.writeBatch,
      1,
      [
        ['a', goodSet()],
        ['k', s],
      ],
    ],
  ],
];

const updateWith = (clock: unknown): unknown[] => [
  MSG.update,
  1,
  'k',
  clock,
  false,
  'text/plain',
  new Uint8Array([1]),
];

function rejects(wire: unknown): void {
  expect(() => fromWire(wire)).toThrow(ProtocolError);
}

describe('fromWire on version sets', () => {
  it.each(SET_CARRIERS)('%s accepts the valid sets the rejections below start from', (_, wrap) => {
    for (const set of [
      goodSet(),
      [[], [lwwSib()]],
      withClock(longClock(LIMITS.clockEntriesMax)),
      withClock(['n1', COUNTER_MAX]),
      withField(1, COUNTER_MAX),
      withField(2, 2 ** 48 - 1),
      withField(3, 2 ** 32 - 1),
      withField(6, 'x'.repeat(1024)),
      withSiblings([[null, 0, WALL, 0, 'n1', true, '', new Uint8Array(0)]]),
    ]) {
      expect(() => fromWire(wrap(set))).not.toThrow();
    }
  });

  it(`accepts a set of exactly ${LIMITS.siblingsWireMax} siblings`, () => {
    const m = fromWire([MSG.write, 1, 'k', withSiblings(manyLwwSiblings(LIMITS.siblingsWireMax))]);
    expect(m.type === 'write' && m.set.siblings.length).toBe(LIMITS.siblingsWireMax);
  });

  it.each(BAD_SETS)(
    'rejects %s as ProtocolError in every message that carries a set',
    (_, make) => {
      for (const [carrier, wrap] of SET_CARRIERS) {
        expect(() => fromWire(wrap(make())), carrier).toThrow(ProtocolError);
      }
    },
  );

  it.each(BAD_SETS.filter(([, make]) => JSON.stringify(make()).length < 10_000))(
    'rejects %s arriving in a frame as ProtocolError',
    (_, make) => {
      expect(() => new FrameDecoder().push(rawFrame([MSG.write, 1, 'k', make()]))).toThrow(
        ProtocolError,
      );
    },
  );

  it('rejects a missing set where one is required, and accepts null where it may be absent', () => {
    rejects([MSG.write, 1, 'k', null]);
    rejects([MSG.handoff, 1, 'n3', 'k', null]);
    rejects([MSG.purge, 1, 'k', null]);
    rejects([MSG.write, 1, 'k']);
    rejects([MSG.writeBatch, 1, [['k', null]]]);
    rejects([MSG.writeBatch, 1, [['k']]]);
    expect(fromWire([MSG.readReply, 1, null])).toEqual({ type: 'readReply', id: 1, set: null });
    rejects([MSG.updateReply, 1, null, 0, 0, false]);
    expect(fromWire([MSG.updateReply, 1, null, 5, 5])).toEqual({
      type: 'updateReply',
      id: 1,
      set: null,
      siblings: 5,
      limit: 5,
    });
  });

  it('accepts the update context limits, the same as a set clock', () => {
    expect(fromWire(updateWith([]))).toMatchObject({ type: 'update', context: [] });
    expect(fromWire(updateWith(longClock(LIMITS.clockEntriesMax)))).toMatchObject({
      type: 'update',
    });
  });

  it.each(BAD_CLOCKS)('rejects an update whose context has %s', (_, clock) => {
    rejects(updateWith(clock));
  });
});

describe('fromWire on the other new messages', () => {
  const AE = LIMITS.aeItemsPerMessageMax;
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i);
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

  it(`accepts ae lists of exactly ${AE} items`, () => {
    expect(fromWire([MSG.aeLeaves, 1, ids(AE)])).toMatchObject({ groups: ids(AE) });
    expect(fromWire([MSG.aeKeys, 1, ids(AE)])).toMatchObject({ segments: ids(AE) });
    expect(fromWire([MSG.aeFetch, 1, keys(AE)])).toMatchObject({ keys: keys(AE) });
    const sets = Array.from({ length: AE }, () => null);
    expect(fromWire([MSG.aeFetchReply, 1, sets])).toMatchObject({ sets });
  });

  it.each([
    [`aeLeaves naming ${AE + 1} groups`, [MSG.aeLeaves, 1, ids(AE + 1)]],
    [`aeKeys naming ${AE + 1} segments`, [MSG.aeKeys, 1, ids(AE + 1)]],
    [`aeFetch naming ${AE + 1} keys`, [MSG.aeFetch, 1, keys(AE + 1)]],
    [`aeFetchReply with ${AE + 1} sets`, [MSG.aeFetchReply, 1, Array(AE + 1).fill(null)]],
    ['aeLeaves naming a negative group', [MSG.aeLeaves, 1, [0, -1]]],
    ['aeLeaves naming a fractional group', [MSG.aeLeaves, 1, [1.5]]],
    ['aeLeaves naming a group by string', [MSG.aeLeaves, 1, ['1']]],
    ['aeLeaves whose groups are not a list', [MSG.aeLeaves, 1, 3]],
    ['aeKeys naming a negative segment', [MSG.aeKeys, 1, [-1]]],
    ['aeKeys whose segments are bytes', [MSG.aeKeys, 1, new Uint8Array([1, 2])]],
    ['aeFetch naming a key that is not a string', [MSG.aeFetch, 1, ['a', 5]]],
    ['aeFetch naming a key of 4097 characters', [MSG.aeFetch, 1, ['k'.repeat(4097)]]],
    ['aeFetch whose keys are not a list', [MSG.aeFetch, 1, 'a']],
    ['aeFetchReply whose sets are not a list', [MSG.aeFetchReply, 1, null]],
    [
      'aeKeysReply with 15 digest bytes for 2 keys',
      [MSG.aeKeysReply, 1, ['a', 'b'], hashes(2).subarray(1)],
    ],
    [
      'aeKeysReply with 17 digest bytes for 2 keys',
      [MSG.aeKeysReply, 1, ['a', 'b'], new Uint8Array(17)],
    ],
    ['aeKeysReply with 8 digest bytes for 2 keys', [MSG.aeKeysReply, 1, ['a', 'b'], hashes(1)]],
    ['aeKeysReply with no digests for 1 key', [MSG.aeKeysReply, 1, ['a'], new Uint8Array(0)]],
    ['aeKeysReply with digests for no keys', [MSG.aeKeysReply, 1, [], hashes(1)]],
    [
      'aeKeysReply whose digests are numbers',
      [MSG.aeKeysReply, 1, ['a'], [1, 2, 3, 4, 5, 6, 7, 8]],
    ],
    ['aeKeysReply naming a key that is not a string', [MSG.aeKeysReply, 1, [1], hashes(1)]],
    ['aeKeysReply whose keys are not a list', [MSG.aeKeysReply, 1, 'a', hashes(1)]],
    ['aeGroupsReply with 7 hash bytes', [MSG.aeGroupsReply, 1, new Uint8Array(7)]],
    ['aeGroupsReply with 9 hash bytes', [MSG.aeGroupsReply, 1, new Uint8Array(9)]],
    ['aeGroupsReply whose hashes are numbers', [MSG.aeGroupsReply, 1, [0, 0, 0, 0, 0, 0, 0, 0]]],
    ['aeGroupsReply without hashes', [MSG.aeGroupsReply, 1]],
    ['aeLeavesReply with 12 hash bytes', [MSG.aeLeavesReply, 1, new Uint8Array(12)]],
    ['aeLeavesReply with 1 hash byte', [MSG.aeLeavesReply, 1, new Uint8Array(1)]],
    ['aeGroups whose id is negative', [MSG.aeGroups, -1]],
    ['aeGroups whose id is a string', [MSG.aeGroups, '1']],
    [
      'update whose tombstone flag is not a boolean',
      [MSG.update, 1, 'k', [], 1, '', new Uint8Array(0)],
    ],
    [
      'update whose content type is not a string',
      [MSG.update, 1, 'k', [], false, 5, new Uint8Array(1)],
    ],
    ['update whose value is a string', [MSG.update, 1, 'k', [], false, 'text/plain', 'v']],
    [
      'update whose key has 4097 characters',
      updateWith([]).map((x, i) => (i === 2 ? 'k'.repeat(4097) : x)),
    ],
    ['updateReply whose sibling count is negative', [MSG.updateReply, 1, null, -1, 100]],
    ['updateReply without a limit', [MSG.updateReply, 1, null, 1]],
    ['handoff whose home is not a string', [MSG.handoff, 1, 3, 'k', goodSet()]],
    ['handoff whose home has 65 characters', [MSG.handoff, 1, 'n'.repeat(65), 'k', goodSet()]],
    ['purge whose key is not a string', [MSG.purge, 1, 1, goodSet()]],
    ['purgeReply whose flag is a number', [MSG.purgeReply, 1, 1]],
    ['purgeReply without a flag', [MSG.purgeReply, 1]],
    ['layout whose history is not an object', [MSG.layout, 1, 'v1']],
    [
      'layout whose versions are not consecutive',
      [
        MSG.layout,
        1,
        {
          ...layoutToWire(joined),
          versions: [
            layoutToWire(joined).versions[0],
            { ...layoutToWire(joined).versions[1], version: 3 },
          ],
        },
      ],
    ],
    [
      'layoutReply whose node has a bad id',
      [
        MSG.layoutReply,
        1,
        {
          ...layoutToWire(history),
          versions: [{ version: 1, nodes: [{ ...NODES_3[0], id: 'n 1' }] }],
        },
      ],
    ],
    ['paxos of an unknown kind', [MSG.paxos, 1, ['vote', 2, [1, 'n1'], null]]],
    ['paxos prepare for slot 0', [MSG.paxos, 1, ['prepare', 0, [1, 'n1'], null]]],
    ['paxos prepare with a round of 0', [MSG.paxos, 1, ['prepare', 2, [0, 'n1'], null]]],
    ['paxos accept without a value', [MSG.paxos, 1, ['accept', 2, [1, 'n1'], null]]],
    [
      'paxos accept whose excused node is in the next version',
      [MSG.paxos, 1, ['accept', 2, [1, 'n1'], { ...proposedToWire(proposal), excused: ['n4'] }]],
    ],
    ['paxosReply whose ok is a number', [MSG.paxosReply, 1, ['promise', 1, [1, 'n1'], null]]],
    [
      'paxosReply accepted carrying a value',
      [MSG.paxosReply, 1, ['accepted', true, [1, 'n1'], [[1, 'n1'], proposedToWire(proposal)]]],
    ],
  ])('rejects %s as ProtocolError', (_, wire) => {
    rejects(wire);
    expect(() => new FrameDecoder().push(rawFrame(wire))).toThrow(ProtocolError);
  });

  it('accepts hashes and digests of every whole number of 8-byte entries', () => {
    for (const n of [0, 1, 2, 3, 32]) {
      expect(fromWire([MSG.aeGroupsReply, 1, hashes(n)])).toMatchObject({ hashes: hashes(n) });
      expect(fromWire([MSG.aeLeavesReply, 1, hashes(n)])).toMatchObject({ hashes: hashes(n) });
      expect(fromWire([MSG.aeKeysReply, 1, keys(n), hashes(n)])).toMatchObject({
        keys: keys(n),
        digests: hashes(n),
      });
    }
  });
});

describe('fromWire on writeBatch and its reply', () => {
  const MAX = LIMITS.writeBatchEntriesMax;
  const entries = (n: number) => Array.from({ length: n }, (_, i) => [`k${i}`, [[], [lwwSib()]]]);
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

  it(`accepts a batch of exactly ${MAX} entries, and a reply naming ${MAX} failures`, () => {
    const m = fromWire([MSG.writeBatch, 1, entries(MAX)]);
    expect(m.type === 'writeBatch' && m.entries.map(([key]) => key)).toEqual(
      entries(MAX).map(([key]) => key),
    );
    expect(fromWire([MSG.writeBatchReply, 1, 0, upTo(MAX)])).toMatchObject({ failed: upTo(MAX) });
    expect(fromWire([MSG.writeBatchReply, 1, MAX, []])).toMatchObject({ applied: MAX });
  });

  it('keeps the entries in the order sent, a key named twice included', () => {
    const twice = [
      ['b', goodSet()],
      ['a', [[], [lwwSib()]]],
      ['b', [[], [lwwSib()]]],
    ];
    const m = fromWire([MSG.writeBatch, 7, twice]);
    expect(m.type === 'writeBatch' && m.entries.map(([key, set]) => [key, set.clock])).toEqual([
      [
        'b',
        [
          ['n1', 1],
          ['n2', 2],
        ],
      ],
      ['a', []],
      ['b', []],
    ]);
  });

  it.each([
    ['a batch of no entries', [MSG.writeBatch, 1, []]],
    [`a batch of ${MAX + 1} entries`, [MSG.writeBatch, 1, entries(MAX + 1)]],
    ['a batch whose entries are not a list', [MSG.writeBatch, 1, 'k']],
    ['a batch whose entries are a map', [MSG.writeBatch, 1, { k: goodSet() }]],
    ['a batch without entries', [MSG.writeBatch, 1]],
    ['a batch whose id is negative', [MSG.writeBatch, -1, entries(1)]],
    ['an entry of one part', [MSG.writeBatch, 1, [['k']]]],
    ['an entry of three parts', [MSG.writeBatch, 1, [['k', goodSet(), null]]]],
    ['an entry that is not a list', [MSG.writeBatch, 1, [7]]],
    ['an entry whose key is not a string', [MSG.writeBatch, 1, [[5, goodSet()]]]],
    [
      'an entry whose key has 4097 characters',
      [MSG.writeBatch, 1, [['k'.repeat(4097), goodSet()]]],
    ],
    ['a reply whose applied count is negative', [MSG.writeBatchReply, 1, -1, []]],
    ['a reply whose applied count is a flag', [MSG.writeBatchReply, 1, true, []]],
    [`a reply applying ${MAX + 1} entries`, [MSG.writeBatchReply, 1, MAX + 1, []]],
    [`a reply of more than ${MAX} entries in all`, [MSG.writeBatchReply, 1, MAX, [0]]],
    ['a reply without failures', [MSG.writeBatchReply, 1, 2]],
    ['a reply whose failures are not a list', [MSG.writeBatchReply, 1, 0, 3]],
    ['a reply whose failures are out of order', [MSG.writeBatchReply, 1, 0, [3, 1]]],
    ['a reply naming a failure twice', [MSG.writeBatchReply, 1, 0, [1, 1]]],
    ['a reply naming a negative index', [MSG.writeBatchReply, 1, 0, [-1]]],
    ['a reply naming a fractional index', [MSG.writeBatchReply, 1, 0, [0.5]]],
    [`a reply naming index ${MAX}`, [MSG.writeBatchReply, 1, 0, [MAX]]],
    [`a reply naming ${MAX + 1} failures`, [MSG.writeBatchReply, 1, 0, upTo(MAX + 1)]],
  ])('rejects %s as ProtocolError', (_, wire) => {
    rejects(wire);
    expect(() => new FrameDecoder().push(rawFrame(wire))).toThrow(ProtocolError);
  });
});
