import { SpanStatusCode, trace } from '@opentelemetry/api';
import { ConcurrencyError, millisLeft, ValidationError, type CallDeadline } from '@berth/errors';
import { sql, type CompiledQuery } from 'kysely';
import { forCall, withCall, type CallStatements } from './call-statements.ts';
import { EVENT_COLUMNS, OCCURRED_AT_TEXT, toStoredEvent } from './rows.ts';
import type pg from 'pg';
import { notifyChannel, schemaOf, type SchemaOptions } from './schema.ts';
import { kyselyForCall, poolOf, poolQuery } from './connection.ts';
import { appendBatchRows } from './append-batch.ts';
import { traceMetadata } from './trace.ts';
import { CommitNotifier } from './notifier.ts';
import { appendRows, fromRow } from './append-sql.ts';
import { EVENT_SELECTION, readAllEvents } from './global-read.ts';
import { RecentReads } from './recent-reads.ts';
import { assertStreamId, prepareAppend } from './validate.ts';
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
  /**
   * Runs `fn` as work of `call`: its statements are cancelled when the call ends (see openCall), and
   * a call that already ended fails at once. `fn` is handed the call's statements for the
   * connections it checks out from the pool.
   */
  protected abstract forCall<T>(
    call: CallDeadline | undefined,
    what: string,
    fn: (s: CallStatements | undefined) => Promise<T>,
  ): Promise<T>;

  /** A compiled query as a named statement on the pool for `s`'s call, or on `exec` (a transaction). */
  private async rowsOf<R>(name: string, q: CompiledQuery<R>, s: CallStatements | undefined): Promise<R[]> {
    if (this.pool === undefined) return (await this.exec.executeQuery(q)).rows;
    const config = { name: `${name}_${this.schema}`, text: q.sql, values: [...q.parameters] };
    return (await poolQuery<R & pg.QueryResultRow>(this.pool, config, s)).rows;
  }

  async readStream(streamId: string, call?: CallDeadline): Promise<ReadStreamResult> {
    assertStreamId(streamId);
    const q = this.tables
      .withSchema(this.schema)
      .selectFrom('events')
      .select(EVENT_SELECTION)
      .where('stream_id', '=', streamId)
      .orderBy('stream_position')
      .compile();
    const rows = await this.forCall(call, 'readStream', (s) => this.rowsOf('berth_read_stream', q, s));
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
        return await this.forCall(opts.call, 'append', (s) => this.appendNow(streamId, events, opts, s));
      } catch (e) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        throw e;
      } finally {
        span.end();
      }
    });
  }

  private async appendNow(
    streamId: string,
    events: readonly NewEvent[],
    opts: AppendOptions,
    s: CallStatements | undefined,
  ): Promise<AppendResult> {
    const p = prepareAppend(streamId, events, opts, traceMetadata, this.evolution.currentVersion);
    const rows = await appendRows(this.exec, this.schema, p, this.pool, s);
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
   * come back in item order. With a `call`, the statement is cancelled when the call ends (see openCall).
   */
  async appendBatch(items: readonly BatchItem[], call?: CallDeadline): Promise<BatchOutcome[]> {
    if (items.length === 0) return [];
    const attributes = { 'berth.batch.items': items.length };
    return trace.getTracer('@berth/event-store').startActiveSpan('event-store append batch', { attributes }, async (span) => {
      try {
        const outcomes = await this.forCall(call, 'append batch', (s) =>
          appendBatchRows(this.exec, this.schema, this.pool, items, this.evolution.currentVersion, s),
        );
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

  async commandResult(commandId: string, call?: CallDeadline): Promise<CommandResult | undefined> {
    if (typeof commandId !== 'string' || commandId.length === 0) {
      throw new ValidationError({ field: 'commandId', reason: 'must be a non-empty string' });
    }
    const q = this.tables
      .withSchema(this.schema)
      .selectFrom('command_results as c')
      .innerJoin('events as e', (j) => j.onRef('e.stream_id', '=', 'c.stream_id').onRef('e.command_id', '=', 'c.command_id'))
      .select([
        ...EVENT_COLUMNS.filter((c) => c !== 'occurred_at').map((c) => `e.${c}` as const),
        sql<string>`${sql.raw(OCCURRED_AT_TEXT('e'))}`.as('occurred_at'),
      ])
      .where('c.command_id', '=', commandId)
      .orderBy('c.recorded_at')
      .orderBy('e.stream_id')
      .orderBy('e.stream_position')
      .compile();
    const rows = await this.forCall(call, 'commandResult', (s) => this.rowsOf('berth_command_result', q, s));
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

/** The transaction's statements may run until the call's deadline (at least 1 ms: 0 would mean no limit). */
async function setStatementTimeout(trx: AnyTransaction, call: CallDeadline): Promise<void> {
  const left = Math.max(1, Math.ceil(millisLeft(call)));
  await sql`SELECT set_config('statement_timeout', ${String(left)}, true)`.execute(trx);
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
    /** The call the transaction was opened for (its connection's statements are that call's already). */
    readonly call?: CallDeadline,
  ) {
    super(trx, schema, evolution);
  }

  protected appended(): void {
    this.didAppend = true;
  }

  /** The transaction's connection is not checked out here: another call than its own reaches it through withCall. */
  protected forCall<T>(call: CallDeadline | undefined, what: string, fn: (s: CallStatements | undefined) => Promise<T>): Promise<T> {
    return call === undefined || call === this.call ? fn(undefined) : withCall(call, what, async () => fn(undefined));
  }
}

export class PostgresEventStore extends StreamAccess {
  /** NOTIFY channel signalled by every commit that appended. */
  readonly channel: string;
  /** The relay's recent global reads, which the store's projections take their batches from when they can. */
  readonly recentReads = new RecentReads();

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

  protected forCall<T>(call: CallDeadline | undefined, what: string, fn: (s: CallStatements | undefined) => Promise<T>): Promise<T> {
    return forCall(call, what, fn);
  }

  /**
   * Runs `fn` in one transaction: commits when it resolves, rolls back when it throws. With a `call`,
   * the transaction is the call's work: its statements may run until the call's deadline (`SET LOCAL
   * statement_timeout` to the milliseconds left), a statement running when the call ends is
   * cancelled, and none is sent after it (see openCall); any of these rolls the transaction back.
   */
  async transaction<T>(fn: (tx: EventStoreTx) => Promise<T>, call?: CallDeadline): Promise<T> {
    let tx: EventStoreTx | undefined;
    const result = await forCall(call, 'transaction', (s) =>
      kyselyForCall(this.db, s)
        .transaction()
        .execute(async (trx) => {
          if (call?.deadline !== undefined) await setStatementTimeout(trx, call);
          return fn((tx = new EventStoreTx(trx, this.schema, this.evolution, call)));
        }),
    );
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
