import { telemetry, eventCatalog, storedEventEvolution } from '@berth/contracts';
import { createKysely, migrateEventStore, PostgresEventStore, startRelay, type TailingLoop, ensureDatabase } from '@berth/event-store';
import { assertSecureBind, createGrpcServer, grpcSecurity, serviceReadiness } from '@berth/grpc-kit';
import { connectNats, createEventPublisher, ensureStreams } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { PolicySetApplied } from './domain/policy/policy.ts';
import type { PressureEvent } from './domain/pressure/pressure.ts';
import { Evaluator } from './application/evaluator.ts';
import { SampleHistory } from './application/history.ts';
import { prepareGuestSample } from './application/input.ts';
import { Policies } from './application/policies.ts';
import type { ControlPort, PolicyEngine } from './application/ports.ts';
import { replayDecision } from './application/replay.ts';
import { telemetryService } from './adapters/grpc/telemetry-service.ts';
import { DEFAULT_POLICY_DIR, readPolicyDir } from './adapters/mom/default-policy.ts';
import { momEngine } from './adapters/mom/engine.ts';
import { natsControls } from './adapters/nats/controls.ts';
import { HostPools, VmSpecs } from './adapters/nats/directories.ts';
import { subscribeSamples } from './adapters/nats/samples.ts';
import { openUsageSink, usageOf } from './adapters/nats/usage.ts';
import { telemetryMetrics } from './adapters/otel/metrics.ts';
import { DecisionLog } from './adapters/postgres/decision-log.ts';
import { LogQueries } from './adapters/postgres/queries.ts';
import type { TelemetryConfig } from './config.ts';

export interface RunningTelemetry<S = unknown> {
  readonly port: number;
  readonly history: SampleHistory;
  readonly policies: Policies<S>;
  readonly evaluator: Evaluator<S>;
  readonly vms: VmSpecs;
  readonly log: DecisionLog;
  readonly queries: LogQueries;
  readonly engine: PolicyEngine<S>;
  stop(): Promise<void>;
}

export interface TelemetryOverrides {
  /** Controls go here instead of to the executors over NATS. */
  readonly controls?: ControlPort;
  /** Run the policy loop on its own timer (default true); tests call evaluator.evaluateAll(). */
  readonly loop?: boolean;
  readonly clock?: () => number;
}

/** Wires the whole service: log, policies, directories, samples, the policy loop, usage bucket, gRPC. */
export async function startTelemetry(
  config: Readonly<TelemetryConfig>,
  logger: Logger,
  over: TelemetryOverrides = {},
): Promise<RunningTelemetry> {
  const security = grpcSecurity(config);
  assertSecureBind('telemetry', security);
  const prefix = config.NATS_PREFIX;
  const p = prefix ? { prefix } : {};
  await ensureDatabase(config.DATABASE_URL);
  const db = createKysely(config.DATABASE_URL, { applicationName: 'berth-telemetry', max: 10 });
  await migrateEventStore(db);
  await VmSpecs.migrate(db);
  const store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, telemetry.TELEMETRY_SERVICE) });
  const queries = new LogQueries(db);
  const engine: PolicyEngine = momEngine;
  const policies = new Policies(store, engine);
  policies.replay((await queries.ofTypes(['PolicySetApplied'])).map((e) => e.data as PolicySetApplied));
  await policies.ensureDefault(await readPolicyDir(DEFAULT_POLICY_DIR));

  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'berth-telemetry',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  await ensureStreams(nc, p);
  const publish = createEventPublisher(nc, { service: telemetry.TELEMETRY_SERVICE, ...p });
  const loops: TailingLoop[] = [
    startRelay({
      store,
      name: 'telemetry-relay',
      publishRaw: async (e) => void (await publish(e)),
      alreadyPublished: publish.newestIds,
      pollMillis: 1000,
      logger,
    }),
  ];

  const vms = new VmSpecs(db);
  await vms.load();
  await vms.follow(nc, prefix, logger, config.NATS_CONSUMER_TUNING);
  const pools = new HostPools();
  await pools.follow(nc, prefix);

  const history = new SampleHistory(config.TELEMETRY_HISTORY_LENGTH, prepareGuestSample(vms));
  const metrics = telemetryMetrics(history, { guestGauges: config.TELEMETRY_GUEST_METRICS === 'on' });
  const usageSink = await openUsageSink(nc, prefix);
  const usage = new Map<string, telemetry.HostUsage>();
  const clock = over.clock ?? Date.now;
  const samples = subscribeSamples(nc, {
    ...p,
    logger,
    onSample: (s) => {
      history.add(s, clock());
      metrics.samples(1);
      const u = usageOf(
        s.hostId,
        s.at,
        s.host,
        s.guests.map((g) => g.stats),
      );
      if (u) {
        usage.set(s.hostId, u);
        usageSink.put(u);
      }
    },
  });

  const log = new DecisionLog(store, db, { flushMillis: config.TELEMETRY_LOG_FLUSH, logger });
  const evaluator = new Evaluator({
    history,
    policies,
    engine,
    vms,
    hosts: pools,
    log,
    controls: over.controls ?? natsControls(nc, { ...p, timeoutMillis: config.TELEMETRY_CONTROL_TIMEOUT }),
    thresholds: {
      critical: config.TELEMETRY_CRITICAL_FREE,
      calm: config.TELEMETRY_CALM_FREE,
      restartAfterMillis: config.TELEMETRY_RESTART_AFTER,
    },
    historyLength: config.TELEMETRY_HISTORY_LENGTH,
    keyframeEvery: config.TELEMETRY_KEYFRAME_EVERY,
    staleAfterMillis: 3 * config.TELEMETRY_SAMPLE_INTERVAL,
    metrics,
    clock,
    logger,
  });
  evaluator.restorePressure(
    (await queries.ofTypes(['VmPoweredOffForPressure', 'VmRestartedAfterPressure'])).map((e) => ({
      streamId: e.streamId,
      at: e.occurredAt.toISOString(),
      event: { type: e.type, data: e.data } as PressureEvent,
    })),
  );
  if (over.loop !== false) evaluator.start(config.TELEMETRY_POLICY_INTERVAL);

  const server = createGrpcServer({
    serviceName: 'telemetry',
    services: [
      telemetryService({
        policies,
        history,
        resourcePool: (h) => pools.resourcePool(h),
        decisions: (h, n) => queries.decisions(h, n),
        replay: (id) => replayDecision({ policies, engine, chain: (x) => queries.decisionChain(x) }, id),
        usage: (h) => usage.get(h),
      }),
    ],
    readiness: serviceReadiness({ nats: nc, database: db }),
    logger,
    tls: security.server,
  });
  const port = await server.listen(config.TELEMETRY_GRPC_PORT, security.host);
  return {
    port,
    history,
    policies,
    evaluator,
    vms,
    log,
    queries,
    engine,
    async stop() {
      await server.shutdown(0, 2000);
      await evaluator.stop();
      await samples.stop();
      await log.stop();
      await vms.stop();
      await pools.stop();
      await Promise.all(loops.map((l) => l.stop()));
      await nc.drain();
      await db.destroy();
    },
  };
}
