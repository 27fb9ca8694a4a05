/** Inventory's SetHostState for the evacuation (maintenance on start, the previous state on cancel). */
import { randomUUID } from 'node:crypto';
import type { HostState } from '@berth/fit';
import { modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import type { HostControl } from '../../application/evacuation-ports.ts';
import type { GrpcInventory } from '../grpc/inventory-client.ts';

const STATE: Record<HostState, modelV1.HostState> = {
  enabled: modelV1.HostState.HOST_STATE_ENABLED,
  'no-scheduling': modelV1.HostState.HOST_STATE_NO_SCHEDULING,
  disabled: modelV1.HostState.HOST_STATE_DISABLED,
  'maintenance-preparing': modelV1.HostState.HOST_STATE_MAINTENANCE,
  maintenance: modelV1.HostState.HOST_STATE_MAINTENANCE,
};

export class GrpcHostControl implements HostControl {
  constructor(private readonly inventory: GrpcInventory) {}

  async setHostState(hostId: string, state: HostState, reason: string): Promise<void> {
    await callUnary(this.inventory.client, 'setHostState', { meta: { commandId: randomUUID() }, hostId, state: STATE[state], reason });
  }
}
