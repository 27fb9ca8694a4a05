import type { migrationEvents } from '@berth/contracts';

type Map = migrationEvents.MigrationEventMap;

/** A migration event as the decider sees it: type plus payload, no envelope. */
export type MigrationEvent = { readonly [T in keyof Map]: { readonly type: T; readonly data: Map[T] } }[keyof Map];

export const event = <K extends keyof Map>(type: K, data: Map[K]): Extract<MigrationEvent, { type: K }> =>
  ({ type, data }) as Extract<MigrationEvent, { type: K }>;

/** Exhaustiveness guard for switches over unions. */
export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
