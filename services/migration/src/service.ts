import { migrationEvents, eventCatalog, storedEventEvolution } from '@berth/contracts';
import {
  createKysely,
  migrateEventStore,
  PostgresEventStore,
  runProjection,
  startRelay,
  type AnyKysely,
  type TailingLoop,
  ensureDatabase,
} from '@berth/event-store';
import { assertSecureBind, createGrpcServer, grpcSecurity, type ClientOptions, type GrpcServer, serviceReadiness } from '@berth/grpc-kit';
import { connectNats, createEventPublisher, ensureStreams, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { MigrationCommands } from './application/migrations.ts';
import type { Policy, PolicyOverrides } from './application/policy.ts';
import type { Clock, ExecutorPort, InventoryPort, SchedulerPort } from './application/ports.ts';
import { ExecutorWatchdog } from './application/watchdog.ts';
import { GrpcExecutor } from './adapters/grpc/executor-client.ts';
import { MigrationRunner } from './application/runner.ts';
import { AdmissionGate } from './application/admission.ts';
import { BalancerService } from './application/balancer.ts';
import { KvUsageReader } from './adapters/nats/host-usage.ts';
import { EvacuationRunner } from './application/evacuations.ts';
import { KvFleetReader } from './adapters/evacuation/fleet.ts';
import { GrpcHostControl } from './adapters/evacuation/host-control.ts';
import { CommandsMigrationStarter, reportMigrationEnd } from './adapters/evacuation/starter.ts';
import { PostgresEvacuationLog } from './adapters/postgres/evacuation-log.ts';
import { GrpcInventory } from './adapters/grpc/inventory-client.ts';
import { GrpcScheduler } from './adapters/grpc/scheduler-client.ts';
import { migrationService } from './adapters/grpc/service.ts';
import { startExecutorEventsConsumer } from './adapters/nats/executor-events.ts';
import { startHostStatesConsumer } from './adapters/nats/host-states.ts';
import { startVmEventsConsumer } from './adapters/nats/vm-events.ts';
import { asMigrationDb, migrateReadModel, projectMigrationEvents, ReadModel } from './adapters/postgres/read-model.ts';
import type { MigrationConfig } from './config.ts';

export interface RunningMigration {
  readonly port: number;
  readonly store: PostgresEventStore;
  readonly db: AnyKysely;
  readonly migrations: MigrationCommands;
  readonly runner: MigrationRunner;
  readonly readModel: ReadModel;
  stop(): Promise<void>;
}

export interface MigrationOverrides {
  /** Ports to use instead of the gRPC clients (tests of the application). */
  readonly inventory?: InventoryPort;
  readonly scheduler?: SchedulerPort;
  /** The executor as the watchdog asks it (default: its gRPC API at EXECUTOR_ADDR). */
  readonly executor?: ExecutorPort;
  readonly clock?: Clock;
  /** Per resource pool migration policy (max downtime, bandwidth, budgets, post-copy...); default: MIGRATION_POOL_POLICIES. */
  readonly poolPolicies?: Readonly<Record<string, PolicyOverrides>>;
}

export const defaultPolicy = (config: Readonly<MigrationConfig>): Policy => ({
  maxDowntimeMillis: 0,
  bandwidthMiBps: 0,
  autoConverge: false,
  postCopy: false,
  completionBudgetSecondsPerGiB: Math.max(1, Math.round(config.MIGRATION_COMPLETION_BUDGET_PER_GIB / 1000)),
  noProgressTimeoutSeconds: Math.max(1, Math.round(config.MIGRATION_NO_PROGRESS_TIMEOUT / 1000)),
  maxAttempts: config.MIGRATION_MAX_ATTEMPTS,
});

/** Wires the whole service: log, read model, relay, executor-report consumer, the runner and its sweep, gRPC. */
export async function startMigration(
  config: Readonly<MigrationConfig>,
  logger: Logger,
  over: MigrationOverrides = {},
): Promise<RunningMigration> {
  const security = grpcSecurity(config);
  assertSecureBind('migration', security);
  const prefix = config.NATS_PREFIX;
  const p = prefix ? { prefix } : {};
  await ensureDatabase(config.DATABASE_URL);
  const db = createKysely(config.DATABASE_URL, { applicationName: 'berth-migration', max: 10 });
  await migrateEventStore(db);
  await migrateReadModel(db);
  const store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, migrationEvents.MIGRATION_SERVICE) });
  const readModel = new ReadModel(asMigrationDb(db));

  // The clients of inventory, the scheduler and the executor: the call deadline, this service's identity, the connect bound.
  const clientOptions: ClientOptions = {
    deadlineMillis: config.MIGRATION_CALL_DEADLINE,
    connectTimeoutMillis: config.GRPC_CONNECT_TIMEOUT,
    ...(security.client && { tls: security.client }),
  };
  const grpcInventory = over.inventory ? undefined : new GrpcInventory(config.INVENTORY_ADDR, clientOptions);
  const grpcScheduler = over.scheduler ? undefined : new GrpcScheduler(config.SCHEDULER_ADDR, clientOptions);
  const inventory: InventoryPort = over.inventory ?? grpcInventory!;
  const scheduler: SchedulerPort = over.scheduler ?? grpcScheduler!;
  const clock: Clock = over.clock ?? { now: () => new Date() };
  const grpcExecutor = over.executor ? undefined : new GrpcExecutor(config.EXECUTOR_ADDR, clientOptions);
  const executor: ExecutorPort = over.executor ?? grpcExecutor!;

  // One gate for every migration of this process (manual, evacuation, balancer): the caps hold across kinds.
  const gate = new AdmissionGate({
    fleet: config.MIGRATION_MAX_PER_FLEET,
    outboundPerHost: config.MIGRATION_MAX_OUTBOUND_PER_HOST,
    inboundPerHost: config.MIGRATION_MAX_INBOUND_PER_HOST,
  });

  // The commands kick the runner after each change; the runner records through the commands.
  const kicks: { runner?: MigrationRunner; evacuations?: EvacuationRunner } = {};
  const migrations = new MigrationCommands({
    store,
    inventory,
    scheduler,
    clock,
    defaults: defaultPolicy(config),
    poolPolicies: over.poolPolicies ?? config.MIGRATION_POOL_POLICIES,
    changed: (id, m) => {
      kicks.runner?.kick(id, m);
      // A migration that ended gives its slot back (a drain's through the drain, which moves on).
      void reportMigrationEnd(gate, kicks.evacuations, id, m).catch((e: unknown) =>
        logger.warn({ err: e, migrationId: id }, 'reporting a migration end failed'),
      );
    },
  });
  const runner = new MigrationRunner({
    migrations,
    inventory,
    scheduler,
    clock,
    logger,
    retryBackoffMillis: config.MIGRATION_RETRY_BACKOFF,
    slots: gate,
    // A start the watchdog could not know of must be over before it may give the attempt up.
    startWindowMillis: Math.floor(config.MIGRATION_EXECUTOR_SILENCE / 2),
  });
  kicks.runner = runner;
  // A slot given back (by any kind of migration) lets a queued migration try at once, not at the next sweep.
  gate.onFreed(() => runner.slotFreed());
  const watchdog = new ExecutorWatchdog({ migrations, executor, clock, logger, silenceMillis: config.MIGRATION_EXECUTOR_SILENCE });
  // After a restart the slots of migrations under way are taken again before anything new is admitted.
  for (const id of await readModel.active()) {
    const m = await migrations.load(id);
    // A requested or queued migration holds no slot yet: it takes one (or waits) at its next step.
    if (m.status === 'absent' || m.status === 'requested' || m.status === 'queued') continue;
    const dest = 'destination' in m ? m.destination.hostId : undefined;
    gate.seed([{ vmId: m.core.vmId, sourceHostId: m.core.sourceHostId, ...(dest !== undefined && { destinationHostId: dest }) }]);
  }

  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'berth-migration',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  await ensureStreams(nc, p);
  const publish = createEventPublisher(nc, { service: migrationEvents.MIGRATION_SERVICE, ...p });
  const loops: TailingLoop[] = [
    startRelay({
      store,
      name: 'migration-relay',
      publishRaw: async (e) => void (await publish(e)),
      alreadyPublished: publish.newestIds,
      pollMillis: 1000,
      logger,
    }),
    runProjection({
      store,
      name: 'migration-read-model',
      handle: (events, trx) => projectMigrationEvents(events, asMigrationDb(trx)),
      pollMillis: 1000,
      logger,
    }),
  ];
  const consumers: RunningConsumer[] = [
    await startExecutorEventsConsumer({ nc, ...p, migrations, logger, tuning: config.NATS_CONSUMER_TUNING }),
  ];

  // Evacuations (docs/evacuation-and-balancer.md): served with the real inventory only (tests of the
  // migration application pass their own ports and leave the evacuation RPCs UNIMPLEMENTED).
  let fleet: KvFleetReader | undefined;
  let evacuationTimer: NodeJS.Timeout | undefined;
  let balancerTimer: NodeJS.Timeout | undefined;
  let balancer: BalancerService | undefined;
  let usage: KvUsageReader | undefined;
  if (grpcInventory) {
    // A drained host's snapshot or one of its VMs changed: its drain takes a pass (no timer needed).
    const f = new KvFleetReader(inventory, (hostId) => kicks.evacuations?.changed(hostId));
    fleet = f;
    await f.start(nc, prefix);
    const evacuations = new EvacuationRunner({
      fleet: f,
      hosts: new GrpcHostControl(grpcInventory),
      migrations: new CommandsMigrationStarter(migrations, (vmId) => f.known(vmId)),
      log: new PostgresEvacuationLog(store, db),
      gate,
      clock: { now: () => clock.now().getTime() },
      retryMillis: config.MIGRATION_EVACUATION_RETRY,
      onError: (hostId, e) => logger.warn({ err: e, hostId }, 'evacuation pass failed'),
      // bench:migration:services reads these (LOG_LEVEL=debug).
      onPlanned: (figures) => logger.debug(figures, 'evacuation planned'),
    });
    kicks.evacuations = evacuations;
    const resume = (): void => void evacuations.resumeAll().catch((e: unknown) => logger.warn({ err: e }, 'evacuation resume failed'));
    evacuationTimer = setInterval(resume, config.MIGRATION_EVACUATION_RETRY);
    resume();
    // Maintenance set in inventory (HostStateChanged to maintenance-preparing) starts the drain.
    consumers.push(await startHostStatesConsumer({ nc, ...p, evacuations, logger, tuning: config.NATS_CONSUMER_TUNING }));
    // The drains keep their VMs between passes, fresh from inventory's VM events.
    consumers.push(await startVmEventsConsumer({ nc, ...p, apply: (env) => f.vmEvent(env), logger, tuning: config.NATS_CONSUMER_TUNING }));
    // The balancer: per pool policies through the API, one run per pool per interval (docs/evacuation-and-balancer.md).
    // Measured load: telemetry's berth-host-usage where fresh, else allocation.
    const u = new KvUsageReader();
    await u.start(nc, prefix);
    usage = u;
    const b = new BalancerService({
      store,
      db,
      fleet,
      migrations,
      clock: { now: () => clock.now().getTime() },
      logger,
      usage: u,
      usageFreshMillis: config.MIGRATION_USAGE_FRESH,
    });
    balancer = b;
    balancerTimer = setInterval(
      () => void b.tick().catch((e: unknown) => logger.warn({ err: e }, 'balancer run failed')),
      config.MIGRATION_BALANCER_TICK,
    );
  }

  // Unfinished migrations (after a crash, a failed call, a retry whose backoff ran out) are taken up here.
  // The same sweep looks for executors silent too long (the watchdog).
  const sweep = async (): Promise<void> => {
    const active = await readModel.active();
    for (const id of active) if (!runner.isBusy(id)) runner.kick(id);
    await Promise.all(
      active.map((id) => watchdog.check(id).catch((e: unknown) => logger.warn({ err: e, migrationId: id }, 'executor watchdog failed'))),
    );
  };
  const sweeper = setInterval(
    () => void sweep().catch((e: unknown) => logger.warn({ err: e }, 'migration sweep failed')),
    config.MIGRATION_SWEEP_INTERVAL,
  );
  void sweep().catch((e: unknown) => logger.warn({ err: e }, 'migration sweep failed'));

  const server: GrpcServer = createGrpcServer({
    serviceName: 'migration',
    services: [
      migrationService({
        migrations,
        readModel,
        ...(kicks.evacuations && { evacuations: kicks.evacuations }),
        ...(balancer && { balancer }),
      }),
    ],
    readiness: serviceReadiness({ nats: nc, database: db }),
    logger,
    tls: security.server,
  });
  const port = await server.listen(config.MIGRATION_GRPC_PORT, security.host);
  return {
    port,
    store,
    db,
    migrations,
    runner,
    readModel,
    async stop() {
      clearInterval(sweeper);
      if (evacuationTimer) clearInterval(evacuationTimer);
      if (balancerTimer) clearInterval(balancerTimer);
      await fleet?.stop();
      await usage?.stop();
      await server.shutdown(0, 2000);
      await Promise.all(consumers.map((c) => c.stop()));
      await runner.stop();
      await Promise.all(loops.map((l) => l.stop()));
      grpcInventory?.close();
      grpcScheduler?.close();
      grpcExecutor?.close();
      await nc.drain();
      await db.destroy();
    },
  };
}
