import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, databaseUrl, eventually, infraAvailable, type TestDatabase } from '@berth/testing';
import {
  createKysely,
  migrateEventStore,
  PostgresEventStore,
  readCheckpoint,
  startRelay,
  type AnyKysely,
  type StoredEvent,
} from './index.ts';

describe.skipIf(!(await infraAvailable('postgres')))('relay', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;

  beforeAll(async () => {
    tdb = await createTestDatabase('es_relay');
    db = createKysely(tdb.url, { max: 6 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('publishes soon after an older open transaction elsewhere in the cluster ends, without waiting for the poll', async () => {
    // Its own database, so the other tests' counts are untouched.
    const own = await createTestDatabase('relay_held_back');
    const ownDb = createKysely(own.url, { max: 3 });
    await migrateEventStore(ownDb);
    const ownStore = new PostgresEventStore(ownDb);
    const published: StoredEvent[] = [];
    const relay = startRelay({
      store: ownStore,
      name: 'held-back',
      pollMillis: 60_000,
      logger: { warn: () => undefined, error: () => undefined },
      publish: async (e) => {
        published.push(e);
      },
    });
    // A transaction in another database with an xid, left open: it holds the cluster-wide horizon.
    const other = new pg.Client({ connectionString: databaseUrl() });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      await ownStore.append('held-1', [{ type: 'N', data: 1 }], { expectedVersion: 'no-stream' });
      await new Promise((r) => setTimeout(r, 300));
      expect(published).toHaveLength(0); // committed, but an older transaction is still open
      await other.query('COMMIT'); // no NOTIFY comes from this one
      // Well inside the 60 s poll, with room for a loaded machine (it timed out at 5 s under load 30).
      await eventually(async () => published.length === 1, 'the held-back event published', 30_000);
    } finally {
      await other.end();
      await relay.stop();
      await ownDb.destroy();
      await own.drop();
    }
  });

  it('advances its checkpoint only after every publish of a batch was acknowledged, waking on NOTIFY', async () => {
    const published: StoredEvent[] = [];
    let failNext = 2;
    const checkpointsAtFailure: (string | null)[] = [];
    const relay = startRelay({
      store,
      name: 'in-process',
      batchSize: 3,
      pollMillis: 60_000, // only NOTIFY (and the retry backoff) can wake it within the test
      logger: { warn: () => undefined, error: () => undefined },
      publish: async (e) => {
        if (e.streamPosition === 2 && failNext-- > 0) {
          checkpointsAtFailure.push((await readCheckpoint(db, 'public', 'in-process'))?.position ?? null);
          throw new Error('bus unavailable');
        }
        published.push(e);
      },
    });
    try {
      await store.append(
        'r-1',
        [1, 2, 3, 4].map((n) => ({ type: 'N', data: n })),
        { expectedVersion: 0 },
      );
      await eventually(async () => new Set(published.map((e) => e.id)).size === 4, 'all four published', 10_000);
      const all = await store.readAll({ after: null, limit: 10 });
      await eventually(
        async () => (await readCheckpoint(db, 'public', 'in-process'))?.position === all.at(-1)!.globalPosition,
        'checkpoint at the last event',
      );
      // The failed batch was published again from its start: never a gap, possibly a repeat.
      expect([...new Set(published.map((e) => e.streamPosition))].sort()).toEqual([1, 2, 3, 4]);
      expect(published.filter((e) => e.streamPosition === 1).length).toBe(3);
      expect(checkpointsAtFailure).toEqual([null, null]);
      // Idle now; with a 60 s poll only the commit's NOTIFY can bring the next event out in time.
      await store.append('r-1', [{ type: 'N', data: 5 }], { expectedVersion: 4 });
      await eventually(async () => published.some((e) => e.streamPosition === 5), 'the fifth event, woken by NOTIFY', 10_000);
    } finally {
      await relay.stop();
    }
  });
});
