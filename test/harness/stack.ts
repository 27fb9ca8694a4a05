/**
 * The whole placement path as real processes: inventory, one scheduler and placement-executor,
 * each test file on its own databases and NATS prefix. Also registers libvirt hosts exactly as
 * their daemons describe themselves (NUMA cells, CPU ids, memory, storage pool).
 *
 *   const stack = await startStack('e2e_slice', { scheduler: { SCHEDULER_POLICY: 'spread' } });
 *   await registerLibvirtHost(stack.inventory, 'h1', lv.uri);
 *   await waitForSchedulerHosts(stack, 1);
 *   ...
 *   await stack.stop();
 */
import { inventoryV1, modelV1, schedulerV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { createTestDatabase, deletePrefixedStreams, eventually, type TestDatabase, testSubjectPrefix } from '@berth/testing';
import { startService, type ServiceHandle } from './service.ts';
import { hostLayout, virsh } from './virsh.ts';

type Env = Readonly<Record<string, string>>;

export interface Stack {
  readonly prefix: string;
  readonly inventoryDb: TestDatabase;
  readonly executorDb: TestDatabase;
  readonly services: { readonly inventory: ServiceHandle; readonly scheduler: ServiceHandle; readonly executor: ServiceHandle };
  readonly inventory: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  readonly scheduler: InstanceType<typeof schedulerV1.SchedulerServiceClient>;
  /** Stops the processes, deletes the prefix's streams and buckets and drops both databases. */
  stop(): Promise<void>;
}

export async function startStack(label: string, env: { inventory?: Env; scheduler?: Env; executor?: Env } = {}): Promise<Stack> {
  const prefix = testSubjectPrefix(label);
  const [inventoryDb, executorDb] = await Promise.all([createTestDatabase(`${label}_inv`), createTestDatabase(`${label}_exec`)]);
  const started: ServiceHandle[] = [];
  try {
    const inventory = await startService('inventory', { DATABASE_URL: inventoryDb.url, NATS_PREFIX: prefix, ...env.inventory });
    started.push(inventory);
    const [scheduler, executor] = await Promise.all([
      startService('scheduler', { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address, ...env.scheduler }).then(
        (s) => (started.push(s), s),
      ),
      startService('placement-executor', { DATABASE_URL: executorDb.url, NATS_PREFIX: prefix, ...env.executor }).then(
        (s) => (started.push(s), s),
      ),
    ]);
    const inventoryClient = createClient(inventoryV1.InventoryServiceClient, inventory.address, { deadlineMillis: 30_000 });
    const schedulerClient = createClient(schedulerV1.SchedulerServiceClient, scheduler.address, { deadlineMillis: 30_000 });
    return {
      prefix,
      inventoryDb,
      executorDb,
      services: { inventory, scheduler, executor },
      inventory: inventoryClient,
      scheduler: schedulerClient,
      async stop() {
        inventoryClient.close();
        schedulerClient.close();
        await Promise.all(started.map((s) => s.stop()));
        await deletePrefixedStreams(prefix);
        await Promise.all([inventoryDb.drop(), executorDb.drop()]);
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all([inventoryDb.drop(), executorDb.drop()]);
    throw e;
  }
}

/** Bytes of a libvirt storage pool, from `virsh pool-dumpxml`. */
export async function poolCapacity(uri: string, pool: string): Promise<number> {
  const xml = await virsh(uri, 'pool-dumpxml', pool);
  const m = /<capacity unit=['"]bytes['"]>(\d+)<\/capacity>/.exec(xml);
  if (!m) throw new Error(`no capacity in pool ${pool} of ${uri}`);
  return Number(m[1]);
}

export interface LibvirtHostOptions {
  readonly cpuOvercommit?: number;
  /** A libvirt storage pool to declare as the host's default pool. */
  readonly pool?: string;
}

/** Registers a host through inventory's gRPC API with the NUMA layout `virsh capabilities` reports. */
export async function registerLibvirtHost(
  client: InstanceType<typeof inventoryV1.InventoryServiceClient>,
  hostId: string,
  uri: string,
  options: LibvirtHostOptions = {},
): Promise<inventoryV1.Host> {
  const layout = await hostLayout(uri);
  const pools =
    options.pool === undefined
      ? []
      : [
          {
            name: options.pool,
            type: 'dir',
            path: `/${options.pool}`,
            totalBytes: await poolCapacity(uri, options.pool),
            externalUsedBytes: 0,
            isDefault: true,
          },
        ];
  const res = await callUnary(client, 'registerHost', {
    meta: { commandId: `register-${hostId}` },
    hostId,
    spec: modelV1.HostSpec.fromPartial({
      name: hostId,
      hypervisorUri: uri,
      topology: layout.topology,
      cpus: layout.cpus,
      memoryBytes: layout.memoryBytes,
      numaNodes: layout.numaNodes.map((n) => ({ id: n.id, cpus: [...n.cpus], memoryBytes: n.memoryBytes, hugepages: [] })),
      storagePools: pools,
      ...(options.cpuOvercommit !== undefined ? { cpuOvercommit: options.cpuOvercommit } : {}),
    }),
    state: modelV1.HostState.HOST_STATE_ENABLED,
  });
  if (!res.host) throw new Error(`RegisterHost ${hostId} answered without a host`);
  return res.host;
}

/**
 * Waits until the scheduler's view has caught up with inventory: every host at the generation
 * inventory reports (so a decision made now sees every claim and release).
 */
export async function waitForSchedulerInSync(stack: Stack, timeoutMillis = 60_000): Promise<void> {
  await eventually(
    async () => {
      const hosts = (
        await callUnary(stack.inventory, 'listHosts', { state: modelV1.HostState.HOST_STATE_UNSPECIFIED, resourcePool: '', tag: '' })
      ).hosts;
      const ranked = (
        await callUnary(stack.scheduler, 'score', {
          vm: modelV1.VmSpec.fromPartial({ vcpus: 1, memoryBytes: 64 * 1024 ** 2 }),
          excludedHosts: [],
          limit: hosts.length,
          vmId: '',
        })
      ).hosts;
      const seen = new Map(ranked.map((h) => [h.hostId, h.generation]));
      return hosts.every((h) => seen.get(h.hostId) === h.generation);
    },
    "the scheduler view to reach inventory's host generations",
    timeoutMillis,
    500,
  );
}

/** Waits until the scheduler's view (built from the snapshot bucket) holds `count` hosts. */
export async function waitForSchedulerHosts(stack: Stack, count: number, timeoutMillis = 60_000): Promise<void> {
  await eventually(
    async () => {
      const r = await callUnary(stack.scheduler, 'score', {
        vm: modelV1.VmSpec.fromPartial({ vcpus: 1, memoryBytes: 64 * 1024 ** 2 }),
        excludedHosts: [],
        limit: 0,
        vmId: '',
      });
      return r.hostsConsidered >= count;
    },
    `the scheduler to see ${count} hosts`,
    timeoutMillis,
    500,
  );
}
