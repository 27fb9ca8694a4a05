import { modelV1 as pb } from '@berth/contracts';
import type { HostCapacity, HostSpecInput } from '@berth/fit';
import { decodeNetwork, encodeNetwork } from './network.ts';

/** berth.model.v1.HostSpec -> what an operator declared, before validation and profile defaults. */
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
    sriovNics: spec.sriovNics.map((n) => ({
      name: n.name,
      numaNode: n.numaNode,
      vfsTotal: n.vfsTotal,
      networks: n.networks.map(decodeNetwork),
    })),
    pciDevices: spec.pciDevices.map((d) => ({
      type: d.type,
      address: d.address,
      ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }),
    })),
    storagePools: spec.storagePools.map((p) => ({ ...p })),
    networks: spec.networks.map(decodeNetwork),
    resourcePool: spec.resourcePool,
    tags: spec.tags,
    ...(spec.addressTranslation ? { addressTranslation: { ...spec.addressTranslation } } : {}),
  };
}

/** A host's effective record (profile defaults applied) as berth.model.v1.HostSpec. */
export function encodeHostSpec(record: {
  readonly capacity: HostCapacity;
  readonly hypervisorUri: string;
  readonly addressTranslation?: { readonly address: string; readonly basePort: number };
}): pb.HostSpec {
  const c = record.capacity;
  return {
    name: c.name,
    hypervisorUri: record.hypervisorUri,
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
    sriovNics: c.sriovNics.map((n) => ({
      name: n.name,
      numaNode: n.numaNode,
      vfsTotal: n.vfsTotal,
      networks: n.networks.map(encodeNetwork),
    })),
    pciDevices: c.pciDevices.map((d) => ({
      type: d.type,
      address: d.address,
      ...(d.numaNode === undefined ? {} : { numaNode: d.numaNode }),
    })),
    storagePools: c.storagePools.map((p) => ({ ...p })),
    networks: c.networks.map(encodeNetwork),
    resourcePool: c.resourcePool,
    tags: [...c.tags],
    ...(record.addressTranslation ? { addressTranslation: { ...record.addressTranslation } } : {}),
  };
}
