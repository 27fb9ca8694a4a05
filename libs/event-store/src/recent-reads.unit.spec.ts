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
  /** A RecentReads a projection has asked of (it keeps nothing before). */
  const asked = (): RecentReads => {
    const r = new RecentReads();
    expect(r.take(null, 1)).toBeUndefined();
    return r;
  };

  it('keeps nothing until a projection asks (a store whose relay alone reads the log)', () => {
    const r = new RecentReads();
    r.remember(null, [event(10, 1)]);
    expect(r.take(null, 10)).toBeUndefined();
    r.remember(null, [event(10, 1)]);
    expect(positions(r.take(null, 10))).toEqual([1]);
  });

  it('hands out a read from the position it started after, or from any of its events, up to the limit', () => {
    const r = asked();
    r.remember(null, [event(10, 1), event(10, 2), event(11, 3)]);
    expect(positions(r.take(at(10, 1), 10))).toEqual([2, 3]);
    const fresh = asked();
    fresh.remember(null, [event(10, 1), event(10, 2), event(11, 3)]);
    expect(positions(fresh.take(null, 2))).toEqual([1, 2]);
    expect(positions(fresh.take(at(10, 2), 2))).toEqual([3]);
  });

  it('answers undefined for a position no read covers, and past the end of what was read', () => {
    const r = asked();
    r.remember(at(9, 7), [event(10, 8), event(10, 9)]);
    expect(r.take(null, 10)).toBeUndefined();
    expect(r.take(at(9, 6), 10)).toBeUndefined(); // before the read: events between may not be in it
    expect(r.take(at(10, 9), 10)).toBeUndefined(); // its last: what follows was not read
  });

  it('continues into the next read and forgets the reads taken past', () => {
    const r = asked();
    r.remember(null, [event(10, 1), event(10, 2)]);
    r.remember(at(10, 2), [event(12, 3), event(12, 4)]);
    expect(positions(r.take(null, 10))).toEqual([1, 2]);
    expect(positions(r.take(at(10, 2), 10))).toEqual([3, 4]);
    expect(r.take(null, 10)).toBeUndefined();
  });

  it('keeps up to 4,000 events, dropping the oldest reads whole', () => {
    const r = asked();
    const read = (from: number, n: number) => Array.from({ length: n }, (_, k) => event(from + k, from + k));
    r.remember(at(0, 0), read(1, 1000));
    for (let i = 1; i < 4; i++) r.remember(at(i * 1000, i * 1000), read(i * 1000 + 1, 1000));
    expect(positions(r.take(at(0, 0), 1))).toEqual([1]); // 4,000 kept: the first read still there
    r.remember(at(4000, 4000), read(4001, 10));
    expect(r.take(at(1, 1), 1)).toBeUndefined(); // the first read dropped for the new one
    expect(positions(r.take(at(1000, 1000), 1))).toEqual([1001]);
    expect(positions(r.take(at(4005, 4005), 10))).toEqual([4006, 4007, 4008, 4009, 4010]);
  });
});
