import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { inventoryEvents } from '@berth/contracts';
import type { Claim, VmSpec } from '@berth/fit';
import { createEventPublisher, subjectName } from '@berth/messaging';

/**
 * Stands in for inventory in the executor's integration tests: publishes inventory's events on
 * the bus exactly as its relay does (envelope, Nats-Msg-Id), and records what the executor publishes.
 */
export class FakeInventory {
  private readonly publish: ReturnType<typeof createEventPublisher>;
  private readonly positions = new Map<string, number>();
  private global = 0;
  readonly received: { subject: string; type: string; data: Record<string, unknown> }[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {
    this.publish = createEventPublisher(nc, { service: 'inventory', prefix });
  }

  /** Follows the executor's published events (core subscription on the stream's subjects). */
  listen(): void {
    const sub = this.nc.subscribe(subjectName('berth.executor.>', this.prefix));
    void (async () => {
      for await (const m of sub) {
        const env = m.json<{ type: string; data: Record<string, unknown> }>();
        this.received.push({ subject: m.subject, type: env.type, data: env.data });
      }
    })();
  }

  of(vmId: string): string[] {
    return this.received.filter((r) => r.data['vmId'] === vmId).map((r) => r.type);
  }

  async emit(streamId: string, type: string, data: unknown, id: string = randomUUID()): Promise<string> {
    const pos = (this.positions.get(streamId) ?? 0) + 1;
    this.positions.set(streamId, pos);
    await this.publish({
      id,
      type,
      schemaVersion: 1,
      streamId,
      streamPosition: pos,
      globalPosition: String(++this.global),
      occurredAt: new Date().toISOString(),
      data,
      metadata: {},
    });
    return id;
  }

  async place(vmId: string, hostId: string, uri: string, claim: Partial<Claim> = {}, spec: Partial<VmSpec> = {}): Promise<string> {
    const data: inventoryEvents.VmPlaced = {
      hostId,
      hypervisorUri: uri,
      generation: 1,
      explanation: {},
      alternates: [],
      spec: vmSpec(vmId, spec),
      claim: { ...claimFor(vmId, hostId), ...claim },
    };
    return this.emit(`vm-${vmId}`, 'VmPlaced', data);
  }
}

export const claimFor = (vmId: string, hostId: string): Claim => ({
  vmId,
  hostId,
  vcpus: 1,
  memoryBytes: 128 * 1024 ** 2,
  pinnedCpus: [],
  numaCells: [],
  hugepages: [],
  devices: [],
  vfs: [],
  volumes: [],
  affinityGroups: [],
});

export const vmSpec = (vmId: string, over: Partial<VmSpec> = {}): VmSpec => ({
  vmId,
  name: `vm ${vmId}`,
  vcpus: 1,
  memoryBytes: 128 * 1024 ** 2,
  disks: [],
  devices: [],
  nics: [],
  numaNodes: [],
  cpuPolicy: 'shared',
  passthroughCpu: false,
  highPerformance: false,
  slaTier: 'silver',
  priority: 0,
  tags: [],
  allowedHosts: [],
  affinity: [],
  migrationMode: 'none',
  ...over,
});
