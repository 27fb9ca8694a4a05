import { inventoryV1 as pb } from '@berth/contracts';
import { usage as usageOf, allocatableVcpus, ordinaryMemoryCapacity, type Claim, type HostSnapshot, type NetworkRef } from '@berth/fit';
import type { HostSpecInput } from '../../domain/host/commands.ts';
import { hostSnapshotOf, type ActiveHost } from '../../domain/host/state.ts';
import { hostStates } from './enums.ts';
import { perObject } from './per-object.ts';

const net = (n: pb.NetworkRef): NetworkRef => ({
  ...(n.space ? { space: n.space } : {}),
  ...(n.subnet ? { subnet: n.subnet } : {}),
  ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
});
const netOut = (n: NetworkRef): pb.NetworkRef => ({
  space: n.space ?? '',
  subnet: n.subnet ?? '',
  ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
});

export function decodeHostSpec(s: pb.HostSpec | undefined): HostSpecInput {
  const spec = s ?? pb.HostSpec.fromPartial({});
  return {
    name: spec.name,
    hypervisorUri: spec.hypervisorUri,
    ...(spec.profileId ? { profileId: spec.profileId } : {}),
    ...(spec.cpuOvercommit === undefined ? {} : { cpuOvercommit: spec.cpuOvercommit }),
    ...(spec.memoryOvercommit === undefined ? {} : { memoryOvercommit: spec.memoryOvercommit }),
    cpuModel: spec.cpuModel,
    ...(spec.topology ? { topology: { ...spec.topology } } : {}),
    ...(spec.cpus === undefined ? {} : { cpus: spec.cpus }),
    ...(spec.memoryBytes === undefined ? {} : { memoryBytes: spec.memoryBytes }),
    numaNodes: spec.numaNodes.map((n) => ({
      id: n.id,
      cpus: n.cpus,
      memoryBytes: n.memoryBytes,
      hugepages: n.hugepages.map((h) => ({ ...h })),
    })),
    sriovNics: spec.sriovNics.map((n) => ({ name: n.name, numaNode: n.numaNode, vfsTotal: n.vfsTotal, networks: n.networks.map(net) })),
    pciDevices: spec.pciDevices.map((d) => ({
      type: d.type,
      address: d.address,
      ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }),
    })),
    storagePools: spec.storagePools.map((p) => ({ ...p })),
    networks: spec.networks.map(net),
    resourcePool: spec.resourcePool,
    tags: spec.tags,
    ...(spec.addressTranslation ? { addressTranslation: { ...spec.addressTranslation } } : {}),
  };
}

export function encodeHostSpec(h: ActiveHost): pb.HostSpec {
  const c = h.record.capacity;
  return {
    name: c.name,
    hypervisorUri: h.record.hypervisorUri,
    profileId: c.profileId ?? '',
    cpuOvercommit: c.cpuOvercommit,
    memoryOvercommit: c.memoryOvercommit,
    cpuModel: c.cpuModel,
    topology: { ...c.topology },
    cpus: c.cpus,
    memoryBytes: c.memoryBytes,
    numaNodes: c.numaNodes.map((n) => ({
      id: n.id,
      cpus: [...n.cpus],
      memoryBytes: n.memoryBytes,
      hugepages: n.hugepages.map((p) => ({ ...p })),
    })),
    sriovNics: c.sriovNics.map((n) => ({ name: n.name, numaNode: n.numaNode, vfsTotal: n.vfsTotal, networks: n.networks.map(netOut) })),
    pciDevices: c.pciDevices.map((d) => ({
      type: d.type,
      address: d.address,
      ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }),
    })),
    storagePools: c.storagePools.map((p) => ({ ...p })),
    networks: c.networks.map(netOut),
    resourcePool: c.resourcePool,
    tags: [...c.tags],
    ...(h.record.addressTranslation ? { addressTranslation: { ...h.record.addressTranslation } } : {}),
  };
}

export function decodeClaim(c: pb.Claim | undefined): Claim {
  const claim = c ?? pb.Claim.fromPartial({});
  return {
    vmId: claim.vmId,
    hostId: claim.hostId,
    vcpus: claim.vcpus,
    memoryBytes: claim.memoryBytes,
    pinnedCpus: claim.pinnedCpus,
    numaCells: claim.numaCells.map(({ vcpus, ...x }) => ({ ...x, ...(vcpus > 0 ? { vcpus } : {}) })),
    hugepages: claim.hugepages.map((x) => ({ ...x })),
    devices: claim.devices.map((d) => ({
      type: d.type,
      address: d.address,
      ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }),
    })),
    vfs: claim.vfs.map((x) => ({ ...x })),
    volumes: claim.volumes.map((x) => ({ ...x })),
    affinityGroups: claim.affinityGroups,
  };
}

/** Claims are immutable once taken: each is encoded once, for every answer that shows it (VM, host, snapshot). */
export const encodeClaim: (c: Claim) => pb.Claim = perObject(encodeClaimOnce);

function encodeClaimOnce(c: Claim): pb.Claim {
  return {
    vmId: c.vmId,
    hostId: c.hostId,
    vcpus: c.vcpus,
    memoryBytes: c.memoryBytes,
    pinnedCpus: [...c.pinnedCpus],
    numaCells: c.numaCells.map((x) => ({ ...x, cpus: [...x.cpus], vcpus: x.vcpus ?? 0 })),
    hugepages: c.hugepages.map((x) => ({ ...x })),
    devices: c.devices.map((d) => ({ type: d.type, address: d.address, ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }) })),
    vfs: c.vfs.map((x) => ({ ...x })),
    volumes: c.volumes.map((x) => ({ ...x })),
    affinityGroups: [...c.affinityGroups],
  };
}

/** What the host has given out: per NUMA node, per pool, devices and VFs in use. */
export function encodeUsage(snap: HostSnapshot): pb.HostUsage {
  const c = snap.capacity;
  const u = usageOf(snap);
  const deviceOwner = new Map(snap.claims.flatMap((cl) => cl.devices.map((d) => [d.address, cl.vmId] as const)));
  const vmsOnNode = (id: number): number =>
    snap.claims.filter((cl) => cl.numaCells.some((x) => x.hostNode === id) || cl.hugepages.some((x) => x.numaNode === id)).length;
  return {
    vcpusAllocatable: allocatableVcpus(c.cpus, c.cpuOvercommit),
    vcpusUsed: u.vcpus,
    memoryAllocatableBytes: ordinaryMemoryCapacity(c),
    memoryUsedBytes: u.memoryBytes,
    vmCount: u.vms,
    numaNodes: c.numaNodes.map((n) => {
      const nu = u.numa.get(n.id);
      return {
        id: n.id,
        cpusTotal: n.cpus.length,
        cpusPinned: nu?.pinnedCpus.length ?? 0,
        memoryBytes: n.memoryBytes,
        memoryUsedBytes: nu?.memoryBytes ?? 0,
        hugepages: n.hugepages.map((p) => ({
          pageSizeBytes: p.pageSizeBytes,
          total: p.total,
          used: nu?.hugepages.get(p.pageSizeBytes) ?? 0,
        })),
        vmCount: vmsOnNode(n.id),
      };
    }),
    storagePools: c.storagePools.map((p) => {
      const used = p.externalUsedBytes + (u.pools.get(p.name) ?? 0);
      return {
        name: p.name,
        totalBytes: p.totalBytes,
        usedBytes: used,
        availableBytes: Math.max(0, p.totalBytes - used),
        isDefault: p.isDefault,
      };
    }),
    devices: c.pciDevices.map((d) => ({ type: d.type, address: d.address, vmId: deviceOwner.get(d.address) ?? '' })),
    vfs: c.sriovNics.map((n) => ({ nic: n.name, total: n.vfsTotal, used: u.vfs.get(n.name) ?? 0 })),
  };
}

export function encodeHost(h: ActiveHost): pb.Host {
  const snap = hostSnapshotOf(h);
  return {
    hostId: h.hostId,
    spec: encodeHostSpec(h),
    state: hostStates.encode(h.state),
    generation: h.generation,
    usage: encodeUsage(snap),
    claims: h.claims.map(encodeClaim),
    stateReason: h.stateReason,
  };
}

export function encodeSnapshot(h: ActiveHost): pb.HostSnapshot {
  return {
    hostId: h.hostId,
    generation: h.generation,
    state: hostStates.encode(h.state),
    spec: encodeHostSpec(h),
    claims: h.claims.map(encodeClaim),
  };
}
