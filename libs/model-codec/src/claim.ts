import { modelV1 as pb } from '@berth/contracts';
import type { Claim } from '@berth/fit';
import { perObject } from './per-object.ts';

/** berth.model.v1.Claim -> the fit model (a cell's `vcpus` of 0 is a claim recorded before it existed). */
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

/** Claims are immutable once taken: each is encoded once, for every answer that shows it (VM, host, snapshot, claim request). */
export const encodeClaim: (c: Claim) => pb.Claim = perObject(encodeClaimOnce);

function encodeClaimOnce(c: Claim): pb.Claim {
  return {
    vmId: c.vmId,
    hostId: c.hostId,
    vcpus: c.vcpus,
    memoryBytes: c.memoryBytes,
    pinnedCpus: [...c.pinnedCpus],
    numaCells: c.numaCells.map((x) => ({
      guestCell: x.guestCell,
      hostNode: x.hostNode,
      cpus: [...x.cpus],
      memoryBytes: x.memoryBytes,
      vcpus: x.vcpus ?? 0,
    })),
    hugepages: c.hugepages.map((x) => ({ numaNode: x.numaNode, pageSizeBytes: x.pageSizeBytes, count: x.count })),
    devices: c.devices.map((d) => ({ type: d.type, address: d.address, ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }) })),
    vfs: c.vfs.map((x) => ({ nic: x.nic, count: x.count })),
    volumes: c.volumes.map((x) => ({ diskIndex: x.diskIndex, pool: x.pool, sizeBytes: x.sizeBytes })),
    affinityGroups: [...c.affinityGroups],
  };
}
