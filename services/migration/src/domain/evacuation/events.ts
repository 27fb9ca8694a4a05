import type { evacuationEvents } from '@berth/contracts';

type Map = evacuationEvents.EvacuationEventMap;

/** A VM the drain cannot move now, as the last pass saw it. */
export type WaitingVm = evacuationEvents.WaitingVm;

export type MoveOutcome = evacuationEvents.EvacuationMoveOutcome;

/**
 * Events of the evacuation stream `evacuation-<hostId>`: one round per drain of that host. Their
 * payloads (and zod schemas, checked at consumers' edge) are in @berth/contracts' catalog.
 */
export type EvacuationEvent = { readonly [T in keyof Map]: { readonly type: T; readonly data: Map[T] } }[keyof Map];

export type EvacuationEventType = EvacuationEvent['type'];
