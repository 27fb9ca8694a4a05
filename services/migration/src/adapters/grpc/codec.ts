/** The migration aggregate as berth.migration.v1 messages (encoding only: the domain never sees proto). */
import { migrationV1 as pb } from '@berth/contracts';
import type { ExistingMigration, MigrationStatus } from '../../domain/migration/state.ts';
import type { Policy } from '../../application/policy.ts';

const STATUS: Readonly<Record<Exclude<MigrationStatus, 'absent'>, pb.MigrationStatus>> = {
  requested: pb.MigrationStatus.MIGRATION_STATUS_REQUESTED,
  queued: pb.MigrationStatus.MIGRATION_STATUS_QUEUED,
  'destination-chosen': pb.MigrationStatus.MIGRATION_STATUS_DESTINATION_CHOSEN,
  'destination-claimed': pb.MigrationStatus.MIGRATION_STATUS_DESTINATION_CLAIMED,
  migrating: pb.MigrationStatus.MIGRATION_STATUS_MIGRATING,
  'switched-over': pb.MigrationStatus.MIGRATION_STATUS_SWITCHED_OVER,
  completed: pb.MigrationStatus.MIGRATION_STATUS_COMPLETED,
  'releasing-destination': pb.MigrationStatus.MIGRATION_STATUS_RELEASING_DESTINATION,
  'retry-waiting': pb.MigrationStatus.MIGRATION_STATUS_RETRY_WAITING,
  aborting: pb.MigrationStatus.MIGRATION_STATUS_ABORTING,
  aborted: pb.MigrationStatus.MIGRATION_STATUS_ABORTED,
  failed: pb.MigrationStatus.MIGRATION_STATUS_FAILED,
  'postcopy-paused': pb.MigrationStatus.MIGRATION_STATUS_POSTCOPY_PAUSED,
};

const TRIGGER: Readonly<Record<string, pb.MigrationTrigger>> = {
  manual: pb.MigrationTrigger.MIGRATION_TRIGGER_MANUAL,
  evacuation: pb.MigrationTrigger.MIGRATION_TRIGGER_EVACUATION,
  balancer: pb.MigrationTrigger.MIGRATION_TRIGGER_BALANCER,
};

export const encodePolicy = (p: Policy): pb.MigrationPolicy => ({
  maxDowntimeMillis: p.maxDowntimeMillis,
  bandwidthMibps: p.bandwidthMiBps,
  autoConverge: p.autoConverge,
  postCopy: p.postCopy,
  completionBudgetSecondsPerGib: p.completionBudgetSecondsPerGiB,
  noProgressTimeoutSeconds: p.noProgressTimeoutSeconds,
  maxAttempts: p.maxAttempts,
});

export function encodeMigration(m: ExistingMigration, times: { requestedAt: string; updatedAt: string }): pb.Migration {
  const destination = 'destination' in m ? m.destination.hostId : m.status === 'completed' ? m.hostId : (m.attempts.at(-1)?.hostId ?? '');
  const reason =
    m.status === 'aborted' ||
    m.status === 'failed' ||
    m.status === 'aborting' ||
    m.status === 'releasing-destination' ||
    m.status === 'queued'
      ? m.reason
      : m.status === 'postcopy-paused'
        ? m.detail
        : '';
  return {
    migrationId: m.core.migrationId,
    vmId: m.core.vmId,
    status: STATUS[m.status],
    trigger: TRIGGER[m.core.trigger] ?? pb.MigrationTrigger.MIGRATION_TRIGGER_UNSPECIFIED,
    sourceHostId: m.core.sourceHostId,
    destinationHostId: destination,
    requestedDestination: m.core.requestedDestination,
    attempts: m.attempts.map((a) => ({
      attempt: a.attempt,
      destinationHostId: a.hostId ?? '',
      outcome: a.outcome,
      reason: a.reason,
      startedAt: '',
      endedAt: '',
      probes: (a.probes ?? []).map((p) => ({ at: p.at, outcome: p.outcome, detail: p.detail ?? '', silentMillis: p.silentMillis })),
    })),
    ...(m.progress
      ? {
          progress: {
            dataTotalBytes: m.progress.dataTotalBytes,
            dataProcessedBytes: m.progress.dataProcessedBytes,
            dataRemainingBytes: m.progress.dataRemainingBytes,
            memoryDirtyRateBytesPerSecond: m.progress.memoryDirtyRateBytesPerSecond ?? 0,
            iteration: m.progress.iteration ?? 0,
            elapsedMillis: m.progress.elapsedMillis,
            phase: m.progress.phase,
            updatedAt: '',
          },
        }
      : {}),
    reason,
    policy: encodePolicy(m.core.policy),
    warning: m.core.warning,
    nextAttemptAt: m.status === 'retry-waiting' ? m.notBefore : '',
    requestedAt: times.requestedAt,
    updatedAt: times.updatedAt,
    version: m.version,
    evacuationId: m.core.evacuationId ?? '',
  };
}
