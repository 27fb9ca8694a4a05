/**
 * The migration tests' stack on a simulator fleet: inventory and the scheduler as processes, the
 * placement executor and the migration service in this process (sharing one `SimulatorFleet`, so
 * tests can inject failures and look at the hypervisors), real Postgres and NATS, hosts registered.
 *
 *   const s = await startSimulatorStack('migsim', { hosts: ['h1', 'h2'] });
 *   ... s.inv / s.client / s.fleet ...
 *   await s.stop();
 */
import { inventoryV1, migrationV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import type { RunningMigration } from '@berth/migration';
import type { RunningSimExecutor } from '@berth/placement-executor';
import { createTestDatabase, deletePrefixedStreams, eventually, type TestDatabase, testSubjectPrefix } from '@berth/testing';
import { startService, type ServiceHandle } from './service.ts';
import { registerSimHosts, simFleet, startSimExecutor, startSimMigration } from './sim-services.ts';

const GiB = 1024 ** 3;

export interface SimulatorStack {
  readonly prefix: string;
  readonly fleet: SimulatorFleet;
  readonly hosts: readonly string[];
  readonly inventory: ServiceHandle;
  readonly scheduler: ServiceHandle;
  readonly executor: RunningSimExecutor;
  readonly migration: RunningMigration;
  readonly inv: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  readonly client: InstanceType<typeof migrationV1.MigrationServiceClient>;
  getVm(vmId: string): Promise<inventoryV1.Vm>;
  /** Composes a 2 vCPU / 2 GiB VM (spec overrides applied) and waits until it runs. */
  compose(vmId: string, spec?: Partial<modelV1.VmSpec>): Promise<inventoryV1.Vm>;
  claimsOf(hostId: string): Promise<string[]>;
  hostState(hostId: string): Promise<modelV1.HostState>;
  setHostState(hostId: string, state: modelV1.HostState): Promise<void>;
  /** The hosts whose hypervisor has the VM's domain in `state` (running by default). */
  domainOn(vmId: string, state?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export interface SimulatorStackOptions {
  readonly hosts: readonly string[];
  /** Extra migration service variables (MIGRATION_*). */
  readonly migrationEnv?: Readonly<Record<string, string>>;
  /** Extra executor variables (EXECUTOR_*). */
  readonly executorEnv?: Readonly<Record<string, string>>;
}

export async function startSimulatorStack(label: string, o: SimulatorStackOptions): Promise<SimulatorStack> {
  const prefix = testSubjectPrefix(label);
  const fleet = simFleet(o.hosts);
  const dbs: TestDatabase[] = await Promise.all([
    createTestDatabase(`${label}_inv`),
    createTestDatabase(`${label}_ex`),
    createTestDatabase(`${label}_mig`),
  ]);
  const [invDb, exDb, migDb] = dbs as [TestDatabase, TestDatabase, TestDatabase];
  const inventory = await startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix });
  const scheduler = await startService('scheduler', { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address });
  const executor = await startSimExecutor(fleet, {
    databaseUrl: exDb.url,
    prefix,
    name: `${label}-executor`,
    ...(o.executorEnv && { env: o.executorEnv }),
  });
  const migration = await startSimMigration({
    databaseUrl: migDb.url,
    prefix,
    name: `${label}-migration`,
    inventoryAddr: inventory.address,
    schedulerAddr: scheduler.address,
    ...(o.migrationEnv && { env: o.migrationEnv }),
  });
  const inv = createClient(inventoryV1.InventoryServiceClient, inventory.address);
  const client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${migration.port}`);
  await registerSimHosts(inv, o.hosts);
  const getVm = async (vmId: string): Promise<inventoryV1.Vm> => (await callUnary(inv, 'getVm', { vmId })).vm!;
  let states = 0;
  return {
    prefix,
    fleet,
    hosts: o.hosts,
    inventory,
    scheduler,
    executor,
    migration,
    inv,
    client,
    getVm,
    async compose(vmId, spec = {}) {
      await callUnary(inv, 'composeVm', {
        meta: { commandId: `compose-${vmId}` },
        vmId,
        spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 2 * GiB, ...spec }),
      });
      return eventually(
        async () => ((await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_RUNNING ? getVm(vmId) : undefined),
        `${vmId} running`,
        60_000,
      );
    },
    async claimsOf(hostId) {
      return ((await callUnary(inv, 'getHost', { hostId })).host?.claims ?? []).map((c) => c.vmId);
    },
    async hostState(hostId) {
      return (await callUnary(inv, 'getHost', { hostId })).host!.state;
    },
    async setHostState(hostId, state) {
      states += 1;
      await callUnary(inv, 'setHostState', { meta: { commandId: `state-${hostId}-${state}-${states}` }, hostId, state, reason: 'test' });
    },
    async domainOn(vmId, state = 'running') {
      const out: string[] = [];
      for (const h of o.hosts) if ((await fleet.driver(`sim://${h}`).state(vmId)) === state) out.push(h);
      return out;
    },
    async stop() {
      inv.close();
      client.close();
      await migration.stop();
      await executor.stop();
      await Promise.all([inventory.stop(), scheduler.stop()]);
      await deletePrefixedStreams(prefix).catch(() => undefined);
      await Promise.all(dbs.map((d) => d.drop()));
    },
  };
}
