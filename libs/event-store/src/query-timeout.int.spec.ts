/**
 * A query that hears nothing within `queryTimeoutMillis` fails, and its connection, still waiting for
 * that answer, leaves the pool instead of being handed out again (schema.ts, guardCheckedOut).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { createKysely, type AnyKysely } from './index.ts';

describe.skipIf(!(await infraAvailable('postgres')))('query timeout', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  beforeAll(async () => {
    tdb = await createTestDatabase('es_query_timeout');
    db = createKysely(tdb.url, { max: 1, queryTimeoutMillis: 300 });
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  const backendPid = async (): Promise<number> => (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]!.pid;

  it('fails the query and drops its connection from the pool', async () => {
    const before = await backendPid();
    await expect(sql`SELECT pg_sleep(5)`.execute(db)).rejects.toThrow('Query read timeout');
    // The pool holds one connection: the next query gets a new one, not the one still sleeping.
    const after = await backendPid();
    expect(after).not.toBe(before);
    expect(await backendPid()).toBe(after);
  });
});
