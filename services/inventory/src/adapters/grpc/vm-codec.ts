import { inventoryV1 as pb } from '@berth/contracts';
import type { AffinityRule, NicRequest, VmSpec } from '@berth/fit';
import type { VmSpecInput } from '../../domain/vm/commands.ts';
import { migrationOf, placementOf } from '../../domain/vm/state.ts';
import type { VmView } from '../../application/vms.ts';
import { encodeClaim } from './host-codec.ts';
import { cpuPolicies, enforcements, migrationModes, polarities, slaTiers, targets, vmStatuses } from './enums.ts';
import { perObject } from './per-object.ts';

function nic(n: pb.NicRequest): NicRequest {
  const network = n.network
    ? {
        ...(n.network.space ? { space: n.network.space } : {}),
        ...(n.network.subnet ? { subnet: n.network.subnet } : {}),
        ...(n.network.vlan === undefined ? {} : { vlan: n.network.vlan }),
      }
    : {};
  const withIp = n.ip ? { ...network, ip: n.ip } : network;
  return Object.keys(withIp).length > 0 ? { network: withIp, sriov: n.sriov } : { sriov: n.sriov };
}

function affinity(r: pb.AffinityRule, i: number): AffinityRule {
  const f = `spec.affinity[${i}]`;
  return {
    group: r.group,
    polarity: polarities.decode(r.polarity, `${f}.polarity`) ?? 'affinity',
    target: targets.decode(r.target, `${f}.target`) ?? 'vm',
    enforcement: enforcements.decode(r.enforcement, `${f}.enforcement`) ?? 'hard',
    hosts: r.hosts,
  };
}

export function decodeVmSpec(s: pb.VmSpec | undefined): VmSpecInput {
  const spec = s ?? pb.VmSpec.fromPartial({});
  const cpuPolicy = cpuPolicies.decode(spec.cpuPolicy, 'spec.cpuPolicy');
  const slaTier = slaTiers.decode(spec.slaTier, 'spec.slaTier');
  const migrationMode = migrationModes.decode(spec.migrationMode, 'spec.migrationMode');
  return {
    name: spec.name,
    vcpus: spec.vcpus,
    memoryBytes: spec.memoryBytes,
    disks: spec.disks.map((d) => (d.pool ? { sizeBytes: d.sizeBytes, pool: d.pool } : { sizeBytes: d.sizeBytes })),
    devices: spec.devices.map((d) => ({ ...d })),
    nics: spec.nics.map(nic),
    numaNodes: spec.numaNodes.map((n) => ({
      vcpus: n.vcpus,
      memoryBytes: n.memoryBytes,
      ...(n.pinnedHostNode === undefined ? {} : { pinnedHostNode: n.pinnedHostNode }),
    })),
    ...(cpuPolicy ? { cpuPolicy } : {}),
    ...(spec.hugepageSizeBytes === undefined ? {} : { hugepageSizeBytes: spec.hugepageSizeBytes }),
    passthroughCpu: spec.passthroughCpu,
    ...(spec.cpuModel ? { cpuModel: spec.cpuModel } : {}),
    highPerformance: spec.highPerformance,
    ...(spec.topology ? { topology: { ...spec.topology } } : {}),
    ...(slaTier ? { slaTier } : {}),
    priority: spec.priority,
    tags: spec.tags,
    allowedHosts: spec.allowedHosts,
    ...(spec.resourcePool ? { resourcePool: spec.resourcePool } : {}),
    affinity: spec.affinity.map(affinity),
    ...(migrationMode ? { migrationMode } : {}),
  };
}

/**
 * A VM's spec never changes after VmRequested and its state keeps the same object, so each spec is
 * encoded once: every later answer about the VM (claim, start, stop, get, list) reuses the message.
 * Nothing writes to an encoded message; the protobuf encoder only reads it.
 */
export const encodeVmSpec: (s: VmSpec) => pb.VmSpec = perObject(encodeVmSpecOnce);

function encodeVmSpecOnce(s: VmSpec): pb.VmSpec {
  return {
    name: s.name,
    vcpus: s.vcpus,
    memoryBytes: s.memoryBytes,
    disks: s.disks.map((d) => ({ sizeBytes: d.sizeBytes, pool: d.pool ?? '' })),
    devices: s.devices.map((d) => ({ ...d })),
    nics: s.nics.map((n) => ({
      ...(n.network
        ? {
            network: {
              space: n.network.space ?? '',
              subnet: n.network.subnet ?? '',
              ...(n.network.vlan === undefined ? {} : { vlan: n.network.vlan }),
            },
          }
        : {}),
      ip: n.network?.ip ?? '',
      sriov: n.sriov,
    })),
    numaNodes: s.numaNodes.map((n) => ({
      vcpus: n.vcpus,
      memoryBytes: n.memoryBytes,
      ...(n.pinnedHostNode === undefined ? {} : { pinnedHostNode: n.pinnedHostNode }),
    })),
    cpuPolicy: cpuPolicies.encode(s.cpuPolicy),
    ...(s.hugepageSizeBytes === undefined ? {} : { hugepageSizeBytes: s.hugepageSizeBytes }),
    passthroughCpu: s.passthroughCpu,
    cpuModel: s.cpuModel ?? '',
    highPerformance: s.highPerformance,
    ...(s.topology ? { topology: { ...s.topology } } : {}),
    slaTier: slaTiers.encode(s.slaTier),
    priority: s.priority,
    tags: [...s.tags],
    allowedHosts: [...s.allowedHosts],
    resourcePool: s.resourcePool ?? '',
    affinity: s.affinity.map((r) => ({
      group: r.group,
      polarity: polarities.encode(r.polarity),
      target: targets.encode(r.target),
      enforcement: enforcements.encode(r.enforcement),
      hosts: [...r.hosts],
    })),
    migrationMode: migrationModes.encode(s.migrationMode),
  };
}

/** The placement's explanation as JSON, serialised once per explanation (state keeps the object). */
const explanationText = perObject((explanation: object) => JSON.stringify(explanation));
const explanationJson = (explanation: unknown): string =>
  typeof explanation === 'object' && explanation !== null ? explanationText(explanation) : JSON.stringify(explanation);

export function encodeVm({ vm, requestedAt, updatedAt }: VmView): pb.Vm {
  const p = placementOf(vm);
  return {
    vmId: vm.core.vmId,
    spec: encodeVmSpec(vm.core.spec),
    status: vmStatuses.encode(vm.status),
    hostId: p?.hostId ?? '',
    ...(p ? { claim: encodeClaim(p.claim) } : {}),
    failureReason: ('reason' in vm ? vm.reason : undefined) ?? '',
    attempt: vm.core.attempt,
    excludedHosts: [...vm.core.excludedHosts],
    version: vm.version,
    explanationJson:
      vm.status === 'waiting-for-capacity'
        ? explanationJson(vm.explanation)
        : p?.explanation === undefined
          ? ''
          : explanationJson(p.explanation),
    requestedAt,
    updatedAt,
    migrationId: migrationOf(vm)?.migrationId ?? '',
    migratingToHostId: migrationOf(vm)?.destination.hostId ?? '',
    hypervisorUri: p?.hypervisorUri ?? '',
    capacityDeadline: vm.core.capacityDeadline ?? '',
    // Documents projected before projects existed have none: those VMs are in `default`.
    project: vm.core.project ?? 'default',
  };
}
