/**
 * The whole plane on the simulator, for the fuzz tests: inventory and the scheduler as processes;
 * the executor, migration and telemetry services in this process (their composition roots), all on
 * fresh databases and one NATS prefix. Hosts are registered in inventory as `sim://<hostId>`.
 */
import { inventoryV1, migrationV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import type { RunningMigration } from '@berth/migration';
import { createLogger } from '@berth/observability';
import type { RunningSimExecutor } from '@berth/placement-executor';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@berth/telemetry';
import { createTestDatabase, deletePrefixedStreams, eventually, type TestDatabase, testSubjectPrefix } from '@berth/testing';
import { startService, type ServiceHandle } from './service.ts';
import { serviceTlsEnv } from './tls.ts';
import { registerSimHosts, simFleet, startSimExecutor, startSimMigration } from './sim-services.ts';

const GiB = 1024 ** 3;

export interface SimPlaneOptions {
  /** Variables over the defaults of inventory's process. */
  readonly inventoryEnv?: Readonly<Record<string, string>>;
  /** Variables over the defaults of each scheduler replica's process. */
  readonly schedulerEnv?: Readonly<Record<string, string>>;
  /** Scheduler replicas, each a process sharing the durable (default 1). */
  readonly schedulers?: number;
  /** The address scheduler replica `replica` (0, 1, ...) calls inventory at, given inventory's own (e.g. a proxy in front of it). */
  readonly schedulerInventoryAddr?: (inventoryAddress: string, replica: number) => Promise<string>;
}

export interface SimPlane {
  readonly prefix: string;
  readonly fleet: SimulatorFleet;
  readonly dbs: {
    readonly inventory: TestDatabase;
    readonly executor: TestDatabase;
    readonly migration: TestDatabase;
    readonly telemetry: TestDatabase;
  };
  /** gRPC addresses by service name (inventory, scheduler, executor, migration, telemetry). */
  readonly addresses: Readonly<Record<'inventory' | 'scheduler' | 'executor' | 'migration' | 'telemetry', string>>;
  readonly inventory: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  readonly migration: InstanceType<typeof migrationV1.MigrationServiceClient>;
  /** The scheduler replicas' processes (their pids: SIGSTOP, SIGCONT). */
  readonly schedulers: readonly ServiceHandle[];
  /** Composes a VM and waits until inventory says it runs. */
  compose(vmId: string): Promise<void>;
  /** Migrates a VM and waits until the migration completed. */
  migrate(vmId: string, to: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startSimPlane(label: string, hosts: readonly string[], options: SimPlaneOptions = {}): Promise<SimPlane> {
  const prefix = testSubjectPrefix(label);
  const fleet = simFleet(hosts);
  const [invDb, exDb, migDb, telDb] = (await Promise.all(['inv', 'ex', 'mig', 'tel'].map((s) => createTestDatabase(`${label}_${s}`)))) as [
    TestDatabase,
    TestDatabase,
    TestDatabase,
    TestDatabase,
  ];
  const processes: ServiceHandle[] = [];
  let ex: RunningSimExecutor | undefined;
  let mig: RunningMigration | undefined;
  let tel: RunningTelemetry | undefined;
  const stop = async (): Promise<void> => {
    await tel?.stop();
    await mig?.stop();
    await ex?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all([invDb, exDb, migDb, telDb].map((d) => d.drop()));
  };
  try {
    const inventory = await startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix, ...options.inventoryEnv });
    processes.push(inventory);
    const replicas = options.schedulers ?? 1;
    const schedulerInventory: string[] = [];
    for (let i = 0; i < replicas; i++)
      schedulerInventory.push((await options.schedulerInventoryAddr?.(inventory.address, i)) ?? inventory.address);
    const started = await Promise.allSettled(
      schedulerInventory.map((addr, i) =>
        startService(
          'scheduler',
          { NATS_PREFIX: prefix, INVENTORY_ADDR: addr, ...options.schedulerEnv },
          { label: i === 0 ? 'scheduler' : `scheduler-${i + 1}` },
        ),
      ),
    );
    const schedulers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    processes.push(...schedulers);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const scheduler = schedulers[0]!;
    const nats = { NATS_URL: process.env['NATS_URL'], NATS_PREFIX: prefix };
    ex = await startSimExecutor(fleet, { databaseUrl: exDb.url, prefix, name: `${label}-executor` });
    mig = await startSimMigration({
      databaseUrl: migDb.url,
      prefix,
      name: `${label}-migration`,
      inventoryAddr: inventory.address,
      schedulerAddr: scheduler.address,
    });
    tel = await startTelemetry(
      loadTelemetryConfig({
        ...serviceTlsEnv('telemetry'),
        ...nats,
        DATABASE_URL: telDb.url,
        TELEMETRY_GRPC_PORT: '0',
      }),
      createLogger(`${label}-telemetry`),
    );
    const inv = createClient(inventoryV1.InventoryServiceClient, inventory.address);
    const migClient = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${mig.port}`);
    await registerSimHosts(inv, hosts);
    const getVm = async (vmId: string) => (await callUnary(inv, 'getVm', { vmId })).vm!;
    return {
      prefix,
      fleet,
      dbs: { inventory: invDb, executor: exDb, migration: migDb, telemetry: telDb },
      addresses: {
        inventory: inventory.address,
        scheduler: scheduler.address,
        executor: `127.0.0.1:${ex.port}`,
        migration: `127.0.0.1:${mig.port}`,
        telemetry: `127.0.0.1:${tel.port}`,
      },
      inventory: inv,
      migration: migClient,
      schedulers,
      async compose(vmId) {
        await callUnary(inv, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 2 * GiB }),
        });
        await eventually(async () => (await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_RUNNING, `${vmId} running`, 90_000);
      },
      async migrate(vmId, to) {
        const { migration } = await callUnary(migClient, 'migrateVm', {
          meta: { commandId: `migrate-${vmId}-${to}` },
          vmId,
          destinationHostId: to,
          reason: 'fuzz',
        });
        const migrationId = migration!.migrationId;
        const S = migrationV1.MigrationStatus;
        await eventually(
          async () => (await callUnary(migClient, 'getMigration', { migrationId })).migration?.status === S.MIGRATION_STATUS_COMPLETED,
          `migration of ${vmId} to ${to} completed`,
          90_000,
        );
      },
      async stop() {
        inv.close();
        migClient.close();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
