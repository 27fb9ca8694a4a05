import { Migrator, sql, type ColumnType, type Kysely, type Migration } from 'kysely';

/**
 * The executor's read model, next to its event log in berth_executor:
 *   executor_vms   — one row per VM: status, host and pending operation (a projection of the log),
 *                    so a restarted executor finds unfinished work and reconciliation knows each host's VMs;
 *   executor_hosts — host id -> hypervisor URI, from inventory's host events.
 * The log stays the truth: workers re-read a VM's stream before acting on a row.
 */
// A type alias, not an interface: `withTables` wants an index-compatible record.
export type ExecutorTables = {
  executor_vms: {
    vm_id: string;
    status: string;
    host_id: string;
    hypervisor_uri: string;
    attempt: number;
    pending: string | null;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  executor_hosts: {
    host_id: string;
    hypervisor_uri: string;
    removed: boolean;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
};
export type ExecutorDb = Kysely<ExecutorTables>;

const migrations: Record<string, Migration> = {
  '001_read_model': {
    async up(db) {
      await db.schema
        .createTable('executor_vms')
        .addColumn('vm_id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('hypervisor_uri', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('pending', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('executor_vms_host').on('executor_vms').columns(['host_id', 'status']).execute();
      await db.schema
        .createTable('executor_hosts')
        .addColumn('host_id', 'text', (c) => c.primaryKey())
        .addColumn('hypervisor_uri', 'text', (c) => c.notNull())
        .addColumn('removed', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

export async function migrateReadModel(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'executor_migration',
    migrationLockTableName: 'executor_migration_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined)
    throw new Error(`executor read-model migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
}

/** The store's Kysely knows none of our tables (it shares the database); `withTables` adds the read model's. */
export const asExecutorDb = (db: Kysely<unknown>): ExecutorDb => db.withTables<ExecutorTables>();
