import { randomUUID } from 'node:crypto';
import { callUnary, createClient, GrpcStatus, fieldViolationsOf, isServiceError, type UnaryMethodName } from '@berth/grpc-kit';
import { inventoryV1 as pb, modelV1 } from '@berth/contracts';

export type Client = InstanceType<typeof pb.InventoryServiceClient>;
type Req<K extends UnaryMethodName<Client>> = Parameters<Client[K]>[0];

/** Test helpers around a real client: typed calls, fresh command ids, error inspection. */
export function testClient(port: number) {
  const client = createClient(pb.InventoryServiceClient, `127.0.0.1:${port}`, { deadlineMillis: 10_000 });
  const call = <K extends UnaryMethodName<Client>>(method: K, request: Req<K>) => callUnary(client, method, request as never);
  const failure = async (p: Promise<unknown>): Promise<{ code: GrpcStatus; fields: string[]; details: string }> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isServiceError(err)) throw new Error(`expected a gRPC error, got ${JSON.stringify(err)}`);
    return { code: err.code, fields: fieldViolationsOf(err).map((v) => v.field), details: err.details };
  };
  return { client, call, failure, meta: () => ({ commandId: randomUUID() }) };
}

const GiB = 1024 ** 3;

export function hostSpecMsg(over: Partial<modelV1.HostSpec> = {}): modelV1.HostSpec {
  return modelV1.HostSpec.fromPartial({
    name: 'h',
    hypervisorUri: 'qemu+ssh://root@h.example.com/system',
    cpuModel: 'Cascadelake-Server',
    cpus: 8,
    memoryBytes: 32 * GiB,
    storagePools: [
      { name: 'default', type: 'dir', path: '/var/lib/libvirt/images', totalBytes: 500 * GiB, externalUsedBytes: 0, isDefault: true },
    ],
    ...over,
  });
}

export function vmSpecMsg(over: Partial<modelV1.VmSpec> = {}): modelV1.VmSpec {
  return modelV1.VmSpec.fromPartial({ name: 'vm', vcpus: 2, memoryBytes: 4 * GiB, disks: [{ sizeBytes: 10 * GiB, pool: '' }], ...over });
}

export function claimMsg(vmId: string, hostId: string, over: Partial<modelV1.Claim> = {}): modelV1.Claim {
  return modelV1.Claim.fromPartial({ vmId, hostId, vcpus: 2, memoryBytes: 4 * GiB, ...over });
}
