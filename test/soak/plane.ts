/**
 * The whole plane on private infrastructure, for the crash audit and the soak: a private Postgres
 * (the machine's binaries, crashable with an immediate shutdown) and a private nats-server of the
 * production line (SIGKILL-able), inventory, scheduler, placement-executor (simulated hosts, sampled
 * every second), migration and telemetry (its policy loop every 2 s) as real processes on fixed ports
 * (so clients and peers find them again after a restart), each a single process so SIGKILL reaches
 * the service itself.
 */
import { executorV1, inventoryV1, migrationV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { PrivateNatsServer, PrivatePostgres } from '@berth/testing';
import { startService, type ServiceHandle } from '../harness/service.ts';

const GiB = 1024 ** 3;
export const SERVICES = ['inventory', 'scheduler', 'placement-executor', 'migration', 'telemetry'] as const;
/** Telemetry's policy interval in the plane (10 s in production): several rounds between two kills. */
export const TELEMETRY_POLICY_MILLIS = 2000;
export type ServiceName = (typeof SERVICES)[number];

/** `K=V` arguments (`--service-env`) as an environment; a malformed one is refused by name. */
export function parseServiceEnv(args: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const a of args) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a);
    if (m === null) throw new Error(`--service-env: expected NAME=VALUE, got ${JSON.stringify(a)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

export interface PlaneOptions {
  readonly hosts: number;
  readonly hostCpus: number;
  readonly hostMemoryGiB: number;
  /** Where the services' logs go (one file per service and start). */
  readonly logDir?: string;
  readonly echo?: boolean;
  /** Added to every service's environment (e.g. `MALLOC_ARENA_MAX`), over the plane's own variables. */
  readonly serviceEnv?: Readonly<Record<string, string>>;
  /** Which services run (inventory always among them); all of SERVICES by default. */
  readonly only?: readonly ServiceName[];
}

/**
 * A free port below the kernel's ephemeral range, for a service that keeps its port across restarts:
 * a port from `freePort()` is an ephemeral one, which any outgoing connection on the machine may be
 * given while the service is down (a restart then failed with EADDRINUSE).
 */
async function fixedPort(taken: ReadonlySet<number>): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const below = Math.min(low ?? 32768, 32768);
  for (let tries = 0; tries < 100; tries++) {
    const port = 20000 + Math.floor(Math.random() * (below - 20000));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between 20000 and ${below}`);
}

export class Plane {
  readonly services = new Map<ServiceName, ServiceHandle>();
  readonly inventory: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  readonly migration: InstanceType<typeof migrationV1.MigrationServiceClient>;
  readonly executor: InstanceType<typeof executorV1.ExecutorServiceClient>;
  /** How many times the services were started (labels their logs). */
  private generation = 0;

  private constructor(
    readonly pg: PrivatePostgres,
    readonly nats: PrivateNatsServer,
    readonly ports: Readonly<Record<ServiceName, number>>,
    readonly opts: PlaneOptions,
  ) {
    const addr = (s: ServiceName): string => `127.0.0.1:${ports[s]}`;
    this.inventory = createClient(inventoryV1.InventoryServiceClient, addr('inventory'), { deadlineMillis: 10_000 });
    this.migration = createClient(migrationV1.MigrationServiceClient, addr('migration'), { deadlineMillis: 10_000 });
    this.executor = createClient(executorV1.ExecutorServiceClient, addr('placement-executor'), { deadlineMillis: 10_000 });
  }

  static async start(opts: PlaneOptions): Promise<Plane> {
    const pg = await PrivatePostgres.start();
    const nats = await PrivateNatsServer.start().catch(async (e: unknown) => {
      await pg.destroy();
      throw e;
    });
    const ports = {} as Record<ServiceName, number>;
    const taken = new Set<number>();
    for (const s of SERVICES) taken.add((ports[s] = await fixedPort(taken)));
    const plane = new Plane(pg, nats, ports, opts);
    try {
      await plane.startServices();
      await plane.registerHosts();
    } catch (e) {
      await plane.destroy();
      throw e;
    }
    return plane;
  }

  hostIds(): string[] {
    return Array.from({ length: this.opts.hosts }, (_, i) => `h${i + 1}`);
  }

  private env(s: ServiceName): Record<string, string> {
    const common = { NATS_URL: this.nats.url };
    const inv = `127.0.0.1:${this.ports.inventory}`;
    switch (s) {
      case 'inventory':
        return { ...common, DATABASE_URL: this.pg.url('berth_inventory') };
      case 'scheduler':
        return { ...common, INVENTORY_ADDR: inv };
      case 'placement-executor':
        return {
          ...common,
          DATABASE_URL: this.pg.url('berth_executor'),
          EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '3s' }),
          // Telemetry's samples: every second (5 s in production), so its policy loop has fresh ones.
          EXECUTOR_SAMPLE_INTERVAL: '1s',
          EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '500ms',
          // Shorter than the migration service's MIGRATION_EXECUTOR_SILENCE (20 s here), as it must be.
          EXECUTOR_MIGRATION_START_WINDOW: '10s',
        };
      case 'migration':
        return {
          ...common,
          DATABASE_URL: this.pg.url('berth_migration'),
          INVENTORY_ADDR: inv,
          SCHEDULER_ADDR: `127.0.0.1:${this.ports.scheduler}`,
          EXECUTOR_ADDR: `127.0.0.1:${this.ports['placement-executor']}`,
          MIGRATION_RETRY_BACKOFF: '500ms',
          MIGRATION_SWEEP_INTERVAL: '1s',
          MIGRATION_EXECUTOR_SILENCE: '20s',
        };
      case 'telemetry':
        return {
          ...common,
          DATABASE_URL: this.pg.url('berth_telemetry'),
          TELEMETRY_POLICY_INTERVAL: `${TELEMETRY_POLICY_MILLIS}ms`,
          TELEMETRY_SAMPLE_INTERVAL: '1s',
          // A control sent to an executor that was just killed holds its host out of the loop this long.
          TELEMETRY_CONTROL_TIMEOUT: '5s',
        };
    }
  }

  /** The services this plane runs. */
  get serviceNames(): readonly ServiceName[] {
    return SERVICES.filter((s) => s === 'inventory' || (this.opts.only ?? SERVICES).includes(s));
  }

  /**
   * Starts every service that is not running. The first time inventory goes first, then the rest at
   * once: the plane is new, and inventory's start creates the streams and buckets. A restart starts
   * them all at once: nothing a service does before it serves needs another one up (the gRPC
   * clients connect when first called; every service ensures its own streams and database), and
   * inventory first made the plane's restart the sum of two starts instead of the longest one.
   */
  async startServices(): Promise<void> {
    this.generation++;
    const start = async (s: ServiceName): Promise<void> => {
      if (this.services.has(s)) return;
      const handle = await startService(
        s,
        { ...this.env(s), ...this.opts.serviceEnv },
        {
          port: this.ports[s],
          singleProcess: true,
          label: `${s}-${this.generation}`,
          readyTimeoutMillis: 180_000,
          ...(this.opts.logDir !== undefined ? { logDir: this.opts.logDir } : {}),
          ...(this.opts.echo !== undefined ? { echo: this.opts.echo } : {}),
        },
      );
      this.services.set(s, handle);
    };
    if (this.generation === 1) await start('inventory');
    await Promise.all(this.serviceNames.map(start));
  }

  /** SIGKILL one service. */
  async kill(s: ServiceName): Promise<void> {
    const h = this.services.get(s);
    this.services.delete(s);
    await h?.kill();
  }

  async killServices(): Promise<void> {
    await Promise.all(this.serviceNames.map((s) => this.kill(s)));
  }

  /** Processes that died on their own (not killed here): a crash is a finding. */
  exitedOnTheirOwn(): string[] {
    return [...this.services.values()].filter((h) => h.logs().some((l) => l.includes('"level":60'))).map((h) => h.label);
  }

  private async registerHosts(): Promise<void> {
    for (const hostId of this.hostIds()) {
      await callUnary(this.inventory, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: this.opts.hostCpus, threadsPerCore: 1 },
          cpus: this.opts.hostCpus,
          memoryBytes: this.opts.hostMemoryGiB * GiB,
        }),
        state: modelV1.HostState.HOST_STATE_ENABLED,
      });
    }
  }

  async destroy(): Promise<void> {
    this.inventory.close();
    this.migration.close();
    this.executor.close();
    await Promise.all([...this.services.values()].map((h) => h.stop()));
    this.services.clear();
    await this.nats.destroy().catch(() => undefined);
    await this.pg.destroy();
  }
}
