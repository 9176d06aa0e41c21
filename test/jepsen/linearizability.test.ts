// Hand-written histories with known verdicts for the register checker, and the event builder and
// Jepsen log parser that feed it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildHistory,
  HistoryBuilder,
  MalformedHistoryError,
  type HistoryEvent,
  type Op,
} from '../../src/verify/history.js';
import { JepsenLogError, parseJepsenLog, readJepsenHistory } from '../../src/verify/jepsen-log.js';
import {
  checkHistory,
  checkRegister,
  formatReport,
  type RegisterResult,
} from '../../src/verify/linearizability.js';

/**
 * One operation per line: `p<process> <f> <value> <outcome> <invokeAt> [completeAt]`, where a
 * cas value is `from>to`, `nil` is null, and an info operation has no completeAt. A `key:` prefix
 * puts the operation on another key than `x`.
 */
function history(...lines: string[]): Op[] {
  return lines.map((line, id): Op => {
    const keyed = /^(\w+): (.*)$/.exec(line);
    const [p, f, v, outcome, invokeAt, completeAt] = (keyed?.[2] ?? line).split(' ');
    const val = (s: string | undefined) => (s === 'nil' ? null : Number(s));
    const base = {
      id,
      process: Number(p!.slice(1)),
      key: keyed?.[1] ?? 'x',
      outcome: outcome as Op['outcome'],
      invokeAt: Number(invokeAt),
      completeAt: completeAt === undefined ? Infinity : Number(completeAt),
    };
    if (f === 'cas') {
      const [from, to] = v!.split('>');
      return { ...base, f, value: [val(from), val(to)] };
    }
    return { ...base, f: f as 'read' | 'write', value: val(v) };
  });
}

const violation = (r: RegisterResult) => {
  if (r.linearizable !== false) throw new Error(`expected a violation: ${formatReport(r)}`);
  return r.violation;
};

/** Table rows `[what the history shows, its operations, whether it is linearizable]`. */
const verdictCases = (rows: [string, string[], boolean][]) =>
  rows.map(([name, lines, expected]): [string, boolean, string[]] => [name, expected, lines]);

describe('checkRegister: reads and writes', () => {
  it.each(
    verdictCases([
      ['an empty history', [], true],
      ['a read of a register never written sees nil', ['p0 read nil ok 0 1'], true],
      [
        'a sequential history',
        ['p0 write 1 ok 0 1', 'p1 read 1 ok 2 3', 'p0 write 2 ok 4 5', 'p1 read 2 ok 6 7'],
        true,
      ],
      [
        'concurrent writes, reads see the first then the second',
        ['p0 write 1 ok 0 10', 'p1 write 2 ok 1 9', 'p2 read 1 ok 2 3', 'p2 read 2 ok 4 5'],
        true,
      ],
      [
        'concurrent writes, reads see the second then the first',
        ['p0 write 1 ok 0 10', 'p1 write 2 ok 1 9', 'p2 read 2 ok 2 3', 'p2 read 1 ok 4 5'],
        true,
      ],
      [
        'concurrent writes cannot each take effect twice (1, 2, 1)',
        [
          'p0 write 1 ok 0 10',
          'p1 write 2 ok 1 9',
          'p2 read 1 ok 2 3',
          'p2 read 2 ok 4 5',
          'p2 read 1 ok 6 7',
        ],
        false,
      ],
      [
        'stale read: begins after a newer write completed, returns the older value',
        ['p0 write 1 ok 0 1', 'p0 write 2 ok 2 3', 'p1 read 1 ok 4 5'],
        false,
      ],
      [
        'new-old inversion: sequential reads see new then old while the write is in flight',
        ['p0 write 1 ok 0 10', 'p1 read 1 ok 1 2', 'p2 read nil ok 3 4'],
        false,
      ],
      [
        'lost write: an acknowledged write is never visible, no other write happened',
        ['p0 write 1 ok 0 1', 'p1 read nil ok 2 3', 'p2 read nil ok 4 5'],
        false,
      ],
      ['a read of a value nobody wrote', ['p0 write 1 ok 0 1', 'p1 read 7 ok 2 3'], false],
      [
        'a failed write whose value is later read',
        ['p0 write 1 ok 0 1', 'p0 write 2 fail 2 3', 'p1 read 2 ok 4 5'],
        false,
      ],
      [
        'a failed write that nobody sees',
        ['p0 write 1 ok 0 1', 'p0 write 2 fail 2 3', 'p1 read 1 ok 4 5'],
        true,
      ],
      [
        'an operation ending at the instant another begins counts as concurrent',
        ['p0 write 1 ok 0 5', 'p1 read nil ok 5 6'],
        true,
      ],
    ]),
  )('%s → linearizable: %s', (_name, expected, lines) => {
    expect(checkRegister(history(...lines), { model: 'register' }).linearizable).toBe(expected);
  });
});

describe('checkRegister: indeterminate (info) operations', () => {
  it.each(
    verdictCases([
      [
        'an info write that took effect: a later read sees it',
        ['p0 write 1 ok 0 1', 'p1 write 2 info 2', 'p2 read 2 ok 5 6'],
        true,
      ],
      [
        'an info write that did not take effect: later reads never see it',
        ['p0 write 1 ok 0 1', 'p1 write 2 info 2', 'p2 read 1 ok 5 6', 'p2 read 1 ok 7 8'],
        true,
      ],
      [
        'an info write may take effect long after it was invoked',
        ['p0 write 1 ok 0 1', 'p1 write 2 info 2', 'p2 read 1 ok 50 60', 'p2 read 2 ok 70 80'],
        true,
      ],
      [
        'an info write takes effect at most once',
        ['p0 write 1 ok 0 1', 'p1 write 2 info 2', 'p2 read 2 ok 5 6', 'p2 read 1 ok 7 8'],
        false,
      ],
      [
        'an info write cannot take effect before it was invoked',
        ['p2 read 2 ok 0 1', 'p1 write 2 info 2'],
        false,
      ],
      ['an info read constrains nothing', ['p0 write 1 ok 0 1', 'p1 read 9 info 2'], true],
    ]),
  )('%s → linearizable: %s', (_name, expected, lines) => {
    expect(checkRegister(history(...lines)).linearizable).toBe(expected);
  });
});

describe('checkRegister: compare-and-set', () => {
  it.each(
    verdictCases([
      ['a cas that swaps', ['p0 write 1 ok 0 1', 'p1 cas 1>2 ok 2 3', 'p2 read 2 ok 4 5'], true],
      ['a cas from nil on a fresh register', ['p1 cas nil>3 ok 0 1', 'p2 read 3 ok 2 3'], true],
      [
        'a cas that succeeded although the register did not hold from',
        ['p0 write 1 ok 0 1', 'p1 cas 3>2 ok 2 3'],
        false,
      ],
      [
        'a read after a successful cas still sees the old value',
        ['p0 write 1 ok 0 1', 'p1 cas 1>2 ok 2 3', 'p2 read 1 ok 4 5'],
        false,
      ],
      [
        'a failed cas did not take effect',
        ['p0 write 1 ok 0 1', 'p1 cas 1>2 fail 2 3', 'p2 read 1 ok 4 5'],
        true,
      ],
      [
        'two concurrent cas from the same value cannot both succeed',
        ['p0 write 0 ok 0 1', 'p1 cas 0>1 ok 2 6', 'p2 cas 0>2 ok 3 7'],
        false,
      ],
      [
        'concurrent cas chain in the only order that works',
        ['p0 write 0 ok 0 1', 'p1 cas 1>2 ok 2 6', 'p2 cas 0>1 ok 3 7', 'p3 read 2 ok 8 9'],
        true,
      ],
      [
        'an info cas that took effect',
        ['p0 write 1 ok 0 1', 'p1 cas 1>2 info 2', 'p2 read 2 ok 4 5'],
        true,
      ],
      [
        'an info cas that could never have applied is simply never applied',
        ['p0 write 1 ok 0 1', 'p1 cas 5>2 info 2', 'p2 read 1 ok 4 5'],
        true,
      ],
    ]),
  )('%s → linearizable: %s', (_name, expected, lines) => {
    expect(checkRegister(history(...lines), { model: 'cas-register' }).linearizable).toBe(expected);
  });

  it('the plain register model refuses cas operations', () => {
    expect(() => checkRegister(history('p1 cas 1>2 ok 0 1'), { model: 'register' })).toThrow(
      /cas needs the cas-register model/,
    );
  });
});

describe('checkHistory: keys are checked independently', () => {
  const twoKeys = [
    'x: p0 write 1 ok 0 1',
    'y: p1 write 2 ok 2 3',
    'x: p2 read 1 ok 4 5',
    'y: p3 read 2 ok 6 7',
  ];

  it('each key is linearizable, so the history is, though one register could not explain it', () => {
    const result = checkHistory(history(...twoKeys));
    expect(result.linearizable).toBe(true);
    expect(result.keys.map((r) => [r.key, r.linearizable])).toEqual([
      ['x', true],
      ['y', true],
    ]);
    const merged = history(...twoKeys.map((l) => l.replace(/^y:/, 'x:')));
    expect(checkHistory(merged).linearizable).toBe(false);
  });

  it('one bad key makes the history non-linearizable, and the report names it', () => {
    const result = checkHistory(history(...twoKeys, 'y: p3 read nil ok 8 9'));
    expect(result.linearizable).toBe(false);
    expect(result.keys.map((r) => [r.key, r.linearizable])).toEqual([
      ['x', true],
      ['y', false],
    ]);
    expect(formatReport(result)).toMatch(/2 key\(s\): NOT linearizable\nkey "y"/);
  });

  it('checkRegister refuses a history with several keys', () => {
    expect(() => checkRegister(history(...twoKeys))).toThrow(/use checkHistory/);
  });
});

describe('checkRegister: operations it refuses', () => {
  it.each<[string, string, RegExp]>([
    ['completing before it was invoked', 'p0 write 1 ok 5 4', /completes before it was invoked/],
    ['an ok operation that never completes', 'p0 write 1 ok 5', /times must be finite/],
  ])('%s', (_name, line, message) => {
    expect(() => checkRegister(history(line))).toThrow(message);
  });
});

describe('the explanation of a violation', () => {
  it('names the stale read, what the register held, and the write that made it stale', () => {
    const ops = history('p0 write 1 ok 0 1', 'p0 write 2 ok 2 3', 'p1 read 1 ok 4 5');
    const result = checkRegister(ops);
    const v = violation(result);
    expect(v.op).toBe(ops[2]);
    expect(v.possibleValues).toEqual([2]);
    expect(v.sources).toEqual([ops[0]]);
    expect(v.linearizedTail).toEqual([ops[0], ops[1]]);
    expect(v.concurrent).toEqual([]);
    const report = formatReport(result);
    expect(report).toContain('#2 p1 read 1 ok [4, 5] cannot take effect');
    expect(report).toContain('the register could hold only: 2');
    expect(report).toContain('1 was stored by: #0 p0 write 1 ok [0, 1]');
    expect(report.split('\n').length).toBeLessThanOrEqual(6);
  });

  it('stops at the smallest failing prefix and lists the operations in flight', () => {
    const ops = history(
      'p0 write 1 ok 0 1',
      'p1 write 2 ok 2 20',
      'p2 write 3 info 3',
      'p3 read 1 ok 4 5',
      'p3 read 4 ok 6 7',
      'p3 read 9 ok 8 9',
    );
    const v = violation(checkRegister(ops));
    expect(v.op).toBe(ops[4]);
    expect(v.possibleValues).toEqual([1, 2, 3]);
    expect(v.sources).toEqual([]);
    expect(v.concurrent).toEqual([ops[1], ops[2]]);
    expect(formatReport(checkRegister(ops))).toContain('no checked operation stored 4');
  });

  it('names a failed write read later as stored by nobody', () => {
    const ops = history('p0 write 2 fail 0 1', 'p1 read 2 ok 2 3');
    expect(violation(checkRegister(ops)).op).toBe(ops[1]);
    expect(formatReport(checkRegister(ops))).toContain('failed operations are left out');
  });
});

describe('the time budget', () => {
  // Twelve concurrent writes and a read of a value none wrote: refuting it means visiting every
  // (subset of writes, last value) pair, tens of thousands of search steps.
  const hard = history(
    ...Array.from({ length: 12 }, (_, i) => `p${i} write ${i} ok 0 100`),
    'p99 read 42 ok 101 102',
  );

  it('gives up with unknown once the budget is spent', () => {
    let t = 0;
    const result = checkRegister(hard, { budgetMs: 5, now: () => t++ });
    expect(result.linearizable).toBe('unknown');
    expect(formatReport(result)).toMatch(/no verdict within 5 ms/);
    expect(checkHistory(hard, { budgetMs: 5, now: () => t++ }).linearizable).toBe('unknown');
  });

  it('a budget shared by many small keys runs out between keys too', () => {
    let t = 0;
    const keys = history('a: p0 write 1 ok 0 1', 'b: p0 write 1 ok 2 3', 'c: p0 write 1 ok 4 5');
    const result = checkHistory(keys, { budgetMs: 1, now: () => t++ });
    expect(result.keys.map((r) => r.linearizable)).toEqual([true, 'unknown', 'unknown']);
    expect(result.linearizable).toBe('unknown');
  });

  it('decides the same history without a budget', () => {
    const result = checkRegister(hard);
    expect(result.linearizable).toBe(false);
    expect(result.steps).toBeGreaterThan(1024);
  });
});

/**
 * The definition, by brute force: some order of the operations that respects real time (an op
 * that completed before another was invoked comes first) is legal for a cas register, where
 * failed ops and info reads are ignored and an info op may be left out.
 */
function bruteForceLinearizable(all: readonly Op[]): boolean {
  const ops = all.filter((o) => o.outcome !== 'fail' && !(o.f === 'read' && o.outcome === 'info'));
  const search = (left: readonly Op[], state: unknown): boolean => {
    if (left.every((o) => o.outcome === 'info')) return true;
    return left.some((o) => {
      if (left.some((y) => y.completeAt < o.invokeAt)) return false;
      let next: unknown;
      if (o.f === 'write') next = o.value;
      else if (o.f === 'read') next = o.value === state ? state : undefined;
      else next = o.value[0] === state ? o.value[1] : undefined;
      return (
        next !== undefined &&
        search(
          left.filter((y) => y !== o),
          next,
        )
      );
    });
  };
  return search(ops, null);
}

describe('checkRegister agrees with a brute-force search', () => {
  const value = fc.constantFrom(null, 1, 2);
  const op = fc.record({
    f: fc.constantFrom('read', 'write', 'cas'),
    value,
    to: value,
    outcome: fc.constantFrom('ok', 'ok', 'ok', 'fail', 'info'),
    invokeAt: fc.integer({ min: 0, max: 12 }),
    length: fc.integer({ min: 0, max: 6 }),
  });

  it('on small random histories', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 7 }), (drafts) => {
        const ops = drafts.map((d, id): Op => {
          const base = {
            id,
            process: id,
            key: 'x',
            outcome: d.outcome as Op['outcome'],
            invokeAt: d.invokeAt,
            completeAt: d.outcome === 'info' ? Infinity : d.invokeAt + d.length,
          };
          if (d.f === 'cas') return { ...base, f: 'cas', value: [d.value, d.to] };
          return { ...base, f: d.f as 'read' | 'write', value: d.value };
        });
        expect(checkRegister(ops).linearizable).toBe(bruteForceLinearizable(ops));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('HistoryBuilder', () => {
  const ev = (
    process: number,
    type: HistoryEvent['type'],
    f: HistoryEvent['f'],
    value?: unknown,
  ): HistoryEvent => ({ process, type, f, value });

  it('pairs invokes with completions, in invocation order, timed by position', () => {
    const ops = buildHistory([
      ev(0, 'invoke', 'write', 1),
      ev(1, 'invoke', 'read'),
      ev(0, 'ok', 'write', 1),
      ev(2, 'invoke', 'cas', [1, 2]),
      ev(1, 'ok', 'read', 1),
      ev(2, 'info', 'cas', ':timed-out'),
      ev(3, 'invoke', 'write', 5),
      ev(3, 'fail', 'write', 5),
      ev(4, 'invoke', 'write', 6),
    ]);
    expect(ops).toEqual([
      {
        id: 0,
        process: 0,
        key: 'register',
        f: 'write',
        value: 1,
        outcome: 'ok',
        invokeAt: 0,
        completeAt: 2,
      },
      {
        id: 1,
        process: 1,
        key: 'register',
        f: 'read',
        value: 1,
        outcome: 'ok',
        invokeAt: 1,
        completeAt: 4,
      },
      {
        id: 2,
        process: 2,
        key: 'register',
        f: 'cas',
        value: [1, 2],
        outcome: 'info',
        invokeAt: 3,
        completeAt: Infinity,
      },
      {
        id: 3,
        process: 3,
        key: 'register',
        f: 'write',
        value: 5,
        outcome: 'fail',
        invokeAt: 6,
        completeAt: 7,
      },
      // Still open when the stream ended: it may or may not have happened.
      {
        id: 4,
        process: 4,
        key: 'register',
        f: 'write',
        value: 6,
        outcome: 'info',
        invokeAt: 8,
        completeAt: Infinity,
      },
    ]);
  });

  it('uses the times and keys events carry', () => {
    const ops = buildHistory([
      { process: 'a', type: 'invoke', f: 'write', value: 'v', key: 'k', at: 100 },
      { process: 'a', type: 'ok', f: 'write', key: 'k', at: 130 },
    ]);
    expect(ops[0]).toMatchObject({
      process: 'a',
      key: 'k',
      value: 'v',
      invokeAt: 100,
      completeAt: 130,
    });
  });

  it.each<[string, HistoryEvent[], RegExp]>([
    [
      'a completion without an invoke',
      [ev(0, 'ok', 'read', 1)],
      /event 0: process 0 completed read \(ok\) without an invoke/,
    ],
    [
      'a second invoke while one is open',
      [ev(0, 'invoke', 'read'), ev(0, 'invoke', 'write', 1)],
      /event 1: process 0 invoked write while its read from event 0 is still open/,
    ],
    [
      'a completion of another function',
      [ev(0, 'invoke', 'read'), ev(0, 'ok', 'write', 1)],
      /invoked read but completed write/,
    ],
    [
      'an ok write with another value',
      [ev(0, 'invoke', 'write', 1), ev(0, 'ok', 'write', 2)],
      /invoked write 1 but it completed with 2/,
    ],
    ['a cas without [from, to]', [ev(0, 'invoke', 'cas', 3)], /cas needs \[from, to\], got 3/],
    [
      'an unknown event type',
      [{ process: 0, type: 'crash' as HistoryEvent['type'], f: 'read' }],
      /unknown event type crash/,
    ],
    [
      'time going backwards',
      [
        { process: 0, type: 'invoke', f: 'read', at: 5 },
        { process: 0, type: 'ok', f: 'read', value: 1, at: 4 },
      ],
      /time went backwards \(4 after 5\)/,
    ],
    [
      'some events timed and some not',
      [{ process: 0, type: 'invoke', f: 'read', at: 5 }, ev(0, 'ok', 'read', 1)],
      /either every event carries `at` or none does/,
    ],
  ])('rejects %s', (_name, events, message) => {
    expect(() => buildHistory(events)).toThrow(MalformedHistoryError);
    expect(() => buildHistory(events)).toThrow(message);
  });

  it('names the source line of a bad event', () => {
    const builder = new HistoryBuilder();
    expect(() => builder.add({ ...ev(7, 'ok', 'read', 1), line: 42 })).toThrow(
      /event 0 \(line 42\): process 7/,
    );
  });

  it('accepts nothing after finish', () => {
    const builder = new HistoryBuilder();
    builder.finish();
    expect(() => builder.add(ev(0, 'invoke', 'read'))).toThrow(/already finished/);
  });
});

describe('parseJepsenLog', () => {
  const log = [
    'INFO  jepsen.core - Running test',
    'INFO  jepsen.util - 0\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 1   :invoke :cas    [1 2]',
    'INFO  jepsen.util - :nemesis\t:info\t:start\tnil',
    'INFO  jepsen.util - 0\t:ok\t:read\t3',
    '',
    'INFO  jepsen.util - 1\t:info\t:cas\t:timed-out',
    'INFO  jepsen.util - 2\t:invoke\t:write\t4',
    'INFO  jepsen.util - 2\t:fail\t:write\t4',
  ].join('\n');

  it('reads tab- and space-separated events, skipping other lines and the nemesis', () => {
    expect(parseJepsenLog(log, 'r')).toEqual([
      { process: 0, type: 'invoke', f: 'read', value: null, key: 'r', line: 2 },
      { process: 1, type: 'invoke', f: 'cas', value: [1, 2], key: 'r', line: 3 },
      { process: 0, type: 'ok', f: 'read', value: 3, key: 'r', line: 5 },
      { process: 1, type: 'info', f: 'cas', value: ':timed-out', key: 'r', line: 7 },
      { process: 2, type: 'invoke', f: 'write', value: 4, key: 'r', line: 8 },
      { process: 2, type: 'fail', f: 'write', value: 4, key: 'r', line: 9 },
    ]);
  });

  it('builds operations from a log', () => {
    const ops = readJepsenHistory(log);
    expect(ops.map((op) => [op.f, op.value, op.outcome])).toEqual([
      ['read', 3, 'ok'],
      ['cas', [1, 2], 'info'],
      ['write', 4, 'fail'],
    ]);
  });

  it.each<[string, string, RegExp]>([
    ['a missing value', 'INFO  jepsen.util - 0\t:invoke\t:read', /line 2: the value is missing/],
    [
      'an unknown type',
      'INFO  jepsen.util - 0\t:crash\t:read\tnil',
      /line 2: unknown event type :crash/,
    ],
    [
      'an unknown function',
      'INFO  jepsen.util - 0\t:invoke\t:frob\t1',
      /line 2: expected :read, :write or :cas, got :frob/,
    ],
    [
      'an unreadable value',
      'INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2',
      /line 2: cannot read the value \[1 2/,
    ],
    [
      'a process that is not a number',
      'INFO  jepsen.util - p0\t:invoke\t:read\tnil',
      /line 2: process p0 is not a number/,
    ],
  ])('rejects %s with its line number', (_name, line, message) => {
    const text = `INFO  jepsen.core - Running test\n${line}`;
    expect(() => parseJepsenLog(text)).toThrow(JepsenLogError);
    expect(() => parseJepsenLog(text)).toThrow(message);
  });

  it('reports builder errors with the log line', () => {
    const text =
      'INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil';
    expect(() => readJepsenHistory(text)).toThrow(/event 1 \(line 2\): process 0 invoked read/);
  });
});
