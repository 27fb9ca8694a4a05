/**
 * The demo fleet: when no host is registered yet, `npm start` registers a few simulator hosts
 * (`sim://` URIs, served by the executor's simulator driver) so a new user can compose VMs at once.
 * Two NUMA nodes each, one with a GPU, overcommit on CPU — enough to see filters and curves at work.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { createClient } from '@berth/grpc-kit';
import type { ServiceManifest } from './services.ts';

const GiB = 1024 ** 3;

function demoHost(i: number): modelV1.HostSpec {
  const cpusPerNode = 8;
  const node = (id: number): modelV1.NumaNode => ({
    id,
    cpus: Array.from({ length: cpusPerNode }, (_, k) => id * cpusPerNode + k),
    memoryBytes: 32 * GiB,
    hugepages: [{ pageSizeBytes: 2 * 1024 * 1024, total: 2048 }],
  });
  return modelV1.HostSpec.fromPartial({
    name: `demo-${i}`,
    hypervisorUri: `sim://demo-${i}`,
    cpuOvercommit: 2,
    memoryOvercommit: 1.5,
    cpuModel: 'Skylake-Server',
    topology: { sockets: 2, coresPerSocket: 4, threadsPerCore: 2 },
    cpus: 16,
    memoryBytes: 64 * GiB,
    numaNodes: [node(0), node(1)],
    pciDevices: i === 1 ? [{ type: 'nvidia-gpu', address: '0000:3b:00.0', numaNode: 0 }] : [],
    storagePools: [
      { name: 'berth-vm', type: 'dir', path: '/var/lib/berth/vm', totalBytes: 2048 * GiB, externalUsedBytes: 0, isDefault: true },
    ],
    networks: [{ space: 'default', subnet: '10.0.0.0/24' }],
    resourcePool: 'default',
    tags: ['demo'],
  });
}

function call<Req, Res>(
  fn: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r)));
  });
}

export async function registerDemoFleet(services: readonly ServiceManifest[], count = 3): Promise<string | undefined> {
  const inventory = services.find((s) => s.name === 'inventory');
  if (!inventory || process.env['BERTH_DEMO_FLEET'] === '0') return undefined;
  const client = createClient(inventoryV1.InventoryServiceClient, `127.0.0.1:${inventory.port}`);
  try {
    const existing = await call(client.listHosts.bind(client), inventoryV1.ListHostsRequest.fromPartial({}));
    if (existing.hosts.length > 0) return `${existing.hosts.length} host(s) registered.`;
    for (let i = 1; i <= count; i++) {
      await call(
        client.registerHost.bind(client),
        inventoryV1.RegisterHostRequest.fromPartial({ meta: { commandId: randomUUID() }, hostId: `demo-${i}`, spec: demoHost(i) }),
      );
    }
    return `Registered a demo fleet of ${count} simulator hosts (demo-1..demo-${count}; set BERTH_DEMO_FLEET=0 to skip).`;
  } finally {
    client.close();
  }
}
