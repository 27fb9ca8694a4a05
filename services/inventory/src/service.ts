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
import { assertSecureBind, createGrpcServer, grpcSecurity, type GrpcServer, serviceReadiness } from '@berth/grpc-kit';
import { connectNats, createEventPublisher, ensureStreams, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { inventoryEvents, inventoryV1, eventCatalog, storedEventEvolution } from '@berth/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { HostCommands } from './application/hosts.ts';
import { VmCommands } from './application/vms.ts';
import { ClaimCommands } from './application/claims.ts';
import { ProjectCommands } from './application/projects.ts';
import { inventoryBatcher } from './application/streams.ts';
import { inventoryService } from './adapters/grpc/service.ts';
import { startDeadRequestsConsumer } from './adapters/nats/dead-requests.ts';
import { startExecutorEventsConsumer } from './adapters/nats/executor-events.ts';
import { lingerClaims } from './adapters/nats/claim-linger.ts';
import { kvSnapshotSink, resyncOnReconnect } from './adapters/nats/snapshots.ts';
import { readModelProjection, snapshotOf } from './adapters/postgres/projection.ts';
import { CapacityWaits, startCapacityDeadlines } from './application/capacity-waits.ts';
import { migrateReadModel, ReadModel } from './adapters/postgres/read-model.ts';
import type { InventoryConfig } from './config.ts';

/** How long the read-model projection gathers events before applying them (see runProjection's lingerMillis). */
export const READ_MODEL_LINGER_MILLIS = 200;

export interface RunningInventory {
  readonly port: number;
  readonly store: PostgresEventStore;
  readonly db: AnyKysely;
  readonly hosts: HostCommands;
  readonly vms: VmCommands;
  readonly claims: ClaimCommands;
  readonly projects: ProjectCommands;
  readonly readModel: ReadModel;
  stop(): Promise<void>;
}

/** Wires the whole service: store, read model, relay, KV snapshots, executor consumer, gRPC. */
export async function startInventory(config: Readonly<InventoryConfig>, logger: Logger): Promise<RunningInventory> {
  const security = grpcSecurity(config);
  assertSecureBind('inventory', security);
  const prefix = config.NATS_PREFIX;
  await ensureDatabase(config.DATABASE_URL);
  const db = createKysely(config.DATABASE_URL, { applicationName: 'berth-inventory' });
  await migrateEventStore(db);
  await migrateReadModel(db);
  const store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, inventoryEvents.INVENTORY_SERVICE) });

  const nc: NatsConnection = await connectNats({
    url: config.NATS_URL,
    name: 'berth-inventory',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  await ensureStreams(nc, prefix ? { prefix } : {});
  const publish = createEventPublisher(nc, { service: inventoryEvents.INVENTORY_SERVICE, ...(prefix ? { prefix } : {}) });
  const readModel = new ReadModel(db);
  const batcher = inventoryBatcher(store);
  const hosts = new HostCommands(batcher);
  const projects = new ProjectCommands(batcher);
  const vms = new VmCommands(batcher, () => readModel.knownPools(), config.INVENTORY_MAX_PROVISION_ATTEMPTS);
  const claims = new ClaimCommands(batcher);
  // VMs waiting for capacity: woken in log order by the projection, failed at their deadline by a sweep.
  const waits = new CapacityWaits({
    waiting: (trx) => readModel.waitingForCapacity(trx),
    requeue: vms.requeueForCapacity,
    snapshotOf,
    logger,
  });
  const deadlines = startCapacityDeadlines({
    waiting: () => readModel.waitingForCapacity(),
    expire: vms.expireCapacityWait,
    everyMillis: config.INVENTORY_CAPACITY_SWEEP,
    logger,
  });

  // Snapshots the last process held back (claims alone, see claim-linger.ts) go out before the projection runs.
  const kvSink = await kvSnapshotSink(nc, prefix);
  const currentSnapshots = () => readModel.listSnapshots(snapshotOf);
  const resynced = await kvSink.resync(currentSnapshots);
  if (resynced > 0) logger.info({ hosts: resynced }, 'host snapshots the bucket lacked were put');
  resyncOnReconnect(nc, kvSink, currentSnapshots, logger);
  const snapshots = lingerClaims(kvSink, config.INVENTORY_SNAPSHOT_CLAIM_LINGER, logger);

  const loops: TailingLoop[] = [
    // Events that concern a VM carry its project (envelope `project`, header `Berth-Project`).
    startRelay({
      store,
      name: 'inventory-relay',
      alreadyPublished: publish.newestIds,
      publishRaw: async (e) => {
        const project = await vms.projectOfStream(e.streamId);
        await publish(project === undefined ? e : { ...e, project });
      },
      pollMillis: 1000,
      logger,
    }),
    // The read model (List calls, the scheduler's host snapshots) lags the log by up to READ_MODEL_LINGER_MILLIS: each
    // touched host's document and snapshot is then written once per interval, not once per commit.
    runProjection({
      store,
      name: 'inventory-read-model',
      handle: readModelProjection(snapshots, waits.afterBatch),
      pollMillis: 1000,
      lingerMillis: READ_MODEL_LINGER_MILLIS,
      logger,
    }),
  ];

  const consumer: RunningConsumer = await startExecutorEventsConsumer({
    nc,
    vms,
    tuning: config.NATS_CONSUMER_TUNING,
    logger,
    ...(prefix ? { prefix } : {}),
  });
  // Requests the scheduler gave up on end FAILED instead of REQUESTED for good (adapters/nats/dead-requests.ts).
  const deadRequests: RunningConsumer = await startDeadRequestsConsumer({
    nc,
    vms,
    tuning: config.NATS_CONSUMER_TUNING,
    logger,
    ...(prefix ? { prefix } : {}),
  });

  const server: GrpcServer = createGrpcServer({
    serviceName: 'inventory',
    services: [
      { definition: inventoryV1.InventoryServiceService, implementation: inventoryService({ hosts, vms, claims, projects, readModel }) },
    ],
    readiness: serviceReadiness({ nats: nc, database: db }),
    logger,
    tls: security.server,
  });
  const port = await server.listen(config.INVENTORY_GRPC_PORT, security.host);
  return {
    port,
    store,
    db,
    hosts,
    vms,
    claims,
    projects,
    readModel,
    async stop() {
      await server.shutdown(0, 2000);
      deadlines.stop();
      await consumer.stop();
      await deadRequests.stop();
      await Promise.all(loops.map((l) => l.stop()));
      await snapshots.close().catch((err: unknown) => logger.warn({ err }, 'held host snapshots not put at stop'));
      await nc.drain();
      await db.destroy();
    },
  };
}
