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

/**
 * Maintenance evacuation end to end on the simulator (the same harness as migration-simulator):
 * a host with a plain VM, a pinned high-performance VM (manual only) and a `none` VM is drained
 * through PlanEvacuation / StartEvacuation / GetEvacuation.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('maintenance evacuation on the simulator', () => {
  const prefix = testSubjectPrefix('evacsim');
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
      createTestDatabase('evacsim_inv'),
      createTestDatabase('evacsim_ex'),
      createTestDatabase('evacsim_mig'),
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
      createLogger('evacsim-executor'),
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
      createLogger('evacsim-migration'),
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
  const hostState = async (hostId: string) => (await callUnary(inv, 'getHost', { hostId })).host!.state;
  const setState = (hostId: string, state: inventoryV1.HostState) =>
    callUnary(inv, 'setHostState', { meta: { commandId: `state-${hostId}-${state}-${Date.now()}` }, hostId, state, reason: 'test' });
  const compose = async (vmId: string, spec: Partial<inventoryV1.VmSpec>) => {
    await callUnary(inv, 'composeVm', {
      meta: { commandId: `compose-${vmId}` },
      vmId,
      spec: inventoryV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 2 * GiB, ...spec }),
    });
    return eventually(
      async () => ((await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_RUNNING ? getVm(vmId) : undefined),
      `${vmId} running`,
      60_000,
    );
  };

  it('plans (warning, blocker, priority order), drains what may move, and keeps the host preparing with the reason', async () => {
    // Everything lands on h1: the other hosts take no new VMs while composing.
    for (const h of ['h2', 'h3', 'h4']) await setState(h, inventoryV1.HostState.HOST_STATE_NO_SCHEDULING);
    await compose('plain', { priority: 1 });
    await compose('pinned-hp', { priority: 10, highPerformance: true, passthroughCpu: true });
    await compose('stuck', { priority: 5, migrationMode: inventoryV1.MigrationMode.MIGRATION_MODE_NONE });
    for (const h of ['h2', 'h3', 'h4']) await setState(h, inventoryV1.HostState.HOST_STATE_ENABLED);
    expect((await getVm('pinned-hp')).spec!.migrationMode).toBe(inventoryV1.MigrationMode.MIGRATION_MODE_MANUAL);

    const plan = await eventually(
      async () => {
        // The migration service's fleet view follows the snapshot bucket: until it has seen h2-h4
        // enabled again, every VM is (rightly) a blocker with "no destination fits".
        const p = (await callUnary(client, 'planEvacuation', { hostId: 'h1' })).plan!;
        return p.moves.length === 2 && p.blockers.length === 1 ? p : undefined;
      },
      'the plan to see the three VMs and the enabled destinations',
      30_000,
    );
    expect(plan.moves.map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(plan.moves[0]!.warning).toMatch(/performance may decrease/);
    expect(plan.blockers.map((b) => b.vmId)).toEqual(['stuck']);
    expect(plan.blockers[0]!.remedy).toMatch(/change its migration mode/);
    expect(await hostState('h1')).toBe(inventoryV1.HostState.HOST_STATE_ENABLED); // planning changes nothing

    const started = (await callUnary(client, 'startEvacuation', { meta: { commandId: 'drain-h1' }, hostId: 'h1', reason: 'test' }))
      .evacuation!;
    expect(started.previousHostState).toBe('enabled');
    const blocked = await eventually(
      async () => {
        const e = (await callUnary(client, 'getEvacuation', { hostId: 'h1' })).evacuation!;
        return e.status === 'blocked' ? e : undefined;
      },
      'the drain to move what it may and wait on the none VM',
      120_000,
    );
    expect(blocked.moves.filter((m) => m.status === 'completed').map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(blocked.blockedReason).toMatch(/stuck: its migration mode is none/);
    expect(blocked.nextRetryAt).not.toBe('');
    expect(await hostState('h1')).toBe(inventoryV1.HostState.HOST_STATE_MAINTENANCE_PREPARING);
    for (const vmId of ['pinned-hp', 'plain']) {
      const vm = await getVm(vmId);
      expect(vm.hostId).not.toBe('h1');
      expect(await fleet.driver(`sim://h1`).state(vmId)).not.toBe('running');
      expect(await fleet.driver(`sim://${vm.hostId}`).state(vmId)).toBe('running');
    }
    expect((await getVm('stuck')).hostId).toBe('h1');

    // Cancel: the host goes back to enabled.
    const cancelled = (await callUnary(client, 'cancelEvacuation', { meta: { commandId: 'cancel-h1' }, hostId: 'h1', abortRunning: true }))
      .evacuation!;
    expect(['cancelling', 'cancelled']).toContain(cancelled.status);
    await eventually(
      async () => ((await hostState('h1')) === inventoryV1.HostState.HOST_STATE_ENABLED ? true : undefined),
      'h1 back to enabled',
      30_000,
    );
  });

  it('names the bad field', async () => {
    await expect(callUnary(client, 'planEvacuation', { hostId: '' })).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/hostId/),
    });
  });
});
