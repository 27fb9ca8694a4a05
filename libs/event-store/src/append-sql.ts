import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import { eventStoreView, type AnyKysely } from './db.ts';
import type { PreparedAppend } from './validate.ts';

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
  readonly o_occurred_at: Date;
}

/**
 * Appends `p` in one round trip. `pool` (outside transactions) lets the hot path run as a named
 * prepared statement, planned once per connection. The idempotent (command id) path goes through the
 * SQL function, which claims the id before the version check and releases it on a conflict.
 */
export async function appendRows(exec: AnyKysely, schema: string, p: PreparedAppend, pool: pg.Pool | undefined): Promise<AppendRow[]> {
  const run = async (name: string, text: string, values: unknown[]): Promise<AppendRow[]> =>
    pool === undefined
      ? (await exec.executeQuery<AppendRow>(CompiledQuery.raw(text, values))).rows
      : (await pool.query<AppendRow>({ name: `${name}_${schema}`, text, values })).rows;
  if (p.commandId !== null) {
    const text = `SELECT * FROM ${schema}.berth_append($1::text, $2::bigint, $3::jsonb, $4::text)`;
    return run('berth_append_command', text, [p.streamId, p.expected, p.eventsJson, p.commandId]);
  }
  const kind = p.expected === 0 ? 'new' : p.expected === -1 ? 'any' : 'exact';
  const rows = await run(`berth_append_${kind}`, statementText(schema, kind), [p.streamId, p.count, p.expected, p.eventsJson]);
  if (rows.length > 0) return rows;
  // Nothing written: the version moved, or (same version) a newer transaction appended first.
  const found = await eventStoreView(exec)
    .withSchema(schema)
    .selectFrom('streams')
    .select('version')
    .where('stream_id', '=', p.streamId)
    .executeTakeFirst();
  const actual = found === undefined ? 0 : Number(found.version);
  const reordered = p.expected === -1 || (p.expected > 0 && actual === p.expected);
  return [{ o_outcome: reordered ? 'reordered' : 'conflict', o_version: String(actual) } as AppendRow];
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
