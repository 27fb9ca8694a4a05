/**
 * The pieces every simulator stack of the e2e tests starts the same way: a `SimulatorFleet` with
 * 16-CPU / 64 GiB hosts, the placement executor and the migration service in this process (their
 * composition roots, on the test's database and NATS prefix, with their own identity in TLS mode),
 * and the hosts registered in inventory as `sim://<hostId>`. The stacks (simulator-stack,
 * sim-plane, console-stack) differ only in what they pass here.
 */
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import { loadMigrationConfig, startMigration, type RunningMigration } from '@berth/migration';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningSimExecutor } from '@berth/placement-executor';
import { serviceTlsEnv } from './tls.ts';

export const GiB = 1024 ** 3;

/** A fleet of `hosts` (16 CPUs, 64 GiB each) whose migrations move at `bandwidth` bytes per second. */
export function simFleet(hosts: readonly string[], bandwidthBytesPerSecond = 4 * GiB): SimulatorFleet {
  const fleet = new SimulatorFleet({
    migration: { timeScale: 1, defaultBandwidthBytesPerSecond: bandwidthBytesPerSecond, progressIntervalMillis: 100 },
  });
  for (const h of hosts) fleet.addHost({ hostId: h, cpus: 16, memoryBytes: 64 * GiB });
  return fleet;
}

export interface SimServiceOptions {
  readonly databaseUrl: string;
  readonly prefix: string;
  /** The logger's name. */
  readonly name: string;
  /** Variables over the defaults (EXECUTOR_* / MIGRATION_*). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The placement executor on the fleet: gRPC on a free port unless `env` names one, fast sweeps and progress. */
export function startSimExecutor(fleet: SimulatorFleet, o: SimServiceOptions): Promise<RunningSimExecutor> {
  return startExecutor(
    loadExecutorConfig({
      ...serviceTlsEnv('placement-executor'),
      DATABASE_URL: o.databaseUrl,
      NATS_URL: process.env['NATS_URL'],
      NATS_PREFIX: o.prefix,
      EXECUTOR_GRPC_PORT: '0',
      EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '1h' }),
      EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '100ms',
      ...o.env,
    }),
    createLogger(o.name),
    { simulator: fleet, sweepMillis: 300 },
  );
}

/** The migration service against the given inventory and scheduler, retrying and sweeping fast. */
export function startSimMigration(
  o: SimServiceOptions & { readonly inventoryAddr: string; readonly schedulerAddr: string },
  over?: Parameters<typeof startMigration>[2],
): Promise<RunningMigration> {
  return startMigration(
    loadMigrationConfig({
      ...serviceTlsEnv('migration'),
      DATABASE_URL: o.databaseUrl,
      NATS_URL: process.env['NATS_URL'],
      NATS_PREFIX: o.prefix,
      MIGRATION_GRPC_PORT: '0',
      INVENTORY_ADDR: o.inventoryAddr,
      SCHEDULER_ADDR: o.schedulerAddr,
      MIGRATION_RETRY_BACKOFF: '100ms',
      MIGRATION_SWEEP_INTERVAL: '300ms',
      ...o.env,
    }),
    createLogger(o.name),
    over,
  );
}

/** A simulated host's CPUs unless a test says otherwise. */
export const SIM_HOST_CPUS = 16;

/** Registers each host in inventory as `sim://<hostId>`, SIM_HOST_CPUS CPUs (or as given) and 64 GiB, enabled. */
export async function registerSimHosts(
  inv: InstanceType<typeof inventoryV1.InventoryServiceClient>,
  hosts: readonly string[],
  /** A host's resource pool (default: none). */
  pools: Readonly<Record<string, string>> = {},
  /** A host's CPUs (default: SIM_HOST_CPUS). */
  cpus: Readonly<Record<string, number>> = {},
): Promise<void> {
  for (const hostId of hosts) {
    const n = cpus[hostId] ?? SIM_HOST_CPUS;
    await callUnary(inv, 'registerHost', {
      meta: { commandId: `register-${hostId}` },
      hostId,
      spec: modelV1.HostSpec.fromPartial({
        name: hostId,
        hypervisorUri: `sim://${hostId}`,
        cpuModel: 'Cascadelake-Server',
        topology: { sockets: 1, coresPerSocket: n, threadsPerCore: 1 },
        cpus: n,
        memoryBytes: 64 * GiB,
        ...(pools[hostId] !== undefined && { resourcePool: pools[hostId] }),
      }),
      state: modelV1.HostState.HOST_STATE_ENABLED,
    });
  }
}
