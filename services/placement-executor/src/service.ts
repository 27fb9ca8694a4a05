import { readFile } from 'node:fs/promises';
import { executorEvents, eventCatalog, storedEventEvolution } from '@berth/contracts';
import {
  createKysely,
  migrateEventStore,
  PostgresEventStore,
  runProjection,
  startRelay,
  type TailingLoop,
  ensureDatabase,
} from '@berth/event-store';
import { assertSecureBind, createGrpcServer, grpcSecurity, type GrpcServer, serviceReadiness } from '@berth/grpc-kit';
import {
  createDriver,
  DriverRegistry,
  RemoteSimulator,
  SimulatorFleet,
  type HypervisorDriver,
  type LxdCredentials,
  type SimMemoryModel,
} from '@berth/hypervisor';
import { startTelemetryAgent } from './adapters/nats/telemetry-wiring.ts';
import {
  connectNats,
  consumerDefinition,
  createEventPublisher,
  ensureStreams,
  startConsumer,
  type RunningConsumer,
} from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { createIntake, INTAKE_HOST_TYPES, INTAKE_VM_TYPES } from './application/intake.ts';
import { LifecycleWatch } from './application/lifecycle-watch.ts';
import { createMigrationIntake, MIGRATION_COMMAND_TYPES } from './application/migration-intake.ts';
import { Migrator } from './application/migrator.ts';
import { Provisioner } from './application/provisioner.ts';
import { Reconciler } from './application/reconciler.ts';
import { Vms } from './application/vms.ts';
import { executorService } from './adapters/grpc/executor-service.ts';
import { ReadModel } from './adapters/postgres/read-model.ts';
import { asExecutorDb, migrateReadModel } from './adapters/postgres/read-model-tables.ts';
import { projectVmEvents } from './adapters/postgres/vm-projection.ts';
import type { ExecutorConfig } from './config.ts';

export interface RunningExecutor {
  readonly port: number;
  readonly vms: Vms;
  readonly provisioner: Provisioner;
  readonly reconciler: Reconciler;
  readonly migrator: Migrator;
  readonly readModel: ReadModel;
  /** The simulator behind sim:// hosts when it runs in this process: the caller's, or one the config asked for (EXECUTOR_SIMULATOR=on); else none (a daemon's hosts, EXECUTOR_SIMULATOR_URL, are not here). */
  readonly simulator: SimulatorFleet | undefined;
  /** The simulator's memory model behind the sim:// hosts' telemetry (demos and tests set workloads on it). */
  readonly memoryModel: SimMemoryModel | undefined;
  stop(): Promise<void>;
  /**
   * Ends this instance as SIGKILL would, for crash tests on a shared simulator fleet (whose domains
   * and migration jobs, like a real hypervisor's, outlive the process): nothing is drained or
   * waited for, NATS and the gRPC server are closed at once, the database pool is ended, and the
   * hypervisors are no longer reachable from it; work in hand fails on the closed connections.
   */
  crash(): Promise<void>;
}

export interface ExecutorOverrides {
  /** A simulator fleet shared with the caller (tests, benchmarks), whatever EXECUTOR_SIMULATOR says. */
  readonly simulator?: SimulatorFleet;
  /** How often unfinished work is looked for in the read model (default EXECUTOR_SWEEP_INTERVAL). */
  readonly sweepMillis?: number;
}

const VM_DURABLE = 'executor-vm-commands';
const HOST_DURABLE = 'executor-host-registry';
const MIGRATION_DURABLE = 'executor-migration-commands';

/** An executor on a simulator the caller passed: the simulator and its memory model are there. */
export type RunningSimExecutor = RunningExecutor & { readonly simulator: SimulatorFleet; readonly memoryModel: SimMemoryModel };

/** Wires the whole service: log, read model, relay, inventory consumers, provisioner, reconciler, gRPC. */
export async function startExecutor(
  config: Readonly<ExecutorConfig>,
  logger: Logger,
  over: ExecutorOverrides & { readonly simulator: SimulatorFleet },
): Promise<RunningSimExecutor>;
export async function startExecutor(config: Readonly<ExecutorConfig>, logger: Logger, over?: ExecutorOverrides): Promise<RunningExecutor>;
export async function startExecutor(
  config: Readonly<ExecutorConfig>,
  logger: Logger,
  over: ExecutorOverrides = {},
): Promise<RunningExecutor> {
  const security = grpcSecurity(config);
  assertSecureBind('placement-executor', security);
  const prefix = config.NATS_PREFIX;
  const p = prefix ? { prefix } : {};
  await ensureDatabase(config.DATABASE_URL);
  const db = createKysely(config.DATABASE_URL, { applicationName: 'berth-executor', max: 20 });
  await migrateEventStore(db);
  await migrateReadModel(db);
  const store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, executorEvents.EXECUTOR_SERVICE) });
  const readModel = new ReadModel(asExecutorDb(db));
  const vms = new Vms(store);

  // sim:// hosts: the caller's fleet, else a simulator daemon's (EXECUTOR_SIMULATOR_URL), else one in this process (EXECUTOR_SIMULATOR=on).
  const remoteSimulator =
    over.simulator === undefined && config.EXECUTOR_SIMULATOR_URL !== undefined
      ? new RemoteSimulator(config.EXECUTOR_SIMULATOR_URL)
      : undefined;
  const simulator = over.simulator ?? (remoteSimulator ? undefined : configuredSimulator(config));
  // Berth's identity towards https:// LXD hosts (read once; a host URI without it fails permanently).
  const lxdCredentials: LxdCredentials | undefined =
    config.EXECUTOR_LXD_CERT !== undefined && config.EXECUTOR_LXD_KEY !== undefined
      ? { certPem: await readFile(config.EXECUTOR_LXD_CERT, 'utf8'), keyPem: await readFile(config.EXECUTOR_LXD_KEY, 'utf8') }
      : undefined;
  const registry = new DriverRegistry((uri) =>
    createDriver(uri, {
      ...(simulator ? { simulator } : {}),
      ...(remoteSimulator ? { remoteSimulator } : {}),
      concurrency: config.EXECUTOR_HOST_CONCURRENCY,
      callTimeoutMillis: config.EXECUTOR_CALL_TIMEOUT,
      ...(lxdCredentials ? { lxdCredentials } : {}),
    }),
  );
  let crashed = false;
  const driverFor = (uri: string): HypervisorDriver => {
    if (crashed) throw new Error('this executor instance crashed');
    return registry.get(uri);
  };
  const realm = config.EXECUTOR_REALM;

  const provisioner = new Provisioner({
    vms,
    driverFor,
    realm,
    logger,
    concurrency: config.EXECUTOR_CONCURRENCY,
    stopTimeoutMillis: config.EXECUTOR_STOP_TIMEOUT,
  });
  const migrator = new Migrator({
    vms,
    driverFor,
    logger,
    progressIntervalMillis: config.EXECUTOR_MIGRATION_PROGRESS_INTERVAL,
    specOf: (vmId, state, claim) => provisioner.spec(vmId, state, claim),
    sharedStorage: config.EXECUTOR_SHARED_STORAGE === 'on',
  });
  const reconciler = new Reconciler({ vms, store, directory: readModel, driverFor, realm, policy: config.EXECUTOR_RESTART_POLICY, logger });

  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'berth-executor',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  await ensureStreams(nc, p);
  const publish = createEventPublisher(nc, { service: executorEvents.EXECUTOR_SERVICE, ...p });
  const loops: TailingLoop[] = [
    startRelay({
      store,
      name: 'executor-relay',
      publishRaw: async (e) => void (await publish(e)),
      alreadyPublished: publish.newestIds,
      pollMillis: 1000,
      logger,
    }),
    // The read model (sweeps, reconciliation, ListVms) may lag by 200 ms: fewer, larger batches.
    runProjection({
      store,
      name: 'executor-vms',
      handle: (events, trx) => projectVmEvents(events, trx as never),
      pollMillis: 1000,
      lingerMillis: 200,
      logger,
    }),
  ];

  const watch = new LifecycleWatch(driverFor, reconciler, logger);
  // Work the log says is unfinished (after a crash, or a kick that was lost) is picked up here,
  // and hosts met since the last sweep get their lifecycle events followed.
  const sweep = async (): Promise<void> => {
    for (const vmId of await readModel.unfinished()) if (!provisioner.isTracked(vmId)) provisioner.kick(vmId);
    // A migration the log has and no call here runs (the executor restarted mid-call): ask the hypervisors.
    for (const vmId of await readModel.migrating()) if (!migrator.isTracked(vmId)) migrator.resume(vmId);
    await watch.follow(await readModel.hosts());
  };
  await sweep();
  const sweeper = setInterval(
    () => void sweep().catch((e: unknown) => logger.warn({ err: e }, 'sweep failed')),
    over.sweepMillis ?? config.EXECUTOR_SWEEP_INTERVAL,
  );

  const intake = createIntake({ vms, provisioner, hosts: readModel, realm });
  const vmDef = consumerDefinition(VM_DURABLE, config.NATS_CONSUMER_TUNING);
  // A handler waits for a batched log append, and one at a time would cap intake at a few hundred VMs
  // per second: EXECUTOR_INTAKE_PARALLELISM (64) run at once, the messages of one VM (the default key,
  // streamId) one after another, in order; the types the intake ignores are acknowledged unread.
  const consumers: RunningConsumer[] = [
    await startConsumer({
      nc,
      ...p,
      ...vmDef,
      concurrency: config.EXECUTOR_INTAKE_PARALLELISM,
      types: INTAKE_VM_TYPES,
      handle: (env) => intake.vm(env),
      logger,
    }),
    await startConsumer({
      nc,
      ...p,
      ...consumerDefinition(HOST_DURABLE, config.NATS_CONSUMER_TUNING),
      types: INTAKE_HOST_TYPES,
      handle: (env) => intake.host(env),
      logger,
    }),
    await startConsumer({
      nc,
      ...p,
      ...consumerDefinition(MIGRATION_DURABLE, config.NATS_CONSUMER_TUNING),
      types: MIGRATION_COMMAND_TYPES,
      handle: createMigrationIntake({ vms, migrator, startWindowMillis: config.EXECUTOR_MIGRATION_START_WINDOW }),
      logger,
    }),
  ];
  reconciler.start();
  const agent = startTelemetryAgent({
    nc,
    ...p,
    simulator,
    remoteSimulator,
    hosts: () => readModel.hosts(),
    driverFor,
    vms,
    provisioner,
    config,
    logger,
  });

  const server: GrpcServer = createGrpcServer({
    serviceName: 'placement-executor',
    services: [executorService({ vms, hosts: () => readModel.hosts(), driverFor, reconciler })],
    readiness: serviceReadiness({ nats: nc, database: db }),
    logger,
    tls: security.server,
  });
  const port = await server.listen(config.EXECUTOR_GRPC_PORT, security.host);
  return {
    port,
    vms,
    provisioner,
    reconciler,
    migrator,
    readModel,
    simulator,
    memoryModel: agent.model,
    async stop() {
      clearInterval(sweeper);
      await server.shutdown(0, 2000);
      await agent.stop();
      await Promise.all(consumers.map((c) => c.stop()));
      await reconciler.stop();
      await migrator.stop();
      await watch.stop();
      await provisioner.stop();
      await Promise.all(loops.map((l) => l.stop()));
      await registry.close();
      remoteSimulator?.close();
      await nc.drain();
      await db.destroy();
    },
    async crash() {
      crashed = true;
      clearInterval(sweeper);
      const quietly = (p: Promise<unknown>): void => void p.catch(() => undefined);
      for (const c of [migrator, provisioner, reconciler, watch, agent, ...consumers, ...loops]) quietly(c.stop());
      quietly(server.shutdown(0, 0));
      await nc.close().catch(() => undefined);
      await db.destroy().catch(() => undefined);
    },
  };
}

/**
 * The simulator the config asks for: sim:// hosts come into being when first used, each of the
 * configured size (EXECUTOR_SIM_HOST_*); none when EXECUTOR_SIMULATOR is off.
 */
function configuredSimulator(config: Readonly<ExecutorConfig>): SimulatorFleet | undefined {
  if (config.EXECUTOR_SIMULATOR === 'off') return undefined;
  return new SimulatorFleet({
    latencyMillis: simLatency(config.EXECUTOR_SIM_LATENCY),
    autoHost: { cpus: config.EXECUTOR_SIM_HOST_CPUS, memoryBytes: config.EXECUTOR_SIM_HOST_MEMORY },
  });
}

const simLatency = (ms: number): Partial<Record<'define' | 'start' | 'stop' | 'destroy' | 'undefine', number>> =>
  ms > 0 ? { define: ms, start: ms, stop: ms, destroy: ms, undefine: ms } : {};
