import type { EventEnvelope } from '@berth/contracts';
import type { CallDeadline } from '@berth/errors';

/** An event to append. `id` defaults to a random UUID, `schemaVersion` to 1. */
export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
  readonly schemaVersion?: number;
  readonly id?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * A recorded event: the wire envelope plus its metadata (W3C `traceparent`/`tracestate` of the
 * appending context) and the id of the transaction that wrote it (half of the global read order).
 * `globalPosition` is the log's sequence number as a decimal string.
 */
export interface StoredEvent extends EventEnvelope {
  readonly metadata: Readonly<Record<string, string>>;
  readonly transactionId: string;
}

/**
 * How a store writes and reads its service's event types (the store's `evolution` option;
 * `storedEventEvolution` of @berth/contracts builds it from the event catalog): appends without a
 * schemaVersion are written at `currentVersion(type)`, and every event read comes through `upcast`,
 * so events written under a former type name or an older version are read as the current ones.
 */
export interface EventEvolution {
  readonly currentVersion: (type: string) => number;
  readonly upcast: (e: StoredEvent) => StoredEvent;
}

/** Writes version 1 and reads every event as it was written. */
export const NO_EVOLUTION: EventEvolution = { currentVersion: () => 1, upcast: (e) => e };

/** A point in the global read, ordered by (transactionId, position); both decimal strings. */
export interface GlobalPosition {
  readonly transactionId: string;
  readonly position: string;
}

/** `'no-stream'` (same as 0): the stream must not exist; `'any'`: no check; n: the stream is at version n. */
export type ExpectedVersion = 'no-stream' | 'any' | number;

export interface AppendOptions {
  readonly expectedVersion: ExpectedVersion;
  /** Makes the append idempotent per (commandId, streamId): a repeat appends nothing and answers as the first time. */
  readonly commandId?: string;
  /** The call the append is made for: its statement is cancelled when the call ends (see withCall). */
  readonly call?: CallDeadline;
}

export interface AppendResult {
  readonly streamId: string;
  /** Version of the stream right after this append (the expected version for the next one). */
  readonly nextExpectedVersion: number;
  readonly events: readonly StoredEvent[];
  /** True when `commandId` had already been appended: nothing was written, `events` are the first ones. */
  readonly duplicate: boolean;
}

export interface ReadStreamResult {
  /** 0 when the stream does not exist. */
  readonly version: number;
  readonly events: readonly StoredEvent[];
}

export interface ReadAllOptions {
  readonly after: GlobalPosition | null;
  readonly limit: number;
}

/** Everything a command with this id appended, one entry per stream. */
export interface CommandResult {
  readonly commandId: string;
  readonly appends: readonly AppendResult[];
}

/** One stream's part of a batched command: `expectedVersion` is exact (0: the stream must not exist). */
export interface BatchAppend {
  readonly streamId: string;
  readonly expectedVersion: number;
  readonly events: readonly NewEvent[];
}

/** One command of an `appendBatch`: its appends commit together or not at all. */
export interface BatchItem {
  readonly commandId?: string;
  readonly appends: readonly BatchAppend[];
}

/**
 * What became of one item: `ok` (written), `duplicate` (its command id was already recorded; nothing
 * written, the first time's events, possibly none when recorded by another item of the same batch)
 * or `conflict` (a stream was not at its expected version; nothing written).
 */
export type BatchOutcome =
  | { readonly outcome: 'ok'; readonly appends: readonly AppendResult[] }
  | { readonly outcome: 'duplicate'; readonly appends: readonly AppendResult[] }
  | { readonly outcome: 'conflict'; readonly streamId: string; readonly actualVersion: number };

/** What both the store and a transaction offer; handleCommand works against either. */
export interface EventStreams {
  /** `call`: the call the read is made for; its statement is cancelled when the call ends (see withCall). */
  readStream(streamId: string, call?: CallDeadline): Promise<ReadStreamResult>;
  append(streamId: string, events: readonly NewEvent[], opts: AppendOptions): Promise<AppendResult>;
  commandResult(commandId: string, call?: CallDeadline): Promise<CommandResult | undefined>;
}

export const positionOf = (e: Pick<StoredEvent, 'transactionId' | 'globalPosition'>): GlobalPosition => ({
  transactionId: e.transactionId,
  position: e.globalPosition,
});

/** Total order of the global read: transaction id, then position (both unsigned decimal strings). */
export function comparePositions(a: GlobalPosition, b: GlobalPosition): number {
  const t = compareDecimal(a.transactionId, b.transactionId);
  return t !== 0 ? t : compareDecimal(a.position, b.position);
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
