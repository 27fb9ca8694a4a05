/**
 * Reads a service's Postgres event log directly, for end-to-end checks "from the log" (tests only:
 * services never read each other's tables).
 */
import pg from 'pg';

export interface LoggedEvent {
  /** The event id (the relay's Nats-Msg-Id). */
  readonly eventId: string;
  readonly streamId: string;
  readonly streamPosition: number;
  readonly globalPosition: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** The schema of the service's events table (its own schema when it has one, else public). */
async function eventsSchema(c: pg.Client, databaseUrl: string): Promise<string> {
  const found = await c.query<{ table_schema: string }>(
    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' ORDER BY table_schema = 'public' LIMIT 1",
  );
  const schema = found.rows[0]?.table_schema;
  if (schema === undefined) throw new Error(`no events table in ${databaseUrl}`);
  return schema;
}

export async function readEventLog(databaseUrl: string): Promise<LoggedEvent[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const schema = await eventsSchema(c, databaseUrl);
    const r = await c.query<{
      event_id: string;
      stream_id: string;
      stream_position: string;
      global_position: string;
      type: string;
      data: Record<string, unknown>;
    }>(
      `SELECT event_id, stream_id, stream_position, global_position, type, data FROM "${schema}".events ORDER BY stream_id, stream_position`,
    );
    return r.rows.map((row) => ({
      eventId: row.event_id,
      streamId: row.stream_id,
      streamPosition: Number(row.stream_position),
      globalPosition: Number(row.global_position),
      type: row.type,
      data: row.data,
    }));
  } finally {
    await c.end();
  }
}

/** Only the event ids of a service's log (a log whose events carry large data, e.g. telemetry's decisions). */
export async function readEventIds(databaseUrl: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const schema = await eventsSchema(c, databaseUrl);
    return (await c.query<{ event_id: string }>(`SELECT event_id FROM "${schema}".events`)).rows.map((r) => r.event_id);
  } finally {
    await c.end();
  }
}

/** Events grouped by stream, each in stream order. */
export function byStream(events: readonly LoggedEvent[]): Map<string, LoggedEvent[]> {
  const m = new Map<string, LoggedEvent[]>();
  for (const e of events) {
    const list = m.get(e.streamId) ?? [];
    list.push(e);
    m.set(e.streamId, list);
  }
  for (const list of m.values()) list.sort((a, b) => a.streamPosition - b.streamPosition);
  return m;
}
