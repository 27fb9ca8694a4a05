import { sql } from 'kysely';
import type { AnyKysely } from '@berth/event-store';

export interface RecordedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly type: string;
  readonly data: unknown;
  readonly occurredAt: Date;
}

const row = (r: { event_id: string; stream_id: string; type: string; data: unknown; occurred_at: Date }): RecordedEvent => ({
  id: r.event_id,
  streamId: r.stream_id,
  type: r.type,
  data: r.data,
  occurredAt: r.occurred_at,
});

/** Reads of the telemetry log the application needs besides streams (by id, by type). */
export class LogQueries {
  constructor(private readonly db: AnyKysely) {}

  async byId(eventId: string): Promise<RecordedEvent | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(eventId)) return undefined;
    const r = await sql<{ event_id: string; stream_id: string; type: string; data: unknown; occurred_at: Date }>`
      SELECT event_id, stream_id, type, data, occurred_at FROM events WHERE event_id = ${eventId}::uuid`.execute(this.db);
    return r.rows[0] ? row(r.rows[0]) : undefined;
  }

  async decisions(hostId: string, limit: number): Promise<RecordedEvent[]> {
    const r = await sql<{ event_id: string; stream_id: string; type: string; data: unknown; occurred_at: Date }>`
      SELECT event_id, stream_id, type, data, occurred_at FROM events
      WHERE stream_id = ${`host-${hostId}`} AND type = 'DecisionRecorded' ORDER BY stream_position DESC LIMIT ${limit}`.execute(this.db);
    return r.rows.map(row);
  }

  /** Events of the given types in log order (start-up: policy sets, pressure power-offs). */
  async ofTypes(types: readonly string[]): Promise<RecordedEvent[]> {
    const r = await sql<{ event_id: string; stream_id: string; type: string; data: unknown; occurred_at: Date }>`
      SELECT event_id, stream_id, type, data, occurred_at FROM events WHERE type = ANY(${[...types]}) ORDER BY global_position`.execute(
      this.db,
    );
    return r.rows.map(row);
  }
}
