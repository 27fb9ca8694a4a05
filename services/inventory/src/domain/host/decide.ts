import { ConcurrencyError, IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { claimFits, type FitFailure, type HostSnapshot, type HostState } from '@berth/fit';
import { event, unreachable } from '../shared/event.ts';
import type { HostCommand } from './commands.ts';
import type { HostEvent } from './events.ts';
import { hostSnapshotOf, type ActiveHost, type Host } from './state.ts';
import { resolveHostRecord } from './validate.ts';

const streamOf = (hostId: string): string => `host-${hostId}`;

function active(host: Host, hostId: string): ActiveHost {
  if (host.status !== 'active') throw new NotFoundError('host', hostId);
  return host;
}

export const describeFailures = (failures: readonly FitFailure[]): string => failures.map((f) => `${f.filter}: ${f.detail}`).join('; ');

/** Every existing claim must still fit a host with the new capacity. */
function claimsStillFit(host: ActiveHost, capacity: HostSnapshot['capacity']): string[] {
  let snap: HostSnapshot = { capacity: { ...capacity, state: 'enabled' }, generation: 0, claims: [] };
  const problems: string[] = [];
  for (const claim of host.claims) {
    const failures = claimFits(snap, { ...claim, hostId: capacity.hostId });
    if (failures.length > 0) problems.push(`${claim.vmId}: ${describeFailures(failures)}`);
    snap = { ...snap, claims: [...snap.claims, claim] };
  }
  return problems;
}

function changeState(host: ActiveHost, requested: HostState, reason: string): HostEvent[] {
  // Maintenance is reached through a preparing phase while VMs still hold claims.
  const to: HostState = requested === 'maintenance' && host.claims.length > 0 ? 'maintenance-preparing' : requested;
  if (to === host.state || (requested === 'maintenance' && host.state === 'maintenance-preparing')) return [];
  return [event('HostStateChanged', { from: host.state, to, reason })];
}

/** The host aggregate's decider: pure, throws the @berth/errors taxonomy for refused commands. */
export function decideHost(command: HostCommand, host: Host): HostEvent[] {
  switch (command.type) {
    case 'RegisterHost': {
      if (host.status !== 'absent') throw new IllegalStateError(`host ${command.hostId} already exists`);
      if (command.initialState === 'maintenance-preparing') {
        throw new ValidationError({ field: 'state', reason: 'a new host cannot be preparing for maintenance' });
      }
      const record = resolveHostRecord(command.hostId, command.spec, command.initialState, command.profiles);
      return [event('HostRegistered', { hostId: command.hostId, ...record })];
    }
    case 'UpdateHost': {
      const h = active(host, '(update)');
      if (command.expectedGeneration !== undefined && command.expectedGeneration !== h.generation) {
        throw new ConcurrencyError(streamOf(h.hostId), command.expectedGeneration, h.generation);
      }
      const record = resolveHostRecord(h.hostId, command.spec, h.state, command.profiles);
      const problems = claimsStillFit(h, record.capacity);
      if (problems.length > 0) throw new IllegalStateError(`the new spec no longer holds existing claims: ${problems.join(' | ')}`);
      return [event('HostUpdated', record)];
    }
    case 'RemoveHost': {
      if (host.status === 'removed') return [];
      const h = active(host, '(remove)');
      if (h.claims.length > 0) {
        throw new IllegalStateError(`host ${h.hostId} still holds ${h.claims.length} claim(s): ${h.claims.map((c) => c.vmId).join(', ')}`);
      }
      return [event('HostRemoved', { reason: command.reason })];
    }
    case 'SetHostState': {
      const h = active(host, '(state)');
      if (command.to === 'maintenance-preparing') {
        throw new ValidationError({ field: 'state', reason: 'request MAINTENANCE; the preparing phase is entered by inventory' });
      }
      return changeState(h, command.to, command.reason);
    }
    case 'ClaimResources': {
      const h = active(host, command.claim.hostId);
      const failures = claimFits(hostSnapshotOf(h), command.claim);
      // The host moved since the claim was computed. As OpenStack Placement does on a generation
      // conflict, the exact claim is re-checked against the host as it is now and taken when every
      // resource it names is still free; a claim with affinity groups depends on which VMs the host
      // holds, which claimFits does not judge, so it must be based on the current generation.
      if (command.expectedGeneration !== h.generation) {
        const recheckable = command.expectedGeneration < h.generation && command.claim.affinityGroups.length === 0;
        if (!recheckable || failures.length > 0) throw new ConcurrencyError(streamOf(h.hostId), command.expectedGeneration, h.generation);
      }
      if (failures.length > 0) throw new IllegalStateError(`claim no longer fits host ${h.hostId}: ${describeFailures(failures)}`);
      return [event('ResourcesClaimed', { claim: command.claim, expectedGeneration: command.expectedGeneration })];
    }
    case 'ReleaseClaim': {
      if (host.status !== 'active') return [];
      const claim = host.claims.find((c) => c.vmId === command.vmId);
      if (!claim) return [];
      const out: HostEvent[] = [event('ClaimReleased', { vmId: command.vmId, claim, reason: command.reason })];
      if (host.state === 'maintenance-preparing' && host.claims.length === 1) {
        out.push(event('HostStateChanged', { from: 'maintenance-preparing', to: 'maintenance', reason: 'last claim released' }));
      }
      return out;
    }
    default:
      return unreachable(command);
  }
}
