import { callEnded, ConcurrencyError, ValidationError, type CallDeadline } from '@berth/errors';
import { forCall, outsideCalls } from './call-statements.ts';
import { pendingCommand, statementCall, stillWanted } from './batch-calls.ts';
import type { Folded, StreamRef } from './aggregate.ts';
import { decideInOrder, type BatchCommand, type BatchCommandResult, type CommandBatcherOptions, type Pending } from './batch-decide.ts';
import { StreamCache } from './stream-cache.ts';
import type { PostgresEventStore } from './store.ts';
import { traceMetadata } from './trace.ts';
import type { StoredEvent } from './types.ts';
import { streamIdProblems } from './validate.ts';

export type { BatchCommand, BatchCommandResult, CommandBatcherOptions } from './batch-decide.ts';

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
 *
 * A command run for a call (`execute(command, call)`) leaves the queue when the call ends before
 * its statement is sent: it is answered with the call's DeadlineExceededError/CancelledError and
 * nothing is appended for it. Once sent, it is answered by the statement's outcome: a committed
 * write is acknowledged even when its call ended meanwhile (the caller may have stopped listening,
 * but a retry with the same command id is answered as a duplicate, never as a failure). The one
 * statement is cancelled only when every command in it belongs to a call that ended; it then
 * commits nothing, and each command fails with SQLSTATE 57014, which the gRPC kit maps by its call.
 */
export class CommandBatcher {
  private readonly streams: StreamCache;
  private readonly queue: Pending[] = [];
  private running = false;
  private readonly maxBatch: number;
  private readonly maxRetries: number;
  private readonly counts = { batches: 0, commands: 0 };

  constructor(
    readonly store: PostgresEventStore,
    opts: CommandBatcherOptions,
  ) {
    this.streams = new StreamCache(store, opts.aggregates, opts.maxCachedStreams ?? 100_000);
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxRetries = opts.maxRetries ?? 5;
  }

  /** Statements run and commands they carried, stream loads (for tests and benchmarks). */
  get stats(): { readonly batches: number; readonly commands: number; readonly loads: number } {
    return { ...this.counts, loads: this.streams.loads };
  }

  /**
   * Runs one command in the next batch; resolves once it committed (or was a duplicate). With a
   * `call`, the command leaves the queue if the call ends before it is written (see above).
   */
  execute(command: BatchCommand, call?: CallDeadline): Promise<BatchCommandResult> {
    const problems = command.streamIds.flatMap((id, i) => streamIdProblems(id, `streamIds[${i}]`));
    if (command.streamIds.length === 0) problems.push({ field: 'streamIds', reason: 'must not be empty' });
    if (new Set(command.streamIds).size !== command.streamIds.length)
      problems.push({ field: 'streamIds', reason: 'must not repeat a stream' });
    command.streamIds.forEach((id, i) => {
      if (!this.streams.folds(id)) problems.push({ field: `streamIds[${i}]`, reason: `no aggregate folds '${id}'` });
    });
    if (problems.length > 0) return Promise.reject(new ValidationError(problems));
    const ended = callEnded(call, 'command');
    if (ended !== undefined) return Promise.reject(ended);
    const trace = traceMetadata();
    return new Promise((resolve, reject) => {
      this.queue.push(pendingCommand({ command, trace, resolve, reject }, call, (p) => this.unqueue(p)));
      this.kick();
    });
  }

  private unqueue(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /**
   * The stream folded as this process last saw it (read from the log when not cached); typed when
   * named by its aggregate (`hosts.stream(id)`).
   */
  async read<S>(stream: StreamRef<S>, call?: CallDeadline): Promise<Folded<S>>;
  async read(streamId: string, call?: CallDeadline): Promise<Folded>;
  async read<S>(stream: StreamRef<S> | string, call?: CallDeadline): Promise<Folded<S> | Folded> {
    const streamId = typeof stream === 'string' ? stream : stream.streamId;
    let f = this.streams.touch(streamId);
    if (f === undefined) {
      await forCall(call, 'read', async (s) => this.streams.load([streamId], false, s));
      f = this.streams.getOrEmpty(streamId);
    }
    return typeof stream === 'string' ? f : stream.type.of(f);
  }

  /** The stream folded from the log now (other processes' appends included). */
  async readFresh<S>(stream: StreamRef<S>, call?: CallDeadline): Promise<Folded<S>>;
  async readFresh(streamId: string, call?: CallDeadline): Promise<Folded>;
  async readFresh<S>(stream: StreamRef<S> | string, call?: CallDeadline): Promise<Folded<S> | Folded> {
    const streamId = typeof stream === 'string' ? stream : stream.streamId;
    await forCall(call, 'readFresh', async (s) => this.streams.load([streamId], true, s));
    const f = this.streams.getOrEmpty(streamId);
    return typeof stream === 'string' ? f : stream.type.of(f);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Let commands submitted in the same tick join the first batch. The batches serve many calls,
    // so they run outside the one that happened to start them, if it ran inside withCall.
    outsideCalls(() => setImmediate(() => void this.drain()));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch: Pending[] = [];
        const commandIds = new Set<string>();
        const deferred: Pending[] = [];
        while (this.queue.length > 0 && batch.length < this.maxBatch) {
          const p = this.queue.shift()!;
          if (p.left) continue;
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

  private async runBatch(queued: readonly Pending[]): Promise<void> {
    let batch = stillWanted(queued);
    if (batch.length === 0) return;
    try {
      const refresh = new Set(batch.filter((p) => p.refresh).flatMap((p) => p.command.streamIds));
      // A stream a command creates is taken as empty, unless a re-decision after a conflict asks for the log.
      const assumedNew = new Set(batch.filter((p) => !p.refresh).flatMap((p) => p.command.newStreams ?? []));
      await this.streams.load(
        batch.flatMap((p) => p.command.streamIds).filter((id) => refresh.has(id) || !assumedNew.has(id)),
        refresh,
      );
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    // The last point before the statement: a call that ended while the streams loaded leaves now.
    batch = stillWanted(batch);
    const { items, owners: itemOwners, afters } = decideInOrder(batch, this.streams, (p, e) => this.refused(p, e));
    if (items.length === 0) return;
    let outcomes;
    this.counts.batches += 1;
    this.counts.commands += items.length;
    for (const p of itemOwners) p.writing = true;
    const statement = statementCall(itemOwners);
    try {
      outcomes = await this.store.appendBatch(items, statement?.call);
    } catch (e) {
      // Cancelled, stopped by its statement_timeout, or refused before it was sent, because every
      // command's call ended: nothing was written.
      const forEndedCalls = callEnded(statement?.call, 'append batch') !== undefined;
      const code = (e as { code?: string }).code;
      for (const p of itemOwners) {
        if (forEndedCalls) p.reject(callEnded(p.call, 'command') ?? e);
        else if (code !== undefined && RETRYABLE_SQLSTATES.has(code) && p.attempts < this.maxRetries) this.retry(p);
        else p.reject(e);
      }
      return;
    } finally {
      statement?.dispose();
    }
    outcomes.forEach((o, k) => {
      const p = itemOwners[k]!;
      const { streamIds } = p.command;
      switch (o.outcome) {
        case 'ok': {
          for (const a of o.appends) this.streams.settle(a.streamId, a.events, afters[k]![streamIds.indexOf(a.streamId)]);
          const events = streamIds.map((id) => o.appends.find((a) => a.streamId === id)?.events ?? []);
          // The cached fold of the stored events when nothing moved past them, else the tentative one.
          const states = afters[k]!.map((f, i) => {
            const cached = this.streams.get(streamIds[i]!);
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
    p.writing = false;
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
      await this.streams.load(streamIds, true);
      const byStream = new Map(prior);
      p.resolve({
        states: streamIds.map((id) => this.streams.getOrEmpty(id)),
        events: streamIds.map((id) => byStream.get(id) ?? []),
        duplicate: true,
      });
    } catch (e) {
      p.reject(e);
    }
  }
}
