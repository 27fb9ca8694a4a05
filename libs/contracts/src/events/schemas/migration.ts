/**
 * Schemas of the migration service's events (`berth.migration.migration.<Type>`), at version 1 but
 * AttemptFailed and MigrationFailed (2: a `hostId` is absent when no destination was chosen; version 1
 * wrote '', which reads as absent).
 */
import { z } from 'zod';
import type * as M from '../migration.ts';
import type { ServiceEvents } from './catalog.ts';
import { bytes, count, isoTime, nonEmpty, objectOf } from './define.ts';
import { claimSchema } from './model.ts';

const v1 = <T>(schema: z.ZodType<T>) => ({ version: 1, schema }) as const;

const attempt = z.number().int().min(1);
const policy = objectOf<M.MigrationPolicy>()({
  maxDowntimeMillis: count,
  bandwidthMiBps: count,
  autoConverge: z.boolean(),
  postCopy: z.boolean(),
  completionBudgetSecondsPerGiB: z.number().positive(),
  noProgressTimeoutSeconds: z.number().positive(),
  maxAttempts: attempt,
});
const progress = objectOf<M.MigrationProgress>()({
  dataTotalBytes: z.number().min(0),
  dataProcessedBytes: z.number().min(0),
  dataRemainingBytes: z.number().min(0),
  memoryDirtyRateBytesPerSecond: z.number().min(0).optional(),
  iteration: count.optional(),
  elapsedMillis: z.number().min(0),
  phase: z.enum(['precopy', 'postcopy']),
});
/** v1 → v2 of AttemptFailed: the '' of an attempt that chose no destination becomes an absent `hostId`. */
function dropEmptyHost(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const { hostId, ...rest } = data as Record<string, unknown>;
  return hostId === '' ? rest : data;
}
/** v1 → v2 of MigrationFailed: the same, for each attempt of its summary. */
function dropEmptyHosts(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const { attempts } = data as { attempts?: unknown };
  return Array.isArray(attempts) ? { ...data, attempts: attempts.map(dropEmptyHost) } : data;
}
const summary = objectOf<M.AttemptSummary>()({ attempt: count, hostId: nonEmpty.optional(), reason: z.string() });

export const migrationEventDefinitions: ServiceEvents<M.MigrationEventMap> = {
  MigrationRequested: v1(
    objectOf<M.MigrationRequested>()({
      migrationId: nonEmpty,
      vmId: nonEmpty,
      vmName: z.string(),
      trigger: z.enum(['manual', 'evacuation', 'balancer']),
      sourceHostId: nonEmpty,
      sourceHypervisorUri: z.string(),
      requestedDestination: z.string(),
      memoryBytes: bytes,
      policy,
      warning: z.string(),
      reason: z.string(),
      evacuationId: z.string().optional(),
      kind: z.enum(['live', 'cold']).optional(),
    }),
  ),
  DestinationChosen: v1(
    objectOf<M.DestinationChosen>()({ attempt, hostId: nonEmpty, generation: count, claim: z.unknown(), explanation: z.string() }),
  ),
  DestinationClaimed: v1(
    objectOf<M.DestinationClaimed>()({
      attempt,
      vmId: nonEmpty,
      hostId: nonEmpty,
      hypervisorUri: nonEmpty,
      generation: count,
      sourceHostId: nonEmpty,
      sourceHypervisorUri: nonEmpty,
      memoryBytes: z.number().int().positive(),
      policy,
      cold: z.boolean().optional(),
      claim: claimSchema.optional(),
      startBy: isoTime.optional(),
    }),
  ),
  MigrationCopyStarted: v1(objectOf<M.MigrationCopyStarted>()({ attempt })),
  MigrationProgressed: v1(objectOf<M.MigrationProgressed>()({ attempt, progress })),
  SwitchedOver: v1(objectOf<M.SwitchedOver>()({ attempt, hostId: nonEmpty })),
  SourceReleased: v1(objectOf<M.SourceReleased>()({ attempt, hostId: nonEmpty })),
  MigrationCompleted: v1(objectOf<M.MigrationCompleted>()({ hostId: nonEmpty, attempts: count })),
  AttemptFailed: {
    version: 2,
    schema: objectOf<M.AttemptFailed>()({
      attempt,
      hostId: nonEmpty.optional(),
      stage: z.enum(['choose', 'claim', 'copy']),
      reason: z.string(),
    }),
    upcasters: { 1: dropEmptyHost },
  },
  DestinationReleased: v1(objectOf<M.DestinationReleased>()({ attempt, hostId: nonEmpty })),
  RetryScheduled: v1(objectOf<M.RetryScheduled>()({ attempt, notBefore: isoTime })),
  MigrationFailed: {
    version: 2,
    schema: objectOf<M.MigrationFailed>()({ reason: z.string(), attempts: z.array(summary) }),
    upcasters: { 1: dropEmptyHosts },
  },
  CancelRequested: v1(objectOf<M.CancelRequested>()({ vmId: nonEmpty, attempt: count, reason: z.string() })),
  MigrationAborted: v1(objectOf<M.MigrationAborted>()({ reason: z.string() })),
  PostCopyPaused: v1(objectOf<M.PostCopyPaused>()({ attempt, detail: z.string() })),
  ResumeRequested: v1(objectOf<M.ResumeRequested>()({ vmId: nonEmpty, attempt })),
  MigrationQueued: v1(
    objectOf<M.MigrationQueued>()({ attempt, cap: z.enum(['fleet', 'outbound', 'inbound', 'vm-busy']), reason: nonEmpty }),
  ),
  ExecutorProbed: v1(
    objectOf<M.ExecutorProbed>()({
      attempt,
      at: isoTime,
      outcome: z.enum(['under-way', 'switched-over', 'not-running', 'unreachable', 'unexpected']),
      detail: z.string(),
      silentMillis: count,
    }),
  ),
};
