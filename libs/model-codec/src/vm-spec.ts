import { modelV1 as pb } from '@berth/contracts';
import type { AffinityRule, NicRequest, VmSpec, VmSpecInput } from '@berth/fit';
import { cpuPolicies, enforcements, migrationModes, polarities, slaTiers, targets } from './enums.ts';
import { decodeNetwork, encodeNetwork } from './network.ts';
import { perObject } from './per-object.ts';

function nic(n: pb.NicRequest): NicRequest {
  const network = n.network ? decodeNetwork(n.network) : {};
  const withIp = n.ip ? { ...network, ip: n.ip } : network;
  return Object.keys(withIp).length > 0 ? { network: withIp, sriov: n.sriov } : { sriov: n.sriov };
}

function affinity(r: pb.AffinityRule, field: string): AffinityRule {
  return {
    group: r.group,
    polarity: polarities.decode(r.polarity, `${field}.polarity`) ?? 'affinity',
    target: targets.decode(r.target, `${field}.target`) ?? 'vm',
    enforcement: enforcements.decode(r.enforcement, `${field}.enforcement`) ?? 'hard',
    hosts: r.hosts,
  };
}

/**
 * berth.model.v1.VmSpec -> the fit model's request, before defaults and validation (`resolveVmSpec`
 * in @berth/fit applies both). Unknown enum numbers are refused naming `field` (`spec.slaTier`).
 */
export function decodeVmSpec(s: pb.VmSpec | undefined, field = 'spec'): VmSpecInput {
  const spec = s ?? pb.VmSpec.fromPartial({});
  const cpuPolicy = cpuPolicies.decode(spec.cpuPolicy, `${field}.cpuPolicy`);
  const slaTier = slaTiers.decode(spec.slaTier, `${field}.slaTier`);
  const migrationMode = migrationModes.decode(spec.migrationMode, `${field}.migrationMode`);
  return {
    name: spec.name,
    vcpus: spec.vcpus,
    memoryBytes: spec.memoryBytes,
    disks: spec.disks.map((d) => (d.pool ? { sizeBytes: d.sizeBytes, pool: d.pool } : { sizeBytes: d.sizeBytes })),
    devices: spec.devices.map((d) => ({ type: d.type, count: d.count })),
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
    ...(spec.topology
      ? {
          topology: {
            sockets: spec.topology.sockets,
            coresPerSocket: spec.topology.coresPerSocket,
            threadsPerCore: spec.topology.threadsPerCore,
          },
        }
      : {}),
    ...(slaTier ? { slaTier } : {}),
    priority: spec.priority,
    tags: spec.tags,
    allowedHosts: spec.allowedHosts,
    ...(spec.resourcePool ? { resourcePool: spec.resourcePool } : {}),
    affinity: spec.affinity.map((r, i) => affinity(r, `${field}.affinity[${i}]`)),
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
    devices: s.devices.map((d) => ({ type: d.type, count: d.count })),
    nics: s.nics.map((n) => ({
      ...(n.network ? { network: encodeNetwork(n.network) } : {}),
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
