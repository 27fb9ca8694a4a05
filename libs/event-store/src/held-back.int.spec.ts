import { describe, expect, it } from 'vitest';
import { infraAvailable } from '@berth/testing';
import { heldBackQuery } from './global-read.ts';
import { useTestStore } from './testing/store-fixture.ts';

describe.skipIf(!(await infraAvailable('postgres')))('the held-back check', () => {
  const t = useTestStore('es_held_back', 2);

  it('finds its rows through the global-read index, not by scanning the table', async () => {
    const { store } = t;
    // Never analysed, as in a fresh deployment or a benchmark: the planner has only its guesses.
    for (let b = 0; b < 5; b++) {
      await store.appendBatch(
        Array.from({ length: 400 }, (_, i) => ({
          appends: [{ streamId: `hb-${b}-${i}`, expectedVersion: 0, events: [{ type: 'E', data: { i } }] }],
        })),
      );
    }
    const { events } = await store.readStream('hb-4-0');
    const after = { transactionId: events[0]!.transactionId, position: events[0]!.globalPosition };
    for (const at of [null, after]) {
      const plan = JSON.stringify((await heldBackQuery(t.db, store.schema, at).explain('json'))[0]);
      expect(plan).toContain('events_global_read_idx');
      expect(plan).not.toContain('Seq Scan');
    }
  });
});
