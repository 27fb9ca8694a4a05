import { migrationEvents, type EventEnvelope } from '@berth/contracts';
import { ack, term, type ConsumeResult } from '@berth/messaging';
import type { Migrator } from './migrator.ts';
import type { Vms } from './vms.ts';

/** The migration service's events the executor acts on (its commands); others are acknowledged unread. */
export const MIGRATION_COMMAND_TYPES: readonly string[] = ['DestinationClaimed', 'CancelRequested', 'ResumeRequested'];

const { migrationEventSchemas: schemas } = migrationEvents;

const migrationIdOf = (env: EventEnvelope): string => env.streamId.replace(/^migration-/, '');
const problems = (issues: readonly { path: readonly PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');

/**
 * Turns the migration service's commands into the executor's own log (command id = event id, so a
 * redelivery appends nothing), then hands the hypervisor work to the Migrator and acks. Malformed
 * events are dead-lettered with the reason.
 */
export function createMigrationIntake(o: {
  vms: Vms;
  migrator: Migrator;
  /** A DestinationClaimed older than this is refused (EXECUTOR_MIGRATION_START_WINDOW). */
  startWindowMillis: number;
  now?: () => number;
}): (env: EventEnvelope) => Promise<ConsumeResult> {
  return async (env) => {
    const migrationId = migrationIdOf(env);
    switch (env.type) {
      case 'DestinationClaimed': {
        const p = schemas.DestinationClaimed.safeParse(env.data);
        if (!p.success) return term(`DestinationClaimed: ${problems(p.error.issues)}`);
        const d = p.data;
        const r = await o.vms
          .execute(
            d.vmId,
            {
              type: 'StartMigration',
              migrationId,
              attempt: d.attempt,
              sourceHostId: d.sourceHostId,
              destination: { hostId: d.hostId, uri: d.hypervisorUri },
              plan: {
                memoryBytes: d.memoryBytes,
                bandwidthMiBps: d.policy.bandwidthMiBps,
                maxDowntimeMillis: d.policy.maxDowntimeMillis,
                autoConverge: d.policy.autoConverge,
                postCopy: d.policy.postCopy,
                completionBudgetSecondsPerGiB: d.policy.completionBudgetSecondsPerGiB,
                noProgressTimeoutSeconds: d.policy.noProgressTimeoutSeconds,
              },
              ...(d.cold !== undefined && { cold: d.cold }),
              ...(d.claim !== undefined && { destinationClaim: d.claim }),
              // The earlier of its own window and the one the migration service stated (below its watchdog's silence).
              startBy: new Date(
                Math.min(Date.parse(env.occurredAt) + o.startWindowMillis, d.startBy !== undefined ? Date.parse(d.startBy) : Infinity),
              ).toISOString(),
              now: new Date(o.now?.() ?? Date.now()).toISOString(),
            },
            env.id,
          )
          .catch((e: unknown) => {
            if (e instanceof Error && e.name === 'IllegalStateError') return undefined;
            throw e;
          });
        if (r === undefined) return term(`DestinationClaimed for VM ${d.vmId}: this executor has no record of the VM`);
        if (r.appended.includes('VmMigrationStarted')) o.migrator.start(d.vmId);
        return ack();
      }
      case 'CancelRequested': {
        const p = schemas.CancelRequested.safeParse(env.data);
        if (!p.success) return term(`CancelRequested: ${problems(p.error.issues)}`);
        if (p.data.attempt === 0) return ack(); // nothing was running
        await o.vms.execute(
          p.data.vmId,
          { type: 'CancelMigration', migrationId, attempt: p.data.attempt, reason: p.data.reason || 'cancelled' },
          env.id,
        );
        o.migrator.abort(p.data.vmId, p.data.reason || 'cancelled');
        return ack();
      }
      case 'ResumeRequested': {
        const p = schemas.ResumeRequested.safeParse(env.data);
        if (!p.success) return term(`ResumeRequested: ${problems(p.error.issues)}`);
        o.migrator.resumePostCopy(p.data.vmId);
        return ack();
      }
      default:
        return ack();
    }
  };
}
