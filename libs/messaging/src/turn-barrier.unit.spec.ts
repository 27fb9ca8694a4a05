import { describe, expect, it } from 'vitest';
import { TurnBarrier } from './turn-barrier.ts';

describe('TurnBarrier', () => {
  it('lets everything that waited within one turn go on together, in the check phase of that turn', async () => {
    const barrier = new TurnBarrier();
    const order: string[] = [];
    const waits = [1, 2, 3].map((i) => barrier.wait().then(() => order.push(`released ${i}`)));
    setImmediate(() => order.push('immediate queued after the first wait'));
    await Promise.resolve();
    order.push('same turn');
    await Promise.all(waits);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['same turn', 'released 1', 'released 2', 'released 3', 'immediate queued after the first wait']);
    // A later turn gets a new release.
    await barrier.wait();
  });
});
