import { assertSecureBind, createGrpcServer, grpcSecurity, serviceReadiness } from '@berth/grpc-kit';
import { connectNats, consumerDefinition, ensureStreams, openKv, startConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { DecisionLog } from './application/decision-log.ts';
import { PositionGate, ViewPosition } from './application/view-position.ts';
import type { PlaceVmDeps } from './application/place-vm.ts';
import type { SchedulerConfig } from './config.ts';
import { GrpcInventory } from './adapters/grpc/inventory-client.ts';
import { schedulerService } from './adapters/grpc/scheduler-service.ts';
import { HARDWARE_CONFIG_BUCKET, watchHardwareConfig } from './adapters/nats/hardware-config-watch.ts';
import { kvSnapshotSource, watchHostSnapshots, watchViewPosition } from './adapters/nats/snapshot-watch.ts';
import { KEEP_ALIVE_MILLIS, KeepAlive, vmRequestedHandler } from './adapters/nats/vm-requested.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from './adapters/scoring/scoring-engine.ts';
import { InFlightView } from './adapters/scoring/in-flight.ts';

const SNAPSHOT_BUCKET = 'berth-host-snapshots';
/** Inventory's log position for the view wait (docs/capacity-waits.md). */
const VIEW_POSITION_BUCKET = 'berth-view-position';
const DURABLE = 'scheduler-vm-requested';

export interface RunningScheduler {
  readonly port: number;
  stop(): Promise<void>;
}

/** The composition root: builds the adapters from the config, wires them, serves; `stop` undoes it in order. */
export async function startScheduler(config: Readonly<SchedulerConfig>, logger: Logger): Promise<RunningScheduler> {
  const security = grpcSecurity(config);
  assertSecureBind('scheduler', security);
  const prefix = config.NATS_PREFIX;

  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'berth-scheduler',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  await ensureStreams(nc, { prefix });
  const scoring = new ScoringEngine(EMPTY_COST_CONFIG, policyTable(config.SCHEDULER_POLICY, config.SCHEDULER_POOL_POLICIES));
  // Placements side by side count each other's claims on the wire (adapters/scoring/in-flight.ts).
  const engine = new InFlightView(scoring);
  const hardware = await watchHardwareConfig(
    (await openKv(nc, HARDWARE_CONFIG_BUCKET, { prefix })).kv,
    (c) => scoring.setConfig(c),
    logger,
  );
  const snapshots = (await openKv(nc, SNAPSHOT_BUCKET, { prefix })).kv;
  const viewPosition = new ViewPosition();
  const gate = new PositionGate(viewPosition);
  const watch = await watchHostSnapshots(snapshots, engine, logger, gate);
  const positionWatch = await watchViewPosition((await openKv(nc, VIEW_POSITION_BUCKET, { prefix })).kv, gate, logger);

  const inventory = new GrpcInventory(config.INVENTORY_ADDR, {
    deadlineMillis: config.SCHEDULER_CLAIM_DEADLINE,
    connectTimeoutMillis: config.GRPC_CONNECT_TIMEOUT,
    ...(security.client && { tls: security.client }),
  });
  const decisions = new DecisionLog(config.SCHEDULER_DECISION_CACHE);
  const source = kvSnapshotSource(snapshots, logger);
  const deps: PlaceVmDeps = {
    engine,
    view: engine,
    reservations: engine,
    source,
    inventory,
    decisions,
    maxAttempts: config.SCHEDULER_MAX_ATTEMPTS,
    alternates: config.SCHEDULER_ALTERNATES,
    hostSubsetSize: config.SCHEDULER_HOST_SUBSET_SIZE,
    random: Math.random,
    now: () => new Date(),
    viewPosition,
    viewWaitMillis: config.SCHEDULER_VIEW_WAIT,
  };
  const definition = consumerDefinition(DURABLE, config.NATS_CONSUMER_TUNING);
  // A message in hand reports progress well within the ack wait (shorter than the default when tuned).
  const keepAlive = new KeepAlive(Math.min(KEEP_ALIVE_MILLIS, Math.floor(definition.ackWaitMillis / 3)));
  const handle = vmRequestedHandler({ deps, maxDeliver: definition.maxDeliver, isReady: () => watch.isReady(), logger, keepAlive });
  // VMs placed side by side race for hosts like replicas do (the claim is the lock), but share this replica's view;
  // the messages of one VM (streamId, the consumer's default key) are never handled at the same time.
  const consumer = await startConsumer({ nc, prefix, ...definition, concurrency: config.SCHEDULER_PARALLELISM, handle, logger });

  const server = createGrpcServer({
    serviceName: 'scheduler',
    services: [schedulerService({ engine, view: engine, decisions, inventory, source, viewWaitMillis: config.SCHEDULER_VIEW_WAIT })],
    readiness: serviceReadiness({ nats: nc, ready: () => watch.isReady() }),
    logger,
    tls: security.server,
  });
  const port = await server.listen(config.SCHEDULER_GRPC_PORT, security.host);
  return {
    port,
    async stop() {
      await server.shutdown(500, 3000);
      await consumer.stop();
      await watch.stop();
      await positionWatch.stop();
      await hardware.stop();
      inventory.close();
      await nc.drain();
    },
  };
}
