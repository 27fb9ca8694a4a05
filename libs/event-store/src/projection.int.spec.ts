import { describe, expect, it, vi } from 'vitest';
import { eventually, infraAvailable } from '@berth/testing';
import { runProjection, startRelay, type StoredEvent } from './index.ts';
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

  it("takes its batches from the relay's reads of the same store, and still applies every event once, in log order", async () => {
    const taken = vi.spyOn(t.store.recentReads, 'take');
    const published: string[] = [];
    const applied: StoredEvent[] = [];
    const relay = startRelay({
      store: t.store,
      name: 'shared-relay',
      pollMillis: 60_000,
      publishRaw: async (e) => void published.push(e.id),
    });
    const projection = runProjection({
      store: t.store,
      name: 'shared-projection',
      lingerMillis: 300,
      pollMillis: 60_000,
      handle: async (events) => void applied.push(...events),
    });
    try {
      // Commits keep coming while the projection lingers: the relay's read ends before the log does, and
      // the projection reads the rest itself (without a NOTIFY of its own).
      for (let i = 0; i < 12; i++) {
        await t.store.append(`shared-${i}`, [{ type: 'E', data: { i, nested: { list: [i, 'x'] } } }], { expectedVersion: 'no-stream' });
        await sleep(60);
      }
      const all = await t.store.readAll({ after: null, limit: 1000 });
      const ours = all.filter((e) => e.streamId.startsWith('shared-'));
      await eventually(() => applied.filter((e) => e.streamId.startsWith('shared-')).length >= ours.length, 'the projection caught up');
      const appliedOurs = applied.filter((e) => e.streamId.startsWith('shared-'));
      expect(appliedOurs).toEqual(ours);
      expect(applied.map((e) => e.id)).toEqual(all.map((e) => e.id));
      expect(published).toEqual(expect.arrayContaining(ours.map((e) => e.id)));
      expect(taken.mock.results.some((r) => r.value !== undefined)).toBe(true);
    } finally {
      await projection.stop();
      await relay.stop();
      taken.mockRestore();
    }
  });
});
