import { sql, type SelectExpression } from 'kysely';
import { ValidationError, type FieldViolation } from '@berth/errors';
import { eventStoreView, type AnyKysely, type EventStoreTables } from './db.ts';
import { EVENT_COLUMNS, OCCURRED_AT_TEXT, storedFields, toStoredEvent, type EventRow } from './rows.ts';
import type { GlobalPosition, ReadAllOptions, StoredEvent } from './types.ts';

/** The global read over any executor (a projection reads inside its own transaction). */
export async function readAllEvents(exec: AnyKysely, schema: string, opts: ReadAllOptions): Promise<StoredEvent[]> {
  const rows = await globalRead(exec, schema, opts, EVENT_SELECTION);
  return (rows as EventRow[]).map(toStoredEvent);
}

/**
 * A stored event with its data left as JSON text: `data::text`, the canonical text of the jsonb
 * value (one JSON value; keys in jsonb's order and `": "`/`", "` spacing). JSON.parse(dataJson)
 * is what StoredEvent.data holds for the same event.
 */
export type RawStoredEvent = Omit<StoredEvent, 'data'> & { readonly dataJson: string };

/** A raw event with its data parsed: what the global read with `data` as jsonb gives for it. */
export const parsedEvent = (e: RawStoredEvent): StoredEvent => ({
  id: e.id,
  type: e.type,
  schemaVersion: e.schemaVersion,
  streamId: e.streamId,
  streamPosition: e.streamPosition,
  globalPosition: e.globalPosition,
  transactionId: e.transactionId,
  occurredAt: e.occurredAt,
  ...(e.commandId === undefined ? {} : { commandId: e.commandId }),
  ...(e.project === undefined ? {} : { project: e.project }),
  metadata: e.metadata,
  data: JSON.parse(e.dataJson) as unknown,
});

type Selection = readonly SelectExpression<EventStoreTables, 'events'>[];
/** The event columns, `occurred_at` as Postgres's text (rows.ts: isoOfTimestamptz). */
export const EVENT_SELECTION: Selection = [
  ...EVENT_COLUMNS.filter((c) => c !== 'occurred_at'),
  sql<string>`${sql.raw(OCCURRED_AT_TEXT())}`.as('occurred_at'),
];
const RAW_COLUMNS: Selection = [
  ...EVENT_COLUMNS.filter((c) => c !== 'data' && c !== 'occurred_at'),
  sql<string>`${sql.raw(OCCURRED_AT_TEXT())}`.as('occurred_at'),
  sql<string>`data::text`.as('data'),
];

/**
 * The global read with each event's data as the text Postgres holds (the relay's read): pg parses
 * no jsonb for it and a publisher can put it into a message body as it is.
 */
export async function readAllRawEvents(exec: AnyKysely, schema: string, opts: ReadAllOptions): Promise<RawStoredEvent[]> {
  const rows = (await globalRead(exec, schema, opts, RAW_COLUMNS)) as (Omit<EventRow, 'data'> & { readonly data: string })[];
  return rows.map((row) => ({ ...storedFields(row), dataJson: row.data }));
}

async function globalRead(exec: AnyKysely, schema: string, opts: ReadAllOptions, columns: Selection): Promise<unknown[]> {
  const problems = readAllProblems(opts);
  if (problems.length > 0) throw new ValidationError(problems);
  let q = eventStoreView(exec)
    .withSchema(schema)
    .selectFrom('events')
    .select(columns)
    .where(sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`);
  if (opts.after !== null) {
    q = q.where(sql<boolean>`(transaction_id, global_position) > (${opts.after.transactionId}::xid8, ${opts.after.position}::bigint)`);
  }
  return q.orderBy('transaction_id').orderBy('global_position').limit(opts.limit).execute();
}

/**
 * True when events after `after` are committed but still above the global-read horizon: an older
 * transaction (anywhere in the cluster — xids are cluster-wide) is still open. Tailing loops then
 * look again shortly instead of sleeping until the next poll, since no NOTIFY will come for them.
 */
export async function heldBackAfter(exec: AnyKysely, schema: string, after: GlobalPosition | null): Promise<boolean> {
  return (await heldBackQuery(exec, schema, after).execute()).length > 0;
}

/** heldBackAfter's query (exported for the test that checks its plan). */
export function heldBackQuery(exec: AnyKysely, schema: string, after: GlobalPosition | null) {
  let q = eventStoreView(exec)
    .withSchema(schema)
    .selectFrom('events')
    .select(sql<number>`1`.as('one'))
    .where(sql<boolean>`transaction_id >= pg_snapshot_xmin(pg_current_snapshot())`);
  if (after !== null) {
    q = q.where(sql<boolean>`(transaction_id, global_position) > (${after.transactionId}::xid8, ${after.position}::bigint)`);
  }
  // Ordered as the index is: without it the planner takes a sequential scan (the rows it looks for
  // are the newest, at the table's end), which read the whole table on every idle loop step.
  return q.orderBy('transaction_id').orderBy('global_position').limit(1);
}

const DECIMAL = /^\d{1,20}$/;

export function readAllProblems(opts: ReadAllOptions | undefined): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (!Number.isSafeInteger(opts?.limit) || (opts?.limit ?? 0) < 1 || (opts?.limit ?? 0) > 100_000) {
    v.push({ field: 'limit', reason: 'must be an integer from 1 to 100000' });
  }
  const after: GlobalPosition | null | undefined = opts?.after;
  if (after === undefined) v.push({ field: 'after', reason: 'is required (null to start from the beginning)' });
  else if (after !== null) {
    if (typeof after.transactionId !== 'string' || !DECIMAL.test(after.transactionId)) {
      v.push({ field: 'after.transactionId', reason: 'must be a decimal string' });
    }
    if (typeof after.position !== 'string' || !DECIMAL.test(after.position))
      v.push({ field: 'after.position', reason: 'must be a decimal string' });
  }
  return v;
}
