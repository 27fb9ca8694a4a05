import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@berth/errors';
import { prepareAppend, toJson } from './validate.ts';
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
      [{ type: 'A', data: { a: [1, 'x'] }, metadata: { who: 'op' } }, { type: 'B', data: null, schemaVersion: 3, id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e' }],
      { expectedVersion: 0, commandId: 'cmd-1' },
      () => ({ traceparent: '00-abc-def-01', who: 'overridden' }),
    );
    const docs = JSON.parse(p.eventsJson) as { id: string; type: string; schemaVersion: number; metadata: Record<string, string>; data: unknown }[];
    expect(p.count).toBe(2);
    expect(p.commandId).toBe('cmd-1');
    expect(docs[0]).toMatchObject({ type: 'A', schemaVersion: 1, data: { a: [1, 'x'] }, metadata: { traceparent: '00-abc-def-01', who: 'op' } });
    expect(docs[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(docs[1]).toMatchObject({ id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e', schemaVersion: 3, data: null });
  });

  it('names every bad field at once', () => {
    const v = violations(() =>
      prepareAppend('', [{ data: 1 }, { type: 'X', data: 1n }], { expectedVersion: -1, commandId: '' }, noTrace),
    );
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
    ['bad schema version', () => prepareAppend('s', [{ type: 'A', data: 1, schemaVersion: 0 }], { expectedVersion: 'any' }, noTrace), 'events[0].schemaVersion'],
    ['non-string metadata', () => prepareAppend('s', [{ type: 'A', data: 1, metadata: { n: 1 } }], { expectedVersion: 'any' }, noTrace), 'events[0].metadata.n'],
    [
      'duplicate ids',
      () => prepareAppend('s', [1, 2].map(() => ({ type: 'A', data: 1, id: '7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e' })), { expectedVersion: 'any' }, noTrace),
      'events[1].id',
    ],
  ])('rejects %s', (_name, fn, field) => {
    expect(violations(fn).map((v) => v.field)).toEqual([field]);
  });
});

describe('toJson', () => {
  it.each([
    ['a bigint', { n: 1n }],
    ['a circular object', (() => { const o: Record<string, unknown> = {}; o['self'] = o; return o; })()],
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

describe('global positions', () => {
  const big = fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String);
  it('order by transaction id, then position, numerically', () => {
    fc.assert(
      fc.property(big, big, big, big, (t1, p1, t2, p2) => {
        const expected = BigInt(t1) !== BigInt(t2) ? (BigInt(t1) < BigInt(t2) ? -1 : 1) : BigInt(p1) === BigInt(p2) ? 0 : BigInt(p1) < BigInt(p2) ? -1 : 1;
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
