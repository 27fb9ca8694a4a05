import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { migrationV1 } from '@berth/contracts';
import type { CallDeadline } from '@berth/errors';
import { callUnary, createClient, GrpcStatus, isServiceError } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import { createTestDatabase, deletePrefixedStreams, infraAvailable, natsUrl, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import type { InventoryPort, VmInfo } from '../../application/ports.ts';
import { loadMigrationConfig } from '../../config.ts';
import { startMigration, type RunningMigration } from '../../service.ts';

/**
 * The call reaches the store in MigrateVm and CancelMigration as in the reads: a command whose call
 * ended before its append appends nothing, and a blocked append is stopped in Postgres at the deadline.
 */
class SlowInventory implements InventoryPort {
  /** How long getVm takes, whatever the call's deadline (an inventory that answers late). */
  delayMillis = 0;
  answered = 0;
  readonly calls: (CallDeadline | undefined)[] = [];

  async getVm(vmId: string, call?: CallDeadline): Promise<VmInfo> {
    this.calls.push(call);
    await sleep(this.delayMillis);
    this.answered++;
    return {
      vmId,
      name: vmId,
      status: 'running',
      hostId: 'h1',
      hypervisorUri: 'test:///default',
      memoryBytes: 2 ** 30,
      migrationMode: 'manual',
      highPerformanceOrPinned: false,
      resourcePool: 'default',
      migrationId: '',
      schedulingSpec: {},
    };
  }
  vmsOn = async (): Promise<VmInfo[]> => [];
  beginMigration = async () => ({ kind: 'refused', detail: 'not in this test' }) as const;
  completeMigration = async (): Promise<void> => undefined;
  abortMigration = async (): Promise<void> => undefined;
}

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('MigrationService: the call reaches the store in commands', () => {
  let tdb: TestDatabase;
  let svc: RunningMigration;
  let client: InstanceType<typeof migrationV1.MigrationServiceClient>;
  let locker: pg.Client | undefined;
  const inventory = new SlowInventory();
  const prefix = testSubjectPrefix('migdl');

  beforeAll(async () => {
    tdb = await createTestDatabase('migration_deadline');
    svc = await startMigration(
      loadMigrationConfig({ DATABASE_URL: tdb.url, NATS_URL: natsUrl(), NATS_PREFIX: prefix, MIGRATION_GRPC_PORT: '0' }),
      createLogger('migration-deadline-test'),
      {
        inventory,
        // The runner never gets past choosing a destination: the migrations stay requested.
        scheduler: { score: async () => Promise.reject(new Error('no scheduler in this test')) },
        executor: { runtime: async () => ({ kind: 'unreachable', detail: 'not in this test' }) },
      },
    );
    client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${svc.port}`, { deadlineMillis: 10_000 });
  });

  afterEach(async () => {
    inventory.delayMillis = 0;
    await locker?.end();
    locker = undefined;
  });

  afterAll(async () => {
    client?.close();
    await svc?.stop();
    await deletePrefixedStreams(prefix);
    await tdb?.drop();
  });

  const migrate = (vmId: string, commandId: string, deadline?: number) =>
    callUnary(
      client,
      'migrateVm',
      { meta: { commandId }, vmId, destinationHostId: '', reason: '' },
      deadline === undefined ? {} : { deadline },
    );

  /** Events appended for the VM (every migration event names it). */
  const eventsOf = async (vmId: string, type = '%'): Promise<number> =>
    Number(
      (
        await sql<{
          n: string;
        }>`SELECT count(*) AS n FROM events WHERE stream_id LIKE 'migration-%' AND data->>'vmId' = ${vmId} AND type LIKE ${type}`.execute(
          svc.db,
        )
      ).rows[0]!.n,
    );

  /** The service's appends waiting or running in Postgres now. */
  const runningAppends = async (): Promise<number> =>
    Number(
      (
        await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'berth-migration' AND state = 'active' AND query LIKE '%berth_append%' AND pid <> pg_backend_pid()`.execute(
          svc.db,
        )
      ).rows[0]!.n,
    );

  /** Commits that could still land after the handler went on have had time to. */
  const settle = () => sleep(500);

  it('a MigrateVm whose deadline passes before its append ends DEADLINE_EXCEEDED and appends nothing', async () => {
    inventory.delayMillis = 700;
    const before = inventory.answered;
    const commandId = randomUUID();
    const err: unknown = await migrate('near', commandId, Date.now() + 300).catch((e: unknown) => e);
    expect(isServiceError(err) && err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await vi.waitFor(() => expect(inventory.answered).toBe(before + 1), { timeout: 10_000 });
    await settle();
    expect(await eventsOf('near')).toBe(0);
    expect(await svc.store.commandResult(commandId)).toBeUndefined();
    // The call went down to inventory too, with its deadline.
    expect(inventory.calls.at(-1)?.deadline).toBeInstanceOf(Date);

    // The same command in time records the migration.
    inventory.delayMillis = 0;
    expect((await migrate('near', commandId)).migration?.vmId).toBe('near');
    expect(await eventsOf('near', 'MigrationRequested')).toBe(1);
  });

  it('a CancelMigration blocked past its deadline ends DEADLINE_EXCEEDED, its statement is stopped, and nothing is appended', async () => {
    const migrationId = (await migrate('blocked', randomUUID())).migration!.migrationId;
    locker = new pg.Client({ connectionString: tdb.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE', [`migration-${migrationId}`]);
    const err: unknown = await callUnary(
      client,
      'cancelMigration',
      { meta: { commandId: randomUUID() }, migrationId, reason: 'test' },
      { deadline: Date.now() + 800 },
    ).catch((e: unknown) => e);
    expect(isServiceError(err) && err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await vi.waitFor(async () => expect(await runningAppends()).toBe(0), { timeout: 5000 });
    await locker.query('COMMIT');
    await settle();
    expect(await eventsOf('blocked', 'CancelRequested')).toBe(0);
  });
});
