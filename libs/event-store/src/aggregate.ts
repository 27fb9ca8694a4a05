import type { StoredEvent } from './types.ts';

/** How the streams whose id starts with `prefix` fold into state. */
export interface Aggregate<S> {
  readonly prefix: string;
  readonly initial: () => S;
  readonly evolve: (state: S, event: StoredEvent) => S;
  /**
   * The state `stored` folds to, given `tentative`: the state the same events folded to while the
   * batcher decided, before they were stored. Their types, data, ids and stream positions are the
   * ones stored; their `occurredAt` was the batch's clock, `globalPosition` and `transactionId` '0',
   * and `metadata` the submitter's trace only. Given, a batcher keeps this after a commit instead of
   * folding the stored events again: `(s) => s` when evolve reads only types and data; a restamp of
   * what evolve takes from the store otherwise. Omitted, the stored events are folded again.
   */
  readonly adoptTentative?: (tentative: S, stored: readonly StoredEvent[]) => S;
}

/** A stream folded up to `version` (0: the stream does not exist). */
export interface Folded<S = unknown> {
  readonly state: S;
  readonly version: number;
}

/**
 * An aggregate as a batcher holds it, whatever its state type: it folds states it made itself.
 * The batcher keeps every aggregate's streams in one cache of `Folded` (state unknown); the typed
 * side is `AggregateType.of`.
 */
export interface AnyAggregate {
  readonly prefix: string;
  /** A stream with no events. */
  empty(): Folded;
  /** `folded` with one more event (at `folded.version + 1`); throws for a state another aggregate made. */
  next(folded: Folded, event: StoredEvent): Folded;
  /**
   * The fold of `stored` (the events a commit stored, in order) from the state `tentative` was folded
   * from, made from `tentative` itself (see Aggregate.adoptTentative); undefined when the aggregate
   * does not say how.
   */
  adopt(tentative: Folded, stored: readonly StoredEvent[]): Folded | undefined;
}

/** One stream of an aggregate, typed by its state: what a typed read names. */
export interface StreamRef<S> {
  readonly type: AggregateType<S>;
  readonly streamId: string;
}

/**
 * A state an aggregate folded, marked with the aggregate that made it. The mark is a private field:
 * no property a caller (or a deep equality in a test) sees, and no side table to keep (a WeakSet of
 * every state made cost a hash entry per fold and showed as extra GC in the batcher's profile).
 */
class FoldedBy<S> implements Folded<S> {
  readonly #by: AnyAggregate;

  constructor(
    by: AnyAggregate,
    readonly state: S,
    readonly version: number,
  ) {
    this.#by = by;
  }

  /** True when `aggregate` made `folded`. */
  static madeBy(folded: Folded, aggregate: AnyAggregate): boolean {
    return #by in folded && folded.#by === aggregate;
  }
}

/**
 * A registered aggregate (`aggregate(...)`): the batcher's handle on it, and the typed view of the
 * states it folds. Every state it makes is marked as its own, so `of` hands back the state type after
 * a run-time check instead of a cast: a state of another aggregate (a wrong index into a command's
 * states, say) is refused with an error naming both.
 */
export class AggregateType<S> implements AnyAggregate {
  constructor(private readonly definition: Aggregate<S>) {}

  get prefix(): string {
    return this.definition.prefix;
  }

  /** The stream `streamId` of this aggregate, for typed reads (`batcher.read(ref)`). */
  stream(streamId: string): StreamRef<S> {
    if (!streamId.startsWith(this.prefix)) throw new Error(`stream '${streamId}' is not one of aggregate '${this.prefix}'`);
    return { type: this, streamId };
  }

  /** `folded` with its state typed; it must have been folded by this aggregate. */
  of(folded: Folded): Folded<S> {
    if (!this.owns(folded)) throw new Error(`a state that aggregate '${this.prefix}' did not fold was read as one of its own`);
    return folded;
  }

  empty(): Folded<S> {
    return new FoldedBy(this, this.definition.initial(), 0);
  }

  next(folded: Folded, event: StoredEvent): Folded<S> {
    return new FoldedBy(this, this.definition.evolve(this.of(folded).state, event), folded.version + 1);
  }

  adopt(tentative: Folded, stored: readonly StoredEvent[]): Folded<S> | undefined {
    const adoptTentative = this.definition.adoptTentative;
    if (adoptTentative === undefined) return undefined;
    return new FoldedBy(this, adoptTentative(this.of(tentative).state, stored), tentative.version);
  }

  private owns(folded: Folded): folded is Folded<S> {
    return FoldedBy.madeBy(folded, this);
  }
}

/**
 * `adoptTentative` of an aggregate whose evolve reads only each event's type and data (one made with
 * `evolveStored`, whose domain evolve sees nothing else): the tentative state is the stored one.
 */
export const sameAsTentative = <S>(tentative: S): S => tentative;

/** Registers a typed aggregate with a batcher; its `of`/`stream` give the states back typed. */
export const aggregate = <S>(definition: Aggregate<S>): AggregateType<S> => new AggregateType(definition);
