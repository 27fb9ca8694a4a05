import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import { eventStoreView, type AnyKysely } from './db.ts';
import { kyselyForCall, poolQuery } from './connection.ts';
import type { CallStatements } from './call-statements.ts';
import { TIMESTAMPTZ_AS_TEXT, toStoredEvent } from './rows.ts';
import type { StoredEvent } from './types.ts';
import type { PreparedAppend, PreparedDoc } from './validate.ts';

/** One row of an append's answer; conflicts and duplicates come back as rows too. */
export interface AppendRow {
  readonly o_outcome: 'ok' | 'duplicate' | 'conflict' | 'reordered';
  readonly o_version: string;
  readonly o_global_position: string;
  readonly o_transaction_id: string;
  readonly o_event_id: string;
  readonly o_stream_position: string;
  readonly o_type: string;
  readonly o_schema_version: number;
  readonly o_data: unknown;
  readonly o_metadata: Record<string, string> | null;
  readonly o_command_id: string | null;
  /** Postgres's text on the pool (TIMESTAMPTZ_AS_TEXT), pg's Date inside a transaction. */
  readonly o_occurred_at: Date | string;
}

/**
 * Appends `p` in one round trip. `pool` (outside transactions) lets the hot path run as a named
 * prepared statement, planned once per connection. The idempotent (command id) path goes through the
 * SQL function, which claims the id before the version check and releases it on a conflict.
 */
export async function appendRows(
  exec: AnyKysely,
  schema: string,
  p: PreparedAppend,
  pool: pg.Pool | undefined,
  statements?: CallStatements,
): Promise<AppendRow[]> {
  const run = async (name: string, text: string, values: unknown[]): Promise<AppendRow[]> =>
    pool === undefined
      ? (await exec.executeQuery<AppendRow>(CompiledQuery.raw(text, values))).rows
      : (await poolQuery<AppendRow>(pool, { name: `${name}_${schema}`, text, values, types: TIMESTAMPTZ_AS_TEXT }, statements)).rows;
  if (p.commandId !== null) {
    const text = `SELECT * FROM ${schema}.berth_append($1::text, $2::bigint, $3::jsonb, $4::text)`;
    return run('berth_append_command', text, [p.streamId, p.expected, p.eventsJson, p.commandId]);
  }
  const kind = p.expected === 0 ? 'new' : p.expected === -1 ? 'any' : 'exact';
  const rows = await run(`berth_append_${kind}`, statementText(schema, kind), [p.streamId, p.count, p.expected, p.eventsJson]);
  if (rows.length > 0) return rows;
  // Nothing written: the version moved, or (same version) a newer transaction appended first.
  const found = await eventStoreView(kyselyForCall(exec, statements))
    .withSchema(schema)
    .selectFrom('streams')
    .select('version')
    .where('stream_id', '=', p.streamId)
    .executeTakeFirst();
  const actual = found === undefined ? 0 : Number(found.version);
  const reordered = p.expected === -1 || (p.expected > 0 && actual === p.expected);
  return [{ o_outcome: reordered ? 'reordered' : 'conflict', o_version: String(actual) } as AppendRow];
}

/** A stored event from an append\'s answer row; `doc` (what the caller gave) stands for data and metadata when known. */
export function fromRow(streamId: string, r: AppendRow, doc?: PreparedDoc): StoredEvent {
  return toStoredEvent({
    global_position: r.o_global_position,
    transaction_id: r.o_transaction_id,
    event_id: r.o_event_id,
    stream_id: streamId,
    stream_position: r.o_stream_position,
    type: r.o_type,
    schema_version: r.o_schema_version,
    data: doc === undefined ? r.o_data : doc.data,
    metadata: doc === undefined ? r.o_metadata : doc.metadata,
    command_id: r.o_command_id,
    occurred_at: r.o_occurred_at,
  });
}

const texts = new Map<string, string>();

/**
 * $1 stream id, $2 event count, $3 expected version, $4 events JSON. The stream row moves only when
 * the events go in and vice versa; a stream last appended by a newer transaction is left alone.
 */
function statementText(schema: string, kind: 'new' | 'any' | 'exact'): string {
  const key = `${schema}/${kind}`;
  const cached = texts.get(key);
  if (cached !== undefined) return cached;
  const stream = {
    new: `INSERT INTO ${schema}.streams AS st (stream_id, version, last_transaction_id) SELECT $1, $2::bigint, pg_current_xact_id() WHERE $3::bigint = 0
      ON CONFLICT DO NOTHING RETURNING st.version - $2::bigint AS from_version`,
    any: `INSERT INTO ${schema}.streams AS st (stream_id, version, last_transaction_id) SELECT $1, $2::bigint, pg_current_xact_id() WHERE $3::bigint = -1
      ON CONFLICT (stream_id) DO UPDATE SET version = st.version + $2::bigint, last_transaction_id = pg_current_xact_id(), updated_at = now()
      WHERE st.last_transaction_id <= pg_current_xact_id()
      RETURNING st.version - $2::bigint AS from_version`,
    exact: `UPDATE ${schema}.streams AS st SET version = st.version + $2::bigint, last_transaction_id = pg_current_xact_id(), updated_at = now()
      WHERE st.stream_id = $1 AND st.version = $3::bigint AND st.last_transaction_id <= pg_current_xact_id()
      RETURNING st.version - $2::bigint AS from_version`,
  }[kind];
  const text = `
    WITH s AS (${stream}),
    ins AS (
      INSERT INTO ${schema}.events AS e (transaction_id, event_id, stream_id, stream_position, type, schema_version, data, metadata)
      SELECT pg_current_xact_id(), (d.doc->>'id')::uuid, $1, s.from_version + d.ord, d.doc->>'type',
        (d.doc->>'schemaVersion')::integer, d.doc->'data', d.doc->'metadata'
      FROM s, jsonb_array_elements($4::jsonb) WITH ORDINALITY AS d(doc, ord)
      RETURNING e.global_position, e.transaction_id, e.event_id, e.stream_position, e.type, e.schema_version, e.command_id, e.occurred_at)
    SELECT 'ok' AS o_outcome, (SELECT from_version FROM s) + $2::bigint AS o_version, ins.global_position AS o_global_position,
      ins.transaction_id AS o_transaction_id, ins.event_id AS o_event_id, ins.stream_position AS o_stream_position, ins.type AS o_type,
      ins.schema_version AS o_schema_version, NULL::jsonb AS o_data, NULL::jsonb AS o_metadata, ins.command_id AS o_command_id,
      ins.occurred_at AS o_occurred_at
    FROM ins ORDER BY ins.stream_position`;
  texts.set(key, text);
  return text;
}

/**
 * One round trip per append: idempotency claim, optimistic version check, batch insert. (No NOTIFY
 * here: a notifying commit takes a database-wide lock through its WAL flush, which serialises all
 * appends; the store notifies after commit instead, coalesced.)
 * p_expected: -1 any, 0 no stream, n exact. Conflicts and duplicates are answered as rows, not
 * raised, so a caller's transaction stays usable for a retry.
 */
export function appendFunction(schema: string): string {
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
