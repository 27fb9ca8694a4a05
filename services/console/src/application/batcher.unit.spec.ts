import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleEvent, EventBatch } from '../api.ts';
import { EventBatcher } from './batcher.ts';

const event = (i: number): ConsoleEvent => ({
  subject: 'berth.inventory.vm.VmRequested',
  type: 'VmRequested',
  streamId: `vm-${i}`,
  occurredAt: '',
  data: {},
});

describe('EventBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('given 500 events within one interval, when the interval passes, then each browser gets them as one batch in order', () => {
    const batcher = new EventBatcher(100);
    const a: EventBatch[] = [];
    const b: EventBatch[] = [];
    batcher.subscribe({ send: (x) => a.push(x) });
    batcher.subscribe({ send: (x) => b.push(x) });
    for (let i = 0; i < 500; i++) batcher.push(event(i));
    expect(a).toHaveLength(0);
    vi.advanceTimersByTime(100);
    expect(a).toHaveLength(1);
    expect(a[0]!.events.map((e) => e.streamId)).toEqual(Array.from({ length: 500 }, (_, i) => `vm-${i}`));
    expect(b[0]!.events).toHaveLength(500);
    vi.advanceTimersByTime(500);
    expect(a).toHaveLength(1); // nothing new, nothing sent
  });

  it('given a browser that falls behind, then the oldest events are dropped and the count is reported', () => {
    const batcher = new EventBatcher(100, 3);
    const got: EventBatch[] = [];
    batcher.subscribe({ send: (x) => got.push(x) });
    for (let i = 0; i < 5; i++) batcher.push(event(i));
    batcher.flush();
    expect(got[0]!.events.map((e) => e.streamId)).toEqual(['vm-2', 'vm-3', 'vm-4']);
    expect(got[0]!.dropped).toBe(2);
  });

  it('given the last browser leaves, then no timer keeps running and later events go nowhere', () => {
    const batcher = new EventBatcher(100);
    const got: EventBatch[] = [];
    const leave = batcher.subscribe({ send: (x) => got.push(x) });
    leave();
    batcher.push(event(1));
    vi.advanceTimersByTime(1000);
    expect(got).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
