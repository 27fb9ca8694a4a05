/**
 * Statements sent outside a transaction for a call are bounded in Postgres by the call's deadline
 * (session-timeout.ts), as a transaction is (store.ts): the tests give calls a deadline but a signal
 * that never fires, so only the server-side bound can end their statements.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { sql } from 'kysely';
import { DeadlineExceededError, callEnded, type CallDeadline } from '@berth/errors';
import { infraAvailable } from '@berth/testing';
import { aggregate, CommandBatcher, createKysely, withCall, type AnyKysely } from './index.ts';
import { poolOf } from './connection.ts';
import { holdStreamRow, type StreamLock } from './testing/stream-lock.ts';
import { useTestStore } from './testing/store-fixture.ts';

/** A call with a deadline whose signal never fires (as if the process could not act at the deadline). */
const deadlineOnly = (millis: number): CallDeadline => ({ deadline: new Date(Date.now() + millis), signal: new AbortController().signal });

const counter = aggregate<number>({ prefix: 'ctr-', initial: () => 0, evolve: (n) => n + 1 });

describe.skipIf(!(await infraAvailable('postgres')))('a statement outside a transaction is bounded by its call', () => {
  const t = useTestStore('es_statement_timeout');
  const own: AnyKysely[] = [];
  let locker: pg.Client | undefined;

  afterEach(async () => {
    await locker?.end();
    locker = undefined;
    await Promise.all(own.splice(0).map(async (db) => db.destroy()));
  });

  /** A pool of its own on the test database (`applicationName` tells its sessions apart). */
  function pool(applicationName: string, max = 1): AnyKysely {
    const db = createKysely(t.url, { max, applicationName, queryTimeoutMillis: 60_000 });
    own.push(db);
    return db;
  }

  async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const c = new pg.Client({ connectionString: t.url });
    await c.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  /** Statements of sessions named `applicationName` that run (or wait) now and match `pattern`. */
  const running = async (applicationName: string, pattern = '%'): Promise<number> =>
    Number(
      (
        await query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1 AND state = 'active' AND query LIKE $2`,
          [applicationName, pattern],
        )
      )[0]!.n,
    );

  async function lockStream(streamId: string): Promise<StreamLock> {
    const lock = await holdStreamRow(t.url, streamId);
    locker = lock.client;
    return lock;
  }

  it('a long statement whose call deadline passes is stopped by Postgres (57014): the deadline passed, the backend runs it no more', async () => {
    const db = pool('es-st-sleep');
    const call = deadlineOnly(400);
    const err: unknown = await withCall(call, 'sleep', () => sql`SELECT pg_sleep(30)`.execute(db)).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('57014');
    expect((err as Error).message).toContain('statement timeout');
    // The gRPC kit answers a 57014 of a call whose deadline passed with DEADLINE_EXCEEDED.
    expect(callEnded(call, 'sleep')).toBeInstanceOf(DeadlineExceededError);
    expect(await running('es-st-sleep', '%pg_sleep%')).toBe(0);
  });

  it('a single append blocked past its deadline is stopped, and nothing is appended', async () => {
    await t.store.append('ctr-single', [{ type: 'Bumped', data: {} }], { expectedVersion: 0 });
    const lock = await lockStream('ctr-single');
    const call = deadlineOnly(400);
    const err: unknown = await t.store
      .append('ctr-single', [{ type: 'Bumped', data: {} }], { expectedVersion: 1, call })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('57014');
    expect(await running('berth', '%berth_append%')).toBe(0);
    await lock.release();
    expect((await t.store.readStream('ctr-single')).version).toBe(1);
  });

  it('a batch statement runs until the latest deadline of its commands, then stops with nothing appended', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [counter] });
    const bump = (streamId: string) => ({ streamIds: [streamId], decide: () => [[{ type: 'Bumped', data: {} }]] });
    await batcher.execute(bump('ctr-batch'));
    const lock = await lockStream('ctr-batch');
    const early = deadlineOnly(200);
    const late = deadlineOnly(900);
    // Submitted in one tick: one statement carries both.
    const a = batcher.execute(bump('ctr-batch'), early).catch((e: unknown) => e);
    const b = batcher.execute(bump('ctr-batch-other'), late).catch((e: unknown) => e);
    const [errA, errB] = await Promise.all([a, b]);
    expect(errA).toBeInstanceOf(DeadlineExceededError);
    expect(errB).toBeInstanceOf(DeadlineExceededError);
    // The statement outlived the earlier deadline: it ended by the later one.
    expect(callEnded(late, 'batch')).toBeInstanceOf(DeadlineExceededError);
    expect(await running('berth', '%berth_append_batch%')).toBe(0);
    await lock.release();
    expect((await t.store.readStream('ctr-batch')).version).toBe(1);
    expect((await t.store.readStream('ctr-batch-other')).version).toBe(0);
  });

  it("a call's bound does not stay on the connection for statements of no call", async () => {
    const db = pool('es-st-reuse');
    const pid = async (): Promise<number> => (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]!.pid;
    const first = await withCall(deadlineOnly(300), 'short', pid);
    // One connection: the same session, which ran the short call's statement, now sleeps past that bound.
    await expect(sql`SELECT pg_sleep(0.8)`.execute(db)).resolves.toBeDefined();
    expect(await pid()).toBe(first);
    // And a transaction of no call there is not cut either.
    await expect(db.transaction().execute(async (trx) => sql`SELECT pg_sleep(0.8)`.execute(trx))).resolves.toBeDefined();
    expect(await pid()).toBe(first);
  });

  it('destroying the Kysely ends the connection that sends cancels', async () => {
    const db = pool('es-st-cancel', 2);
    const controller = new AbortController();
    const call: CallDeadline = { deadline: undefined, signal: controller.signal };
    const sleeping = withCall(call, 'sleep', () => sql`SELECT pg_sleep(30)`.execute(db)).catch((e: unknown) => e);
    await vi.waitFor(async () => expect(await running('es-st-cancel', '%pg_sleep%')).toBe(1), { timeout: 10_000 });
    controller.abort(new DeadlineExceededError('test'));
    expect(((await sleeping) as { code?: string }).code).toBe('57014');
    const sessions = async (): Promise<number> =>
      Number(
        (await query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'es-st-cancel-cancel'`))[0]!.n,
      );
    expect(await sessions()).toBe(1);
    await own.splice(own.indexOf(db), 1)[0]!.destroy();
    await vi.waitFor(async () => expect(await sessions()).toBe(0), { timeout: 2000, interval: 50 });
  });

  it('the pg pool is left as pg made it: its end answers a callback', async () => {
    const db = createKysely(t.url, { max: 1 });
    await sql`SELECT 1`.execute(db);
    const ended = await new Promise<unknown>((resolve) => {
      poolOf(db)!.end((e?: unknown) => resolve(e ?? 'ended'));
      setTimeout(() => resolve('no answer'), 10_000).unref(); // a hang guard, not a speed bound
    });
    expect(ended).toBe('ended');
  });
});
