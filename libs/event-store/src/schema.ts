import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { ValidationError } from '@berth/errors';
import type { AnyKysely } from './db.ts';
import { appendBatchFunction } from './append-batch-sql.ts';

export interface SchemaOptions {
  /** Postgres schema holding the store's tables; default `public`. */
  readonly schema?: string;
}

export interface CreateKyselyOptions extends SchemaOptions {
  /** Pool size; default 10. */
  readonly max?: number;
  readonly applicationName?: string;
  /** How long opening a connection may take; default 10 s. */
  readonly connectionTimeoutMillis?: number;
  /** How long a query may wait for its answer before it fails and its connection is dropped; default 20 s. */
  readonly queryTimeoutMillis?: number;
}

/**
 * The pool and connection settings behind a Kysely made by createKysely: LISTEN opens its own
 * session from them, and appends outside transactions use the pool's named (prepared) statements.
 */
const pools = new WeakMap<Kysely<unknown>, { pool: pg.Pool; listen: pg.ClientConfig }>();
export const listenConfigOf = (db: Kysely<unknown>): pg.ClientConfig | undefined => pools.get(db)?.listen;
export const poolOf = (db: Kysely<unknown>): pg.Pool | undefined => pools.get(db)?.pool;

// int8 (count, bigint) stays a string; the store converts stream versions to number itself.
export function createKysely(url: string, opts: CreateKyselyOptions = {}): AnyKysely {
  // jit off: the store's statements are short OLTP ones; a row estimate crossing jit_above_cost would
  // spend milliseconds compiling what runs in microseconds.
  const config: pg.PoolConfig = {
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'berth',
    options: '-c jit=off',
    // A connection attempt or a query that hears nothing (a black-holed or frozen server, a dead peer
    // behind a firewall) fails instead of holding a pool slot forever; the pool then opens a new one.
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 10_000,
    query_timeout: opts.queryTimeoutMillis ?? 20_000,
    keepAlive: true,
  };
  const pool = new pg.Pool(config);
  // An idle connection that dies (server restart, dropped database) is discarded by the pool; without
  // a listener its error would crash the process. Queries on live connections still fail normally.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => guardCheckedOut(client));
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, { pool, listen: { connectionString: url, application_name: `${config.application_name}-listen` } });
  return db;
}

/**
 * pg-pool listens for errors only on idle connections: a connection reset while a query runs makes
 * a checked-out client emit 'error' with no listener, which ends the process. The query itself
 * already fails with the error, and the dead client is no longer queryable, so the pool drops it
 * when it is released: the listener only has to exist. A query that timed out leaves its connection
 * waiting for an answer that may never come (Kysely releases without an error, so the pool would
 * hand it out again): the client is ended, which marks it ending at once (the pool drops an ending
 * client on release, which runs after this handler) and, with the timed-out query still active,
 * closes its socket instead of waiting for a goodbye.
 */
function guardCheckedOut(client: pg.PoolClient): void {
  client.on('error', () => undefined);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]): unknown => {
    const out = query(...args);
    if (out instanceof Promise)
      out.catch((e: unknown) => {
        if (e instanceof Error && e.message === 'Query read timeout') client.end().catch(() => undefined);
      });
    return out;
  };
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

/**
 * One round trip per append: idempotency claim, optimistic version check, batch insert. (No NOTIFY
 * here: a notifying commit takes a database-wide lock through its WAL flush, which serialises all
 * appends; the store notifies after commit instead, coalesced.)
 * p_expected: -1 any, 0 no stream, n exact. Conflicts and duplicates are answered as rows, not
 * raised, so a caller's transaction stays usable for a retry.
 */
function appendFunction(schema: string): string {
  const t = (name: string) => `${schema}.${name}`;
  return `
CREATE OR REPLACE FUNCTION ${t('berth_append')}(p_stream_id text, p_expected bigint, p_events jsonb, p_command_id text)
RETURNS TABLE (o_outcome text, o_version bigint, o_global_position bigint, o_transaction_id xid8, o_event_id uuid,
  o_stream_position bigint, o_type text, o_schema_version integer, o_data jsonb, o_metadata jsonb, o_command_id text,
  o_occurred_at timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count bigint := jsonb_array_length(p_events);
  v_txid xid8 := pg_current_xact_id();
  v_from bigint;
  v_actual bigint;
  v_last xid8;
BEGIN
  IF p_command_id IS NOT NULL THEN
    -- Waits for a concurrent holder of the same command; a committed one makes this a duplicate.
    INSERT INTO ${t('command_results')} AS c (command_id, stream_id) VALUES (p_command_id, p_stream_id) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'duplicate'::text, e.stream_position, e.global_position, e.transaction_id, e.event_id,
        e.stream_position, e.type, e.schema_version, e.data, e.metadata, e.command_id, e.occurred_at
        FROM ${t('events')} e WHERE e.stream_id = p_stream_id AND e.command_id = p_command_id ORDER BY e.stream_position;
      RETURN;
    END IF;
  END IF;
  IF p_expected = 0 THEN
    INSERT INTO ${t('streams')} AS s (stream_id, version, last_transaction_id) VALUES (p_stream_id, v_count, v_txid)
      ON CONFLICT DO NOTHING RETURNING s.version - v_count INTO v_from;
  ELSIF p_expected = -1 THEN
    INSERT INTO ${t('streams')} AS s (stream_id, version, last_transaction_id) VALUES (p_stream_id, v_count, v_txid)
      ON CONFLICT (stream_id) DO UPDATE SET version = s.version + v_count, last_transaction_id = v_txid, updated_at = now()
      WHERE s.last_transaction_id <= v_txid
      RETURNING s.version - v_count INTO v_from;
  ELSE
    UPDATE ${t('streams')} AS s SET version = s.version + v_count, last_transaction_id = v_txid, updated_at = now()
      WHERE s.stream_id = p_stream_id AND s.version = p_expected AND s.last_transaction_id <= v_txid
      RETURNING s.version - v_count INTO v_from;
  END IF;
  IF v_from IS NULL THEN
    IF p_command_id IS NOT NULL THEN
      DELETE FROM ${t('command_results')} c WHERE c.command_id = p_command_id AND c.stream_id = p_stream_id;
    END IF;
    SELECT s.version, s.last_transaction_id INTO v_actual, v_last FROM ${t('streams')} s WHERE s.stream_id = p_stream_id;
    RETURN QUERY SELECT CASE WHEN v_last > v_txid THEN 'reordered' ELSE 'conflict' END, coalesce(v_actual, 0),
      NULL::bigint, NULL::xid8, NULL::uuid, NULL::bigint, NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, NULL::text, NULL::timestamptz;
    RETURN;
  END IF;
  RETURN QUERY WITH ins AS (
    INSERT INTO ${t('events')} AS e (transaction_id, event_id, stream_id, stream_position, type, schema_version, data, metadata, command_id)
    SELECT v_txid, (x.doc->>'id')::uuid, p_stream_id, v_from + x.ord, x.doc->>'type', (x.doc->>'schemaVersion')::integer,
      x.doc->'data', x.doc->'metadata', p_command_id
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(doc, ord)
    RETURNING e.global_position, e.transaction_id, e.event_id, e.stream_position, e.type, e.schema_version, e.command_id, e.occurred_at)
  -- The caller already holds data and metadata; only what Postgres assigned travels back.
  SELECT 'ok'::text, v_from + v_count, ins.global_position, ins.transaction_id, ins.event_id, ins.stream_position, ins.type,
    ins.schema_version, NULL::jsonb, NULL::jsonb, ins.command_id, ins.occurred_at FROM ins ORDER BY ins.stream_position;
END
$fn$`;
}
