// The stored forms of a Version and of a VersionSet: every field round-trips, and damaged
// bytes fail loudly with a VersionCodecError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { single } from '../../src/core/conflicts.js';
import type { Dot, Sibling, VersionSet } from '../../src/core/version-set.js';
import type { Version } from '../../src/core/version.js';
import {
  decodeSet,
  decodeVersion,
  encodeSet,
  encodeVersion,
  VersionCodecError,
  withValuesIn,
} from '../../src/storage/version-codec.js';

function version(
  overrides: Partial<Version> & { wallMs?: number; logical?: number; node?: string } = {},
): Version {
  const { wallMs = 1_700_000_000_123, logical = 7, node = 'n1', ...rest } = overrides;
  return {
    ts: { wallMs, logical, node },
    tombstone: false,
    contentType: 'text/plain',
    value: Buffer.from('hello'),
    ...rest,
  };
}

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

function expectSame(actual: Version, expected: Version): void {
  expect(actual.ts).toEqual(expected.ts);
  expect(actual.tombstone).toBe(expected.tombstone);
  expect(actual.contentType).toBe(expected.contentType);
  expect(Buffer.from(actual.value).equals(Buffer.from(expected.value))).toBe(true);
}

describe('version codec', () => {
  it.each([
    ['a plain value', version()],
    ['a tombstone', version({ tombstone: true, contentType: '', value: new Uint8Array(0) })],
    ['every byte value', version({ value: allBytes, contentType: 'application/octet-stream' })],
    [
      'an empty value, node and content type',
      version({ node: '', contentType: '', value: new Uint8Array(0) }),
    ],
    [
      'non-ASCII node and content type',
      version({ node: 'nœud-ü', contentType: 'text/plain; charset=ünï' }),
    ],
    ['the largest timestamp fields', version({ wallMs: 2 ** 48 - 1, logical: 2 ** 32 - 1 })],
    ['the zero timestamp', version({ wallMs: 0, logical: 0 })],
    [
      'a 255-byte node id and a 65535-byte content type',
      version({ node: 'n'.repeat(255), contentType: 'c'.repeat(65_535) }),
    ],
    ['a 1 MiB value', version({ value: Buffer.alloc(1024 * 1024, 0xab) })],
  ])('round-trips %s', (_name, v) => {
    expectSame(decodeVersion(encodeVersion(v)), v);
  });

  it('encodes into exactly the bytes it needs', () => {
    const v = version({ node: 'n12', contentType: 'text/x', value: Buffer.from('abc') });
    expect(encodeVersion(v).length).toBe(14 + 3 + 6 + 3);
  });

  it('decodes a plain Uint8Array that is a window into a larger buffer', () => {
    const encoded = encodeVersion(version({ value: allBytes }));
    const backing = new Uint8Array(encoded.length + 10);
    backing.set(encoded, 5);
    expectSame(
      decodeVersion(backing.subarray(5, 5 + encoded.length)),
      version({ value: allBytes }),
    );
  });

  it.each([
    ['a negative wallMs', version({ wallMs: -1 }), /wallMs/],
    ['a fractional wallMs', version({ wallMs: 1.5 }), /wallMs/],
    ['a wallMs past 2^48', version({ wallMs: 2 ** 48 }), /wallMs/],
    ['a logical counter past 2^32', version({ logical: 2 ** 32 }), /logical/],
    ['a node id over 255 bytes', version({ node: 'é'.repeat(128) }), /node id/],
    [
      'a content type over 65535 bytes',
      version({ contentType: 'c'.repeat(65_536) }),
      /content type/,
    ],
    ['a tombstone with a value', version({ tombstone: true }), /tombstone/],
  ])('refuses to encode %s', (_name, v, message) => {
    expect(() => encodeVersion(v)).toThrow(VersionCodecError);
    expect(() => encodeVersion(v)).toThrow(message);
  });

  it('rejects every truncation that cuts into the header, node id or content type', () => {
    const encoded = encodeVersion(
      version({ node: 'node-7', contentType: 'text/plain', value: new Uint8Array(0) }),
    );
    for (let length = 0; length < encoded.length; length += 1) {
      expect(() => decodeVersion(encoded.subarray(0, length)), `length ${length}`).toThrow(
        /corrupt stored version/,
      );
    }
  });

  it('rejects unknown flags', () => {
    const encoded = encodeVersion(version());
    encoded[0] = 0x80;
    expect(() => decodeVersion(encoded)).toThrow(/unknown flags 0x80/);
  });

  it('rejects a node id length that runs past the end', () => {
    const encoded = encodeVersion(version());
    encoded[11] = 250;
    expect(() => decodeVersion(encoded)).toThrow(/node id length 250 runs past the end/);
  });

  it('rejects a content type length that runs past the end', () => {
    const encoded = encodeVersion(version({ node: 'n1', value: new Uint8Array(0) }));
    encoded.writeUInt16BE(999, 14);
    expect(() => decodeVersion(encoded)).toThrow(/content type length 999 runs past the end/);
  });

  it('rejects a tombstone that carries value bytes', () => {
    const encoded = encodeVersion(version());
    encoded[0] = 0x01;
    expect(() => decodeVersion(encoded)).toThrow(/a tombstone carries 5 value bytes/);
  });
});

/** A set built from its parts, siblings in the order given. */
function set(
  clock: ReadonlyArray<readonly [string, number]>,
  siblings: ReadonlyArray<readonly [Dot | null, Version]>,
): VersionSet {
  return {
    clock,
    siblings: siblings.map(([dot, v]): Sibling => ({ ...v, dot })),
  };
}

const dot = (node: string, counter: number): Dot => ({ node, counter });
const tomb = (node = 'n1', wallMs = 5): Version =>
  version({ node, wallMs, tombstone: true, contentType: '', value: new Uint8Array(0) });

/** A set as plain data, values in hex, so two sets compare with toEqual. */
function plain(s: VersionSet): unknown {
  return {
    clock: s.clock.map(([n, c]) => [n, c]),
    siblings: s.siblings.map((x) => ({
      dot: x.dot === null ? null : { node: x.dot.node, counter: x.dot.counter },
      ts: { ...x.ts },
      tombstone: x.tombstone,
      contentType: x.contentType,
      value: Buffer.from(x.value).toString('hex'),
    })),
  };
}

/** Any valid set: a clock, and 1-5 siblings, dotted or not, tombstones carrying no value. */
const arbitrarySet: fc.Arbitrary<VersionSet> = (() => {
  const nodeId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 });
  const versionArb = fc.record({
    wallMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    node: fc.string({ unit: 'grapheme', maxLength: 8 }),
    tombstone: fc.boolean(),
    contentType: fc.string({ unit: 'grapheme', maxLength: 20 }),
    value: fc.uint8Array({ maxLength: 64 }),
  });
  const counter = fc.integer({ min: 1, max: 2 ** 48 - 1 });
  const setArb = fc.record({
    clock: fc.array(fc.tuple(nodeId, counter), { maxLength: 6 }),
    siblings: fc.array(
      fc.tuple(fc.option(fc.record({ node: nodeId, counter }), { nil: null }), versionArb),
      { minLength: 1, maxLength: 5 },
    ),
  });
  return setArb.map(({ clock, siblings }) =>
    set(
      clock,
      siblings.map(([d, v]) => [
        d,
        v.tombstone ? version({ ...v, contentType: '', value: new Uint8Array(0) }) : version(v),
      ]),
    ),
  );
})();

function expectRoundTrip(s: VersionSet): void {
  expect(plain(decodeSet(encodeSet(s)))).toEqual(plain(s));
}

/** Catches what `fn` throws, failing the test if it returns. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** What `fn` threw, or undefined when it returned: for checks that count both outcomes. */
function thrownOrUndefined(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('version set codec', () => {
  const siblingSet = set(
    [
      ['n1', 3],
      ['n2', 7],
      ['n3', 2 ** 48 - 1],
    ],
    [
      [dot('n1', 3), version({ node: 'n1', value: Buffer.from('one') })],
      [dot('n2', 7), version({ node: 'n2', wallMs: 9, logical: 1, value: Buffer.from('two') })],
      [dot('n3', 2 ** 48 - 1), version({ node: 'n3', contentType: 'application/json' })],
    ],
  );

  it.each([
    ['an lww single version', single(version())],
    ['an lww single tombstone', single(tomb())],
    ['an lww single with every byte value', single(version({ value: allBytes }))],
    ['siblings with dots and a clock', siblingSet],
    [
      'tombstone siblings beside a value',
      set(
        [
          ['n1', 1],
          ['n2', 4],
        ],
        [
          [dot('n1', 1), tomb('n1', 1)],
          [dot('n2', 3), tomb('n2', 2)],
          [dot('n2', 4), version({ node: 'n2', value: allBytes })],
        ],
      ),
    ],
    [
      'binary and empty values',
      set(
        [['n1', 2]],
        [
          [dot('n1', 1), version({ value: Buffer.alloc(70_000, 0xfe) })],
          [dot('n1', 2), version({ value: new Uint8Array(0), contentType: '' })],
        ],
      ),
    ],
    [
      'multi-byte utf8 node ids in the clock, the dots and the timestamps',
      set(
        [
          ['nœud-1', 1],
          ['ノード', 2],
          ['🦊', 9],
        ],
        [
          [dot('nœud-1', 1), version({ node: 'nœud-1' })],
          [dot('ノード', 2), version({ node: 'ノード', contentType: 'text/plain; charset=ünï' })],
          [dot('🦊', 9), tomb('🦊')],
        ],
      ),
    ],
    [
      'a 255-byte node id and a 255-entry clock',
      set(
        Array.from({ length: 255 }, (_, i) => [`n${String(i).padStart(3, '0')}`, i + 1] as const),
        [[dot('é'.repeat(127) + 'x', 1), version({ node: 'é'.repeat(127) + 'x' })]],
      ),
    ],
    ['a dot-less sibling beside a clock', set([['n1', 1]], [[null, version()]])],
  ])('round-trips %s', (_name, s) => {
    expectRoundTrip(s);
  });

  it('decodes a plain Uint8Array that is a window into a larger buffer', () => {
    const encoded = encodeSet(siblingSet);
    const backing = new Uint8Array(encoded.length + 10);
    backing.set(encoded, 5);
    expect(plain(decodeSet(backing.subarray(5, 5 + encoded.length)))).toEqual(plain(siblingSet));
  });

  it('round-trips arbitrary sets (property)', () => {
    fc.assert(
      fc.property(arbitrarySet, (s) => {
        const encoded = encodeSet(s);
        expect(plain(decodeSet(encoded))).toEqual(plain(s));
        // Every cut of the encoding is refused, and so is any extra byte.
        for (let length = 0; length < encoded.length; length += 1) {
          expect(() => decodeSet(encoded.subarray(0, length))).toThrow(VersionCodecError);
        }
        expect(() => decodeSet(Buffer.concat([encoded, Buffer.from([0])]))).toThrow(
          VersionCodecError,
        );
      }),
      { seed: 0x6b76, numRuns: 200 },
    );
  });

  it('keeps values as views into the record they were encoded into, for any set', () => {
    fc.assert(
      fc.property(arbitrarySet, (s) => {
        const encoded = encodeSet(s, true);
        // Its own buffer, not a slice of Node's shared pool that a kept view would pin.
        expect(encoded.buffer.byteLength).toBe(encoded.length);
        const kept = withValuesIn(s, encoded);
        expect(plain(kept)).toEqual(plain(s));
        for (const sibling of kept.siblings) {
          if (sibling.value.length > 0) expect(sibling.value.buffer).toBe(encoded.buffer);
        }
      }),
      { seed: 0x6b76, numRuns: 200 },
    );
  });

  it('damaged bytes either fail with a VersionCodecError or decode to a set that encodes again (property)', () => {
    const encoded = encodeSet(siblingSet);
    const outcomes = { rejected: 0, decoded: 0 };
    const runs = 2000;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(encoded.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (flips) => {
          const damaged = Buffer.from(encoded);
          for (const [at, byte] of flips) damaged[at] = byte;
          let decoded: VersionSet | undefined;
          const error = thrownOrUndefined(() => (decoded = decodeSet(damaged)));
          if (error !== undefined) {
            outcomes.rejected += 1;
            expect(error).toBeInstanceOf(VersionCodecError);
            expect((error as Error).message).toMatch(/^corrupt stored version: /);
            return;
          }
          outcomes.decoded += 1;
          // What the decoder hands out is a set the store can write back as it is.
          expect(plain(decodeSet(encodeSet(decoded as VersionSet)))).toEqual(
            plain(decoded as VersionSet),
          );
        },
      ),
      { seed: 0x5e7, numRuns: runs },
    );
    // Both outcomes are common (about half each for this seed), so both checks above ran.
    expect(outcomes.rejected + outcomes.decoded).toBe(runs);
    expect(outcomes.rejected).toBeGreaterThan(runs / 4);
    expect(outcomes.decoded).toBeGreaterThan(runs / 4);
  });

  it('rejects every truncation of a siblings set with a VersionCodecError', () => {
    const encoded = encodeSet(siblingSet);
    for (let length = 0; length < encoded.length; length += 1) {
      const error = thrown(() => decodeSet(encoded.subarray(0, length)));
      expect(error, `length ${length}`).toBeInstanceOf(VersionCodecError);
      expect(error.message, `length ${length}`).toMatch(/^corrupt stored version: /);
    }
  });

  it('rejects bytes after the last sibling', () => {
    const encoded = Buffer.concat([encodeSet(siblingSet), Buffer.from([0, 1, 2])]);
    expect(() => decodeSet(encoded)).toThrow(VersionCodecError);
    expect(() => decodeSet(encoded)).toThrow(/3 bytes after the last sibling/);
  });

  it('rejects a set with no siblings', () => {
    const empty = Buffer.from([0xd5, 0, 0, 0, 0, 0]);
    expect(() => decodeSet(empty)).toThrow(VersionCodecError);
    expect(() => decodeSet(empty)).toThrow(/no siblings/);
  });

  it('rejects a zero counter in a clock entry or in a dot', () => {
    const clockEntry = encodeSet(set([['n1', 1]], [[null, version()]]));
    // [marker][clockLen][nodeLen=2]['n1'][u48 counter]...
    clockEntry.writeUIntBE(0, 5, 6);
    expect(() => decodeSet(clockEntry)).toThrow(VersionCodecError);
    expect(() => decodeSet(clockEntry)).toThrow(/clock entry has a zero counter/);

    const dotted = encodeSet(set([], [[dot('n1', 1), version()]]));
    // [marker][clockLen=0][u32 count][dotNodeLen=2]['n1'][u48 counter]...
    dotted.writeUIntBE(0, 9, 6);
    expect(() => decodeSet(dotted)).toThrow(VersionCodecError);
    expect(() => decodeSet(dotted)).toThrow(/dot has a zero counter/);
  });

  it('rejects an empty node id in a clock entry', () => {
    const bytes = Buffer.from([0xd5, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(() => decodeSet(bytes)).toThrow(/clock entry has an empty node id/);
  });

  it('rejects a sibling whose version is corrupt', () => {
    const encoded = encodeSet(set([], [[null, version()]]));
    // [marker][clockLen=0][u32 count][no dot][u32 len][version flags]...
    encoded[11] = 0x80;
    expect(() => decodeSet(encoded)).toThrow(VersionCodecError);
    expect(() => decodeSet(encoded)).toThrow(/unknown flags/);
  });

  it.each([
    ['a value', version()],
    ['a tombstone', version({ tombstone: true, contentType: '', value: new Uint8Array(0) })],
    ['an empty value', version({ node: '', contentType: '', value: new Uint8Array(0) })],
  ])('refuses single-version bytes (%s) from an older store with a clear error', (_name, v) => {
    const old = encodeVersion(v);
    const error = thrown(() => decodeSet(old));
    expect(error).toBeInstanceOf(VersionCodecError);
    expect(error.message).toMatch(/not a version set.*older kvorum/);
  });

  it.each([
    [
      'a clock of 256 entries',
      set(
        Array.from({ length: 256 }, (_, i) => [`n${String(i).padStart(3, '0')}`, 1] as const),
        [[null, version()]],
      ),
      /clock of 256 entries/,
    ],
    ['a zero clock counter', set([['n1', 0]], [[null, version()]]), /counter/],
    ['a clock counter past 2^48', set([['n1', 2 ** 48]], [[null, version()]]), /counter/],
    ['a fractional dot counter', set([['n1', 2]], [[dot('n1', 1.5), version()]]), /counter/],
    ['an empty clock node id', set([['', 1]], [[null, version()]]), /node id is 0 bytes/],
    ['an empty dot node id', set([], [[dot('', 1), version()]]), /node id is 0 bytes/],
    [
      'a dot node id over 255 bytes',
      set([], [[dot('é'.repeat(128), 1), version()]]),
      /node id is 256 bytes/,
    ],
    ['a sibling version it cannot store', set([], [[null, version({ wallMs: -1 })]]), /wallMs/],
  ])('refuses to encode %s', (_name, s, message) => {
    const error = thrown(() => encodeSet(s));
    expect(error).toBeInstanceOf(VersionCodecError);
    expect(error.message).toMatch(message);
  });
});
