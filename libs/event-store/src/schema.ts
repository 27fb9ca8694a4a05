import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { ValidationError } from '@berth/errors';
import type { AnyKysely } from './db.ts';
import { appendBatchFunction } from './append-batch-sql.ts';
import { appendFunction } from './append-sql.ts';

export interface SchemaOptions {
  /** Postgres schema holding the store's tables; default `public`. */
  readonly schema?: string;
}

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function schemaOf(opts: SchemaOptions | undefined): string {
  const schema = opts?.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema))
    throw new ValidationError({ field: 'schema', reason: `must match ${SCHEMA_NAME.source} (lower-case identifier)` });
  return schema;
}

/** The channel the store NOTIFYs after commits that appended; LISTEN is per database, so the schema tells stores apart. */
export const notifyChannel = (schema: string): string => (schema === 'public' ? 'berth_events' : `berth_events_${schema}`);

/** Applies the store's versioned migrations (idempotent; safe to run from several processes). */
export async function migrateEventStore(db: AnyKysely, opts: SchemaOptions = {}): Promise<void> {
  const schema = schemaOf(opts);
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  const migrator = new Migrator({
    db,
    provider: eventStoreMigrations(schema),
    migrationTableSchema: schema,
    // Own names, so a service's own kysely migrations can share the schema.
    migrationTableName: 'event_store_migration',
    migrationLockTableName: 'event_store_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`event-store migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, {
      cause: error,
    });
  }
}

export function eventStoreMigrations(schema: string): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_streams_events_commands_checkpoints': {
      up: async (db) => up0001(db, schema),
      down: async (db) => {
        await sql.raw(`DROP FUNCTION IF EXISTS ${schema}.berth_append(text, bigint, jsonb, text)`).execute(db);
        await sql.raw(`DROP FUNCTION IF EXISTS ${schema}.berth_append_batch(jsonb)`).execute(db);
        for (const t of ['checkpoints', 'command_results', 'events', 'streams']) await db.schema.withSchema(schema).dropTable(t).execute();
      },
    },
    '0002_append_without_notify': {
      up: async (db) => {
        await sql.raw(appendFunction(schema)).execute(db);
      },
    },
    '0003_append_batch': {
      up: async (db) => {
        await sql.raw(appendBatchFunction(schema)).execute(db);
      },
    },
    '0004_append_batch_without_jit': {
      up: async (db) => {
        await sql.raw(appendBatchFunction(schema)).execute(db);
      },
    },
    '0005_events_data_lz4': {
      up: async (db) => {
        await sql.raw(lz4Compression(`${schema}.events`, 'data')).execute(db);
      },
    },
    '0006_append_batch_hot_streams_once': {
      up: async (db) => {
        await sql.raw(appendBatchFunction(schema)).execute(db);
      },
    },
  };
  return { getMigrations: async () => migrations };
}

/**
 * Compresses the column's large values (over ~2 kB: events with an explanation, read-model documents)
 * with lz4 instead of pglz, which cost Postgres several times the CPU per row written. A server built
 * without lz4 keeps pglz (SQLSTATE 0A000).
 */
export function lz4Compression(table: string, column: string): string {
  return `DO $$ BEGIN
  EXECUTE 'ALTER TABLE ${table} ALTER COLUMN ${column} SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN NULL;
END $$`;
}

async function up0001(db: AnyKysely, schema: string): Promise<void> {
  const s = db.schema.withSchema(schema);
  await s
    .createTable('streams')
    .addColumn('stream_id', 'text', (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull())
    // Transaction of the latest append: a stream's events must be in the global read order.
    .addColumn('last_transaction_id', sql`xid8`, (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await s
    .createTable('events')
    .addColumn('global_position', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('transaction_id', sql`xid8`, (c) => c.notNull().defaultTo(sql`pg_current_xact_id()`))
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('stream_id', 'text', (c) => c.notNull())
    .addColumn('stream_position', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('schema_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('command_id', 'text')
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('events_stream_position_key', ['stream_id', 'stream_position'])
    .execute();
  await s.createIndex('events_global_read_idx').on('events').columns(['transaction_id', 'global_position']).execute();
  await s
    .createTable('command_results')
    .addColumn('command_id', 'text', (c) => c.notNull())
    .addColumn('stream_id', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('command_results_pkey', ['command_id', 'stream_id'])
    .execute();
  await s
    .createTable('checkpoints')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('transaction_id', sql`xid8`, (c) => c.notNull())
    .addColumn('position', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql.raw(appendFunction(schema)).execute(db);
}
