import { describe, expect, it } from 'vitest';
import type { RawStoredEvent } from './global-read.ts';
import { RecentReads } from './recent-reads.ts';
import type { GlobalPosition } from './types.ts';

const event = (tx: number, pos: number): RawStoredEvent => ({
  id: `e${pos}`,
  type: 'E',
  schemaVersion: 1,
  streamId: `s-${pos}`,
  streamPosition: 1,
  globalPosition: String(pos),
  transactionId: String(tx),
  occurredAt: '2026-12-07T09:00:00.000Z',
  metadata: {},
  dataJson: '{}',
});
const at = (tx: number, pos: number): GlobalPosition => ({ transactionId: String(tx), position: String(pos) });
const positions = (events: readonly RawStoredEvent[] | undefined) => events?.map((e) => Number(e.globalPosition));

describe('RecentReads', () => {
  it('hands out a read from the position it started after, or from any of its events, up to the limit', () => {
    const r = new RecentReads();
    r.remember(null, [event(10, 1), event(10, 2), event(11, 3)]);
    expect(positions(r.take(at(10, 1), 10))).toEqual([2, 3]);
    const fresh = new RecentReads();
    fresh.remember(null, [event(10, 1), event(10, 2), event(11, 3)]);
    expect(positions(fresh.take(null, 2))).toEqual([1, 2]);
    expect(positions(fresh.take(at(10, 2), 2))).toEqual([3]);
  });

  it('answers undefined for a position no read covers, and past the end of what was read', () => {
    const r = new RecentReads();
    r.remember(at(9, 7), [event(10, 8), event(10, 9)]);
    expect(r.take(null, 10)).toBeUndefined();
    expect(r.take(at(9, 6), 10)).toBeUndefined(); // before the read: events between may not be in it
    expect(r.take(at(10, 9), 10)).toBeUndefined(); // its last: what follows was not read
  });

  it('continues into the next read and forgets the reads taken past', () => {
    const r = new RecentReads();
    r.remember(null, [event(10, 1), event(10, 2)]);
    r.remember(at(10, 2), [event(12, 3), event(12, 4)]);
    expect(positions(r.take(null, 10))).toEqual([1, 2]);
    expect(positions(r.take(at(10, 2), 10))).toEqual([3, 4]);
    expect(r.take(null, 10)).toBeUndefined();
  });

  it('keeps a bounded number of reads, and none once cleared', () => {
    const r = new RecentReads();
    for (let i = 0; i < 10; i++) r.remember(at(i, i), [event(i + 1, i + 1)]);
    expect(r.take(at(0, 0), 1)).toBeUndefined();
    expect(positions(r.take(at(9, 9), 1))).toEqual([10]);
    r.remember(null, [event(1, 1)]);
    r.clear();
    expect(r.take(null, 1)).toBeUndefined();
  });
});
