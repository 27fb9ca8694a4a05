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
  v_app jsonb;
  v_n integer;
  v_j integer;
  v_k integer;
  v_cmd text;
  v_claimed text[];
  v_stream text;
  v_expected bigint;
  v_count bigint;
  v_failed integer;
  v_actual bigint;
  v_last xid8;
  v_ok integer[] := '{}';
  -- Streams that more than one item appends to: each is locked by its first append, moved here in
  -- memory by the items that follow, and its row written once at the end.
  v_hot text[];
  v_h integer;
  v_hot_version bigint[];
  v_hot_row bigint[];
BEGIN
  SELECT coalesce(array_agg(h.s), '{}') INTO v_hot FROM (
    SELECT a->>'s' AS s FROM jsonb_array_elements(p_items) AS it(item) CROSS JOIN LATERAL jsonb_array_elements(it.item->'a') AS a
    GROUP BY 1 HAVING count(*) > 1) h;
  -- Per hot stream: the version the batch has taken it to, and the version its row holds (both NULL
  -- until locked).
  v_hot_version := array_fill(NULL::bigint, ARRAY[cardinality(v_hot)]);
  v_hot_row := v_hot_version;
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
      v_app := v_apps->v_j;
      v_stream := v_app->>'s';
      v_expected := (v_app->>'v')::bigint;
      v_count := jsonb_array_length(v_app->'e');
      v_h := array_position(v_hot, v_stream);
      IF v_h IS NULL OR (v_hot_version[v_h] IS NULL AND v_expected = 0) THEN
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
        IF v_h IS NOT NULL THEN
          -- A hot stream this item creates: its row is ours, at the version just written.
          v_hot_version[v_h] := v_count;
          v_hot_row[v_h] := v_count;
        END IF;
        CONTINUE;
      END IF;
      IF v_hot_version[v_h] IS NULL THEN
        SELECT s.version, s.last_transaction_id INTO v_actual, v_last FROM ${t('streams')} s WHERE s.stream_id = v_stream FOR NO KEY UPDATE;
        -- No row, or one a newer transaction appended to (which the UPDATE above would not move):
        -- this append conflicts, and the stream's next append reads its row again.
        IF NOT FOUND OR v_last > v_txid THEN
          v_failed := v_j;
          EXIT;
        END IF;
        v_hot_version[v_h] := v_actual;
        v_hot_row[v_h] := v_actual;
      END IF;
      IF v_expected = 0 OR v_hot_version[v_h] <> v_expected THEN
        v_failed := v_j;
        EXIT;
      END IF;
      v_hot_version[v_h] := v_expected + v_count;
    END LOOP;
    IF v_failed IS NULL THEN
      v_ok := v_ok || v_i;
      CONTINUE;
    END IF;
    -- Undo this item's earlier stream moves (rows this transaction wrote; nobody else sees them yet).
    FOR v_k IN 0 .. v_failed - 1 LOOP
      v_app := v_apps->v_k;
      v_h := array_position(v_hot, v_app->>'s');
      IF (v_app->>'v')::bigint = 0 THEN
        DELETE FROM ${t('streams')} s WHERE s.stream_id = v_app->>'s';
        IF v_h IS NOT NULL THEN
          v_hot_version[v_h] := NULL;
          v_hot_row[v_h] := NULL;
        END IF;
      ELSIF v_h IS NOT NULL THEN
        v_hot_version[v_h] := (v_app->>'v')::bigint;
      ELSE
        UPDATE ${t('streams')} s SET version = s.version - jsonb_array_length(v_app->'e') WHERE s.stream_id = v_app->>'s';
      END IF;
    END LOOP;
    IF v_cmd IS NOT NULL THEN
      DELETE FROM ${t('command_results')} c WHERE c.command_id = v_cmd AND c.stream_id = ANY(v_claimed);
    END IF;
    v_h := array_position(v_hot, v_stream);
    IF v_h IS NOT NULL AND v_hot_version[v_h] IS NOT NULL THEN
      v_actual := v_hot_version[v_h];
    ELSE
      v_actual := coalesce((SELECT s.version FROM ${t('streams')} s WHERE s.stream_id = v_stream), 0);
    END IF;
    RETURN QUERY SELECT 'conflict'::text, v_i, v_stream, v_actual,
      NULL::bigint, NULL::xid8, NULL::uuid, NULL::bigint, NULL::text, NULL::integer, NULL::jsonb, NULL::jsonb, v_cmd, NULL::timestamptz;
  END LOOP;
  -- The hot streams' rows, each once: at the version the batch's accepted items took it to.
  IF cardinality(v_hot) > 0 THEN
    UPDATE ${t('streams')} s SET version = h.version, last_transaction_id = v_txid, updated_at = now()
      FROM unnest(v_hot, v_hot_version, v_hot_row) AS h(stream_id, version, row_version)
      WHERE s.stream_id = h.stream_id AND h.version <> h.row_version;
  END IF;
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
