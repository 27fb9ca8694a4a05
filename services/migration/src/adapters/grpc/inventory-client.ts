/** InventoryPort over inventory's gRPC API; proto messages are translated here and go no further. */
import { inventoryV1 as inv, modelV1 } from '@berth/contracts';
import { NotFoundError, type CallDeadline } from '@berth/errors';
import { callUnary, createClient, GrpcStatus, isServiceError, type ClientOptions } from '@berth/grpc-kit';
import { migrationModes, vmStatuses } from '@berth/model-codec';
import type { BeginOutcome, InventoryPort, VmInfo } from '../../application/ports.ts';

export function toVmInfo(vm: inv.Vm): VmInfo {
  const s = vm.spec ?? modelV1.VmSpec.fromPartial({});
  const pinned =
    s.passthroughCpu || s.cpuPolicy === modelV1.CpuPolicy.CPU_POLICY_DEDICATED || s.numaNodes.some((n) => n.pinnedHostNode !== undefined);
  return {
    vmId: vm.vmId,
    name: s.name || vm.vmId,
    status: vmStatuses.lookup(vm.status) ?? 'unknown',
    hostId: vm.hostId,
    hypervisorUri: vm.hypervisorUri,
    memoryBytes: s.memoryBytes,
    migrationMode: migrationModes.lookup(s.migrationMode) ?? 'manual-and-automatic',
    highPerformanceOrPinned: s.highPerformance || pinned,
    resourcePool: s.resourcePool,
    migrationId: vm.migrationId,
    // berth.model.v1.VmSpec: the message the scheduler's Score takes, passed on as it is.
    schedulingSpec: s,
    version: Number(vm.version),
  };
}

export class GrpcInventory implements InventoryPort {
  readonly client: InstanceType<typeof inv.InventoryServiceClient>;

  /** `options`: the call deadline, this service's own identity (mutual TLS) when the deployment has one, GRPC_CONNECT_TIMEOUT. */
  constructor(address: string, options: ClientOptions) {
    this.client = createClient(inv.InventoryServiceClient, address, options);
  }

  async getVm(vmId: string, call?: CallDeadline): Promise<VmInfo> {
    try {
      const r = await callUnary(this.client, 'getVm', { vmId }, call && { parent: call });
      if (!r.vm) throw new NotFoundError('vm', vmId);
      return toVmInfo(r.vm);
    } catch (e) {
      if (isServiceError(e) && e.code === GrpcStatus.NOT_FOUND) throw new NotFoundError('vm', vmId);
      throw e;
    }
  }

  async vmsOn(hostId: string): Promise<VmInfo[]> {
    return (await callUnary(this.client, 'listVms', { hostId, status: inv.VmStatus.VM_STATUS_UNSPECIFIED })).vms.map(toVmInfo);
  }

  async beginMigration(req: Parameters<InventoryPort['beginMigration']>[0]): Promise<BeginOutcome> {
    try {
      const r = await callUnary(this.client, 'beginVmMigration', {
        meta: { commandId: req.commandId },
        vmId: req.vmId,
        migrationId: req.migrationId,
        hostId: req.hostId,
        expectedGeneration: req.expectedGeneration,
        claim: modelV1.Claim.fromJSON(req.claim),
        automatic: req.automatic,
      });
      return { kind: 'claimed', generation: r.generation, hypervisorUri: r.hypervisorUri };
    } catch (e) {
      if (isServiceError(e) && e.code === GrpcStatus.ABORTED) return { kind: 'stale', detail: e.details };
      if (
        isServiceError(e) &&
        (e.code === GrpcStatus.FAILED_PRECONDITION || e.code === GrpcStatus.NOT_FOUND || e.code === GrpcStatus.INVALID_ARGUMENT)
      ) {
        return { kind: 'refused', detail: e.details };
      }
      throw e;
    }
  }

  async completeMigration(req: { commandId: string; vmId: string; migrationId: string }): Promise<void> {
    await callUnary(this.client, 'completeVmMigration', {
      meta: { commandId: req.commandId },
      vmId: req.vmId,
      migrationId: req.migrationId,
    });
  }

  async abortMigration(req: { commandId: string; vmId: string; migrationId: string; reason: string }): Promise<void> {
    await callUnary(this.client, 'abortVmMigration', {
      meta: { commandId: req.commandId },
      vmId: req.vmId,
      migrationId: req.migrationId,
      reason: req.reason,
    });
  }

  close(): void {
    this.client.close();
  }
}
