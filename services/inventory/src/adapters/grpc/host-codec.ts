import type { inventoryV1 as pb, modelV1 } from '@berth/contracts';
import { usage as usageOf, allocatableVcpus, ordinaryMemoryCapacity, type HostSnapshot } from '@berth/fit';
import { hostSnapshotOf, type ActiveHost } from '../../domain/host/state.ts';
import { encodeClaim, encodeHostSpec, hostStates } from '@berth/model-codec';

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
    spec: encodeHostSpec(h.record),
    state: hostStates.encode(h.state),
    generation: h.generation,
    usage: encodeUsage(snap),
    claims: h.claims.map(encodeClaim),
    stateReason: h.stateReason,
  };
}

export function encodeSnapshot(h: ActiveHost): modelV1.HostSnapshot {
  return {
    hostId: h.hostId,
    generation: h.generation,
    state: hostStates.encode(h.state),
    spec: encodeHostSpec(h.record),
    claims: h.claims.map(encodeClaim),
  };
}
