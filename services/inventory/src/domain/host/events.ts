import type { DomainEvent } from '../shared/event.ts';

export type HostEvent = DomainEvent<
  'HostRegistered' | 'HostUpdated' | 'HostStateChanged' | 'HostRemoved' | 'ResourcesClaimed' | 'ClaimReleased'
>;
export type HostEventType = HostEvent['type'];
export const hostEventTypes: readonly HostEventType[] = [
  'HostRegistered',
  'HostUpdated',
  'HostStateChanged',
  'HostRemoved',
  'ResourcesClaimed',
  'ClaimReleased',
];
