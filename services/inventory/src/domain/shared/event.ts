import type { inventoryEvents } from '@berth/contracts';

type Map = inventoryEvents.InventoryEventMap;

export type DomainEventType = keyof Map;

/** A domain event as deciders see it: type plus payload, no envelope. */
export type DomainEvent<K extends keyof Map> = { readonly [T in K]: { readonly type: T; readonly data: Map[T] } }[K];

export const event = <K extends keyof Map>(type: K, data: Map[K]): DomainEvent<K> => ({ type, data });

/** Exhaustiveness guard for switches over unions. */
export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
