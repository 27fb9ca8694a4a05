import type { StoredEvent } from './types.ts';

/** A row of `events` as the pg driver returns it (int8 and xid8 as strings). */
export interface EventRow {
  readonly global_position: string;
  readonly transaction_id: string;
  readonly event_id: string;
  readonly stream_id: string;
  readonly stream_position: string;
  readonly type: string;
  readonly schema_version: number;
  readonly data: unknown;
  readonly metadata: Record<string, string> | null;
  readonly command_id: string | null;
  readonly occurred_at: Date;
}

export const EVENT_COLUMNS = [
  'global_position',
  'transaction_id',
  'event_id',
  'stream_id',
  'stream_position',
  'type',
  'schema_version',
  'data',
  'metadata',
  'command_id',
  'occurred_at',
] as const;

export const toStoredEvent = (row: EventRow): StoredEvent => ({ ...storedFields(row), data: row.data });

/** A row's fields as a StoredEvent holds them, all but `data` (the relay's raw read keeps that as text). */
export function storedFields(row: Omit<EventRow, 'data'>): Omit<StoredEvent, 'data'> {
  return {
    id: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    streamPosition: Number(row.stream_position),
    globalPosition: String(row.global_position),
    transactionId: String(row.transaction_id),
    occurredAt: row.occurred_at.toISOString(),
    ...(row.command_id === null ? {} : { commandId: row.command_id }),
    metadata: row.metadata ?? {},
  };
}
