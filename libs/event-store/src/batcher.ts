import { randomUUID } from 'node:crypto';
import { ConcurrencyError, ValidationError } from '@berth/errors';
import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import type { AnyKysely } from './db.ts';
import { poolOf } from './schema.ts';
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from './rows.ts';
import { traceMetadata, type PostgresEventStore } from './store.ts';
import type { BatchItem, NewEvent, StoredEvent } from './types.ts';
import { streamIdProblems } from './validate.ts';

/** How the streams whose id starts with `prefix` fold into state. */
export interface Aggregate<S> {
  readonly prefix: string;
  readonly initial: () => S;
  readonly evolve: (state: S, event: StoredEvent) => S;
}

/** A stream folded up to `version` (0: the stream does not exist). */
export interface Folded<S = unknown> {
  readonly state: S;
  readonly version: number;
}

export interface BatchCommand {
  /** The streams the command reads and may append to; their appends commit together. */
  readonly streamIds: readonly string[];
  /** Idempotency key: a command already recorded appends nothing and is answered as a duplicate. */
  readonly commandId?: string;
  /**
   * Streams the command expects not to exist yet (a create with a fresh id): when not cached they are
   * decided on as empty without reading the log; if one exists after all, the append conflicts and the
   * command is decided again on what the log holds.
   */
  readonly newStreams?: readonly string[];
  /**
   * Pure: the events to append to each stream (parallel to `streamIds`; empty for none) given each
   * stream's state; throws to refuse the command. May run more than once (after a conflict).
   */
  decide(states: readonly Folded[]): readonly (readonly NewEvent[])[];
}

export interface BatchCommandResult {
  /** Each stream's state after the command (parallel to `streamIds`). */
  readonly states: readonly Folded[];
  /** What the command appended to each stream (the first time's events when `duplicate`). */
  readonly events: readonly (readonly StoredEvent[])[];
  readonly duplicate: boolean;
}

export interface CommandBatcherOptions {
  /** Made with `aggregate(...)`; the longest matching prefix folds a stream. */
  readonly aggregates: readonly AnyAggregate[];
  /** Commands per statement (default 256). */
  readonly maxBatch?: number;
  /** Folded streams kept in memory, least recently used dropped first (default 100,000). */
  readonly maxCachedStreams?: number;
  /** Re-decisions after version conflicts before a command fails with ConcurrencyError (default 5). */
  readonly maxRetries?: number;
}

interface Pending {
  readonly command: BatchCommand;
  /** W3C context of the code that submitted the command, recorded with its events (not the batch's). */
  readonly trace: Readonly<Record<string, string>>;
  readonly resolve: (r: BatchCommandResult) => void;
  readonly reject: (e: unknown) => void;
  attempts: number;
  /** Re-read its streams before deciding (after a conflict or a refusal on cached state). */
  refresh: boolean;
}

/** An aggregate with its state type erased, for the batcher's registry. */
export type AnyAggregate = Aggregate<unknown>;

/** Registers a typed aggregate with a batcher (states come back as `Folded<unknown>`; narrow them at the call site). */
export const aggregate = <S>(a: Aggregate<S>): AnyAggregate => a as unknown as AnyAggregate;

/** Postgres errors after which the whole statement is simply run again. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);

/**
 * Group commit over cached aggregates. Commands queue while a statement is in flight; each batch
 * folds its streams from memory (reading from the log only what is not cached, in one query),
 * decides every command in order against the states left by the ones before it, and appends all of
 * them with one `appendBatch` statement, each command atomic on its own. The expected versions make
 * the cache safe when other processes write the same streams: a stale state ends in a conflict,
 * after which the command's streams are re-read and it is decided again. A command refused on
 * cached state is also decided once more on re-read state before its refusal is final.
 */
export class CommandBatcher {
  private readonly cache = new Map<string, Folded>();
  private readonly queue: Pending[] = [];
  private running = false;
  private readonly maxBatch: number;
  private readonly maxCached: number;
  private readonly maxRetries: number;
  private readonly aggregates: readonly AnyAggregate[];
  /** Statements run and commands they carried, stream loads (for tests and benchmarks). */
  readonly stats = { batches: 0, commands: 0, loads: 0 };

  constructor(
    readonly store: PostgresEventStore,
    opts: CommandBatcherOptions,
  ) {
    this.aggregates = [...opts.aggregates].sort((a, b) => b.prefix.length - a.prefix.length);
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxCached = opts.maxCachedStreams ?? 100_000;
    this.maxRetries = opts.maxRetries ?? 5;
  }

  /** Runs one command in the next batch; resolves once it committed (or was a duplicate). */
  execute(command: BatchCommand): Promise<BatchCommandResult> {
    const problems = command.streamIds.flatMap((id, i) => streamIdProblems(id, `streamIds[${i}]`));
    if (command.streamIds.length === 0) problems.push({ field: 'streamIds', reason: 'must not be empty' });
    if (new Set(command.streamIds).size !== command.streamIds.length)
      problems.push({ field: 'streamIds', reason: 'must not repeat a stream' });
    command.streamIds.forEach((id, i) => {
      if (!this.aggregates.some((g) => id.startsWith(g.prefix)))
        problems.push({ field: `streamIds[${i}]`, reason: `no aggregate folds '${id}'` });
    });
    if (problems.length > 0) return Promise.reject(new ValidationError(problems));
    const trace = traceMetadata();
    return new Promise((resolve, reject) => {
      this.queue.push({ command, trace, resolve, reject, attempts: 0, refresh: false });
      this.kick();
    });
  }

  /** The stream folded as this process last saw it (read from the log when not cached). */
  async read<S>(streamId: string): Promise<Folded<S>> {
    const cached = this.touch(streamId);
    if (cached !== undefined) return cached as Folded<S>;
    await this.load([streamId], false);
    return (this.cache.get(streamId) ?? { state: this.aggregateOf(streamId).initial(), version: 0 }) as Folded<S>;
  }

  /** The stream folded from the log now (other processes' appends included). */
  async readFresh<S>(streamId: string): Promise<Folded<S>> {
    await this.load([streamId], true);
    return this.cache.get(streamId) as Folded<S>;
  }

  private aggregateOf(streamId: string): AnyAggregate {
    const a = this.aggregates.find((g) => streamId.startsWith(g.prefix));
    if (a === undefined) throw new ValidationError({ field: 'streamId', reason: `no aggregate folds '${streamId}'` });
    return a;
  }

  private touch(streamId: string): Folded | undefined {
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
   * when `true`) after their cached version.
   */
  private async load(streamIds: readonly string[], refresh: boolean | ReadonlySet<string>): Promise<void> {
    const ids: string[] = [];
    const from: number[] = [];
    for (const id of new Set(streamIds)) {
      const cached = this.cache.get(id);
      if (cached !== undefined && !(refresh === true || (refresh !== false && refresh.has(id)))) continue;
      ids.push(id);
      from.push(cached?.version ?? 0);
    }
    if (ids.length === 0) return;
    this.stats.loads += 1;
    const e = EVENT_COLUMNS.map((c) => `e.${c}`).join(', ');
    const text = `SELECT ${e} FROM unnest($1::text[], $2::bigint[]) AS q(stream_id, after)
      JOIN ${this.store.schema}.events e ON e.stream_id = q.stream_id AND e.stream_position > q.after ORDER BY e.stream_id, e.stream_position`;
    const rows = await namedQuery<EventRow>(this.store.db, `berth_batch_load_${this.store.schema}`, text, [ids, from]);
    const byStream = new Map<string, StoredEvent[]>(ids.map((id) => [id, []]));
    for (const r of rows) byStream.get(r.stream_id)?.push(this.store.evolution.upcast(toStoredEvent(r)));
    for (const [id, events] of byStream) this.fold(id, events);
  }

  /** Applies events after the cached version (in order, without gaps) to the cached state. */
  private fold(streamId: string, events: readonly StoredEvent[]): void {
    const aggregate = this.aggregateOf(streamId);
    let f = this.cache.get(streamId) ?? { state: aggregate.initial(), version: 0 };
    for (const e of events) {
      if (e.streamPosition <= f.version) continue;
      if (e.streamPosition !== f.version + 1) {
        this.cache.delete(streamId);
        return;
      }
      f = { state: aggregate.evolve(f.state, e), version: e.streamPosition };
    }
    this.remember(streamId, f);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Let commands submitted in the same tick join the first batch.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch: Pending[] = [];
        const commandIds = new Set<string>();
        const deferred: Pending[] = [];
        while (this.queue.length > 0 && batch.length < this.maxBatch) {
          const p = this.queue.shift()!;
          // A command id twice in one statement would answer the second as a duplicate without events.
          const id = p.command.commandId;
          if (id !== undefined && commandIds.has(id)) deferred.push(p);
          else {
            if (id !== undefined) commandIds.add(id);
            batch.push(p);
          }
        }
        this.queue.unshift(...deferred);
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.kick();
    }
  }

  private async runBatch(batch: readonly Pending[]): Promise<void> {
    try {
      const refresh = new Set(batch.filter((p) => p.refresh).flatMap((p) => p.command.streamIds));
      // A stream a command creates is taken as empty, unless a re-decision after a conflict asks for the log.
      const assumedNew = new Set(batch.filter((p) => !p.refresh).flatMap((p) => p.command.newStreams ?? []));
      await this.load(
        batch.flatMap((p) => p.command.streamIds).filter((id) => refresh.has(id) || !assumedNew.has(id)),
        refresh,
      );
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    const overlay = new Map<string, Folded>();
    const stateOf = (id: string): Folded => overlay.get(id) ?? this.cache.get(id) ?? { state: this.aggregateOf(id).initial(), version: 0 };
    const items: BatchItem[] = [];
    const itemOwners: Pending[] = [];
    const afters: Folded[][] = [];
    for (const p of batch) {
      const { streamIds } = p.command;
      const states = streamIds.map(stateOf);
      let decided: readonly (readonly NewEvent[])[];
      try {
        decided = p.command.decide(states);
      } catch (e) {
        this.refused(p, e);
        continue;
      }
      if (decided.every((events) => events.length === 0)) {
        p.resolve({ states, events: streamIds.map(() => []), duplicate: false });
        continue;
      }
      const after = [...states];
      const appends = streamIds.flatMap((streamId, i) => {
        const events = (decided[i] ?? []).map((e) => ({ ...e, id: e.id ?? randomUUID(), metadata: { ...p.trace, ...e.metadata } }));
        if (events.length === 0) return [];
        // Later commands in this batch decide on the state this one leaves (tentatively).
        const aggregate = this.aggregateOf(streamId);
        let f = states[i]!;
        for (const e of events) f = { state: aggregate.evolve(f.state, tentative(streamId, f.version + 1, e)), version: f.version + 1 };
        overlay.set(streamId, f);
        after[i] = f;
        return [{ streamId, expectedVersion: states[i]!.version, events }];
      });
      items.push({ ...(p.command.commandId === undefined ? {} : { commandId: p.command.commandId }), appends });
      itemOwners.push(p);
      afters.push(after);
    }
    if (items.length === 0) return;
    let outcomes;
    this.stats.batches += 1;
    this.stats.commands += items.length;
    try {
      outcomes = await this.store.appendBatch(items);
    } catch (e) {
      const code = (e as { code?: string }).code;
      for (const p of itemOwners) {
        if (code !== undefined && RETRYABLE_SQLSTATES.has(code) && p.attempts < this.maxRetries) this.retry(p);
        else p.reject(e);
      }
      return;
    }
    outcomes.forEach((o, k) => {
      const p = itemOwners[k]!;
      const { streamIds } = p.command;
      switch (o.outcome) {
        case 'ok': {
          for (const a of o.appends) this.fold(a.streamId, a.events);
          const events = streamIds.map((id) => o.appends.find((a) => a.streamId === id)?.events ?? []);
          // The cached fold of the stored events when nothing moved past them, else the tentative one.
          const states = afters[k]!.map((f, i) => {
            const cached = this.cache.get(streamIds[i]!);
            return cached?.version === f.version ? cached : f;
          });
          p.resolve({ states, events, duplicate: false });
          return;
        }
        case 'duplicate':
          void this.settleDuplicate(
            p,
            o.appends.map((a) => [a.streamId, a.events] as const),
          );
          return;
        case 'conflict':
          if (p.attempts >= this.maxRetries)
            p.reject(
              new ConcurrencyError(
                o.streamId,
                items[k]!.appends.find((a) => a.streamId === o.streamId)?.expectedVersion ?? 'any',
                o.actualVersion,
              ),
            );
          else this.retry(p);
          return;
      }
    });
  }

  private retry(p: Pending): void {
    p.attempts += 1;
    p.refresh = true;
    this.queue.push(p);
  }

  /** A refusal on cached state is decided again on re-read state; a final one is answered from the log when the command was recorded before. */
  private refused(p: Pending, error: unknown): void {
    if (!p.refresh) {
      p.refresh = true;
      this.queue.push(p);
      return;
    }
    const commandId = p.command.commandId;
    if (commandId === undefined) {
      p.reject(error);
      return;
    }
    void this.store.commandResult(commandId).then(
      (prior) =>
        prior === undefined
          ? p.reject(error)
          : this.settleDuplicate(
              p,
              prior.appends.map((a) => [a.streamId, a.events] as const),
            ),
      (e: unknown) => p.reject(e),
    );
  }

  private async settleDuplicate(p: Pending, prior: readonly (readonly [string, readonly StoredEvent[]])[]): Promise<void> {
    try {
      const { streamIds } = p.command;
      await this.load(streamIds, true);
      const byStream = new Map(prior);
      p.resolve({
        states: streamIds.map((id) => this.cache.get(id) ?? { state: this.aggregateOf(id).initial(), version: 0 }),
        events: streamIds.map((id) => byStream.get(id) ?? []),
        duplicate: true,
      });
    } catch (e) {
      p.reject(e);
    }
  }
}

/** A named (prepared once per connection) statement on the store's pool; plain otherwise. */
async function namedQuery<R>(db: AnyKysely, name: string, text: string, values: unknown[]): Promise<R[]> {
  const pool = poolOf(db);
  return pool === undefined
    ? (await db.executeQuery<R>(CompiledQuery.raw(text, values))).rows
    : (await pool.query<R & pg.QueryResultRow>({ name, text, values })).rows;
}

function tentative(streamId: string, streamPosition: number, e: NewEvent & { id: string }): StoredEvent {
  return {
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion ?? 1,
    streamId,
    streamPosition,
    globalPosition: '0',
    transactionId: '0',
    occurredAt: new Date().toISOString(),
    data: e.data,
    metadata: e.metadata ?? {},
  };
}
