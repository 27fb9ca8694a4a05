import { describe, expect, it } from 'vitest';
import { eventually, infraAvailable } from '@berth/testing';
import { runProjection } from './index.ts';
import { useTestStore } from './testing/store-fixture.ts';

const sleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!(await infraAvailable('postgres')))('runProjection', () => {
  const t = useTestStore('es_projection', 4);

  it('with lingerMillis, applies what was appended during the linger as one batch', async () => {
    const batches: string[][] = [];
    const loop = runProjection({
      store: t.store,
      name: 'linger',
      lingerMillis: 1500,
      pollMillis: 60_000,
      handle: async (events) => void batches.push(events.map((e) => e.streamId)),
    });
    try {
      await t.store.append('linger-a', [{ type: 'E', data: {} }], { expectedVersion: 'no-stream' });
      await eventually(() => batches.length === 1, 'the first batch');
      // The loop now lingers: both appends land in its next batch, on one NOTIFY or two.
      await t.store.append('linger-b', [{ type: 'E', data: {} }], { expectedVersion: 'no-stream' });
      await sleep(100);
      await t.store.append('linger-c', [{ type: 'E', data: {} }], { expectedVersion: 'no-stream' });
      await eventually(() => batches.length >= 2, 'the second batch');
      expect(batches).toEqual([['linger-a'], ['linger-b', 'linger-c']]);
    } finally {
      await loop.stop();
    }
  });
});
