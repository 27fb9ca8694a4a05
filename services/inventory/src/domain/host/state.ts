import type { Claim, HostSnapshot, HostState } from '@berth/fit';
import type { inventoryEvents } from '@berth/contracts';
import { unreachable } from '../shared/event.ts';
import type { HostEvent } from './events.ts';

export type Host =
  | { readonly status: 'absent'; readonly generation: number }
  | {
      readonly status: 'active';
      readonly hostId: string;
      /** Stream version: every event increments it. */
      readonly generation: number;
      readonly record: inventoryEvents.HostRecord;
      readonly state: HostState;
      readonly stateReason: string;
      readonly claims: readonly Claim[];
    }
  | { readonly status: 'removed'; readonly hostId: string; readonly generation: number };

export type ActiveHost = Extract<Host, { status: 'active' }>;

export const initialHost = (): Host => ({ status: 'absent', generation: 0 });

export function evolveHost(host: Host, e: HostEvent): Host {
  const generation = host.generation + 1;
  if (e.type === 'HostRegistered') {
    const { hostId, ...record } = e.data;
    return { status: 'active', hostId, generation, record, state: record.capacity.state, stateReason: '', claims: [] };
  }
  // Events after removal (or before registration) only move the generation.
  if (host.status !== 'active') return { ...host, generation };
  switch (e.type) {
    case 'HostRemoved':
      return { status: 'removed', hostId: host.hostId, generation };
    case 'HostUpdated':
      return { ...host, generation, record: e.data };
    case 'HostStateChanged':
      return { ...host, generation, state: e.data.to, stateReason: e.data.reason };
    case 'ResourcesClaimed':
      return { ...host, generation, claims: [...host.claims, e.data.claim] };
    case 'ClaimReleased':
      return { ...host, generation, claims: host.claims.filter((c) => c.vmId !== e.data.vmId) };
    default:
      return unreachable(e);
  }
}

export const foldHost = (events: readonly HostEvent[]): Host => events.reduce(evolveHost, initialHost());

/** The shared fit view of a host: capacity (with its current state), generation, claims. */
export function hostSnapshotOf(host: ActiveHost): HostSnapshot {
  return { capacity: { ...host.record.capacity, state: host.state }, generation: host.generation, claims: host.claims };
}
