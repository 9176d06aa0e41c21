import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/config.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import {
  EMPTY_FAULTS,
  FaultFilter,
  parseFaultSpec,
  type FaultSpec,
} from '../../src/core/faults.js';
import { seededRng } from '../support/rng.js';

const PEERS = ['n2', 'n3'];
const SELF = 'n1';

/** JSON round trip: what the admin API would serve. */
const asJson = (spec: FaultSpec): unknown => JSON.parse(JSON.stringify(spec));

describe('parseFaultSpec', () => {
  it.each<[string, unknown, unknown]>([
    ['an empty object', {}, { block: [], delay: {}, drop: {} }],
    [
      'the example from the contract',
      { block: ['n3'], delay: { n2: { ms: 50, jitterMs: 10 } }, drop: { n2: 0.2 } },
      { block: ['n3'], delay: { n2: { ms: 50, jitterMs: 10 } }, drop: { n2: 0.2 } },
    ],
    [
      'a delay without jitter',
      { delay: { n3: { ms: 5 } } },
      { block: [], delay: { n3: { ms: 5, jitterMs: 0 } }, drop: {} },
    ],
    ['duplicate blocks once', { block: ['n2', 'n2'] }, { block: ['n2'], delay: {}, drop: {} }],
    [
      'the bounds',
      { delay: { n2: { ms: LIMITS.faultDelayMsMax, jitterMs: 0 } }, drop: { n2: 1, n3: 0 } },
      {
        block: [],
        delay: { n2: { ms: LIMITS.faultDelayMsMax, jitterMs: 0 } },
        drop: { n2: 1, n3: 0 },
      },
    ],
  ])('accepts %s', (_name, raw, expected) => {
    expect(asJson(parseFaultSpec(raw, PEERS, SELF))).toEqual(expected);
  });

  it.each<[string, unknown, RegExp]>([
    ['null', null, /must be a JSON object/],
    ['an array', [], /must be a JSON object/],
    ['a string', 'block n2', /must be a JSON object/],
    ['an unknown key', { partition: ['n2'] }, /unknown fault "partition"/],
    ['block that is not an array', { block: 'n2' }, /"block" must be an array/],
    ['block with a number', { block: [2] }, /"block" must be an array/],
    ['block of an unknown node', { block: ['n9'] }, /unknown node "n9".*known peers are n2, n3/],
    ['block of itself', { block: ['n1'] }, /names this node \(n1\)/],
    ['delay of itself', { delay: { n1: { ms: 1, jitterMs: 0 } } }, /names this node/],
    ['delay of an unknown node', { delay: { nope: { ms: 1 } } }, /unknown node "nope"/],
    ['delay that is a number', { delay: { n2: 50 } }, /must be an object like/],
    ['delay without ms', { delay: { n2: { jitterMs: 3 } } }, /needs "ms"/],
    [
      'delay with an unknown key',
      { delay: { n2: { ms: 1, seconds: 2 } } },
      /unknown key "seconds"/,
    ],
    [
      'negative ms',
      { delay: { n2: { ms: -1, jitterMs: 0 } } },
      /integer number of milliseconds from 0 to 60000/,
    ],
    ['fractional ms', { delay: { n2: { ms: 1.5, jitterMs: 0 } } }, /ms must be an integer/],
    [
      'ms above the limit',
      { delay: { n2: { ms: LIMITS.faultDelayMsMax + 1, jitterMs: 0 } } },
      /from 0 to/,
    ],
    ['ms as a string', { delay: { n2: { ms: '50', jitterMs: 0 } } }, /ms must be an integer/],
    [
      'jitter above the limit',
      { delay: { n2: { ms: 1, jitterMs: 1e9 } } },
      /jitterMs must be an integer/,
    ],
    ['drop above 1', { drop: { n2: 1.5 } }, /probability from 0 to 1/],
    ['negative drop', { drop: { n2: -0.1 } }, /probability from 0 to 1/],
    ['drop NaN', { drop: { n2: Number.NaN } }, /probability/],
    ['drop as a string', { drop: { n2: '0.5' } }, /probability/],
    ['drop of itself', { drop: { n1: 0.5 } }, /names this node/],
    [
      'a "__proto__" peer from JSON',
      JSON.parse('{"drop":{"__proto__":0.5}}'),
      /unknown node "__proto__"/,
    ],
  ])('rejects %s with a sentence to act on', (_name, raw, message) => {
    expect(() => parseFaultSpec(raw, PEERS, SELF)).toThrow(InvalidArgumentError);
    expect(() => parseFaultSpec(raw, PEERS, SELF)).toThrow(message);
  });

  it('accepts a known-peer list that includes the node itself', () => {
    expect(() => parseFaultSpec({ block: ['n2'] }, ['n1', 'n2', 'n3'], SELF)).not.toThrow();
    expect(() => parseFaultSpec({ block: ['n1'] }, ['n1', 'n2', 'n3'], SELF)).toThrow(
      /names this node/,
    );
  });
});

describe('FaultFilter', () => {
  it('starts empty and reports what was set', () => {
    const f = new FaultFilter();
    expect(f.get()).toEqual(EMPTY_FAULTS);
    expect(f.isEmpty()).toBe(true);
    const spec = parseFaultSpec({ block: ['n3'], drop: { n2: 0.5 } }, PEERS, SELF);
    f.set(spec);
    expect(asJson(f.get())).toEqual(asJson(spec));
    expect(f.isEmpty()).toBe(false);
    expect(f.isBlocked('n3')).toBe(true);
    expect(f.isBlocked('n2')).toBe(false);
    f.set(EMPTY_FAULTS);
    expect(f.isEmpty()).toBe(true);
    expect(f.isBlocked('n3')).toBe(false);
  });

  it('keeps its own copy of the spec it was given', () => {
    const f = new FaultFilter();
    const spec = { block: ['n2'], delay: {}, drop: {} };
    f.set(spec);
    spec.block.push('n3');
    expect(f.isBlocked('n3')).toBe(false);
    expect(f.get().block).toEqual(['n2']);
  });

  it('does not mistake Object.prototype members for peers', () => {
    const f = new FaultFilter();
    f.set(parseFaultSpec({ drop: { n2: 1 } }, PEERS, SELF));
    expect(f.shouldDrop('constructor', seededRng(1))).toBe(false);
    expect(f.sendDelayMs('toString', seededRng(1))).toBe(0);
  });

  it('drops with the configured probability, reproducibly from a seed', () => {
    const f = new FaultFilter();
    f.set(parseFaultSpec({ drop: { n2: 0.2, n3: 1 } }, PEERS, SELF));
    const run = (seed: number) => {
      const rng = seededRng(seed);
      return Array.from({ length: 10_000 }, () => f.shouldDrop('n2', rng));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(rate).toBeGreaterThan(0.18);
    expect(rate).toBeLessThan(0.22);
    const rng = seededRng(3);
    for (let i = 0; i < 100; i++) expect(f.shouldDrop('n3', rng)).toBe(true);
  });

  it('never drops on links without a drop fault, and uses no randomness for them', () => {
    const f = new FaultFilter();
    f.set(parseFaultSpec({ drop: { n2: 0 } }, PEERS, SELF));
    const rng = () => {
      throw new Error('no randomness needed');
    };
    expect(f.shouldDrop('n2', rng)).toBe(false);
    expect(f.shouldDrop('n3', rng)).toBe(false);
    expect(f.sendDelayMs('n3', rng)).toBe(0);
  });

  it('delays by ms plus a uniform jitter in [-jitterMs, +jitterMs]', () => {
    const f = new FaultFilter();
    f.set(
      parseFaultSpec(
        { delay: { n2: { ms: 50, jitterMs: 10 }, n3: { ms: 30, jitterMs: 0 } } },
        PEERS,
        SELF,
      ),
    );
    const rng = seededRng(11);
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const d = f.sendDelayMs('n2', rng);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(40);
      expect(d).toBeLessThanOrEqual(60);
      seen.add(d);
    }
    expect(seen.size).toBe(21); // every value from 40 to 60 occurs
    expect(f.sendDelayMs('n3', rng)).toBe(30);
    expect(f.sendDelayMs('n2', () => 0)).toBe(40);
    expect(f.sendDelayMs('n2', () => 0.999_999)).toBe(60);
  });

  it('never delays below zero when jitter exceeds the delay', () => {
    const f = new FaultFilter();
    f.set(parseFaultSpec({ delay: { n2: { ms: 5, jitterMs: 20 } } }, PEERS, SELF));
    expect(f.sendDelayMs('n2', () => 0)).toBe(0);
    expect(f.sendDelayMs('n2', () => 0.999_999)).toBe(25);
  });
});
