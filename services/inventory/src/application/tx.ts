import { randomUUID } from 'node:crypto';
import { ConcurrencyError } from '@berth/errors';
import type { EventStoreTx, EventStreams, PostgresEventStore, StoredEvent } from '@berth/event-store';

/** A version conflict met while appending: the whole transaction is retried with fresh reads. */
class AppendConflict extends Error {
  constructor(override readonly cause: ConcurrencyError) {
    super(cause.message);
  }
}

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
  readonly events: readonly StoredEvent[];
}

/** Reads and folds one stream inside the transaction. */
export async function load<S, E>(tx: EventStreams, streamId: string, evolve: (s: S, e: E) => S, initial: () => S): Promise<Loaded<S>> {
  const { version, events } = await tx.readStream(streamId);
  return { version, events, state: events.reduce((s, e) => evolve(s, e as unknown as E), initial()) };
}

/**
 * Appends decided events at the version they were decided on; returns the state after them.
 * `duplicate` is true when the command id was already recorded on this stream (nothing was written).
 */
export async function save<S, E extends { readonly type: string; readonly data: unknown }>(
  tx: EventStreams,
  streamId: string,
  loaded: Loaded<S>,
  decided: readonly E[],
  evolve: (s: S, e: E) => S,
  commandId: string | undefined,
): Promise<{ state: S; events: readonly StoredEvent[]; duplicate: boolean }> {
  if (decided.length === 0) return { state: loaded.state, events: [], duplicate: false };
  try {
    const r = await tx.append(streamId, decided, { expectedVersion: loaded.version, ...(commandId ? { commandId } : {}) });
    if (r.duplicate) return { state: loaded.state, events: r.events, duplicate: true };
    return { state: r.events.reduce((s, e) => evolve(s, e as unknown as E), loaded.state), events: r.events, duplicate: false };
  } catch (e) {
    if (e instanceof ConcurrencyError) throw new AppendConflict(e);
    throw e;
  }
}

/**
 * Runs `fn` in one transaction (all its appends commit together). Append conflicts retry the whole
 * transaction, bounded; conflicts the deciders raise (a stale expected generation) are not retried.
 */
export function inTransaction<T>(store: PostgresEventStore, fn: (tx: EventStoreTx) => Promise<T>, maxRetries = 5): Promise<T> {
  return retrying(() => store.transaction(fn), maxRetries);
}

/** For single-stream commands: the append's expected version is the only guard needed, no transaction. */
export function withoutTransaction<T>(store: PostgresEventStore, fn: (streams: EventStreams) => Promise<T>, maxRetries = 5): Promise<T> {
  return retrying(() => fn(store), maxRetries);
}

async function retrying<T>(fn: () => Promise<T>, maxRetries: number): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof AppendConflict)) throw e;
      if (attempt >= maxRetries) throw e.cause;
    }
  }
}

/**
 * Decides, answering a retried command from the log: when a command id was already recorded, a
 * decider refusing it now (the VM already exists, the claim is already held) is not an error.
 */
export async function decideOnce<T>(tx: EventStreams, commandId: string | undefined, decide: () => T, onDuplicate: () => Promise<T> | T): Promise<T> {
  try {
    return decide();
  } catch (e) {
    if (commandId && (await tx.commandResult(commandId))) return onDuplicate();
    throw e;
  }
}

export const newId = (): string => randomUUID();

/**
 * The id a retried create command used the first time (the stream it appended to), so a retry
 * without a client-chosen id does not create a second host or VM.
 */
export async function priorId(streams: EventStreams, commandId: string | undefined, streamPrefix: string): Promise<string | undefined> {
  if (!commandId) return undefined;
  const prior = await streams.commandResult(commandId);
  return prior?.appends.find((a) => a.streamId.startsWith(streamPrefix))?.streamId.slice(streamPrefix.length);
}
