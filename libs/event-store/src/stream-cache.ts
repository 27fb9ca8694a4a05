import { ValidationError } from '@berth/errors';
import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import type { AnyAggregate, Folded } from './aggregate.ts';
import type { AnyKysely } from './db.ts';
import { EVENT_COLUMNS, OCCURRED_AT_TEXT, toStoredEvent, type EventRow } from './rows.ts';
import { poolOf, poolQuery } from './connection.ts';
import type { CallStatements } from './call-statements.ts';
import type { PostgresEventStore } from './store.ts';
import type { StoredEvent } from './types.ts';

/**
 * A batcher's folded streams: each stream folded by the aggregate with the longest matching prefix,
 * kept in memory up to `maxCached` streams (least recently used dropped first), and brought up to
 * date from the log in one query for many streams.
 */
export class StreamCache {
  private readonly cache = new Map<string, Folded>();
  private readonly aggregates: readonly AnyAggregate[];
  /** Stream loads from the log (for tests and benchmarks). */
  loads = 0;

  constructor(
    private readonly store: PostgresEventStore,
    aggregates: readonly AnyAggregate[],
    private readonly maxCached: number,
  ) {
    this.aggregates = [...aggregates].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** True when some aggregate folds `streamId`. */
  folds(streamId: string): boolean {
    return this.aggregates.some((g) => streamId.startsWith(g.prefix));
  }

  aggregateOf(streamId: string): AnyAggregate {
    const a = this.aggregates.find((g) => streamId.startsWith(g.prefix));
    if (a === undefined) throw new ValidationError({ field: 'streamId', reason: `no aggregate folds '${streamId}'` });
    return a;
  }

  /** The cached fold, without counting as a use. */
  get(streamId: string): Folded | undefined {
    return this.cache.get(streamId);
  }

  /** The cached fold, or the empty stream when not cached. */
  getOrEmpty(streamId: string): Folded {
    return this.cache.get(streamId) ?? this.aggregateOf(streamId).empty();
  }

  /** The cached fold, counted as a use (moves it to the most recently used end). */
  touch(streamId: string): Folded | undefined {
    const f = this.cache.get(streamId);
    if (f !== undefined) {
      this.cache.delete(streamId);
      this.cache.set(streamId, f);
    }
    return f;
  }

  private remember(streamId: string, f: Folded): void {
    this.cache.delete(streamId);
    this.cache.set(streamId, f);
    while (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
  }

  /**
   * Brings the given streams up to date in one query: uncached ones read whole, `refresh` ones (all,
   * when `true`) after their cached version. With `statements`, the query is that call's (see openCall).
   */
  async load(streamIds: readonly string[], refresh: boolean | ReadonlySet<string>, statements?: CallStatements): Promise<void> {
    const ids: string[] = [];
    const from: number[] = [];
    for (const id of new Set(streamIds)) {
      const cached = this.cache.get(id);
      if (cached !== undefined && !(refresh === true || (refresh !== false && refresh.has(id)))) continue;
      ids.push(id);
      from.push(cached?.version ?? 0);
    }
    if (ids.length === 0) return;
    this.loads += 1;
    const e = EVENT_COLUMNS.map((c) => (c === 'occurred_at' ? `${OCCURRED_AT_TEXT('e')} AS occurred_at` : `e.${c}`)).join(', ');
    const { schema } = this.store;
    const text = `SELECT ${e} FROM unnest($1::text[], $2::bigint[]) AS q(stream_id, after)
      JOIN ${schema}.events e ON e.stream_id = q.stream_id AND e.stream_position > q.after ORDER BY e.stream_id, e.stream_position`;
    const rows = await namedQuery<EventRow>(this.store.db, `berth_batch_load_${schema}`, text, [ids, from], statements);
    const byStream = new Map<string, StoredEvent[]>(ids.map((id) => [id, []]));
    for (const r of rows) byStream.get(r.stream_id)?.push(this.store.evolution.upcast(toStoredEvent(r)));
    for (const [id, events] of byStream) this.fold(id, events);
  }

  /**
   * A commit's stored events of one stream, with the state the same events were folded to tentatively
   * before the statement: that state is kept (restamped by its aggregate, see Aggregate.adoptTentative)
   * when the cache stands just before the events, so they are not folded a second time; otherwise, or
   * when the aggregate does not say how, they are folded as `fold` does.
   */
  settle(streamId: string, events: readonly StoredEvent[], tentative: Folded | undefined): void {
    const first = events[0];
    // The tentative fold ends where the stored events end, and the cache stands where they begin.
    const adoptable =
      tentative !== undefined &&
      first !== undefined &&
      tentative.version === events.at(-1)?.streamPosition &&
      (this.cache.get(streamId)?.version ?? 0) === first.streamPosition - 1;
    const adopted = adoptable ? this.aggregateOf(streamId).adopt(tentative, events) : undefined;
    if (adopted !== undefined) this.remember(streamId, adopted);
    else this.fold(streamId, events);
  }

  /** Applies events after the cached version (in order, without gaps) to the cached state; a gap drops the stream. */
  fold(streamId: string, events: readonly StoredEvent[]): void {
    const aggregate = this.aggregateOf(streamId);
    let f = this.cache.get(streamId) ?? aggregate.empty();
    for (const e of events) {
      if (e.streamPosition <= f.version) continue;
      if (e.streamPosition !== f.version + 1) {
        this.cache.delete(streamId);
        return;
      }
      f = aggregate.next(f, e);
    }
    this.remember(streamId, f);
  }
}

/** A named (prepared once per connection) statement on the store's pool; plain otherwise. */
async function namedQuery<R>(db: AnyKysely, name: string, text: string, values: unknown[], statements?: CallStatements): Promise<R[]> {
  const pool = poolOf(db);
  return pool === undefined
    ? (await db.executeQuery<R>(CompiledQuery.raw(text, values))).rows
    : (await poolQuery<R & pg.QueryResultRow>(pool, { name, text, values }, statements)).rows;
}
