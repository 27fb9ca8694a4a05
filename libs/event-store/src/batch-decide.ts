import { randomUUID } from 'node:crypto';
import type { CallDeadline } from '@berth/errors';
import type { AnyAggregate, Folded } from './aggregate.ts';
import type { StreamCache } from './stream-cache.ts';
import type { BatchAppend, BatchItem, NewEvent, StoredEvent } from './types.ts';

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
   * The aggregate that folds a stream gives its state back typed: `hosts.of(states[0])`.
   */
  decide(states: readonly Folded[]): readonly (readonly NewEvent[])[];
}

export interface BatchCommandResult {
  /** Each stream's state after the command (parallel to `streamIds`; typed by its aggregate's `of`). */
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

/** A command waiting in a batcher's queue. */
export interface Pending {
  readonly command: BatchCommand;
  /** W3C context of the code that submitted the command, recorded with its events (not the batch's). */
  readonly trace: Readonly<Record<string, string>>;
  readonly resolve: (r: BatchCommandResult) => void;
  readonly reject: (e: unknown) => void;
  attempts: number;
  /** Re-read its streams before deciding (after a conflict or a refusal on cached state). */
  refresh: boolean;
  /** The call the command is run for: it leaves the queue when the call ends before it is written. */
  readonly call?: CallDeadline;
  /** In a statement being sent: answered by its outcome, whatever becomes of the call meanwhile. */
  writing: boolean;
  /** Answered already because its call ended before it was written (see CommandBatcher.execute). */
  left: boolean;
}

/** The commands of one batch that append, as one `appendBatch`, with the state each leaves its streams in. */
export interface DecidedBatch {
  readonly items: readonly BatchItem[];
  /** The command of each item (parallel to `items`). */
  readonly owners: readonly Pending[];
  /** Each item's streams after its events (parallel to its command's `streamIds`), folded tentatively. */
  readonly afters: readonly (readonly Folded[])[];
}

/**
 * Decides a batch's commands in order, each on the states the ones before it left (folded
 * tentatively, before anything is written): a command that appends nothing is answered at once,
 * a refusal goes to `refused`.
 */
export function decideInOrder(
  batch: readonly Pending[],
  streams: StreamCache,
  refused: (p: Pending, error: unknown) => void,
): DecidedBatch {
  const overlay = new Map<string, Folded>();
  const stateOf = (id: string): Folded => overlay.get(id) ?? streams.getOrEmpty(id);
  const items: BatchItem[] = [];
  const owners: Pending[] = [];
  const afters: Folded[][] = [];
  // One time for the whole batch: what the tentative folds see as `occurredAt` (the store assigns the real one).
  const now = new Date().toISOString();
  for (const p of batch) {
    const { streamIds } = p.command;
    const states = streamIds.map(stateOf);
    let decided: readonly (readonly NewEvent[])[];
    try {
      decided = p.command.decide(states);
    } catch (e) {
      refused(p, e);
      continue;
    }
    const after = [...states];
    const appends: BatchAppend[] = [];
    for (let i = 0; i < streamIds.length; i++) {
      const given = decided[i];
      if (given === undefined || given.length === 0) continue;
      const streamId = streamIds[i]!;
      const events = given.map((e) => withIdAndTrace(e, p.trace));
      // Later commands in this batch decide on the state this one leaves (tentatively).
      const aggregate: AnyAggregate = streams.aggregateOf(streamId);
      let f = states[i]!;
      for (const e of events) f = aggregate.next(f, tentative(streamId, f.version + 1, e, now));
      overlay.set(streamId, f);
      after[i] = f;
      appends.push({ streamId, expectedVersion: states[i]!.version, events });
    }
    if (appends.length === 0) {
      p.resolve({ states, events: streamIds.map(() => []), duplicate: false });
      continue;
    }
    items.push(p.command.commandId === undefined ? { appends } : { commandId: p.command.commandId, appends });
    owners.push(p);
    afters.push(after);
  }
  return { items, owners, afters };
}

/** The event with its id (one made when it has none) and the submitter's trace context under its own metadata. */
function withIdAndTrace(e: NewEvent, trace: Readonly<Record<string, string>>): NewEvent & { id: string } {
  return {
    type: e.type,
    data: e.data,
    ...(e.schemaVersion === undefined ? {} : { schemaVersion: e.schemaVersion }),
    id: e.id ?? randomUUID(),
    metadata: e.metadata === undefined ? trace : { ...trace, ...e.metadata },
  };
}

/** An event as it will be stored, before the store assigned its global position. */
function tentative(streamId: string, streamPosition: number, e: NewEvent & { id: string }, occurredAt: string): StoredEvent {
  return {
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion ?? 1,
    streamId,
    streamPosition,
    globalPosition: '0',
    transactionId: '0',
    occurredAt,
    data: e.data,
    metadata: e.metadata ?? {},
  };
}
