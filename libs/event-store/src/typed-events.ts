import type { DomainEvent } from './handle-command.ts';
import type { StoredEvent } from './types.ts';

/** Every event type of one aggregate's streams, as a record: leaving a type out does not compile. */
export type StreamEventTypes<E extends DomainEvent> = { readonly [K in E['type']]: true };

/**
 * The one place a stored event becomes an aggregate's domain event, by its `type`: sound because a
 * stream is written only through its aggregate's decider (typed appends), and checked at run time,
 * so an event of any other type is refused (an error naming it, as the deciders' exhaustive switches
 * did) instead of being folded.
 */
export function evolveStored<S, E extends DomainEvent>(
  types: StreamEventTypes<E>,
  evolve: (state: S, event: E) => S,
): (state: S, event: StoredEvent) => S {
  const isStreamEvent = (e: StoredEvent): e is StoredEvent & E => Object.hasOwn(types, e.type);
  return (state, e) => {
    if (!isStreamEvent(e)) throw new Error(`event ${e.type} at ${e.streamId}@${e.streamPosition} is not one of its stream's types`);
    return evolve(state, e);
  };
}
