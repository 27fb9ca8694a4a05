import { setTimeout as sleep } from 'node:timers/promises';
import { migrationV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { UsageError } from '../errors.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec, type Context, type Result } from './types.ts';

const S = migrationV1.MigrationStatus;
const ENDED = new Set([
  S.MIGRATION_STATUS_COMPLETED,
  S.MIGRATION_STATUS_FAILED,
  S.MIGRATION_STATUS_ABORTED,
  S.MIGRATION_STATUS_POSTCOPY_PAUSED,
]);

const statusName = (s: migrationV1.MigrationStatus): string =>
  migrationV1
    .migrationStatusToJSON(s)
    .replace(/^MIGRATION_STATUS_/, '')
    .toLowerCase()
    .replace(/_/g, '-');

const GiB = 1024 ** 3;
/** Ended for good: the copy's last reading is history, not progress (a paused post-copy keeps its). */
const FINAL = new Set([S.MIGRATION_STATUS_COMPLETED, S.MIGRATION_STATUS_FAILED, S.MIGRATION_STATUS_ABORTED]);

/** The copy's last reading, while the migration has not ended. */
const progressText = (m: migrationV1.Migration): string => {
  const p = m.progress;
  if (!p || p.dataTotalBytes === 0 || FINAL.has(m.status)) return '';
  const pct = Math.round((100 * p.dataProcessedBytes) / Math.max(1, p.dataTotalBytes));
  return ` ${pct}% (${(p.dataRemainingBytes / GiB).toFixed(2)} GiB left, pass ${p.iteration}, ${p.phase})`;
};

/** Why a queued migration waits (the cap that holds it back), for one-line listings. */
const queuedText = (m: migrationV1.Migration): string => (m.status === S.MIGRATION_STATUS_QUEUED && m.reason ? ` (${m.reason})` : '');

/** `berth migrations show`'s text: status, progress, reason, warning, every attempt with its probes. */
export function describeMigration(m: migrationV1.Migration): string {
  const lines = [
    `migration ${m.migrationId}: VM ${m.vmId} ${m.sourceHostId} -> ${m.destinationHostId || '(choosing)'}  ${statusName(m.status)}${progressText(m)}`,
    ...(m.reason ? [`  reason: ${m.reason}`] : []),
    ...(m.warning ? [`  warning: ${m.warning}`] : []),
    ...m.attempts.flatMap((a) => [
      `  attempt ${a.attempt}: ${a.destinationHostId || '(no host)'} ${a.outcome}${a.reason ? `: ${a.reason}` : ''}`,
      // The watchdog's questions to a silent executor, and its answers.
      ...a.probes.map(
        (p) =>
          `    probed ${p.at} after ${Math.round(p.silentMillis / 1000)} s of silence: ${p.outcome}${p.detail ? ` (${p.detail})` : ''}`,
      ),
    ]),
  ];
  return lines.join('\n');
}

const asJson = (m: migrationV1.Migration): unknown => migrationV1.Migration.toJSON(m);

async function follow(migrationId: string, ctx: Context): Promise<migrationV1.Migration> {
  let last = '';
  for (;;) {
    const m = (await unary(ctx.backends.migration(), 'getMigration', { migrationId }, ctx.timeoutMillis)).migration!;
    const line = `${statusName(m.status)}${progressText(m)}${queuedText(m)}`;
    if (line !== last) ctx.progress(line);
    last = line;
    if (ENDED.has(m.status)) return m;
    await sleep(500);
  }
}

const result = (m: migrationV1.Migration): Result => ({
  json: asJson(m),
  text: describeMigration(m),
  exitCode: m.status === S.MIGRATION_STATUS_FAILED || m.status === S.MIGRATION_STATUS_ABORTED ? 1 : 0,
});

export const migrationCommands: readonly CommandSpec[] = [
  {
    words: ['vms', 'migrate'],
    args: ['VM'],
    summary: 'live-migrate a running VM to a host, or where the scheduler chooses (--to auto)',
    options: {
      to: { type: 'string', value: 'HOST|auto', help: 'destination host (default auto: the scheduler chooses)' },
      wait: { type: 'boolean', help: 'follow the migration to its end' },
      'post-copy': { type: 'boolean', help: 'allow post-copy (cannot be aborted after its switch-over)' },
      bandwidth: { type: 'string', value: 'MIBPS', help: 'bandwidth cap in MiB/s' },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const bandwidth = input.string('bandwidth');
      if (bandwidth !== undefined && !/^\d+$/.test(bandwidth)) throw new UsageError('--bandwidth', 'must be a whole number of MiB/s');
      const policy = migrationV1.MigrationPolicy.fromPartial({
        ...(bandwidth !== undefined ? { bandwidthMibps: Number(bandwidth) } : {}),
        ...(input.flag('post-copy') ? { postCopy: true } : {}),
      });
      const res = await unary(
        ctx.backends.migration(),
        'migrateVm',
        {
          meta: commandMeta(input, ctx),
          vmId: input.arg('VM'),
          destinationHostId: input.string('to') ?? 'auto',
          policy,
          reason: 'berth vms migrate',
        },
        ctx.timeoutMillis,
      );
      const m = res.migration!;
      return result(input.flag('wait') ? await follow(m.migrationId, ctx) : m);
    },
  },
  {
    words: ['migrations', 'list'],
    args: [],
    summary: 'migrations, newest first (--vm, --host, --active)',
    options: {
      vm: { type: 'string', value: 'VM', help: 'only this VM' },
      host: { type: 'string', value: 'HOST', help: 'only from or to this host' },
      active: { type: 'boolean', help: 'only migrations not ended' },
    },
    async run(input, ctx) {
      const res = await unary(
        ctx.backends.migration(),
        'listMigrations',
        {
          vmId: input.string('vm') ?? '',
          hostId: input.string('host') ?? '',
          activeOnly: input.flag('active'),
          limit: 0,
        },
        ctx.timeoutMillis,
      );
      const rows = res.migrations.map(
        (m) =>
          `${m.migrationId}  ${m.vmId.padEnd(20)} ${m.sourceHostId.padEnd(12)} -> ${(m.destinationHostId || '-').padEnd(12)} ${statusName(m.status)}${progressText(m)}${queuedText(m)}`,
      );
      return { json: res.migrations.map(asJson), text: rows.length === 0 ? 'no migrations' : rows.join('\n') };
    },
  },
  {
    words: ['migrations', 'show'],
    args: ['MIGRATION'],
    summary: 'one migration: status, progress, attempts and reasons (--watch to follow it)',
    options: { watch: { type: 'boolean', help: 'follow it to its end' } },
    async run(input, ctx) {
      const id = input.arg('MIGRATION');
      const m = input.flag('watch')
        ? await follow(id, ctx)
        : (await unary(ctx.backends.migration(), 'getMigration', { migrationId: id }, ctx.timeoutMillis)).migration!;
      return { json: asJson(m), text: describeMigration(m) };
    },
  },
  {
    words: ['migrations', 'cancel'],
    args: ['MIGRATION'],
    summary: 'abort a migration before its switch-over (the VM stays on the source)',
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (recorded)' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const res = await unary(
        ctx.backends.migration(),
        'cancelMigration',
        {
          meta: commandMeta(input, ctx),
          migrationId: input.arg('MIGRATION'),
          reason: input.string('reason') ?? 'cancelled with berth migrations cancel',
        },
        ctx.timeoutMillis,
      );
      return { json: asJson(res.migration!), text: describeMigration(res.migration!) };
    },
  },
];
