import { afterEach, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { CancelledError, DeadlineExceededError, type CallDeadline } from '@berth/errors';
import { infraAvailable } from '@berth/testing';
import { aggregate, CommandBatcher, type BatchCommand } from './index.ts';
import { holdStreamRow, type StreamLock } from './testing/stream-lock.ts';
import { useTestStore } from './testing/store-fixture.ts';

/** A call as the gRPC kit makes one: its signal fires at the deadline (DeadlineExceededError) or on `cancel()`. */
function testCall(deadlineMillis?: number): CallDeadline & { cancel(): void } {
  const controller = new AbortController();
  const deadline = deadlineMillis === undefined ? undefined : new Date(Date.now() + deadlineMillis);
  const timer =
    deadlineMillis === undefined ? undefined : setTimeout(() => controller.abort(new DeadlineExceededError('test')), deadlineMillis);
  return {
    deadline,
    signal: controller.signal,
    cancel: () => {
      clearTimeout(timer);
      controller.abort(new CancelledError('test'));
    },
  };
}

const counter = aggregate<number>({ prefix: 'ctr-', initial: () => 0, evolve: (n) => n + 1 });
const bump = (streamId: string, commandId?: string): BatchCommand => ({
  streamIds: [streamId],
  ...(commandId === undefined ? {} : { commandId }),
  decide: () => [[{ type: 'Bumped', data: {} }]],
});

describe.skipIf(!(await infraAvailable('postgres')))('a call ending stops its statements', () => {
  const t = useTestStore('es_call_deadline');
  let locker: pg.Client | undefined;

  afterEach(async () => {
    await locker?.end();
    locker = undefined;
  });

  /** Another session holding the stream's row lock (an append to it waits), until `release`. */
  async function lockStream(streamId: string): Promise<StreamLock> {
    const lock = await holdStreamRow(t.url, streamId);
    locker = lock.client;
    return lock;
  }

  /** Statements of the store's pool (application_name `berth`: not the locker's, not this query's) waiting or running now. */
  async function runningStatements(pattern = '%'): Promise<number> {
    const c = new pg.Client({ connectionString: t.url });
    await c.connect();
    try {
      const r = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'berth' AND state = 'active' AND query LIKE $1`,
        [pattern],
      );
      return Number(r.rows[0]!.n);
    } finally {
      await c.end();
    }
  }

  const version = async (streamId: string): Promise<number> => (await t.store.readStream(streamId)).version;

  it('a transaction blocked past its deadline fails with 57014 (statement_timeout), its statement gone, nothing appended', async () => {
    await t.store.append('ctr-tx', [{ type: 'Bumped', data: {} }], { expectedVersion: 0 });
    const lock = await lockStream('ctr-tx');
    // No signal timer here: the statement_timeout set from the deadline alone ends the statement.
    const call = { deadline: new Date(Date.now() + 400), signal: new AbortController().signal };
    const err: unknown = await t.store
      .transaction((tx) => tx.append('ctr-tx', [{ type: 'Bumped', data: {} }], { expectedVersion: 1 }), call)
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('57014');
    expect(await runningStatements()).toBe(0);
    await lock.release();
    expect(await version('ctr-tx')).toBe(1);
  });

  it('a cancelled call cancels its running statement (pg_cancel_backend), and nothing is appended', async () => {
    await t.store.append('ctr-cancel', [{ type: 'Bumped', data: {} }], { expectedVersion: 0 });
    const lock = await lockStream('ctr-cancel');
    const call = testCall(); // no deadline: only the cancel can end it
    const appending = t.store
      .transaction((tx) => tx.append('ctr-cancel', [{ type: 'Bumped', data: {} }], { expectedVersion: 1 }), call)
      .catch((e: unknown) => e);
    await vi.waitFor(async () => expect(await runningStatements()).toBe(1), { timeout: 10_000 });
    call.cancel();
    const err = await appending;
    expect((err as { code?: string }).code).toBe('57014');
    expect(await runningStatements()).toBe(0);
    await lock.release();
    expect(await version('ctr-cancel')).toBe(1);
  });

  it('a read of an ended call is cancelled too, and a call already ended sends nothing', async () => {
    await t.store.append('ctr-read', [{ type: 'Bumped', data: {} }], { expectedVersion: 0 });
    locker = new pg.Client({ connectionString: t.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    const call = testCall(300);
    const err: unknown = await t.store.readStream('ctr-read', call).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('57014');
    expect(await runningStatements('%"events"%')).toBe(0);
    await locker.query('COMMIT');
    await expect(t.store.readStream('ctr-read', call)).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('a queued batcher command whose call ends leaves its batch; the others commit', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [counter] });
    await batcher.execute(bump('ctr-head'));
    const lock = await lockStream('ctr-head');
    // The head's statement waits on the lock; the commands after it queue for the next batch.
    const head = batcher.execute(bump('ctr-head'));
    await vi.waitFor(async () => expect(await runningStatements('%berth_append_batch%')).toBe(1), { timeout: 10_000 });
    const expiring = testCall(200);
    const cancelled = testCall();
    const late = batcher.execute(bump('ctr-late', 'late-1'), expiring).catch((e: unknown) => e);
    const gone = batcher.execute(bump('ctr-gone'), cancelled).catch((e: unknown) => e);
    const kept = batcher.execute(bump('ctr-kept'), testCall(60_000));
    const plain = batcher.execute(bump('ctr-plain'));
    cancelled.cancel();
    expect(await gone).toBeInstanceOf(CancelledError);
    expect(await late).toBeInstanceOf(DeadlineExceededError);
    await lock.release();
    await head;
    expect((await kept).events[0]).toHaveLength(1);
    expect((await plain).events[0]).toHaveLength(1);
    expect(await version('ctr-late')).toBe(0);
    expect(await version('ctr-gone')).toBe(0);
    expect(await t.store.commandResult('late-1')).toBeUndefined();
    expect(await version('ctr-kept')).toBe(1);
    expect(await version('ctr-head')).toBe(2);
  });

  it('a batch statement is cancelled only once every command in it has an ended call; then nothing is appended', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [counter] });
    await batcher.execute(bump('ctr-shared'));
    const lock = await lockStream('ctr-shared');
    const first = testCall();
    const second = testCall();
    // Submitted in one tick: one statement carries both.
    const a = batcher.execute(bump('ctr-shared'), first).catch((e: unknown) => e);
    const b = batcher.execute(bump('ctr-other'), second).catch((e: unknown) => e);
    await vi.waitFor(async () => expect(await runningStatements('%berth_append_batch%')).toBe(1), { timeout: 10_000 });
    first.cancel();
    // One caller still waits: the statement keeps running.
    await new Promise((r) => setTimeout(r, 300));
    expect(await runningStatements('%berth_append_batch%')).toBe(1);
    second.cancel();
    expect(await a).toBeInstanceOf(CancelledError);
    expect(await b).toBeInstanceOf(CancelledError);
    expect(await runningStatements('%berth_append_batch%')).toBe(0);
    await lock.release();
    expect(await version('ctr-shared')).toBe(1);
    expect(await version('ctr-other')).toBe(0);
  });

  it('a command written before its call ended is acknowledged, not failed', async () => {
    const batcher = new CommandBatcher(t.store, { aggregates: [counter] });
    await batcher.execute(bump('ctr-ack'));
    const lock = await lockStream('ctr-ack');
    const ending = testCall();
    const acked = batcher.execute(bump('ctr-ack'), ending);
    const other = batcher.execute(bump('ctr-ack-other')); // no call: the statement must not be cancelled
    await vi.waitFor(async () => expect(await runningStatements('%berth_append_batch%')).toBe(1), { timeout: 10_000 });
    ending.cancel();
    await lock.release();
    expect((await acked).events[0]).toHaveLength(1);
    await other;
    expect(await version('ctr-ack')).toBe(2);
  });
});
