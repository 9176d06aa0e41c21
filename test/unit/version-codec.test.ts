// The stored form of a Version: every field round-trips, and damaged bytes fail loudly.

import { describe, expect, it } from 'vitest';
import type { Version } from '../../src/core/version.js';
import {
  decodeVersion,
  encodeVersion,
  VersionCodecError,
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
