import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@berth/errors';
import { encodeData, strictToJson, toJson } from './json.ts';
import { prepareAppend } from './validate.ts';
import { comparePositions } from './types.ts';
import { readAllProblems } from './global-read.ts';
import { backoffMillis } from './wakeup.ts';

const noTrace = (): Record<string, string> => ({});
const ok = [{ type: 'VmRequested', data: { vcpus: 2 } }];

function violations(fn: () => unknown): { field: string; reason: string }[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return [...(e as ValidationError).violations];
  }
  throw new Error('expected a ValidationError');
}

describe('prepareAppend', () => {
  it('encodes expected versions: any = -1, no-stream = 0, n = n', () => {
    expect(prepareAppend('vm-1', ok, { expectedVersion: 'any' }, noTrace).expected).toBe(-1);
    expect(prepareAppend('vm-1', ok, { expectedVersion: 'no-stream' }, noTrace).expected).toBe(0);
    expect(prepareAppend('vm-1', ok, { expectedVersion: 7 }, noTrace).expected).toBe(7);
  });

  it('builds one JSON document with ids, defaults and the trace context merged under caller metadata', () => {
    const p = prepareAppend(
      'vm-1',
      [
        { type: 'A', data: { a: [1, 'x'] }, metadata: { who: 'op' } },
        { type: 'B', data: null, schemaVersion: 3, id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e' },
      ],
      { expectedVersion: 0, commandId: 'cmd-1' },
      () => ({ traceparent: '00-abc-def-01', who: 'overridden' }),
    );
    const docs = JSON.parse(p.eventsJson) as {
      id: string;
      type: string;
      schemaVersion: number;
      metadata: Record<string, string>;
      data: unknown;
    }[];
    expect(p.count).toBe(2);
    expect(p.commandId).toBe('cmd-1');
    expect(docs[0]).toMatchObject({
      type: 'A',
      schemaVersion: 1,
      data: { a: [1, 'x'] },
      metadata: { traceparent: '00-abc-def-01', who: 'op' },
    });
    expect(docs[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(docs[1]).toMatchObject({ id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e', schemaVersion: 3, data: null });
  });

  it('names every bad field at once', () => {
    const v = violations(() => prepareAppend('', [{ data: 1 }, { type: 'X', data: 1n }], { expectedVersion: -1, commandId: '' }, noTrace));
    expect(v.map((x) => x.field).sort()).toEqual(['commandId', 'events[0].type', 'events[1].data', 'expectedVersion', 'streamId']);
    expect(v.find((x) => x.field === 'events[1].data')!.reason).toMatch(/JSON-serialisable/);
    expect(v.find((x) => x.field === 'expectedVersion')!.reason).toMatch(/non-negative integer/);
  });

  it.each([
    ['empty stream id', () => prepareAppend('  ', ok, { expectedVersion: 'any' }, noTrace), 'streamId'],
    ['too long stream id', () => prepareAppend('s'.repeat(201), ok, { expectedVersion: 'any' }, noTrace), 'streamId'],
    ['fractional version', () => prepareAppend('s', ok, { expectedVersion: 1.5 }, noTrace), 'expectedVersion'],
    ['missing options', () => prepareAppend('s', ok, undefined, noTrace), 'expectedVersion'],
    ['no events', () => prepareAppend('s', [], { expectedVersion: 'any' }, noTrace), 'events'],
    ['events not an array', () => prepareAppend('s', { type: 'A' }, { expectedVersion: 'any' }, noTrace), 'events'],
    ['event not an object', () => prepareAppend('s', ['A'], { expectedVersion: 'any' }, noTrace), 'events[0]'],
    ['missing data', () => prepareAppend('s', [{ type: 'A' }], { expectedVersion: 'any' }, noTrace), 'events[0].data'],
    ['bad id', () => prepareAppend('s', [{ type: 'A', data: 1, id: 'nope' }], { expectedVersion: 'any' }, noTrace), 'events[0].id'],
    [
      'bad schema version',
      () => prepareAppend('s', [{ type: 'A', data: 1, schemaVersion: 0 }], { expectedVersion: 'any' }, noTrace),
      'events[0].schemaVersion',
    ],
    [
      'non-string metadata',
      () => prepareAppend('s', [{ type: 'A', data: 1, metadata: { n: 1 } }], { expectedVersion: 'any' }, noTrace),
      'events[0].metadata.n',
    ],
    [
      'duplicate ids',
      () =>
        prepareAppend(
          's',
          [1, 2].map(() => ({ type: 'A', data: 1, id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e' })),
          { expectedVersion: 'any' },
          noTrace,
        ),
      'events[1].id',
    ],
  ])('rejects %s', (_name, fn, field) => {
    expect(violations(fn).map((v) => v.field)).toEqual([field]);
  });
});

describe('toJson', () => {
  it.each([
    ['a bigint', { n: 1n }],
    [
      'a circular object',
      (() => {
        const o: Record<string, unknown> = {};
        o['self'] = o;
        return o;
      })(),
    ],
    ['undefined', undefined],
    ['NaN', { x: NaN }],
    ['Infinity', [Infinity]],
    ['a nested function', { f: () => 1 }],
    ['a NUL character', { s: 'a\u0000b' }],
  ])('rejects %s', (_name, value) => {
    expect(() => toJson(value)).toThrow(/JSON-serialisable|NUL/);
  });

  it('round-trips any JSON value unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const json = toJson(value);
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
  });
});

const outcome = (f: () => string): { json: string } | { error: string } => {
  try {
    return { json: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
};

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
class WithToJson {
  constructor(readonly v: unknown) {}
  toJSON(): unknown {
    return this.v;
  }
}

/** [1, <hole>, 3] */
const holey = (): unknown[] => {
  const a: unknown[] = [1];
  a[2] = 3;
  return a;
};

/** Values JSON handles, mishandles or refuses, nested anywhere. */
const awkward = fc.oneof(
  fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -0, 0, undefined, null, 1e21, 5e-324, 'a\u0000b', '\\u0000', 'q"\\', '\u2028😀', 10n),
  fc.constantFrom<unknown>(() => 1, Symbol('s'), new Date(0), new Date(NaN), new Map([[1, 2]]), new Set([1]), new Point(1, 2)),
  fc.constantFrom<unknown>(
    new WithToJson(NaN),
    new WithToJson({ a: 1 }),
    new WithToJson(() => 1),
    new WithToJson(undefined),
    Object.create(null) as unknown,
  ),
  fc.constantFrom<unknown>(Object(1) as unknown, Object('s') as unknown, Object(NaN) as unknown, Object(1n) as unknown, holey(), {
    toJSON: 'not a function',
  }),
);
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), awkward, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 4 }),
})).value;

describe('toJson without a replacer', () => {
  it('accepts and rejects exactly what the replacer version did, with the same text and reasons', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        expect(outcome(() => toJson(value))).toEqual(outcome(() => strictToJson(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same reasons for cycles, deep nesting and throwing getters', () => {
    const cyclic: Record<string, unknown> = { a: [1, { b: 2 }] };
    (cyclic['a'] as unknown[]).push(cyclic);
    let deep: unknown = 1;
    for (let i = 0; i < 150; i++) deep = { d: deep, n: i };
    let deepNaN: unknown = NaN;
    for (let i = 0; i < 150; i++) deepNaN = [deepNaN];
    const nanThenCycle: Record<string, unknown> = { x: NaN };
    nanThenCycle['self'] = nanThenCycle;
    const getter = {
      get boom(): never {
        throw new Error('boom');
      },
    };
    const shared = { s: 1 };
    for (const value of [
      cyclic,
      deep,
      deepNaN,
      nanThenCycle,
      getter,
      { a: shared, b: shared, c: [shared] },
      Array.from({ length: 2000 }, (_, i) => ({ i })),
    ]) {
      expect(outcome(() => toJson(value))).toEqual(outcome(() => strictToJson(value)));
    }
    expect(() => toJson(nanThenCycle)).toThrow('NaN has no JSON form');
  });
});

const hasNegativeZero = (v: unknown): boolean =>
  Object.is(v, -0) || (typeof v === 'object' && v !== null && Object.values(v).some(hasNegativeZero));

describe('encodeData', () => {
  it('marks JSON values as their own round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const { json, same } = encodeData(value);
        expect(same).toBe(!hasNegativeZero(value)); // fc.jsonValue makes -0, which comes back as 0
        if (same) expect(JSON.parse(json)).toStrictEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it('never calls a value its own round trip when it is not', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        let encoded: { json: string; same: boolean };
        try {
          encoded = encodeData(value);
        } catch {
          return; // rejected
        }
        if (encoded.same) expect(JSON.parse(encoded.json)).toStrictEqual(value);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['a Date', { at: new Date(0) }],
    ['an undefined member', { a: 1, b: undefined }],
    ['undefined in an array', [1, undefined]],
    ['a hole', holey()],
    ['-0', { n: -0 }],
    ['a class instance', { p: new Point(1, 2) }],
    ['a Map', new Map([[1, 2]])],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['a toJSON', { w: new WithToJson(1) }],
  ])('does not for %s', (_name, value) => {
    expect(encodeData(value).same).toBe(false);
  });

  it('makes prepareAppend docs equal to parsing the prepared JSON', () => {
    const events = [
      {
        type: 'A',
        data: { at: new Date(0), u: undefined, a: [1, undefined, -0], p: new Point(1, 2), w: new WithToJson({ x: 1 }) },
        metadata: { who: 'op' },
      },
      { type: 'B', data: { nested: [{ deep: ['x', 1.5, null, true, {}] }], s: 'q"\\😀' } },
      { type: 'C', data: 'text' },
    ];
    const p = prepareAppend('vm-1', events, { expectedVersion: 0 }, () => ({ traceparent: 't' }));
    const parsed = JSON.parse(p.eventsJson) as { data: unknown; metadata: unknown }[];
    expect(p.docs).toStrictEqual(parsed.map(({ data, metadata }) => ({ data, metadata })));
    expect(p.docs[1]!.data).toBe(events[1]!.data); // plain JSON data is handed back as it is
  });
});

describe('global positions', () => {
  const big = fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String);
  it('order by transaction id, then position, numerically', () => {
    fc.assert(
      fc.property(big, big, big, big, (t1, p1, t2, p2) => {
        const expected =
          BigInt(t1) !== BigInt(t2) ? (BigInt(t1) < BigInt(t2) ? -1 : 1) : BigInt(p1) === BigInt(p2) ? 0 : BigInt(p1) < BigInt(p2) ? -1 : 1;
        expect(comparePositions({ transactionId: t1, position: p1 }, { transactionId: t2, position: p2 })).toBe(expected);
      }),
    );
  });

  it('readAll options are checked', () => {
    expect(readAllProblems({ after: null, limit: 10 })).toEqual([]);
    expect(readAllProblems({ after: { transactionId: '12x', position: '-1' }, limit: 0 }).map((v) => v.field)).toEqual([
      'limit',
      'after.transactionId',
      'after.position',
    ]);
  });
});

describe('backoffMillis', () => {
  it('doubles from the base and stays within 30 s', () => {
    expect([0, 1, 2].map((n) => backoffMillis(100, n))).toEqual([100, 200, 400]);
    expect(backoffMillis(100, 1000)).toBe(30_000);
  });
});
