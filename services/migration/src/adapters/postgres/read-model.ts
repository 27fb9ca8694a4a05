import { Migrator, sql, type ColumnType, type Kysely, type Migration as KyselyMigration } from 'kysely';
import type { AnyKysely, StoredEvent } from '@berth/event-store';
import { initialMigration, isActive, type ExistingMigration, type Migration } from '../../domain/migration/state.ts';
import { evolveMigrationStored } from '../../application/stream.ts';

/**
 * The migration service's read model, next to its log in berth_migration: one row per migration
 * (the folded state as JSON plus the columns List filters on), so List and the sweep that resumes
 * unfinished work after a crash need not read every stream. The log stays the truth: the workers
 * re-read a migration's stream before acting on a row.
 */
export interface MigrationTables {
  migrations: {
    migration_id: string;
    vm_id: string;
    source_host_id: string;
    destination_host_id: string;
    status: string;
    active: boolean;
    version: number;
    state: string;
    requested_at: ColumnType<Date, Date | string, Date | string>;
    updated_at: ColumnType<Date, Date | string, Date | string>;
  };
}
export type MigrationDb = Kysely<MigrationTables>;

const migrations: Record<string, KyselyMigration> = {
  '001_migrations': {
    async up(db) {
      await db.schema
        .createTable('migrations')
        .addColumn('migration_id', 'text', (c) => c.primaryKey())
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('source_host_id', 'text', (c) => c.notNull())
        .addColumn('destination_host_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('active', 'boolean', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('migrations_vm').on('migrations').columns(['vm_id', 'requested_at']).execute();
      await db.schema.createIndex('migrations_active').on('migrations').columns(['active']).where(sql.ref('active'), '=', true).execute();
    },
  },
};

export async function migrateReadModel(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'migration_read_model_migration',
    migrationLockTableName: 'migration_read_model_migration_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined)
    throw new Error(`migration read-model migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
}

// The kysely instance is untyped at the composition root (shared with the event store).
export const asMigrationDb = (db: AnyKysely): MigrationDb => db as MigrationDb;

const destinationOf = (m: ExistingMigration): string =>
  'destination' in m ? m.destination.hostId : m.status === 'completed' ? m.hostId : ([...m.attempts].reverse()[0]?.hostId ?? '');

/** Folds a batch into the rows it touches; runs in the projection's transaction (with its checkpoint). */
export async function projectMigrationEvents(events: readonly StoredEvent[], trx: MigrationDb): Promise<void> {
  const byStream = new Map<string, StoredEvent[]>();
  for (const e of events) {
    if (!e.streamId.startsWith('migration-')) continue;
    const list = byStream.get(e.streamId) ?? [];
    list.push(e);
    byStream.set(e.streamId, list);
  }
  for (const [streamId, list] of byStream) {
    const migrationId = streamId.slice('migration-'.length);
    const row = await trx
      .selectFrom('migrations')
      .select(['state', 'requested_at'])
      .where('migration_id', '=', migrationId)
      .executeTakeFirst();
    let m: Migration = row ? (JSON.parse(row.state) as Migration) : initialMigration();
    for (const e of list) if (e.streamPosition > m.version) m = evolveMigrationStored(m, e);
    if (m.status === 'absent') continue;
    const values = {
      migration_id: migrationId,
      vm_id: m.core.vmId,
      source_host_id: m.core.sourceHostId,
      destination_host_id: destinationOf(m),
      status: m.status,
      active: isActive(m),
      version: m.version,
      state: JSON.stringify(m),
      requested_at: row?.requested_at ?? list[0]!.occurredAt,
      updated_at: list.at(-1)!.occurredAt,
    };
    await trx
      .insertInto('migrations')
      .values(values)
      .onConflict((oc) => oc.column('migration_id').doUpdateSet(values))
      .execute();
  }
}

export interface MigrationRow {
  readonly migration: ExistingMigration;
  readonly requestedAt: string;
  readonly updatedAt: string;
}

export class ReadModel {
  constructor(private readonly db: MigrationDb) {}

  async list(filter: { vmId?: string; hostId?: string; activeOnly?: boolean; limit: number }): Promise<MigrationRow[]> {
    let q = this.db.selectFrom('migrations').select(['state', 'requested_at', 'updated_at']);
    if (filter.vmId) q = q.where('vm_id', '=', filter.vmId);
    if (filter.hostId)
      q = q.where((eb) => eb.or([eb('source_host_id', '=', filter.hostId!), eb('destination_host_id', '=', filter.hostId!)]));
    if (filter.activeOnly) q = q.where('active', '=', true);
    const rows = await q.orderBy('requested_at', 'desc').limit(filter.limit).execute();
    return rows.map((r) => ({
      migration: JSON.parse(r.state) as ExistingMigration,
      requestedAt: r.requested_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    }));
  }

  /** Ids of migrations not yet ended (the sweep's work list). */
  async active(): Promise<string[]> {
    const rows = await this.db.selectFrom('migrations').select('migration_id').where('active', '=', true).execute();
    return rows.map((r) => r.migration_id);
  }

  /** The active migration of a VM, if any. */
  async activeForVm(vmId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('migrations')
      .select('migration_id')
      .where('vm_id', '=', vmId)
      .where('active', '=', true)
      .executeTakeFirst();
    return row?.migration_id;
  }
}
