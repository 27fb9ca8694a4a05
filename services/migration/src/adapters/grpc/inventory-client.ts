/** InventoryPort over inventory's gRPC API; proto messages are translated here and go no further. */
import { inventoryV1 as inv, schedulerV1 as sch } from '@berth/contracts';
import { NotFoundError } from '@berth/errors';
import { callUnary, createClient, GrpcStatus, isServiceError, type ClientTls } from '@berth/grpc-kit';
import type { BeginOutcome, InventoryPort, VmInfo } from '../../application/ports.ts';

const STATUS: Readonly<Record<number, string>> = {
  [inv.VmStatus.VM_STATUS_REQUESTED]: 'requested',
  [inv.VmStatus.VM_STATUS_PLACED]: 'placed',
  [inv.VmStatus.VM_STATUS_PROVISIONING]: 'provisioning',
  [inv.VmStatus.VM_STATUS_RUNNING]: 'running',
  [inv.VmStatus.VM_STATUS_STOPPING]: 'stopping',
  [inv.VmStatus.VM_STATUS_STOPPED]: 'stopped',
  [inv.VmStatus.VM_STATUS_DELETING]: 'deleting',
  [inv.VmStatus.VM_STATUS_DELETED]: 'deleted',
  [inv.VmStatus.VM_STATUS_PLACEMENT_FAILED]: 'placement-failed',
  [inv.VmStatus.VM_STATUS_PROVISION_FAILED]: 'provision-failed',
};

const MODE: Readonly<Record<number, VmInfo['migrationMode']>> = {
  [inv.MigrationMode.MIGRATION_MODE_NONE]: 'none',
  [inv.MigrationMode.MIGRATION_MODE_MANUAL]: 'manual',
  [inv.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC]: 'manual-and-automatic',
};

/**
 * Inventory's VmSpec as the scheduler's VmSpec: the two messages carry the same fields with the same
 * enum numbers (inventory's adds the migration mode and NIC addresses, which scheduling ignores).
 */
export function toSchedulerSpec(vmId: string, s: inv.VmSpec): sch.VmSpec {
  return sch.VmSpec.fromPartial({
    vmId,
    name: s.name,
    vcpus: s.vcpus,
    memoryBytes: s.memoryBytes,
    disks: s.disks.map((d) => ({ sizeBytes: d.sizeBytes, pool: d.pool })),
    devices: s.devices.map((d) => ({ type: d.type, count: d.count })),
    nics: s.nics.map((n) => ({
      sriov: n.sriov,
      ...(n.network ? { network: { space: n.network.space, subnet: n.network.subnet, vlan: n.network.vlan } } : {}),
    })),
    numaNodes: s.numaNodes.map((n) => ({
      vcpus: n.vcpus,
      memoryBytes: n.memoryBytes,
      ...(n.pinnedHostNode !== undefined ? { pinnedHostNode: n.pinnedHostNode } : {}),
    })),
    cpuPolicy: s.cpuPolicy.valueOf(),
    hugepageSizeBytes: s.hugepageSizeBytes ?? 0,
    passthroughCpu: s.passthroughCpu,
    cpuModel: s.cpuModel,
    highPerformance: s.highPerformance,
    ...(s.topology
      ? { topology: { sockets: s.topology.sockets, coresPerSocket: s.topology.coresPerSocket, threadsPerCore: s.topology.threadsPerCore } }
      : {}),
    slaTier: s.slaTier.valueOf(),
    priority: s.priority,
    tags: [...s.tags],
    allowedHosts: [...s.allowedHosts],
    resourcePool: s.resourcePool,
    affinity: s.affinity.map((a) => ({
      group: a.group,
      polarity: a.polarity.valueOf(),
      target: a.target.valueOf(),
      enforcement: a.enforcement.valueOf(),
      hosts: [...a.hosts],
    })),
  });
}

export function toVmInfo(vm: inv.Vm): VmInfo {
  const s = vm.spec ?? inv.VmSpec.fromPartial({});
  const pinned =
    s.passthroughCpu || s.cpuPolicy === inv.CpuPolicy.CPU_POLICY_DEDICATED || s.numaNodes.some((n) => n.pinnedHostNode !== undefined);
  return {
    vmId: vm.vmId,
    name: s.name || vm.vmId,
    status: STATUS[vm.status] ?? 'unknown',
    hostId: vm.hostId,
    hypervisorUri: vm.hypervisorUri,
    memoryBytes: s.memoryBytes,
    migrationMode: MODE[s.migrationMode] ?? 'manual-and-automatic',
    highPerformanceOrPinned: s.highPerformance || pinned,
    resourcePool: s.resourcePool,
    migrationId: vm.migrationId,
    schedulingSpec: toSchedulerSpec(vm.vmId, s),
  };
}

export class GrpcInventory implements InventoryPort {
  readonly client: InstanceType<typeof inv.InventoryServiceClient>;

  /** `tls`: this service's own identity (mutual TLS), when the deployment has one. */
  constructor(address: string, deadlineMillis: number, tls?: ClientTls) {
    this.client = createClient(inv.InventoryServiceClient, address, { deadlineMillis, ...(tls && { tls }) });
  }

  async getVm(vmId: string): Promise<VmInfo> {
    try {
      const r = await callUnary(this.client, 'getVm', { vmId });
      if (!r.vm) throw new NotFoundError('vm', vmId);
      return toVmInfo(r.vm);
    } catch (e) {
      if (isServiceError(e) && e.code === GrpcStatus.NOT_FOUND) throw new NotFoundError('vm', vmId);
      throw e;
    }
  }

  async beginMigration(req: Parameters<InventoryPort['beginMigration']>[0]): Promise<BeginOutcome> {
    try {
      const r = await callUnary(this.client, 'beginVmMigration', {
        meta: { commandId: req.commandId },
        vmId: req.vmId,
        migrationId: req.migrationId,
        hostId: req.hostId,
        expectedGeneration: req.expectedGeneration,
        claim: inv.Claim.fromJSON(req.claim),
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
