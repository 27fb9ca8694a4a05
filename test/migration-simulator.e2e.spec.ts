import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, migrationV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import { loadMigrationConfig, startMigration, type RunningMigration } from '@berth/migration';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningExecutor } from '@berth/placement-executor';
import { createTestDatabase, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { deletePrefixedStreams } from './harness/nats.ts';
import { startService, type ServiceHandle } from './harness/service.ts';
import { eventually } from './harness/wait.ts';
import { serviceTlsEnv } from './harness/tls.ts';

const GiB = 1024 ** 3;
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
const S = migrationV1.MigrationStatus;

/**
 * Live migration end to end on the simulator: inventory and the scheduler as processes, the
 * executor and the migration service in this process (sharing the simulator fleet, so failures can
 * be injected), real Postgres and NATS. Each case ends with the VM running on exactly one host and
 * its claims where it runs.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('live migration on the simulator', () => {
  const prefix = testSubjectPrefix('migsim');
  const fleet = new SimulatorFleet({ migration: { timeScale: 1, defaultBandwidthBytesPerSecond: 4 * GiB, progressIntervalMillis: 100 } });
  for (const h of HOSTS) fleet.addHost({ hostId: h, cpus: 16, memoryBytes: 64 * GiB });
  let invDb: TestDatabase;
  let exDb: TestDatabase;
  let migDb: TestDatabase;
  let inventory: ServiceHandle;
  let scheduler: ServiceHandle;
  let ex: RunningExecutor;
  let mig: RunningMigration;
  let inv: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  let client: InstanceType<typeof migrationV1.MigrationServiceClient>;

  beforeAll(async () => {
    [invDb, exDb, migDb] = await Promise.all([
      createTestDatabase('migsim_inv'),
      createTestDatabase('migsim_ex'),
      createTestDatabase('migsim_mig'),
    ]);
    inventory = await startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix });
    scheduler = await startService('scheduler', { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address });
    ex = await startExecutor(
      loadExecutorConfig({
        ...serviceTlsEnv('placement-executor'),
        DATABASE_URL: exDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        EXECUTOR_GRPC_PORT: '0',
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '1h' }),
        EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '100ms',
      }),
      createLogger('migsim-executor'),
      { simulator: fleet, sweepMillis: 300 },
    );
    mig = await startMigration(
      loadMigrationConfig({
        ...serviceTlsEnv('migration'),
        DATABASE_URL: migDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        MIGRATION_GRPC_PORT: '0',
        INVENTORY_ADDR: inventory.address,
        SCHEDULER_ADDR: scheduler.address,
        MIGRATION_RETRY_BACKOFF: '100ms',
        MIGRATION_SWEEP_INTERVAL: '300ms',
      }),
      createLogger('migsim-migration'),
    );
    inv = createClient(inventoryV1.InventoryServiceClient, inventory.address);
    client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${mig.port}`);
    for (const hostId of HOSTS) {
      await callUnary(inv, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: inventoryV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: 16, threadsPerCore: 1 },
          cpus: 16,
          memoryBytes: 64 * GiB,
        }),
        state: inventoryV1.HostState.HOST_STATE_ENABLED,
      });
    }
  });
  afterAll(async () => {
    inv?.close();
    client?.close();
    await mig?.stop();
    await ex?.stop();
    await Promise.all([inventory?.stop(), scheduler?.stop()]);
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all([invDb?.drop(), exDb?.drop(), migDb?.drop()]);
  });

  const getVm = async (vmId: string) => (await callUnary(inv, 'getVm', { vmId })).vm!;
  const claimsOf = async (hostId: string) => ((await callUnary(inv, 'getHost', { hostId })).host?.claims ?? []).map((c) => c.vmId);
  /** The hosts whose hypervisor runs the VM's domain. */
  const runningOn = async (vmId: string) => {
    const out: string[] = [];
    for (const h of HOSTS) if ((await fleet.driver(`sim://${h}`).state(vmId)) === 'running') out.push(h);
    return out;
  };
  const compose = async (vmId: string, allowedHosts: string[]) => {
    await callUnary(inv, 'composeVm', {
      meta: { commandId: `compose-${vmId}` },
      vmId,
      spec: inventoryV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 2 * GiB, allowedHosts }),
    });
    return eventually(
      async () => ((await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_RUNNING ? getVm(vmId) : undefined),
      `${vmId} running`,
      60_000,
    );
  };
  const migrate = (vmId: string, to: string, policy?: Partial<migrationV1.MigrationPolicy>) =>
    callUnary(client, 'migrateVm', {
      meta: { commandId: `migrate-${vmId}-${to}` },
      vmId,
      destinationHostId: to,
      reason: 'test',
      ...(policy ? { policy: migrationV1.MigrationPolicy.fromPartial(policy) } : {}),
    });
  const ended = (migrationId: string) =>
    eventually(
      async () => {
        const m = (await callUnary(client, 'getMigration', { migrationId })).migration!;
        return [
          S.MIGRATION_STATUS_COMPLETED,
          S.MIGRATION_STATUS_FAILED,
          S.MIGRATION_STATUS_ABORTED,
          S.MIGRATION_STATUS_POSTCOPY_PAUSED,
        ].includes(m.status)
          ? m
          : undefined;
      },
      `migration ${migrationId} to end`,
      90_000,
    );
  /** The VM runs on exactly one host, inventory places it there, holds exactly that claim, and no migration. */
  const settledOn = async (vmId: string, hostId: string) => {
    await eventually(
      async () => {
        const vm = await getVm(vmId);
        return vm.hostId === hostId && vm.migrationId === '' ? vm : undefined;
      },
      `${vmId} recorded on ${hostId}`,
      30_000,
    );
    expect(await runningOn(vmId)).toEqual([hostId]);
    for (const h of HOSTS) expect((await claimsOf(h)).includes(vmId), `claim of ${vmId} on ${h}`).toBe(h === hostId);
  };

  it('moves a running VM to the host named, claims follow, events tell the steps', async () => {
    await compose('vm-a', ['h1', 'h2']);
    const source = (await getVm('vm-a')).hostId;
    const target = source === 'h1' ? 'h2' : 'h1';
    // a named host that cannot take the VM is refused (FAILED_PRECONDITION) with the filter's reason, nothing recorded
    await expect(migrate('vm-a', 'h3')).rejects.toMatchObject({
      code: 9,
      details: "host h3 cannot take vm-a: allowed-hosts: h3 is not among the VM's allowed hosts",
    });
    await expect(migrate('vm-a', 'no such host!')).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/^destinationHostId: must be a host id/),
    });
    expect((await callUnary(client, 'listMigrations', { vmId: 'vm-a', hostId: '', activeOnly: false, limit: 0 })).migrations).toEqual([]);
    const { migration } = await migrate('vm-a', target);
    const done = await ended(migration!.migrationId);
    expect(done).toMatchObject({ status: S.MIGRATION_STATUS_COMPLETED, sourceHostId: source, destinationHostId: target });
    await settledOn('vm-a', target);
    const watched: string[] = [];
    for await (const r of (await import('@berth/grpc-kit')).callServerStream(client, 'watchMigration', {
      migrationId: migration!.migrationId,
      fromPosition: 0,
    }))
      watched.push(r.event!.type);
    expect(watched).toEqual(
      expect.arrayContaining([
        'MigrationRequested',
        'DestinationChosen',
        'DestinationClaimed',
        'MigrationCopyStarted',
        'SwitchedOver',
        'SourceReleased',
        'MigrationCompleted',
      ]),
    );
    const dests = await callUnary(client, 'listMigrationDestinations', { vmId: 'vm-a', limit: 0 });
    expect(dests.destinations.map((d) => d.hostId)).toEqual([source]);
    expect(dests.summary).toMatch(/^1\/4 hosts can take vm-a: /);
  });

  it('destination define fails: retried on another host, which completes', async () => {
    await compose('vm-b', ['h1', 'h2', 'h3']);
    const source = (await getVm('vm-b')).hostId;
    fleet.injectMigrationFailure({ failure: 'destination-define', vmId: 'vm-b' });
    const { migration } = await migrate('vm-b', 'auto');
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_COMPLETED);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(done.attempts[1]!.destinationHostId).not.toBe(done.attempts[0]!.destinationHostId);
    expect(done.attempts[1]!.destinationHostId).not.toBe(source);
    await settledOn('vm-b', done.destinationHostId);
  });

  it('fails mid-way on every destination: fails after 3 attempts with every reason, the VM stays on the source', async () => {
    await compose('vm-c', []);
    const source = (await getVm('vm-c')).hostId;
    fleet.injectMigrationFailure({ failure: 'mid-way', vmId: 'vm-c', count: 3 });
    const { migration } = await migrate('vm-c', 'auto');
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.attempts).toHaveLength(3);
    expect(new Set(done.attempts.map((a) => a.destinationHostId)).size).toBe(3);
    expect(done.reason).toMatch(/3 attempt\(s\) failed: #1 .*#2 .*#3 /);
    await settledOn('vm-c', source);
  });

  it('the completion budget runs out: aborted, the destination claim released, the VM stays on the source', async () => {
    await compose('vm-d', ['h3', 'h4']);
    const source = (await getVm('vm-d')).hostId;
    fleet.injectMigrationFailure({ failure: 'never-converges', vmId: 'vm-d', count: 5 });
    const { migration } = await migrate('vm-d', source === 'h3' ? 'h4' : 'h3', { completionBudgetSecondsPerGib: 1, maxAttempts: 1 });
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.reason).toMatch(/completion budget of 2 s/);
    await settledOn('vm-d', source);
  });

  it('post-copy loses its connection: post-copy paused (never a silent loss), resume finishes on the destination', async () => {
    await compose('vm-e', ['h1', 'h4']);
    const source = (await getVm('vm-e')).hostId;
    const target = source === 'h1' ? 'h4' : 'h1';
    fleet.injectMigrationFailure({ failure: 'postcopy-connection-loss', vmId: 'vm-e' });
    const { migration } = await migrate('vm-e', target, { postCopy: true });
    const paused = await ended(migration!.migrationId);
    expect(paused.status).toBe(S.MIGRATION_STATUS_POSTCOPY_PAUSED);
    await expect(
      callUnary(client, 'cancelMigration', { meta: { commandId: 'cancel-e' }, migrationId: paused.migrationId, reason: 'x' }),
    ).rejects.toMatchObject({ code: 9 });
    // both claims held while paused: the guest lives on the destination, part of its memory on the source
    expect((await claimsOf(source)).includes('vm-e') && (await claimsOf(target)).includes('vm-e')).toBe(true);
    await callUnary(client, 'resumeMigration', { meta: { commandId: 'resume-e' }, migrationId: paused.migrationId });
    const done = await eventually(
      async () => {
        const m = (await callUnary(client, 'getMigration', { migrationId: paused.migrationId })).migration!;
        return m.status === S.MIGRATION_STATUS_COMPLETED ? m : undefined;
      },
      'resumed migration completed',
      60_000,
    );
    expect(done.destinationHostId).toBe(target);
    await settledOn('vm-e', target);
  });
});
