import { describe, expect, it } from 'vitest';
import { Coalescer } from './coalescer.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Coalescer', () => {
  it('sends what arrives in one turn as one batch, and what arrives while batches are on the wire as the next', async () => {
    const sent: number[][] = [];
    const gates: (() => void)[] = [];
    const c = new Coalescer<number, string>(
      async (batch) => {
        sent.push([...batch]);
        await new Promise<void>((r) => gates.push(r));
        return batch.map((n) => `r${n}`);
      },
      { maxInFlight: 1 },
    );
    const first = [1, 2, 3].map((n) => c.submit(n));
    await tick();
    expect(sent).toEqual([[1, 2, 3]]);
    const second = [4, 5].map((n) => c.submit(n));
    await tick();
    expect(sent).toHaveLength(1); // one batch in flight at most
    gates.shift()!();
    expect(await Promise.all(first)).toEqual(['r1', 'r2', 'r3']);
    await tick();
    expect(sent).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    gates.shift()!();
    expect(await Promise.all(second)).toEqual(['r4', 'r5']);
  });

  it('splits at maxBatch and keeps up to maxInFlight batches on the wire', async () => {
    const sent: number[][] = [];
    const c = new Coalescer<number, number>(
      async (batch) => {
        sent.push([...batch]);
        return batch.map((n) => n * 10);
      },
      { maxBatch: 2, maxInFlight: 2 },
    );
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => c.submit(n)));
    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(sent).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every request of a batch whose send fails or answers the wrong number, and goes on', async () => {
    let calls = 0;
    const c = new Coalescer<number, number>(async (batch) => {
      calls += 1;
      if (calls === 1) throw new Error('unavailable');
      if (calls === 2) return [1];
      return batch.map((n) => n);
    });
    await expect(Promise.all([c.submit(1), c.submit(2)])).rejects.toThrow('unavailable');
    await expect(Promise.all([c.submit(3), c.submit(4)])).rejects.toThrow('batch of 2 answered with 1 results');
    expect(await c.submit(5)).toBe(5);
  });
});
