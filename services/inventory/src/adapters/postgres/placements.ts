import type { StoredEvent } from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
import { isStored } from '../../application/streams.ts';

const VM_STREAM = inventoryEvents.vmStreamId('');

/**
 * Tells, for a host touched by a projection batch, whether its new events there (`fresh`) are
 * placements alone (HostChange.placementsOnly): each is a ResourcesClaimed whose VM's VmPlaced on this
 * host is in the same batch. A placement's claim commits with its VmPlaced (ClaimCommands.claim), so
 * both are in one batch unless the batch's size limit falls between them; then the host counts as
 * changed otherwise, which only puts it sooner. A migration's destination claim commits with
 * VmMigrationStarted and is never a placement.
 */
export function placementClassifier(events: readonly StoredEvent[]): (hostId: string, fresh: readonly StoredEvent[]) => boolean {
  const placed = new Set<string>();
  for (const e of events) {
    if (isStored(e, 'VmPlaced') && e.streamId.startsWith(VM_STREAM)) placed.add(`${e.data.hostId} ${e.streamId.slice(VM_STREAM.length)}`);
  }
  return (hostId, fresh) =>
    fresh.length > 0 && fresh.every((e) => isStored(e, 'ResourcesClaimed') && placed.has(`${hostId} ${e.data.claim.vmId}`));
}
