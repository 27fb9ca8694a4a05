/** Inventory's SetHostState for the evacuation (maintenance on start, the previous state on cancel). */
import { randomUUID } from 'node:crypto';
import type { HostState } from '@berth/fit';
import { hostStates } from '@berth/model-codec';
import { callUnary } from '@berth/grpc-kit';
import type { HostControl } from '../../application/evacuation-ports.ts';
import type { GrpcInventory } from '../grpc/inventory-client.ts';

export class GrpcHostControl implements HostControl {
  constructor(private readonly inventory: GrpcInventory) {}

  async setHostState(hostId: string, state: HostState, reason: string): Promise<void> {
    await callUnary(this.inventory.client, 'setHostState', {
      meta: { commandId: randomUUID() },
      hostId,
      state: hostStates.encode(asked(state)),
      reason,
    });
  }
}

/** Asking for maintenance-preparing is asking for maintenance: inventory passes through preparing itself. */
const asked = (state: HostState): HostState => (state === 'maintenance-preparing' ? 'maintenance' : state);
