import { describe, expect, it } from 'vitest';
import { createLogger } from '@berth/observability';
import { followWatch, type WatchIterator } from './watch.ts';

/** A watch over a fixed list of entries that then fails, completes, or stays open until stopped; `stops` counts each one's stop(). */
function scripted(entries: number[], end: 'fail' | 'complete' | 'open', stops: number[]): WatchIterator<number> {
  let stopped = false;
  let release: (() => void) | undefined;
  const index = stops.length;
  stops.push(0);
  return {
    stop() {
      stopped = true;
      stops[index]! += 1;
      release?.();
    },
    async *[Symbol.asyncIterator]() {
      for (const e of entries) yield e;
      if (end === 'fail') throw new Error('consumer deleted');
      if (end === 'open' && !stopped) await new Promise<void>((r) => (release = r));
    },
  };
}

const logger = createLogger('watch-test', { level: 'silent' });

describe('followWatch', () => {
  it('opens a watch again after it fails or completes on its own, and feeds every entry of each, in order', async () => {
    const stops: number[] = [];
    const watches = [
      () => scripted([1, 2], 'fail', stops),
      () => scripted([2, 3], 'complete', stops),
      () => scripted([3, 4], 'open', stops),
    ];
    let opened = 0;
    const seen: number[] = [];
    const w = await followWatch(
      async () => watches[opened++]!(),
      (e) => void seen.push(e),
      { what: 'test', logger, retryMillis: 1 },
    );
    for (let i = 0; i < 200 && seen.length < 6; i++) await new Promise((r) => setTimeout(r, 5));
    await w.stop();
    expect(seen).toEqual([1, 2, 2, 3, 3, 4]);
    expect(opened).toBe(3);
  });

  it('retries an open that fails, and stop() ends the watch and its retries', async () => {
    const stops: number[] = [];
    let attempts = 0;
    const seen: number[] = [];
    const w = await followWatch(
      async () => {
        attempts += 1;
        if (attempts === 1) return scripted([7], 'fail', stops);
        if (attempts < 4) throw new Error('no route to NATS');
        return scripted([8], 'open', stops);
      },
      (e) => void seen.push(e),
      { what: 'test', logger, retryMillis: 1 },
    );
    for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([7, 8]);
    await w.stop();
    expect(attempts).toBe(4);
    // The open watch was stopped by stop(); nothing is opened after it.
    expect(stops.at(-1)).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(attempts).toBe(4);
  });

  it('a handler that throws is a failed watch: logged, opened again, never an unhandled rejection', async () => {
    const stops: number[] = [];
    let opened = 0;
    const seen: number[] = [];
    const w = await followWatch(
      async () => (++opened === 1 ? scripted([1, 2], 'open', stops) : scripted([1, 2, 3], 'open', stops)),
      (e) => {
        if (opened === 1 && e === 2) throw new Error('bad entry');
        seen.push(e);
      },
      { what: 'test', logger, retryMillis: 1 },
    );
    for (let i = 0; i < 200 && seen.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
    await w.stop();
    expect(seen).toEqual([1, 1, 2, 3]);
    expect(stops[0]).toBeGreaterThanOrEqual(1);
  });
});
