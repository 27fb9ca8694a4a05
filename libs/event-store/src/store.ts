import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { ConcurrencyError, ValidationError } from '@berth/errors';
import { CompiledQuery } from 'kysely';
import { EVENT_COLUMNS, toStoredEvent } from './rows.ts';
import type pg from 'pg';
import { notifyChannel, poolOf, schemaOf, type SchemaOptions } from './schema.ts';
import { CommitNotifier } from './notifier.ts';
import { appendRows, type AppendRow } from './append-sql.ts';
import { readAllEvents } from './global-read.ts';
import { assertStreamId, prepareAppend, type PreparedDoc } from './validate.ts';
import { eventStoreView, type AnyKysely, type AnyTransaction, type EventStoreDb } from './db.ts';
import type {
  AppendOptions,
  AppendResult,
  BatchItem,
  BatchOutcome,
  CommandResult,
  EventEvolution,
  EventStreams,
  NewEvent,
  ReadAllOptions,
  ReadStreamResult,
  StoredEvent,
} from './types.ts';
import { NO_EVOLUTION } from './types.ts';

/** The W3C context of the appending code travels in the event's metadata for the relay to re-inject. */
export function traceMetadata(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Stream reads and appends over a Kysely instance or an open transaction. */
abstract class StreamAccess implements EventStreams {
  /** The store's own tables on `exec`. */
  private readonly tables: EventStoreDb;

  constructor(
    protected readonly exec: AnyKysely,
    readonly schema: string,
    /** Versions written and upcasting on every read (see EventEvolution). */
    readonly evolution: EventEvolution,
  ) {
    this.tables = eventStoreView(exec);
  }

  /** Called after each successful, non-duplicate append. */
  protected abstract appended(): void;
  /** Pool for prepared statements outside transactions; undefined inside one. */
  protected abstract readonly pool: pg.Pool | undefined;

  async readStream(streamId: string): Promise<ReadStreamResult> {
    assertStreamId(streamId);
    const rows = await this.tables
      .withSchema(this.schema)
      .selectFrom('events')
      .select(EVENT_COLUMNS)
      .where('stream_id', '=', streamId)
      .orderBy('stream_position')
      .execute();
    const events = rows.map((r) => this.evolution.upcast(toStoredEvent(r)));
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
    const p = prepareAppend(streamId, events, opts, traceMetadata, this.evolution.currentVersion);
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
        return {
          streamId,
          nextExpectedVersion: Number(rows.at(-1)!.o_stream_position),
          events: rows.map((r) => fromRow(streamId, r)),
          duplicate: true,
        };
      case 'ok': {
        this.appended();
        return {
          streamId,
          nextExpectedVersion: Number(first.o_version),
          events: rows.map((r, i) => fromRow(streamId, r, p.docs[i])),
          duplicate: false,
        };
      }
      default: {
        const never: never = first.o_outcome;
        throw new Error(`append to ${streamId}: unknown outcome ${String(never)}`);
      }
    }
  }

  /**
   * Appends many independent commands in one statement: each item's appends commit together or not at
   * all, items are applied in order (a later item may expect the version an earlier one produced), and
   * an item that conflicts or repeats a recorded command id leaves the others unaffected. Outcomes
   * come back in item order.
   */
  async appendBatch(items: readonly BatchItem[]): Promise<BatchOutcome[]> {
    if (items.length === 0) return [];
    const attributes = { 'berth.batch.items': items.length };
    return trace.getTracer('@berth/event-store').startActiveSpan('event-store append batch', { attributes }, async (span) => {
      try {
        const outcomes = await this.appendBatchNow(items);
        if (outcomes.some((o) => o.outcome === 'ok')) this.appended();
        return outcomes;
      } catch (e) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        throw e;
      } finally {
        span.end();
      }
    });
  }

  private async appendBatchNow(items: readonly BatchItem[]): Promise<BatchOutcome[]> {
    const prepared = prepareBatch(items, traceMetadata, this.evolution.currentVersion);
    const text = `SELECT * FROM ${this.schema}.berth_append_batch($1::jsonb)`;
    const rows =
      this.pool === undefined
        ? (await this.exec.executeQuery<BatchRow>(CompiledQuery.raw(text, [prepared.json]))).rows
        : (await this.pool.query<BatchRow>({ name: `berth_append_batch_${this.schema}`, text, values: [prepared.json] })).rows;
    const outcomes: (BatchOutcome | undefined)[] = items.map(() => undefined);
    const written = new Map<string, BatchRow>();
    const duplicates = new Map<number, BatchRow[]>();
    for (const r of rows) {
      if (r.o_outcome === 'ok') {
        written.set(`${r.o_stream_id}\u0000${r.o_stream_position}`, r);
      } else if (r.o_outcome === 'conflict') {
        outcomes[r.o_item! - 1] = { outcome: 'conflict', streamId: r.o_stream_id!, actualVersion: Number(r.o_version) };
      } else {
        const list = duplicates.get(r.o_item!) ?? [];
        if (r.o_stream_id !== null) list.push(r);
        duplicates.set(r.o_item!, list);
      }
    }
    for (const [item, list] of duplicates) {
      const byStream = new Map<string, StoredEvent[]>();
      for (const r of list) byStream.set(r.o_stream_id!, [...(byStream.get(r.o_stream_id!) ?? []), fromRow(r.o_stream_id!, r)]);
      outcomes[item - 1] = {
        outcome: 'duplicate',
        appends: [...byStream].map(([streamId, events]) => ({
          streamId,
          nextExpectedVersion: events.at(-1)!.streamPosition,
          events,
          duplicate: true,
        })),
      };
    }
    return items.map((item, i) => {
      const decided = outcomes[i];
      if (decided !== undefined) return decided;
      const appends = item.appends.map((a, j): AppendResult => {
        const events = a.events.map((_, k) => {
          const r = written.get(`${a.streamId}\u0000${a.expectedVersion + k + 1}`);
          if (r === undefined) throw new Error(`append batch: no row for ${a.streamId}@${a.expectedVersion + k + 1}`);
          return fromRow(a.streamId, r, prepared.docs[i]![j]![k]);
        });
        return { streamId: a.streamId, nextExpectedVersion: a.expectedVersion + a.events.length, events, duplicate: false };
      });
      return { outcome: 'ok', appends };
    });
  }

  async commandResult(commandId: string): Promise<CommandResult | undefined> {
    if (typeof commandId !== 'string' || commandId.length === 0) {
      throw new ValidationError({ field: 'commandId', reason: 'must be a non-empty string' });
    }
    const rows = await this.tables
      .withSchema(this.schema)
      .selectFrom('command_results as c')
      .innerJoin('events as e', (j) => j.onRef('e.stream_id', '=', 'c.stream_id').onRef('e.command_id', '=', 'c.command_id'))
      .select(EVENT_COLUMNS.map((c) => `e.${c}` as const))
      .where('c.command_id', '=', commandId)
      .orderBy('c.recorded_at')
      .orderBy('e.stream_id')
      .orderBy('e.stream_position')
      .execute();
    if (rows.length === 0) return undefined;
    const byStream = new Map<string, StoredEvent[]>();
    for (const r of rows) {
      const list = byStream.get(r.stream_id) ?? [];
      list.push(this.evolution.upcast(toStoredEvent(r)));
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

interface BatchRow extends Omit<AppendRow, 'o_outcome'> {
  readonly o_outcome: 'ok' | 'duplicate' | 'conflict';
  readonly o_item: number | null;
  readonly o_stream_id: string | null;
}

/** The batch as the SQL function's JSON, validated like single appends, and each event's data and metadata per item and append. */
function prepareBatch(
  items: readonly BatchItem[],
  metadataFor: () => Record<string, string>,
  versionOf: (type: string) => number,
): { json: string; docs: PreparedDoc[][][] } {
  const docs: PreparedDoc[][][] = [];
  const parts = items.map((item, i) => {
    if (item.appends.length === 0) throw new ValidationError({ field: `items[${i}].appends`, reason: 'must not be empty' });
    const streams = new Set<string>();
    const itemDocs: PreparedDoc[][] = [];
    docs.push(itemDocs);
    const appends = item.appends.map((a, j) => {
      if (typeof a.expectedVersion !== 'number')
        throw new ValidationError({
          field: `items[${i}].appends[${j}].expectedVersion`,
          reason: 'must be an exact version (0: no stream)',
        });
      if (streams.has(a.streamId))
        throw new ValidationError({ field: `items[${i}].appends[${j}].streamId`, reason: 'appears twice in one item' });
      streams.add(a.streamId);
      const p = prepareAppend(
        a.streamId,
        a.events,
        { expectedVersion: a.expectedVersion, ...(item.commandId === undefined ? {} : { commandId: item.commandId }) },
        metadataFor,
        versionOf,
      );
      itemDocs.push(p.docs);
      return `{"s":${JSON.stringify(p.streamId)},"v":${p.expected},"e":${p.eventsJson}}`;
    });
    return `{"c":${item.commandId === undefined ? 'null' : JSON.stringify(item.commandId)},"a":[${appends.join(',')}]}`;
  });
  return { json: `[${parts.join(',')}]`, docs };
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
    evolution: EventEvolution = NO_EVOLUTION,
  ) {
    super(trx, schema, evolution);
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
    opts: SchemaOptions & { readonly evolution?: EventEvolution } = {},
  ) {
    super(db, schemaOf(opts), opts.evolution ?? NO_EVOLUTION);
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
    const result = await this.db.transaction().execute(async (trx) => fn((tx = new EventStoreTx(trx, this.schema, this.evolution))));
    if (tx?.didAppend === true) this.notifier.poke();
    return result;
  }

  /**
   * Events after `after` in (transaction id, position) order, only from transactions older than
   * every transaction still running: those can no longer commit below this point, so nothing is skipped.
   */
  async readAll(opts: ReadAllOptions): Promise<StoredEvent[]> {
    return (await readAllEvents(this.db, this.schema, opts)).map(this.evolution.upcast);
  }
}
