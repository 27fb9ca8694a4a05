import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@berth/testing';
import type { AnyKysely } from '../db.ts';
import { createKysely } from '../connection.ts';
import { migrateEventStore } from '../schema.ts';
import { PostgresEventStore } from '../store.ts';

export interface StoreFixture {
  readonly db: AnyKysely;
  readonly store: PostgresEventStore;
  readonly url: string;
}

/**
 * For a spec file's describe block: a fresh database (`label` names it) with the store migrated before
 * the tests, dropped after them. Read `db`/`store` inside tests and hooks, not at collection time.
 */
export function useTestStore(label: string, maxConnections = 6): StoreFixture {
  let tdb: TestDatabase | undefined;
  let db: AnyKysely | undefined;
  let store: PostgresEventStore | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase(label);
    db = createKysely(tdb.url, { max: maxConnections });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useTestStore: read db/store inside tests or hooks');
    return v;
  };
  return {
    get db() {
      return ready(db);
    },
    get store() {
      return ready(store);
    },
    get url() {
      return ready(tdb).url;
    },
  };
}
