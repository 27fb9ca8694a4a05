/** Helpers for this service's integration tests (not used by the service). */
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@berth/contracts';
import type { VmSpec } from '@berth/fit';

export function vmRequested(spec: VmSpec, excludedHosts: string[] = []): EventEnvelope {
  return {
    id: randomUUID(),
    type: 'VmRequested',
    schemaVersion: 1,
    streamId: `vm-${spec.vmId}`,
    streamPosition: 1,
    globalPosition: '1',
    occurredAt: new Date().toISOString(),
    data: { vmId: spec.vmId, spec, attempt: 1, excludedHosts },
  };
}

export async function publishRaw(nc: NatsConnection, prefix: string, body: string, msgID: string): Promise<void> {
  await jetstream(nc).publish(`${prefix}.berth.inventory.vm.default.VmRequested`, body, { msgID });
}
