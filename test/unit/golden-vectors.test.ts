// Golden vectors: fixed bytes for every encoding that outlives one process. The ring hash places
// keys on replicas and prefixes every storage key on disk; the Merkle hashes are compared across
// peers; frames cross the wire between nodes that may run different builds; the version codec
// is what a data directory holds.
//
// A CHANGE HERE MEANS EXISTING DATA DIRECTORIES OR MIXED-VERSION CLUSTERS BREAK. If one of these
// fails, do not edit the vector to match the new output: undo the change, or bump the store
// format (level-store.ts FORMAT) or PROTOCOL_VERSION (messages.ts), with a migration or a
// handshake that refuses the old version, and only then record new vectors under that version.
// The vectors were generated once from the code and pasted here as literals.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { single } from '../../src/core/conflicts.js';
import {
  HashTree,
  keyPrefix,
  prefixHex,
  segmentOf,
  setDigest,
  treeChange,
} from '../../src/core/merkle.js';
import { hash32, Ring } from '../../src/core/ring.js';
import type { VersionSet } from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import { encodeFrame, FrameDecoder } from '../../src/net/frame-codec.js';
import { firstHello, proofHello } from '../../src/net/handshake.js';
import { PROTOCOL_VERSION, type PeerMessage } from '../../src/net/messages.js';
import { dataKeyOf, memoryStore } from '../../src/storage/level-store.js';
import {
  decodeSet,
  decodeVersion,
  encodeSet,
  encodeVersion,
} from '../../src/storage/version-codec.js';

/** The versions these vectors belong to. */
const GOLDEN_PROTOCOL_VERSION = 3;
const GOLDEN_STORE_FORMAT = '2';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');

/** Binary fields decode as Buffers; compare them as plain bytes. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

const value: Version = {
  ts: { wallMs: 1_790_000_000_123, logical: 7, node: 'n2' },
  tombstone: false,
  contentType: 'text/plain',
  value: Buffer.from('hello'),
};
const tombstone: Version = {
  ts: { wallMs: 1_790_000_000_456, logical: 0, node: 'n3' },
  tombstone: true,
  contentType: '',
  value: new Uint8Array(0),
};
/** An lww set: one version, no dot. */
const lwwSet: VersionSet = single(value);
/** A siblings set: a clock, two dotted siblings, one of them a tombstone. */
const siblingsSet: VersionSet = {
  clock: [
    ['n1', 3],
    ['n2', 5],
  ],
  siblings: [
    { ...value, ts: { ...value.ts, node: 'n1' }, dot: { node: 'n1', counter: 3 } },
    { ...tombstone, ts: { ...tombstone.ts, node: 'n2' }, dot: { node: 'n2', counter: 5 } },
  ],
};

describe('golden vectors: versions', () => {
  it(`belong to peer protocol ${GOLDEN_PROTOCOL_VERSION} and store format ${GOLDEN_STORE_FORMAT}`, async () => {
    expect(PROTOCOL_VERSION).toBe(GOLDEN_PROTOCOL_VERSION);
    const store = memoryStore();
    await store.open();
    expect(await store.getMeta('format')).toBe(GOLDEN_STORE_FORMAT);
    await store.close();
  });
});

describe('golden vectors: ring', () => {
  // FNV-1a over UTF-16 code units, then fmix32; a 4-byte code point is two units.
  it.each([
    ['', 'ab3e7c0b'],
    ['a', '1a80b1b3'],
    ['user:42', '23bf9c12'],
    ['cart:7', 'c3c1c7f5'],
    ['ключ', 'bddc5d78'],
    ['🦊', '92a4f70a'],
  ])('hash32(%j) is 0x%s', (key, expected) => {
    expect(hash32(key).toString(16).padStart(8, '0')).toBe(expected);
  });

  it('places keys on a fixed 3-node ring of 128 vnodes each', () => {
    // Every node must build the same ring, or replicas disagree on who holds a key.
    expect(LIMITS.vnodesPerNode).toBe(128);
    const ring = new Ring(['n3', 'n1', 'n2'], 128);
    expect(
      Object.fromEntries(
        ['', 'a', 'user:42', 'cart:7', 'ключ', '🦊'].map((k) => [k, ring.preferenceList(k, 3)]),
      ),
    ).toEqual({
      '': ['n3', 'n1', 'n2'],
      a: ['n1', 'n2', 'n3'],
      'user:42': ['n1', 'n2', 'n3'],
      'cart:7': ['n1', 'n3', 'n2'],
      ключ: ['n1', 'n2', 'n3'],
      '🦊': ['n3', 'n2', 'n1'],
    });
  });

  it('places keys on a fixed 5-node ring of 128 vnodes each (N=3, and the whole ring)', () => {
    const ring = new Ring(['n1', 'n2', 'n3', 'n4', 'n5'], 128);
    const placed = (k: string) => [ring.preferenceList(k, 3), ring.preferenceList(k, 5)];
    expect(
      Object.fromEntries(['', 'a', 'user:42', 'cart:7', 'ключ', '🦊'].map((k) => [k, placed(k)])),
    ).toEqual({
      '': [
        ['n3', 'n4', 'n1'],
        ['n3', 'n4', 'n1', 'n5', 'n2'],
      ],
      a: [
        ['n1', 'n5', 'n2'],
        ['n1', 'n5', 'n2', 'n4', 'n3'],
      ],
      'user:42': [
        ['n4', 'n1', 'n2'],
        ['n4', 'n1', 'n2', 'n5', 'n3'],
      ],
      'cart:7': [
        ['n1', 'n5', 'n3'],
        ['n1', 'n5', 'n3', 'n2', 'n4'],
      ],
      ключ: [
        ['n1', 'n2', 'n3'],
        ['n1', 'n2', 'n3', 'n4', 'n5'],
      ],
      '🦊': [
        ['n3', 'n4', 'n5'],
        ['n3', 'n4', 'n5', 'n2', 'n1'],
      ],
    });
  });

  it.each([
    ['', 'ab3e', 684],
    ['a', '1a80a', 106],
    ['user:42', '23bfuser:42', 142],
    ['cart:7', 'c3c1cart:7', 783],
    ['ключ', 'bddcключ', 759],
    ['🦊', '92a4🦊', 586],
  ])('stores %j under %j, in anti-entropy segment %i of 1024', (key, storageKey, segment) => {
    expect(dataKeyOf(key)).toBe(storageKey);
    expect(prefixHex(keyPrefix(key))).toBe(storageKey.slice(0, 4));
    expect(segmentOf(key, 1024)).toBe(segment);
  });
});

describe('golden vectors: anti-entropy hashes', () => {
  it('digests an lww set and a siblings set', () => {
    expect(hex(setDigest(lwwSet))).toBe('f31000f2bfb57a16');
    expect(hex(setDigest(siblingsSet))).toBe('bf38c8af0fe2d4a3');
  });

  it('hashes a tree entry (key and digest)', () => {
    const change = treeChange('user:42', undefined, setDigest(lwwSet), 1024);
    expect(change?.segment).toBe(142);
    expect(hex(change?.after as Uint8Array)).toBe('d79aef5816a8a344');
  });

  it('builds the same leaves and group hashes over three keys in the default 1024/32 tree', () => {
    // Peers compare these levels directly, so both sides must use the same shape.
    expect([LIMITS.aeSegments, LIMITS.aeSegmentsPerGroup]).toEqual([1024, 32]);
    const tree = new HashTree();
    tree.update('user:42', undefined, setDigest(lwwSet));
    tree.update('cart:7', undefined, setDigest(siblingsSet));
    tree.update('a', undefined, setDigest(single(tombstone)));

    const leaf = (segment: number): string => {
      const group = Math.floor(segment / tree.perGroup);
      const at = (segment - group * tree.perGroup) * 8;
      return hex(tree.leafHashes([group]).subarray(at, at + 8));
    };
    expect({ 142: leaf(142), 783: leaf(783), 106: leaf(106), 0: leaf(0) }).toEqual({
      142: 'd79aef5816a8a344',
      783: '03bad709d18229b2',
      106: '2016439292428338',
      0: '0000000000000000',
    });

    const groups = tree.groupHashes();
    expect(groups.length).toBe(32 * 8);
    const emptyGroup = 'b376885ac8452b6c';
    const expected = Array.from({ length: 32 }, () => emptyGroup);
    expected[3] = 'dd5dfddd8825a0f2';
    expected[4] = '651eacded8f5b71f';
    expected[24] = '9fdcce5cb08f5475';
    expect(Array.from({ length: 32 }, (_, g) => hex(groups.subarray(g * 8, g * 8 + 8)))).toEqual(
      expected,
    );
  });
});

describe('golden vectors: peer frames', () => {
  const id = { self: 'n1', cluster: 'kvorum', secret: 's3cret' };
  const nonce = Uint8Array.from({ length: 16 }, (_, i) => i);
  const ackNonce = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);

  it.each<[string, PeerMessage, string]>([
    [
      'a first handshake hello',
      firstHello(id, nonce),
      '00000020960103a66b766f72756da26e31c410000102030405060708090a0b0c0d0e0fc0',
    ],
    [
      'a proof hello (HMAC-SHA256 over the other side’s nonce)',
      proofHello(id, nonce, ackNonce),
      '00000041960103a66b766f72756da26e31c410000102030405060708090a0b0c0d0e0fc420' +
        '36f21e7439e5d619451dead54856b2e8e5d5d06b8659cb3d25053c8248caff73',
    ],
    ['a read request', { type: 'read', id: 7, key: 'user:42' }, '0000000b930507a7757365723a3432'],
    [
      'a write request with an lww set',
      { type: 'write', id: 8, key: 'user:42', set: lwwSet },
      '00000031940708a7757365723a343292909198c000cb427a0c4506c7b00007a26e32c2aa74657874' +
        '2f706c61696ec40568656c6c6f',
    ],
    [
      'a read reply with a siblings set',
      { type: 'readReply', id: 7, set: siblingsSet },
      '000000499306079294a26e3103a26e32059298a26e3103cb427a0c4506c7b00007a26e31c2aa7465' +
        '78742f706c61696ec40568656c6c6f98a26e3205cb427a0c4506dc800000a26e32c3a0c400',
    ],
    ['a write reply', { type: 'writeReply', id: 8, applied: true }, '00000004930808c3'],
    [
      'a write batch of an lww set and a siblings set',
      {
        type: 'writeBatch',
        id: 9,
        entries: [
          ['user:42', lwwSet],
          ['cart:7', siblingsSet],
        ],
      },
      '00000081931b099292a7757365723a343292909198c000cb427a0c4506c7b00007a26e32c2aa7465' +
        '78742f706c61696ec40568656c6c6f92a6636172743a379294a26e3103a26e32059298a26e3103cb' +
        '427a0c4506c7b00007a26e31c2aa746578742f706c61696ec40568656c6c6f98a26e3205cb427a0c' +
        '4506dc800000a26e32c3a0c400',
    ],
    [
      'a write batch reply naming a failed entry',
      { type: 'writeBatchReply', id: 9, applied: 1, failed: [1] },
      '00000006941c09019101',
    ],
  ])('%s encodes to fixed bytes and decodes back', (_name, msg, frameHex) => {
    expect(hex(encodeFrame(msg))).toBe(frameHex);
    const decoded = new FrameDecoder().push(bytes(frameHex));
    expect(decoded).toHaveLength(1);
    expect(plain(decoded[0])).toEqual(plain(msg));
  });
});

describe('golden vectors: stored versions', () => {
  it('a version encodes to fixed bytes and decodes back', () => {
    const stored = '0001a0c4506c7b00000007026e32000a746578742f706c61696e68656c6c6f';
    expect(hex(encodeVersion(value))).toBe(stored);
    expect(plain(decodeVersion(bytes(stored)))).toEqual(plain(value));
  });

  it.each<[string, VersionSet, string]>([
    [
      'an lww set',
      lwwSet,
      'd50000000001000000001f0001a0c4506c7b00000007026e32000a746578742f706c61696e68656c6c6f',
    ],
    [
      'a siblings set with two dots and a tombstone',
      siblingsSet,
      'd502026e31000000000003026e3200000000000500000002026e310000000000030000001f0001a0c450' +
        '6c7b00000007026e31000a746578742f706c61696e68656c6c6f026e32000000000005000000100101' +
        'a0c4506dc800000000026e320000',
    ],
  ])('%s encodes to fixed bytes and decodes back', (_name, set, stored) => {
    expect(hex(encodeSet(set))).toBe(stored);
    expect(plain(decodeSet(bytes(stored)))).toEqual(plain(set));
  });
});
