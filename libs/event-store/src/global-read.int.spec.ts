import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Generated } from 'kysely';
import { ConcurrencyError } from '@berth/errors';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { createKysely, migrateEventStore, PostgresEventStore, runProjection, type AnyKysely, type LoopLogger } from './index.ts';

const WRITERS = 16;
const TRANSACTIONS = 2000;
const EVENTS_PER_TX = 50;
const sleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rnd = (n: number): number => Math.floor(Math.random() * n);

class Rollback extends Error {}

/** The test's read model, next to the store's tables (each owner views the database with its own tables). */
type TestTables = {
  seen: { event_id: string; global_position: string };
  batches: { seq: Generated<string>; replica: number; last_event_id: string };
};

describe.skipIf(!(await infraAvailable('postgres')))('global read under concurrent writers', () => {
  let tdb: TestDatabase;
  let writerDb: AnyKysely;
  let readerDb: AnyKysely;

  beforeAll(async () => {
    tdb = await createTestDatabase('es_global_read');
    writerDb = createKysely(tdb.url, { max: WRITERS });
    readerDb = createKysely(tdb.url, { max: 3 });
    await migrateEventStore(writerDb);
    await sql`CREATE TABLE seen (event_id uuid NOT NULL, global_position bigint NOT NULL)`.execute(writerDb);
    await sql`CREATE TABLE batches (seq bigserial PRIMARY KEY, replica integer NOT NULL, last_event_id uuid NOT NULL)`.execute(writerDb);
  });
  afterAll(async () => {
    await writerDb?.destroy();
    await readerDb?.destroy();
    await tdb?.drop();
  });

  it('a projection sees every committed event exactly once and no rolled-back one', async () => {
    const writes = new PostgresEventStore(writerDb);
    const reads = new PostgresEventStore(readerDb);
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let injectedFailures = 0;
    const failures: string[] = [];
    const logger: LoopLogger = { warn: () => undefined, error: (obj) => failures.push(JSON.stringify(obj)) };
    // Two replicas of one projection: the advisory lock must keep them from applying a batch twice.
    // `follows` must be true only when the batch before it (in the read model) is this replica's own last one.
    const lastHandled: (string | undefined)[] = [undefined, undefined];
    const follows = { yes: 0, no: 0, wrong: [] as string[] };
    const replicas = [0, 1].map((replica) =>
      runProjection({
        store: reads,
        name: 'seen',
        batchSize: 1000,
        pollMillis: 50,
        logger,
        handle: async (events, trx, batch) => {
          if (batch.follows) {
            follows.yes++;
            const prev = await trx
              .withTables<TestTables>()
              .selectFrom('batches')
              .select(['replica', 'last_event_id'])
              .orderBy('seq', 'desc')
              .limit(1)
              .executeTakeFirst();
            if (prev?.replica !== replica || prev.last_event_id !== lastHandled[replica])
              follows.wrong.push(`${replica} after ${JSON.stringify(prev)}`);
          } else follows.no++;
          lastHandled[replica] = events.at(-1)!.id;
          await trx
            .withTables<TestTables>()
            .insertInto('batches')
            .values({ replica, last_event_id: events.at(-1)!.id })
            .execute();
          await trx
            .withTables<TestTables>()
            .insertInto('seen')
            .values(events.map((e) => ({ event_id: e.id, global_position: e.globalPosition })))
            .execute();
          // Fail after writing: the read-model rows must roll back with the checkpoint.
          if (Math.random() < 0.05) {
            injectedFailures++;
            throw new Error('injected projection failure');
          }
        },
      }),
    );

    let next = 0;
    const writer = async (w: number): Promise<void> => {
      while (next < TRANSACTIONS) {
        const t = next++;
        const ids: string[] = [];
        try {
          await writes.transaction(async (tx) => {
            for (const part of [0, 1]) {
              const stream = `w${w}-${rnd(4)}`;
              const r = await tx.append(
                stream,
                Array.from({ length: EVENTS_PER_TX / 2 }, (_, k) => ({ type: 'Written', data: { t, part, k } })),
                { expectedVersion: 'any' },
              );
              ids.push(...r.events.map((e) => e.id));
              // Hold the transaction open so later transactions commit first.
              await sleep(rnd(4));
            }
            if (t % 10 === 3) throw new Rollback();
          });
          ids.forEach((id) => committed.add(id));
        } catch (e) {
          if (!(e instanceof Rollback) && !(e instanceof ConcurrencyError)) throw e;
          ids.forEach((id) => rolledBack.add(id));
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, async (_, w) => writer(w)));
    expect(committed.size + rolledBack.size).toBe(TRANSACTIONS * EVENTS_PER_TX);
    expect(rolledBack.size).toBeGreaterThan(0);

    // Wait (bounded) for the projection to catch up; a skipped event shows up below as a missing id.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      const seen = await sql<{ n: string }>`SELECT count(*) AS n FROM seen`.execute(readerDb);
      if (Number(seen.rows[0]!.n) >= committed.size) break;
    }
    await Promise.all(replicas.map(async (r) => r.stop()));

    const { rows } = await sql<{ total: string; distinct_ids: string }>`
      SELECT count(*) AS total, count(DISTINCT event_id) AS distinct_ids FROM seen`.execute(readerDb);
    expect(rows[0]).toEqual({ total: String(committed.size), distinct_ids: String(committed.size) });
    const seenIds = (await readerDb.withTables<TestTables>().selectFrom('seen').select('event_id').execute()).map((r) => r.event_id);
    expect(seenIds.filter((id) => rolledBack.has(id))).toEqual([]);
    expect(seenIds.every((id) => committed.has(id))).toBe(true);
    expect(replicas.reduce((n, r) => n + r.handled(), 0)).toBe(committed.size);
    expect(failures.length).toBe(injectedFailures);
    expect(follows.wrong).toEqual([]);
    expect(follows.yes).toBeGreaterThan(0);
    expect(follows.no).toBeGreaterThan(0);
    console.log(`global read: ${committed.size} committed, ${rolledBack.size} rolled back, ${injectedFailures} projection batches retried`);
  });
});
