import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hostSnapshot } from '@berth/fit';
import { createLogger } from '@berth/observability';
import type { HostChange, SnapshotSink } from '../postgres/projection.ts';
import { lingerClaims } from './claim-linger.ts';

const logger = createLogger('claim-linger-spec', { level: 'silent' });
const claimed = (hostId: string, generation: number): HostChange => ({
  hostId,
  snapshot: hostSnapshot({ hostId }, generation),
  placementsOnly: true,
});
const changed = (hostId: string, generation: number): HostChange => ({
  hostId,
  snapshot: hostSnapshot({ hostId }, generation),
  placementsOnly: false,
});

/** The inner sink's puts as `host@generation` per call, positions as `position P`. */
function recordingSink(fail: () => boolean = () => false): SnapshotSink & { readonly calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async hosts(changes) {
      if (fail()) throw new Error('nats down');
      calls.push(changes.map((c) => `${c.hostId}@${c.snapshot?.generation ?? 'removed'}`).sort());
    },
    async hardwareConfig() {},
    async position(p) {
      calls.push([`position ${p.position}`]);
    },
  };
}

describe('lingerClaims', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('puts a host claimed again within the linger once, with its newest snapshot, when its time is up', async () => {
    const inner = recordingSink();
    const sink = lingerClaims(inner, 1000, logger);
    await sink.hosts([claimed('h1', 1), claimed('h2', 1)]);
    await vi.advanceTimersByTimeAsync(400);
    await sink.hosts([claimed('h1', 2)]);
    expect(inner.calls).toEqual([]);
    // Due 1000 ms after h1's first held claim, not after its second.
    await vi.advanceTimersByTimeAsync(600);
    expect(inner.calls).toEqual([['h1@2', 'h2@1']]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(inner.calls).toHaveLength(1);
  });

  it('puts at once what gives a host room, its held claims with it, and the position never waits', async () => {
    const inner = recordingSink();
    const sink = lingerClaims(inner, 1000, logger);
    await sink.hosts([claimed('h1', 4), claimed('h2', 7)]);
    await sink.position({ transactionId: '1', position: '10' });
    await sink.hosts([changed('h1', 5), { hostId: 'h3', snapshot: undefined, placementsOnly: false }]);
    expect(inner.calls).toEqual([['position 10'], ['h1@5', 'h3@removed']]);
    // h1 is no longer held: only h2 comes with the timer.
    await vi.advanceTimersByTimeAsync(1000);
    expect(inner.calls.at(-1)).toEqual(['h2@7']);
    expect(inner.calls).toHaveLength(3);
  });

  it('sends held hosts that are due with the next batch', async () => {
    const inner = recordingSink();
    let t = 0;
    const sink = lingerClaims(inner, 1000, logger, () => t);
    await sink.hosts([claimed('h1', 1)]);
    t = 1200; // the batch comes before the timer ran
    await sink.hosts([changed('h2', 3), claimed('h3', 1)]);
    expect(inner.calls).toEqual([['h1@1', 'h2@3']]);
  });

  it('close puts everything held and nothing comes later', async () => {
    const inner = recordingSink();
    const sink = lingerClaims(inner, 1000, logger);
    await sink.hosts([claimed('h1', 2), claimed('h2', 9)]);
    await sink.close();
    expect(inner.calls).toEqual([['h1@2', 'h2@9']]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(inner.calls).toHaveLength(1);
  });

  it('holds nothing with a linger of 0', async () => {
    const inner = recordingSink();
    const sink = lingerClaims(inner, 0, logger);
    await sink.hosts([claimed('h1', 2)]);
    expect(inner.calls).toEqual([['h1@2']]);
  });

  it('holds claims again when their put fails, and the batch that failed hears of it', async () => {
    let down = false;
    const inner = recordingSink(() => down);
    const sink = lingerClaims(inner, 1000, logger);
    await sink.hosts([claimed('h1', 1)]);
    down = true;
    await vi.advanceTimersByTimeAsync(1000); // the timer's put fails: held for another linger
    await expect(sink.hosts([changed('h2', 2)])).rejects.toThrow('nats down');
    down = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(inner.calls).toEqual([['h1@1']]);
  });
});
