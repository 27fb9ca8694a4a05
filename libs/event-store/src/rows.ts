import pg from 'pg';
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
  /** Postgres's text of the timestamptz when read as `occurred_at::text` (see OCCURRED_AT_TEXT), else pg's Date. */
  readonly occurred_at: Date | string;
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
    occurredAt: typeof row.occurred_at === 'string' ? isoOfTimestamptz(row.occurred_at) : row.occurred_at.toISOString(),
    ...(row.command_id === null ? {} : { commandId: row.command_id }),
    metadata: row.metadata ?? {},
  };
}

/** `occurred_at` selected as Postgres's text (`2026-12-07 15:32:58.123456+00` in UTC): no Date made and printed per row. */
export const OCCURRED_AT_TEXT = (alias?: string): string => `${alias === undefined ? '' : `${alias}.`}occurred_at::text`;

/** pg's type parsers, but a timestamptz stays Postgres's text (for the append statements' `o_occurred_at`). */
const TIMESTAMPTZ: number = pg.types.builtins.TIMESTAMPTZ;
const keepText = (text: string): string => text;
export const TIMESTAMPTZ_AS_TEXT: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === TIMESTAMPTZ ? keepText : (pg.types.getTypeParser(oid, format ?? 'text') as unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

const UTC_TEXT = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d{1,6})?\+00$/;
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ) as (text: string) => Date;

/**
 * A timestamptz's text as `Date.prototype.toISOString` gives it after pg's own parse: the same
 * milliseconds, cut as pg's parser and Date cut them (`1000 * parseFloat(fraction)`, truncated), so
 * every read path gives an event the same `occurredAt`. Text in another zone or form goes through pg's parser.
 */
export function isoOfTimestamptz(text: string): string {
  const m = UTC_TEXT.exec(text);
  if (m === null) return parseTimestamptz(text).toISOString();
  const ms = m[3] === undefined ? 0 : Math.trunc(1000 * parseFloat(m[3]));
  return `${m[1]}T${m[2]}.${String(ms).padStart(3, '0')}Z`;
}
