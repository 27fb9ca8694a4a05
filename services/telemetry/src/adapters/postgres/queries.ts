import { sql } from 'kysely';
import { decodeEvent, eventCatalog, telemetry } from '@berth/contracts';
import type { AnyKysely } from '@berth/event-store';
import type { DecisionRecorded } from '../../application/decisions.ts';
import type { RecordedDecision } from '../../application/replay.ts';

export interface RecordedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly type: string;
  readonly data: unknown;
  readonly occurredAt: Date;
}

interface Row {
  event_id: string;
  stream_id: string;
  stream_position: string;
  type: string;
  schema_version: number;
  data: unknown;
  occurred_at: Date;
}

const row = (r: Omit<Row, 'stream_position' | 'schema_version'>): RecordedEvent => ({
  id: r.event_id,
  streamId: r.stream_id,
  type: r.type,
  data: r.data,
  occurredAt: r.occurred_at,
});

/** A decision as the catalog reads it: older schema versions upcast (in the catalog, the one place), then checked. */
function decision(r: Row): RecordedDecision {
  const d = decodeEvent(eventCatalog, telemetry.TELEMETRY_SERVICE, r.type, r.schema_version, r.data);
  if (!d.ok) throw new Error(`decision ${r.event_id}: ${d.reason}`);
  return { id: r.event_id, data: d.data as DecisionRecorded };
}

/** Reads of the telemetry log the application needs besides streams (by id, by type). */
export class LogQueries {
  constructor(private readonly db: AnyKysely) {}

  /**
   * A decision and the decisions before it on its host's stream back to the last keyframe (its
   * input's `depth` of them), oldest first, at the current schema version.
   */
  async decisionChain(eventId: string): Promise<RecordedDecision[] | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(eventId)) return undefined;
    const r = await sql<Row>`
      SELECT event_id, stream_id, stream_position, type, schema_version, data, occurred_at FROM events
      WHERE event_id = ${eventId}::uuid AND type = 'DecisionRecorded'`.execute(this.db);
    const last = r.rows[0];
    if (!last) return undefined;
    const d = decision(last);
    if (d.data.input.depth === 0) return [d];
    const before = await sql<Row>`
      SELECT event_id, stream_id, stream_position, type, schema_version, data, occurred_at FROM events
      WHERE stream_id = ${last.stream_id} AND type = 'DecisionRecorded' AND stream_position < ${last.stream_position}
      ORDER BY stream_position DESC LIMIT ${d.data.input.depth}`.execute(this.db);
    return [...before.rows.reverse().map(decision), d];
  }

  /** The host's latest decisions, newest first, at the current schema version. */
  async decisions(hostId: string, limit: number): Promise<RecordedEvent[]> {
    const r = await sql<Row>`
      SELECT event_id, stream_id, stream_position, type, schema_version, data, occurred_at FROM events
      WHERE stream_id = ${`host-${hostId}`} AND type = 'DecisionRecorded' ORDER BY stream_position DESC LIMIT ${limit}`.execute(this.db);
    return r.rows.map((x) => ({ ...row(x), data: decision(x).data }));
  }

  /** Events of the given types in log order (start-up: policy sets, pressure power-offs). */
  async ofTypes(types: readonly string[]): Promise<RecordedEvent[]> {
    const r = await sql<Row>`
      SELECT event_id, stream_id, type, data, occurred_at FROM events WHERE type = ANY(${[...types]}) ORDER BY global_position`.execute(
      this.db,
    );
    return r.rows.map(row);
  }
}
