import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { ConcurrencyError, ValidationError } from '@berth/errors';
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from './rows.ts';
import type pg from 'pg';
import { notifyChannel, poolOf, schemaOf, type SchemaOptions } from './schema.ts';
import { CommitNotifier } from './notifier.ts';
import { appendRows, type AppendRow } from './append-sql.ts';
import { readAllEvents } from './global-read.ts';
import { assertStreamId, prepareAppend } from './validate.ts';
import type { AnyKysely, AnyTransaction } from './db.ts';
import type {
  AppendOptions,
  AppendResult,
  CommandResult,
  EventStreams,
  NewEvent,
  ReadAllOptions,
  ReadStreamResult,
  StoredEvent,
} from './types.ts';


interface PreparedDoc {
  readonly data: unknown;
  readonly metadata: Record<string, string>;
}

/** The W3C context of the appending code travels in the event's metadata for the relay to re-inject. */
function traceMetadata(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Stream reads and appends over a Kysely instance or an open transaction. */
abstract class StreamAccess implements EventStreams {
  constructor(
    protected readonly exec: AnyKysely,
    readonly schema: string,
  ) {}

  /** Called after each successful, non-duplicate append. */
  protected abstract appended(): void;
  /** Pool for prepared statements outside transactions; undefined inside one. */
  protected abstract readonly pool: pg.Pool | undefined;

  async readStream(streamId: string): Promise<ReadStreamResult> {
    assertStreamId(streamId);
    const rows = await this.exec
      .withSchema(this.schema)
      .selectFrom('events')
      .select(EVENT_COLUMNS)
      .where('stream_id', '=', streamId)
      .orderBy('stream_position')
      .execute();
    const events = (rows as EventRow[]).map(toStoredEvent);
    return { version: events.at(-1)?.streamPosition ?? 0, events };
  }

  /**
   * Runs inside an `event-store append` span, so the traceparent recorded with the events (and the
   * relay's publish span after it) hangs under the append in the trace.
   */
  async append(streamId: string, events: readonly NewEvent[], opts: AppendOptions): Promise<AppendResult> {
    const attributes = { 'berth.stream.id': streamId, 'berth.events.count': events.length };
    return trace.getTracer('@berth/event-store').startActiveSpan('event-store append', { attributes }, async (span) => {
      try {
        return await this.appendNow(streamId, events, opts);
      } catch (e) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        throw e;
      } finally {
        span.end();
      }
    });
  }

  private async appendNow(streamId: string, events: readonly NewEvent[], opts: AppendOptions): Promise<AppendResult> {
    const p = prepareAppend(streamId, events, opts, traceMetadata);
    const rows = await appendRows(this.exec, this.schema, p, this.pool);
    const first = rows[0];
    if (first === undefined) throw new Error(`append to ${streamId}: the append function answered nothing`);
    switch (first.o_outcome) {
      case 'conflict':
        throw new ConcurrencyError(streamId, opts.expectedVersion, Number(first.o_version));
      case 'reordered': {
        const e = new ConcurrencyError(streamId, opts.expectedVersion, Number(first.o_version));
        e.message += ' (a newer transaction appended to it first; retry in a new transaction)';
        throw e;
      }
      case 'duplicate':
        return { streamId, nextExpectedVersion: Number(rows.at(-1)!.o_stream_position), events: rows.map((r) => fromRow(streamId, r)), duplicate: true };
      case 'ok': {
        this.appended();
        const docs = JSON.parse(p.eventsJson) as PreparedDoc[];
        return {
          streamId,
          nextExpectedVersion: Number(first.o_version),
          events: rows.map((r, i) => fromRow(streamId, r, docs[i])),
          duplicate: false,
        };
      }
      default: {
        const never: never = first.o_outcome;
        throw new Error(`append to ${streamId}: unknown outcome ${String(never)}`);
      }
    }
  }

  async commandResult(commandId: string): Promise<CommandResult | undefined> {
    if (typeof commandId !== 'string' || commandId.length === 0) {
      throw new ValidationError({ field: 'commandId', reason: 'must be a non-empty string' });
    }
    const rows = (await this.exec
      .withSchema(this.schema)
      .selectFrom('command_results as c')
      .innerJoin('events as e', (j) => j.onRef('e.stream_id', '=', 'c.stream_id').onRef('e.command_id', '=', 'c.command_id'))
      .select(EVENT_COLUMNS.map((c) => `e.${c}` as const))
      .where('c.command_id', '=', commandId)
      .orderBy('c.recorded_at')
      .orderBy('e.stream_id')
      .orderBy('e.stream_position')
      .execute()) as EventRow[];
    if (rows.length === 0) return undefined;
    const byStream = new Map<string, StoredEvent[]>();
    for (const r of rows) {
      const list = byStream.get(r.stream_id) ?? [];
      list.push(toStoredEvent(r));
      byStream.set(r.stream_id, list);
    }
    const appends = [...byStream].map(([streamId, events]) => ({
      streamId,
      nextExpectedVersion: events.at(-1)!.streamPosition,
      events,
      duplicate: true,
    }));
    return { commandId, appends };
  }
}

function fromRow(streamId: string, r: AppendRow, doc?: PreparedDoc): StoredEvent {
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

/** Reads and appends inside one Postgres transaction; all its appends commit or roll back together. */
export class EventStoreTx extends StreamAccess {
  /** Whether this transaction appended anything (the store notifies after its commit). */
  didAppend = false;
  protected readonly pool = undefined;
  constructor(
    readonly trx: AnyTransaction,
    schema: string,
  ) {
    super(trx, schema);
  }

  protected appended(): void {
    this.didAppend = true;
  }
}

export class PostgresEventStore extends StreamAccess {
  /** NOTIFY channel signalled by every commit that appended. */
  readonly channel: string;

  private readonly notifier: CommitNotifier;
  protected readonly pool: pg.Pool | undefined;

  constructor(
    readonly db: AnyKysely,
    opts: SchemaOptions = {},
  ) {
    super(db, schemaOf(opts));
    this.channel = notifyChannel(this.schema);
    this.notifier = new CommitNotifier(db, this.channel);
    this.pool = poolOf(db);
  }

  protected appended(): void {
    this.notifier.poke();
  }

  /** Runs `fn` in one transaction: commits when it resolves, rolls back when it throws. */
  async transaction<T>(fn: (tx: EventStoreTx) => Promise<T>): Promise<T> {
    let tx: EventStoreTx | undefined;
    const result = await this.db.transaction().execute(async (trx) => fn((tx = new EventStoreTx(trx, this.schema))));
    if (tx?.didAppend === true) this.notifier.poke();
    return result;
  }

  /**
   * Events after `after` in (transaction id, position) order, only from transactions older than
   * every transaction still running: those can no longer commit below this point, so nothing is skipped.
   */
  async readAll(opts: ReadAllOptions): Promise<StoredEvent[]> {
    return readAllEvents(this.db, this.schema, opts);
  }
}
