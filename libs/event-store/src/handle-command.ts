import { ConcurrencyError, ValidationError, type CallDeadline } from '@berth/errors';
import type { EventStreams, NewEvent, StoredEvent } from './types.ts';

/** The shape of an event a decider emits and folds; StoredEvent satisfies it. */
export interface DomainEvent {
  readonly type: string;
  readonly data: unknown;
}

export interface HandleCommandOptions<S, C, E extends DomainEvent> {
  /** The store, or a transaction (`store.transaction(tx => handleCommand({ store: tx, ... }))`). */
  readonly store: EventStreams;
  readonly streamId: string;
  /** Pure: the new events for `command` given `state` (may be empty); throws for a rejected command. */
  readonly decide: (command: C, state: S) => readonly (E & Omit<NewEvent, 'type' | 'data'>)[];
  /**
   * Folds a stored event of the stream (the store's StoredEvent, not yet the domain's type: make it
   * with `evolveStored(types, evolve)`, which checks each event's type before the domain sees it).
   */
  readonly evolve: (state: S, event: StoredEvent) => S;
  readonly initialState: () => S;
  readonly command: C;
  /** Idempotency key: a command already appended is answered from the log, without deciding again. */
  readonly commandId?: string;
  /** Retries after a version conflict (only those); default 3. */
  readonly maxRetries?: number;
  /** The call the command is run for: its reads and append are cancelled when the call ends (see withCall). */
  readonly call?: CallDeadline;
  /**
   * The stream as the caller last had it (`state`: the fold of its events up to `version`, e.g. what
   * the caller's previous command answered). The command is decided on it and appended at that version
   * in one round trip, without reading the stream or looking up the command id first. When the stream
   * moved on meanwhile (a version conflict), the command id was recorded already, or the command
   * decides nothing or is refused on it, the command takes the ordinary path (read, look up, decide,
   * append): the answer is the same either way.
   */
  readonly known?: { readonly state: S; readonly version: number };
}

export interface HandleCommandResult<S> {
  /** The events this command appended (the first time's, when `duplicate`). */
  readonly events: readonly StoredEvent[];
  /** State after folding the stream including those events. */
  readonly state: S;
  readonly nextExpectedVersion: number;
  readonly duplicate: boolean;
}

/** Load -> fold -> decide -> append with the expected version; retries only ConcurrencyError, bounded. */
export async function handleCommand<S, C, E extends DomainEvent>(opts: HandleCommandOptions<S, C, E>): Promise<HandleCommandResult<S>> {
  const maxRetries = opts.maxRetries ?? 3;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
    throw new ValidationError({ field: 'maxRetries', reason: 'must be a non-negative integer' });
  }
  const { store, streamId, commandId, call } = opts;
  if (opts.known !== undefined) {
    const fast = await appendOnKnown(opts, opts.known);
    if (fast !== undefined) return fast;
  }
  for (let attempt = 0; ; attempt++) {
    const { version, events } = await store.readStream(streamId, call);
    const state = events.reduce(opts.evolve, opts.initialState());
    if (commandId !== undefined) {
      const earlier = (await store.commandResult(commandId, call))?.appends.find((a) => a.streamId === streamId);
      if (earlier !== undefined) return { events: earlier.events, state, nextExpectedVersion: version, duplicate: true };
    }
    const decided = opts.decide(opts.command, state);
    if (decided.length === 0) return { events: [], state, nextExpectedVersion: version, duplicate: false };
    try {
      return await appendDecided(opts, state, version, decided);
    } catch (e) {
      if (!(e instanceof ConcurrencyError) || attempt >= maxRetries) throw e;
    }
  }
}

/**
 * The one-round-trip path: decided on the state the caller knows and appended at its version. Answers
 * undefined (take the ordinary path) when that state decides nothing or refuses the command (it may be
 * behind the stream), or the append meets a newer stream.
 */
async function appendOnKnown<S, C, E extends DomainEvent>(
  opts: HandleCommandOptions<S, C, E>,
  known: { readonly state: S; readonly version: number },
): Promise<HandleCommandResult<S> | undefined> {
  if (!Number.isSafeInteger(known.version) || known.version < 0) {
    throw new ValidationError({ field: 'known.version', reason: `must be a non-negative integer, got ${String(known.version)}` });
  }
  let decided: readonly (E & Omit<NewEvent, 'type' | 'data'>)[];
  try {
    decided = opts.decide(opts.command, known.state);
  } catch {
    return undefined;
  }
  if (decided.length === 0) return undefined;
  try {
    return await appendDecided(opts, known.state, known.version, decided);
  } catch (e) {
    if (e instanceof ConcurrencyError) return undefined;
    throw e;
  }
}

/**
 * Appends what was decided on `state` at `version` and answers as handleCommand does; a command id
 * already recorded is answered from the stream as it is now. Throws ConcurrencyError when the stream moved on.
 */
async function appendDecided<S, C, E extends DomainEvent>(
  opts: HandleCommandOptions<S, C, E>,
  state: S,
  version: number,
  decided: readonly (E & Omit<NewEvent, 'type' | 'data'>)[],
): Promise<HandleCommandResult<S>> {
  const { store, streamId, commandId, call } = opts;
  const result = await store.append(streamId, decided, {
    expectedVersion: version,
    ...(commandId === undefined ? {} : { commandId }),
    ...(call === undefined ? {} : { call }),
  });
  if (result.duplicate) {
    const now = await store.readStream(streamId, call);
    return {
      events: result.events,
      state: now.events.reduce(opts.evolve, opts.initialState()),
      nextExpectedVersion: now.version,
      duplicate: true,
    };
  }
  return {
    events: result.events,
    state: result.events.reduce(opts.evolve, state),
    nextExpectedVersion: result.nextExpectedVersion,
    duplicate: false,
  };
}
