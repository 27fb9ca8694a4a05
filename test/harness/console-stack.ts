/**
 * What the console's tests and benchmark run against: inventory and the scheduler as real processes,
 * the executor (simulator hosts, fast simulated migrations) and the migration service in this
 * process (as the evacuation e2e does), and the console as its own process (as `npm start` runs it),
 * serving its built assets.
 */
import { inventoryV1, migrationV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import { ensureConsoleAssets } from '@berth/console';
import type { RunningMigration } from '@berth/migration';
import type { RunningSimExecutor } from '@berth/placement-executor';
import { createTestDatabase, deletePrefixedStreams, eventually, type TestDatabase, testSubjectPrefix } from '@berth/testing';
import { startService, type ServiceHandle } from './service.ts';
import { testPki, testTlsEnabled } from './tls.ts';
import { simFleet, startSimExecutor, startSimMigration } from './sim-services.ts';

const GiB = 1024 ** 3;
/** Several processes start at once on a shared 2-core machine. */
const READY = { readyTimeoutMillis: 240_000 };

export interface ConsoleStack {
  readonly prefix: string;
  readonly fleet: SimulatorFleet;
  readonly inventory: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  readonly migration: InstanceType<typeof migrationV1.MigrationServiceClient>;
  /** The console process; `url` is `http://127.0.0.1:<port>`. */
  readonly console: ServiceHandle & { readonly url: string };
  /** Registers a host on the simulator and in inventory. */
  register(hostId: string, spec: Partial<modelV1.HostSpec>, state?: modelV1.HostState): Promise<inventoryV1.Host>;
  compose(vmId: string, spec: Partial<modelV1.VmSpec>): Promise<void>;
  getVm(vmId: string): Promise<inventoryV1.Vm>;
  waitRunning(vmId: string, timeoutMillis?: number): Promise<inventoryV1.Vm>;
  setState(hostId: string, state: modelV1.HostState): Promise<void>;
  stop(): Promise<void>;
}

export async function startConsoleStack(label: string, options: { withMigration?: boolean } = {}): Promise<ConsoleStack> {
  const prefix = testSubjectPrefix(label);
  const dbs: TestDatabase[] = await Promise.all([
    createTestDatabase(`${label}_inv`),
    createTestDatabase(`${label}_ex`),
    createTestDatabase(`${label}_mig`),
  ]);
  const [invDb, exDb, migDb] = dbs as [TestDatabase, TestDatabase, TestDatabase];
  const fleet = simFleet([]);
  const processes: ServiceHandle[] = [];
  let ex: RunningSimExecutor | undefined;
  let mig: RunningMigration | undefined;
  const clients: { close(): void }[] = [];
  const stop = async (): Promise<void> => {
    for (const c of clients) c.close();
    await mig?.stop();
    await ex?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all(dbs.map((d) => d.drop()));
  };
  try {
    const [, inventory] = await Promise.all([
      ensureConsoleAssets(),
      startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix }, READY).then((s) => (processes.push(s), s)),
    ]);
    const scheduler = await startService('scheduler', { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address }, READY);
    processes.push(scheduler);
    ex = await startSimExecutor(fleet, { databaseUrl: exDb.url, prefix, name: `${label}-executor` });
    if (options.withMigration !== false) {
      mig = await startSimMigration({
        databaseUrl: migDb.url,
        prefix,
        name: `${label}-migration`,
        inventoryAddr: inventory.address,
        schedulerAddr: scheduler.address,
        // A blocked drain plans again this often (30 s by default): the maintenance test stops its blocker.
        env: { MIGRATION_EVACUATION_RETRY: '1s' },
      });
    }
    const consoleProcess = await startService(
      'console',
      {
        // In TLS mode the console calls the services as an operator, as docs/security.md says it should.
        ...(testTlsEnabled() ? testPki().envFor('operator', 'console') : {}),
        NATS_PREFIX: prefix,
        INVENTORY_ADDR: inventory.address,
        SCHEDULER_ADDR: scheduler.address,
        MIGRATION_ADDR: mig ? `127.0.0.1:${mig.port}` : 'off',
        TELEMETRY_ADDR: 'off',
        // The tests write telemetry's readings themselves: keep them measured for the whole test.
        CONSOLE_USAGE_MAX_AGE: '1h',
      },
      READY,
    );
    processes.push(consoleProcess);
    const con = Object.assign(consoleProcess, { url: `http://${consoleProcess.address}` });
    const inv = createClient(inventoryV1.InventoryServiceClient, inventory.address, { deadlineMillis: 30_000 });
    const migration = createClient(migrationV1.MigrationServiceClient, mig ? `127.0.0.1:${mig.port}` : '127.0.0.1:1');
    clients.push(inv, migration);
    const getVm = async (vmId: string) => (await callUnary(inv, 'getVm', { vmId })).vm!;
    return {
      prefix,
      fleet,
      inventory: inv,
      migration,
      console: con,
      async register(hostId, spec, state = modelV1.HostState.HOST_STATE_ENABLED) {
        fleet.addHost({
          hostId,
          cpus: spec.cpus ?? 16,
          memoryBytes: spec.memoryBytes ?? 64 * GiB,
          numaNodes: Math.max(1, spec.numaNodes?.length ?? 1),
        });
        const r = await callUnary(inv, 'registerHost', {
          meta: { commandId: `register-${hostId}` },
          hostId,
          spec: modelV1.HostSpec.fromPartial({ name: hostId, hypervisorUri: `sim://${hostId}`, ...spec }),
          state,
        });
        return r.host!;
      },
      async compose(vmId, spec) {
        await callUnary(inv, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 2 * GiB, ...spec }),
        });
      },
      getVm,
      waitRunning: (vmId, timeoutMillis = 60_000) =>
        eventually(
          async () => {
            const vm = await getVm(vmId);
            if (
              vm.status === inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED ||
              vm.status === inventoryV1.VmStatus.VM_STATUS_PROVISION_FAILED
            ) {
              throw new Error(`${vmId} failed: ${vm.failureReason}`);
            }
            return vm.status === inventoryV1.VmStatus.VM_STATUS_RUNNING ? vm : undefined;
          },
          `${vmId} running`,
          timeoutMillis,
        ),
      async setState(hostId, state) {
        await callUnary(inv, 'setHostState', {
          meta: { commandId: `state-${hostId}-${state}-${Date.now()}` },
          hostId,
          state,
          reason: 'test',
        });
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
