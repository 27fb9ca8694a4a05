import type { EventEnvelope } from '../envelope.ts';
import type { BalancerEventMap, EvacuationEventMap } from '../evacuation.ts';
import type { ExecutorEventMap } from '../executor.ts';
import type { InventoryEventMap } from '../inventory.ts';
import type { MigrationEventMap } from '../migration.ts';

/**
 * Type guards from an event's `type` to its payload type, for handlers: no cast of `env.data`.
 * Sound for envelopes that passed a consumer's edge (`startConsumer` checks data against the
 * catalog's schema of that type before the handler sees it).
 */
export function eventGuard<M>(): <K extends keyof M & string>(env: EventEnvelope, type: K) => env is EventEnvelope<K, M[K]> {
  return <K extends keyof M & string>(env: EventEnvelope, type: K): env is EventEnvelope<K, M[K]> => env.type === type;
}

export const isInventoryEvent = eventGuard<InventoryEventMap>();
export const isExecutorEvent = eventGuard<ExecutorEventMap>();
export const isMigrationEvent = eventGuard<MigrationEventMap>();
export const isEvacuationEvent = eventGuard<EvacuationEventMap>();
export const isBalancerEvent = eventGuard<BalancerEventMap>();
