/**
 * `berth_append_batch`: many commands' appends in one statement (one round trip, one commit), each
 * command atomic on its own. Items are applied in order; an item whose expected version no longer
 * holds (or whose command id is already recorded) changes nothing and is answered as a row, so the
 * other items still commit. Expected versions are exact (0 = the stream must not exist).
 *
 * Item JSON: {"c": commandId | null, "a": [{"s": streamId, "v": expectedVersion, "e": [event docs]}]}.
 * Answer rows: ('conflict', item, stream, actual version) per refused item, ('duplicate', item, the
 * first time's events) per repeated command, and ('ok', events assigned positions) for the rest.
 *
 * The row locks an item takes (stream rows) are held until the statement commits; two concurrent
 * batch statements locking the same streams in opposite orders deadlock, and Postgres aborts one
 * (SQLSTATE 40P01), which the caller retries whole.
 */
export function appendBatchFunction(schema: string): string {
  const t = (name: string) => `${schema}.${name}`;
  return `
CREATE OR REPLACE FUNCTION ${t('berth_append_batch')}(p_items jsonb)
RETURNS TABLE (o_outcome text, o_item integer, o_stream_id text, o_version bigint, o_global_position bigint, o_transaction_id xid8,
  o_event_id uuid, o_stream_position bigint, o_type text, o_schema_version integer, o_data jsonb, o_metadata jsonb, o_command_id text,
  o_occurred_at timestamptz)
LANGUAGE plpgsql
-- jsonb_array_elements is estimated at 100 rows per call, so three nested ones look like a million
-- rows and would cross jit_above_cost: compiling the final insert took ~14 ms a call.
SET jit = off
AS $fn$
DECLARE
  v_txid xid8 := pg_current_xact_id();
  v_item jsonb;
  v_i integer := 0;
  v_apps jsonb;
  v_n integer;
  v_j integer;
  v_k integer;
  v_cmd text;
  v_claimed text[];
  v_stream text;
  v_expected bigint;
  v_count bigint;
  v_failed integer;
  v_ok integer[] := '{}';
BEGIN
  FOR v_item IN SELECT x FROM jsonb_array_elements(p_items) AS x LOOP
    v_i := v_i + 1;
    v_apps := v_item->'a';
    v_n := jsonb_array_length(v_apps);
    v_cmd := v_item->>'c';
    IF v_cmd IS NOT NULL THEN
      -- Waits for a concurrent holder of the same command; a committed one makes this a duplicate.
      WITH ins AS (
        INSERT INTO ${t('command_results')} (command_id, stream_id) SELECT v_cmd, a->>'s' FROM jsonb_array_elements(v_apps) AS a
        ON CONFLICT DO NOTHING RETURNING stream_id)
      SELECT coalesce(array_agg(stream_id), '{}') INTO v_claimed FROM ins;
      IF cardinality(v_claimed) < v_n THEN
        DELETE FROM ${t('command_results')} c WHERE c.command_id = v_cmd AND c.stream_id = ANY(v_claimed);
        RETURN QUERY SELECT 'duplicate'::text, v_i, e.stream_id, e.stream_position, e.global_position, e.transaction_id, e.event_id,
          e.stream_position, e.type, e.schema_version, e.data, e.metadata, e.command_id, e.occurred_at
          FROM ${t('events')} e WHERE e.command_id = v_cmd AND e.stream_id IN (SELECT a->>'s' FROM jsonb_array_elements(v_apps) AS a)
          ORDER BY e.global_position;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 'duplicate'::text, v_i, NULL::text, NULL::bigint, NULL::bigint, NULL::xid8, NULL::uuid, NULL::bigint,
            NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, v_cmd, NULL::timestamptz;
        END IF;
        CONTINUE;
      END IF;
    END IF;
    v_failed := NULL;
    FOR v_j IN 0 .. v_n - 1 LOOP
      v_stream := v_apps->v_j->>'s';
      v_expected := (v_apps->v_j->>'v')::bigint;
      v_count := jsonb_array_length(v_apps->v_j->'e');
      IF v_expected = 0 THEN
        INSERT INTO ${t('streams')} (stream_id, version, last_transaction_id) VALUES (v_stream, v_count, v_txid) ON CONFLICT DO NOTHING;
      ELSE
        UPDATE ${t('streams')} s SET version = s.version + v_count, last_transaction_id = v_txid, updated_at = now()
          WHERE s.stream_id = v_stream AND s.version = v_expected AND s.last_transaction_id <= v_txid;
      END IF;
      IF NOT FOUND THEN
        v_failed := v_j;
        EXIT;
      END IF;
    END LOOP;
    IF v_failed IS NULL THEN
      v_ok := v_ok || v_i;
      CONTINUE;
    END IF;
    -- Undo this item's earlier stream moves (rows this transaction wrote; nobody else sees them yet).
    FOR v_k IN 0 .. v_failed - 1 LOOP
      IF (v_apps->v_k->>'v')::bigint = 0 THEN
        DELETE FROM ${t('streams')} s WHERE s.stream_id = v_apps->v_k->>'s';
      ELSE
        UPDATE ${t('streams')} s SET version = s.version - jsonb_array_length(v_apps->v_k->'e') WHERE s.stream_id = v_apps->v_k->>'s';
      END IF;
    END LOOP;
    IF v_cmd IS NOT NULL THEN
      DELETE FROM ${t('command_results')} c WHERE c.command_id = v_cmd AND c.stream_id = ANY(v_claimed);
    END IF;
    RETURN QUERY SELECT 'conflict'::text, v_i, v_stream, coalesce((SELECT s.version FROM ${t('streams')} s WHERE s.stream_id = v_stream), 0),
      NULL::bigint, NULL::xid8, NULL::uuid, NULL::bigint, NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, v_cmd, NULL::timestamptz;
  END LOOP;
  -- Every accepted item's events in one insert, in item order (their global positions follow it).
  RETURN QUERY WITH src AS (
    SELECT it.i, a.j, e.ord, a.app->>'s' AS stream_id, (a.app->>'v')::bigint AS expected, e.doc, it.item->>'c' AS cmd
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS it(item, i)
    CROSS JOIN LATERAL jsonb_array_elements(it.item->'a') WITH ORDINALITY AS a(app, j)
    CROSS JOIN LATERAL jsonb_array_elements(a.app->'e') WITH ORDINALITY AS e(doc, ord)
    WHERE it.i = ANY(v_ok)),
  ins AS (
    INSERT INTO ${t('events')} AS e (transaction_id, event_id, stream_id, stream_position, type, schema_version, data, metadata, command_id)
    SELECT v_txid, (src.doc->>'id')::uuid, src.stream_id, src.expected + src.ord, src.doc->>'type', (src.doc->>'schemaVersion')::integer,
      src.doc->'data', src.doc->'metadata', src.cmd
    FROM src ORDER BY src.i, src.j, src.ord
    RETURNING e.global_position, e.transaction_id, e.event_id, e.stream_id, e.stream_position, e.type, e.schema_version, e.command_id, e.occurred_at)
  -- The caller already holds data and metadata; only what Postgres assigned travels back.
  SELECT 'ok'::text, NULL::integer, ins.stream_id, NULL::bigint, ins.global_position, ins.transaction_id, ins.event_id, ins.stream_position,
    ins.type, ins.schema_version, NULL::jsonb, NULL::jsonb, ins.command_id, ins.occurred_at FROM ins;
END
$fn$`;
}
