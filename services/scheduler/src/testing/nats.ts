/** Helpers for this service's integration tests (not used by the service). */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@berth/contracts';
import type { VmSpec } from '@berth/fit';

export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMillis = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMillis;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

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

/** Deletes every stream and KV bucket created under `prefix`. */
export async function deletePrefixed(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const upper = prefix.toUpperCase();
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${upper}_`) || name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name);
  }
}
