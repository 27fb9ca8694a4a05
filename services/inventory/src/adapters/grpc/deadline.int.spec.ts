import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { callUnary, GrpcStatus, isServiceError } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { startInventory, type RunningInventory } from '../../service.ts';
import { testClient, vmSpecMsg } from '../../testing/grpc-client.ts';

/**
 * A call's deadline and cancellation reach Postgres: a compose whose statement is blocked (another
 * session holds the project's stream row, which the compose's quota admission updates) is stopped in
 * the database when the call ends, and appends nothing, even after the lock is gone.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('InventoryService: deadlines and cancellation reach Postgres', () => {
  let tdb: TestDatabase;
  let inv: RunningInventory;
  let nc: NatsConnection;
  let t: ReturnType<typeof testClient>;
  let locker: pg.Client | undefined;
  const prefix = testSubjectPrefix('invdl');

  beforeAll(async () => {
    tdb = await createTestDatabase('inventory_deadline');
    inv = await startInventory(
      {
        DATABASE_URL: tdb.url,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        INVENTORY_GRPC_PORT: 0,
        INVENTORY_MAX_PROVISION_ATTEMPTS: 2,
        INVENTORY_CAPACITY_SWEEP: 200,
        INVENTORY_SNAPSHOT_CLAIM_LINGER: 1000,
      },
      createLogger('inventory-deadline-test'),
    );
    nc = await connectTestNats();
    t = testClient(inv.port);
    // The default project's stream exists from here on.
    await t.call('composeVm', { meta: t.meta(), vmId: 'first', spec: vmSpecMsg({ name: 'first' }) });
  });

  afterEach(async () => {
    await locker?.end();
    locker = undefined;
  });

  afterAll(async () => {
    t?.client.close();
    await inv?.stop();
    if (nc) {
      await deletePrefixedStreams(prefix, nc); // the streams and buckets this file created under its prefix
      await nc.close();
    }
    await tdb?.drop();
  });

  async function lockDefaultProject(): Promise<{ release(): Promise<void> }> {
    locker = new pg.Client({ connectionString: tdb.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM streams WHERE stream_id = 'project-default' FOR UPDATE`);
    const held = locker;
    return { release: async () => void (await held.query('COMMIT')) };
  }

  /** The inventory's statements waiting or running in Postgres now. */
  const running = async (): Promise<number> =>
    Number(
      (
        await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'berth-inventory' AND state = 'active' AND pid <> pg_backend_pid()`.execute(
          inv.db,
        )
      ).rows[0]!.n,
    );

  const appendedTo = async (vmId: string): Promise<number> =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events WHERE stream_id = ${`vm-${vmId}`}`.execute(inv.db)).rows[0]!.n);

  /** Commits that could still land after the lock is gone have had time to. */
  const settle = () => new Promise((r) => setTimeout(r, 500));

  it('a blocked compose past its deadline ends DEADLINE_EXCEEDED, its statement is cancelled, and nothing is appended', async () => {
    const lock = await lockDefaultProject();
    const err: unknown = await callUnary(
      t.client,
      'composeVm',
      { meta: t.meta(), vmId: 'late', spec: vmSpecMsg({ name: 'late' }) },
      { deadline: Date.now() + 800 },
    ).catch((e: unknown) => e);
    expect(isServiceError(err) && err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await vi.waitFor(async () => expect(await running()).toBe(0), { timeout: 5000 });
    await lock.release();
    await settle();
    expect(await appendedTo('late')).toBe(0);
  });

  it('a client cancel of a blocked compose ends CANCELLED, its statement is cancelled, and nothing is appended', async () => {
    const lock = await lockDefaultProject();
    let answered: ((e: unknown) => void) | undefined;
    const outcome = new Promise<unknown>((resolve) => (answered = resolve));
    const call = t.client.composeVm({ meta: t.meta(), vmId: 'dropped', spec: vmSpecMsg({ name: 'dropped' }) }, (e) => answered!(e));
    await vi.waitFor(async () => expect(await running()).toBe(1), { timeout: 10_000 });
    call.cancel();
    const err = await outcome;
    expect(isServiceError(err) && err.code).toBe(GrpcStatus.CANCELLED);
    await vi.waitFor(async () => expect(await running()).toBe(0), { timeout: 5000 });
    await lock.release();
    await settle();
    expect(await appendedTo('dropped')).toBe(0);
  });

  it('the same compose without a deadline waits for the lock and commits', async () => {
    const lock = await lockDefaultProject();
    const composed = t.call('composeVm', { meta: t.meta(), vmId: 'patient', spec: vmSpecMsg({ name: 'patient' }) });
    await vi.waitFor(async () => expect(await running()).toBe(1), { timeout: 10_000 });
    await lock.release();
    expect((await composed).vm?.vmId).toBe('patient');
    expect(await appendedTo('patient')).toBe(1);
  });
});
