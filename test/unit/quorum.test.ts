import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import {
  majority,
  resolveLevel,
  resolveRequestOptions,
  type ConsistencyDefaults,
} from '../../src/core/quorum.js';
import { ReadTally, WriteTally } from '../../src/core/tally.js';
import { LWW, newestVersion, single } from '../../src/core/conflicts.js';

const v = (wallMs: number) => ({
  ts: { wallMs, logical: 0, node: 'n1' },
  tombstone: false,
  contentType: 'x',
  value: new Uint8Array(),
});

describe('quorum arithmetic', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [7, 4],
  ])('majority(%i) = %i', (n, q) => expect(majority(n)).toBe(q));

  it.each([
    ['one', 3, 1],
    ['quorum', 3, 2],
    ['all', 3, 3],
    ['2', 3, 2],
    ['quorum', 5, 3],
  ])('level %s with N=%i is %i', (level, n, k) => expect(resolveLevel(level, n, 'r')).toBe(k));

  it.each([['0'], ['4'], ['two'], [''], ['-1'], ['1.5'], ['QUORUM'], ['9999']])(
    'rejects r=%j with a 400',
    (level) => {
      expect(() => resolveLevel(level, 3, 'r')).toThrow(InvalidArgumentError);
    },
  );
});

describe('request options', () => {
  const cp: ConsistencyDefaults = {
    n: 3,
    r: 'quorum',
    w: 'quorum',
    linearizable: true,
    timeoutMs: 2000,
    timeoutMsMax: 60000,
  };
  const quorum: ConsistencyDefaults = { ...cp, linearizable: false };

  it('takes the profile defaults', () => {
    expect(resolveRequestOptions({}, cp)).toEqual({
      r: 2,
      w: 2,
      linearizable: true,
      timeoutMs: 2000,
    });
    expect(resolveRequestOptions({}, quorum)).toEqual({
      r: 2,
      w: 2,
      linearizable: false,
      timeoutMs: 2000,
    });
  });

  it('explicit r below a quorum in cp is served, not linearizable', () => {
    expect(resolveRequestOptions({ r: 'one' }, cp)).toMatchObject({ r: 1, linearizable: false });
  });

  it('explicit consistency=linearizable with r below a quorum is a 400', () => {
    expect(() => resolveRequestOptions({ r: 'one', consistency: 'linearizable' }, cp)).toThrow(
      /at least a quorum/,
    );
  });

  it('consistency=linearizable is honoured outside cp', () => {
    expect(resolveRequestOptions({ consistency: 'linearizable' }, quorum)).toMatchObject({
      linearizable: true,
    });
  });

  it.each([['0'], ['60001'], ['abc'], ['1e3']])('rejects timeout=%s', (t) => {
    expect(() => resolveRequestOptions({ timeout: t }, quorum)).toThrow(/timeout must be/);
  });

  it('rejects an unknown consistency', () => {
    expect(() => resolveRequestOptions({ consistency: 'strong' }, quorum)).toThrow(
      /consistency must be/,
    );
  });
});

describe('tallies', () => {
  it('a read is decided at R replies and merges them to the newest; the others are stale', () => {
    const t = new ReadTally(3, 2, LWW);
    t.addReply('n1', single(v(1)));
    expect(t.isDecided()).toBe(false);
    t.addReply('n2', single(v(5)));
    expect(t.isDecided() && t.succeeded()).toBe(true);
    t.addReply('n3', undefined);
    expect(newestVersion(t.merged())?.ts.wallMs).toBe(5);
    expect(t.stale().sort()).toEqual(['n1', 'n3']);
  });

  it('a read fails as soon as R replies are out of reach', () => {
    const t = new ReadTally(3, 2, LWW);
    t.addFailure();
    expect(t.isDecided()).toBe(false);
    t.addFailure();
    expect(t.isDecided()).toBe(true);
    expect(t.succeeded()).toBe(false);
  });

  it('a write succeeds at W acks', () => {
    const t = new WriteTally(3, 2);
    t.addAck('n1');
    t.addFailure();
    expect(t.isDecided()).toBe(false);
    t.addAck('n3');
    expect(t.succeeded()).toBe(true);
  });
});
