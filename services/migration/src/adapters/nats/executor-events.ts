import type { ConsumerTuning } from '@berth/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { EventEnvelope } from '@berth/contracts';
import { ack, consumerDefinition, startConsumer, term, type ConsumeResult, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { MigrationCommand } from '../../domain/migration/commands.ts';
import type { MigrationCommands } from '../../application/migrations.ts';

export const EXECUTOR_EVENTS_DURABLE = 'migration-executor-events';

/** The executor's migration reports this service folds; the executor's other events are acknowledged unread. */
export const MIGRATION_REPORTS = [
  'VmMigrationStarted',
  'VmMigrationProgressed',
  'VmMigrated',
  'VmMigrationFailed',
  'VmMigrationPostCopyPaused',
] as const;

const ref = z.object({ migrationId: z.string().min(1), migrationAttempt: z.number().int().min(1), hostId: z.string() });
const schemas = {
  VmMigrationStarted: ref,
  VmMigrationProgressed: ref.extend({
    dataTotalBytes: z.number().min(0),
    dataProcessedBytes: z.number().min(0),
    dataRemainingBytes: z.number().min(0),
    memoryDirtyRateBytesPerSecond: z.number().min(0).optional(),
    iteration: z.number().int().min(0).optional(),
    elapsedMillis: z.number().min(0),
    phase: z.enum(['precopy', 'postcopy']),
  }),
  VmMigrated: ref,
  VmMigrationFailed: ref.extend({ reason: z.string() }),
  VmMigrationPostCopyPaused: ref.extend({ detail: z.string() }),
} as const;

/** Translates one executor report into a command on the migration (undefined: not ours, or malformed). */
export function reportToCommand(env: EventEnvelope): { migrationId: string; command: MigrationCommand } | { error: string } | undefined {
  const type = MIGRATION_REPORTS.find((t) => t === env.type);
  if (type === undefined) return undefined;
  const parsed = schemas[type].safeParse(env.data);
  if (!parsed.success)
    return { error: `${type} v${env.schemaVersion}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  const d = parsed.data;
  const attempt = d.migrationAttempt;
  switch (type) {
    case 'VmMigrationStarted':
      return { migrationId: d.migrationId, command: { type: 'RecordCopyStarted', attempt } };
    case 'VmMigrationProgressed': {
      const p = schemas.VmMigrationProgressed.parse(env.data);
      return {
        migrationId: d.migrationId,
        command: {
          type: 'RecordProgress',
          attempt,
          progress: {
            dataTotalBytes: p.dataTotalBytes,
            dataProcessedBytes: p.dataProcessedBytes,
            dataRemainingBytes: p.dataRemainingBytes,
            elapsedMillis: p.elapsedMillis,
            phase: p.phase,
            ...(p.memoryDirtyRateBytesPerSecond !== undefined ? { memoryDirtyRateBytesPerSecond: p.memoryDirtyRateBytesPerSecond } : {}),
            ...(p.iteration !== undefined ? { iteration: p.iteration } : {}),
          },
        },
      };
    }
    case 'VmMigrated':
      return { migrationId: d.migrationId, command: { type: 'RecordSwitchedOver', attempt, hostId: d.hostId } };
    case 'VmMigrationFailed':
      return {
        migrationId: d.migrationId,
        command: { type: 'RecordCopyFailed', attempt, reason: schemas.VmMigrationFailed.parse(env.data).reason },
      };
    case 'VmMigrationPostCopyPaused':
      return {
        migrationId: d.migrationId,
        command: { type: 'RecordPostCopyPaused', attempt, detail: schemas.VmMigrationPostCopyPaused.parse(env.data).detail },
      };
    default: {
      const never: never = type;
      return { error: `unhandled ${String(never)}` };
    }
  }
}

/**
 * Folds the executor's migration reports into the migrations (command id `executor:<event id>`, so
 * a redelivery appends nothing); a malformed report is dead-lettered with the reason.
 */
export function startExecutorEventsConsumer(o: {
  nc: NatsConnection;
  prefix?: string;
  /** NATS_CONSUMER_TUNING: settings of this durable over infra/nats/consumers.json. */
  tuning?: Readonly<Record<string, ConsumerTuning>> | undefined;
  migrations: MigrationCommands;
  logger: Logger;
}): Promise<RunningConsumer> {
  return startConsumer({
    nc: o.nc,
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...consumerDefinition(EXECUTOR_EVENTS_DURABLE, o.tuning),
    types: MIGRATION_REPORTS,
    concurrency: 16,
    logger: o.logger,
    handle: async (env): Promise<ConsumeResult> => {
      const r = reportToCommand(env);
      if (r === undefined) return ack();
      if ('error' in r) return term(r.error);
      await o.migrations.execute(r.migrationId, r.command, `executor:${env.id}`).catch((e: unknown) => {
        // A report about a migration this log does not have (another deployment's) is not ours.
        if (e instanceof Error && e.name === 'NotFoundError') return undefined;
        throw e;
      });
      return ack();
    },
  });
}
