import { describe, expect, it } from 'vitest';
import { evolveStored } from './typed-events.ts';
import type { StoredEvent } from './types.ts';

type CounterEvent = { readonly type: 'Added'; readonly data: { readonly n: number } } | { readonly type: 'Reset'; readonly data: null };

const stored = (type: string, data: unknown, streamPosition: number): StoredEvent => ({
  id: `e${streamPosition}`,
  type,
  schemaVersion: 1,
  streamId: 'counter-1',
  streamPosition,
  globalPosition: String(streamPosition),
  occurredAt: '2026-12-06T05:00:00.000Z',
  metadata: {},
  transactionId: '1',
  data,
});

describe('evolveStored', () => {
  const fold = evolveStored<number, CounterEvent>({ Added: true, Reset: true }, (s, e) => (e.type === 'Added' ? s + e.data.n : 0));

  it("folds a stream's own events as its domain events", () => {
    expect([stored('Added', { n: 2 }, 1), stored('Added', { n: 3 }, 2)].reduce(fold, 0)).toBe(5);
    expect([stored('Added', { n: 2 }, 1), stored('Reset', null, 2)].reduce(fold, 0)).toBe(0);
  });

  it('refuses an event of another type, naming it and where it is', () => {
    expect(() => fold(0, stored('VmRequested', {}, 7))).toThrow('event VmRequested at counter-1@7 is not one of its stream');
  });
});
