/** Migration RPCs: thin handlers (decode, ask the application, encode). */
import { setTimeout as sleep } from 'node:timers/promises';
import { migrationV1 as pb } from '@berth/contracts';
import { ValidationError, Violations } from '@berth/errors';
import { serverStream, unary } from '@berth/grpc-kit';
import { withCall } from '@berth/event-store';
import { TERMINAL } from '../../domain/migration/state.ts';
import type { MigrationCommands } from '../../application/migrations.ts';
import { unlessZero, type PolicyOverrides } from '../../application/policy.ts';
import type { ReadModel } from '../postgres/read-model.ts';
import { encodeMigration } from './codec.ts';

export type MigrationHandlers = Pick<
  pb.MigrationServiceServer,
  'migrateVm' | 'cancelMigration' | 'resumeMigration' | 'getMigration' | 'listMigrations' | 'watchMigration' | 'listMigrationDestinations'
>;

export interface MigrationHandlerDeps {
  readonly migrations: MigrationCommands;
  readonly readModel: ReadModel;
}

/** Every mutating call names its command, so a retry appends nothing new. */
export function commandIdOf(meta: pb.MigrateVmRequest['meta']): string {
  const id = meta?.commandId ?? '';
  if (id.trim() === '' || id.length > 200)
    throw new ValidationError({ field: 'meta.commandId', reason: 'required (1-200 characters, a UUID recommended)' });
  return id;
}

export function decodePolicy(p: pb.MigrationPolicy | undefined): PolicyOverrides {
  if (p === undefined) return {};
  const out: PolicyOverrides = {};
  const set = <K extends keyof PolicyOverrides>(k: K, v: PolicyOverrides[K]): void => {
    if (v !== undefined) out[k] = v;
  };
  set('maxDowntimeMillis', unlessZero(p.maxDowntimeMillis));
  set('bandwidthMiBps', unlessZero(p.bandwidthMibps));
  set('autoConverge', p.autoConverge);
  set('postCopy', p.postCopy);
  set('completionBudgetSecondsPerGiB', unlessZero(p.completionBudgetSecondsPerGib));
  set('noProgressTimeoutSeconds', unlessZero(p.noProgressTimeoutSeconds));
  set('maxAttempts', unlessZero(p.maxAttempts));
  return out;
}

const WATCH_POLL_MILLIS = 250;

export function migrationHandlers(d: MigrationHandlerDeps): MigrationHandlers {
  const { migrations, readModel } = d;
  const encodeById = async (migrationId: string): Promise<pb.Migration> => {
    const g = await migrations.get(migrationId);
    return encodeMigration(g.migration, g);
  };
  return {
    // A command's reads, its append and its calls to inventory and the scheduler are the call's work:
    // stopped when it ends (see MigrationCommands). The answer read after a command is not: a
    // committed command is not reported as failed.
    migrateVm: unary<pb.MigrateVmRequest, pb.MigrateVmResponse>(async (r, ctx) => {
      const input = {
        commandId: commandIdOf(r.meta),
        vmId: r.vmId,
        destination: r.destinationHostId,
        policy: decodePolicy(r.policy),
        trigger: 'manual',
        reason: r.reason || 'requested by the operator',
      } as const;
      const m = await migrations.migrate(input, ctx);
      return { migration: await encodeById(m.core.migrationId) };
    }),
    cancelMigration: unary<pb.CancelMigrationRequest, pb.CancelMigrationResponse>(async (r, ctx) => {
      const m = await migrations.cancel({ commandId: commandIdOf(r.meta), migrationId: r.migrationId, reason: r.reason }, ctx);
      return { migration: await encodeById(m.core.migrationId) };
    }),
    resumeMigration: unary<pb.ResumeMigrationRequest, pb.ResumeMigrationResponse>(async (r, ctx) => {
      const m = await migrations.resume({ commandId: commandIdOf(r.meta), migrationId: r.migrationId }, ctx);
      return { migration: await encodeById(m.core.migrationId) };
    }),
    // Reads for the call are cancelled when it ends (withCall).
    getMigration: unary<pb.GetMigrationRequest, pb.GetMigrationResponse>(async (r, ctx) => ({
      migration: await withCall(ctx, 'getMigration', () => encodeById(r.migrationId)),
    })),
    listMigrations: unary<pb.ListMigrationsRequest, pb.ListMigrationsResponse>(async (r, ctx) => {
      new Violations().check(r.limit >= 0 && r.limit <= 1000, 'limit', 'must be between 0 and 1000').throwIfAny();
      const rows = await withCall(ctx, 'listMigrations', () =>
        readModel.list({ vmId: r.vmId, hostId: r.hostId, activeOnly: r.activeOnly, limit: r.limit || 100 }),
      );
      return { migrations: rows.map((row) => encodeMigration(row.migration, row)) };
    }),
    watchMigration: serverStream<pb.WatchMigrationRequest, pb.WatchMigrationResponse>(async function* (r, ctx) {
      new Violations().check(r.fromPosition >= 0, 'fromPosition', 'must be >= 0').throwIfAny();
      let position = r.fromPosition;
      const first = (await withCall(ctx, 'watchMigration', () => migrations.get(r.migrationId))).requestedAt;
      for (;;) {
        if (ctx.signal.aborted) return;
        const fresh = await withCall(ctx, 'watchMigration', () => migrations.eventsAfter(r.migrationId, position));
        for (const { event, migration } of fresh) {
          position = event.streamPosition;
          yield {
            event: {
              eventId: event.id,
              type: event.type,
              streamPosition: event.streamPosition,
              occurredAt: event.occurredAt,
              dataJson: JSON.stringify(event.data),
            },
            migration: encodeMigration(migration, { requestedAt: first, updatedAt: event.occurredAt }),
          };
          if (TERMINAL.has(migration.status)) return;
        }
        if (ctx.signal.aborted) return;
        await sleep(WATCH_POLL_MILLIS, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    }),
    listMigrationDestinations: unary<pb.ListMigrationDestinationsRequest, pb.ListMigrationDestinationsResponse>(async (r, ctx) => {
      const { vm, answer } = await migrations.destinations(r.vmId, r.limit, ctx);
      return {
        vmId: vm.vmId,
        sourceHostId: vm.hostId,
        destinations: answer.hosts.map((h, i) => ({
          hostId: h.hostId,
          hostName: h.hostName,
          rank: i + 1,
          score: h.score,
          breakdownJson: h.breakdownJson,
        })),
        summary: answer.missingSummary || answer.summary,
        missing: answer.missing.map((g) => ({
          reason: g.reason === 'excluded' ? 'source' : g.reason,
          subject: g.subject,
          hosts: g.hosts,
          sampleHosts: [...g.sampleHosts],
          summary: `${g.hosts} ${g.reason === 'excluded' ? 'the source' : `removed by ${g.reason}${g.subject ? ` (${g.subject})` : ''}`}`,
        })),
        warning: vm.highPerformanceOrPinned ? 'high-performance or pinned VM: after the migration its performance may decrease' : '',
      };
    }),
  };
}
