import { describe, expect, it } from 'vitest';
import { virshLimiter } from './virsh.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('virshLimiter', () => {
  it('never runs more than its maximum, even when a new caller arrives between a release and the woken waiter', async () => {
    const limit = virshLimiter(1);
    let running = 0;
    let most = 0;
    const task = (gate: Promise<void>) => async () => {
      running++;
      most = Math.max(most, running);
      await gate;
      running--;
    };
    const first = deferred();
    let started: Promise<void> | undefined;
    const a = limit(() => (started = task(first.promise)()));
    const b = limit(task(Promise.resolve())); // queued behind a
    for (let i = 0; i < 5 && started === undefined; i++) await Promise.resolve();
    // A third caller that reacts to a's end: the limiter's own reaction (release, wake b) runs first,
    // then this one, then b's continuation. The caller must queue behind b, not slip in before it.
    let c: Promise<void> | undefined;
    void started!.then(() => {
      c = limit(task(Promise.resolve()));
    });
    first.resolve();
    await Promise.all([a, b]);
    await c;
    expect(most).toBe(1);
  });

  it('keeps a steady maximum under many callers arriving from other microtask chains', async () => {
    const limit = virshLimiter(3);
    let running = 0;
    let most = 0;
    const calls: Promise<void>[] = [];
    const work = async (ticks: number) => {
      running++;
      most = Math.max(most, running);
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      running--;
    };
    for (let i = 0; i < 60; i++) {
      const ticks = (i * 7) % 5;
      calls.push(limit(() => work(ticks)));
      // Callers that show up while earlier ones are releasing.
      queueMicrotask(() => void calls.push(limit(() => work(ticks + 1))));
    }
    await Promise.resolve();
    await Promise.all(calls);
    expect(calls).toHaveLength(120);
    expect(most).toBe(3);
  });
});
