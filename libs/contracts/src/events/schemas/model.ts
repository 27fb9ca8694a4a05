/** Schemas of the fit model (VmSpec, Claim, HostCapacity) and the hardware config as events carry them. */
import type {
  AffinityRule,
  Claim,
  ClaimedHugepages,
  ClaimedNumaCell,
  ClaimedVfs,
  ClaimedVolume,
  CpuTopology,
  DeviceRequest,
  DiskRequest,
  HostCapacity,
  HostState,
  HugepagePool,
  NetworkRef,
  NicRequest,
  NumaNode,
  PciDevice,
  SriovNic,
  StoragePool,
  VirtualNumaNode,
  VmSpec,
} from '../model.ts';
import type { HardwareConfig } from '../hardware-config.ts';
import { z } from 'zod';
import { bytes, count, nonEmpty, objectOf, positiveInt } from './define.ts';

const ints = z.array(count);
const strings = z.array(z.string());

export const hostStateSchema: z.ZodType<HostState> = z.enum([
  'enabled',
  'no-scheduling',
  'disabled',
  'maintenance-preparing',
  'maintenance',
]);
export const cpuTopologySchema = objectOf<CpuTopology>()({ sockets: count, coresPerSocket: count, threadsPerCore: count });
export const networkRefSchema = objectOf<NetworkRef>()({
  space: z.string().optional(),
  subnet: z.string().optional(),
  vlan: count.optional(),
});
export const pciDeviceSchema = objectOf<PciDevice>()({ type: z.string(), address: z.string(), numaNode: count.optional() });
const hugepagePoolSchema = objectOf<HugepagePool>()({ pageSizeBytes: bytes, total: count });
const numaNodeSchema = objectOf<NumaNode>()({ id: count, cpus: ints, memoryBytes: bytes, hugepages: z.array(hugepagePoolSchema) });
const sriovNicSchema = objectOf<SriovNic>()({ name: z.string(), numaNode: count, vfsTotal: count, networks: z.array(networkRefSchema) });
const storagePoolSchema = objectOf<StoragePool>()({
  name: z.string(),
  type: z.string(),
  path: z.string(),
  totalBytes: bytes,
  externalUsedBytes: bytes,
  isDefault: z.boolean(),
});

export const hostCapacitySchema = objectOf<HostCapacity>()({
  hostId: nonEmpty,
  name: z.string(),
  state: hostStateSchema,
  resourcePool: z.string(),
  tags: strings,
  cpuModel: z.string(),
  topology: cpuTopologySchema,
  cpus: count,
  memoryBytes: bytes,
  cpuOvercommit: z.number().min(0).max(10),
  memoryOvercommit: z.number().min(0).max(10),
  numaNodes: z.array(numaNodeSchema),
  sriovNics: z.array(sriovNicSchema),
  pciDevices: z.array(pciDeviceSchema),
  storagePools: z.array(storagePoolSchema),
  networks: z.array(networkRefSchema),
  profileId: z.string().optional(),
});

const claimedNumaCellSchema = objectOf<ClaimedNumaCell>()({
  guestCell: count,
  hostNode: count,
  cpus: ints,
  memoryBytes: bytes,
  vcpus: count.optional(),
});
const claimedHugepagesSchema = objectOf<ClaimedHugepages>()({ numaNode: count, pageSizeBytes: bytes, count });
const claimedVfsSchema = objectOf<ClaimedVfs>()({ nic: z.string(), count });
const claimedVolumeSchema = objectOf<ClaimedVolume>()({ diskIndex: count, pool: z.string(), sizeBytes: bytes });

export const claimSchema = objectOf<Claim>()({
  vmId: nonEmpty,
  hostId: nonEmpty,
  vcpus: count,
  memoryBytes: bytes,
  pinnedCpus: ints,
  numaCells: z.array(claimedNumaCellSchema),
  hugepages: z.array(claimedHugepagesSchema),
  devices: z.array(pciDeviceSchema),
  vfs: z.array(claimedVfsSchema),
  volumes: z.array(claimedVolumeSchema),
  affinityGroups: strings,
});

const diskRequestSchema = objectOf<DiskRequest>()({ sizeBytes: bytes, pool: z.string().optional() });
const deviceRequestSchema = objectOf<DeviceRequest>()({ type: z.string(), count });
const nicNetworkSchema = objectOf<NetworkRef & { readonly ip?: string }>()({
  space: z.string().optional(),
  subnet: z.string().optional(),
  vlan: count.optional(),
  ip: z.string().optional(),
});
const nicRequestSchema = objectOf<NicRequest>()({ network: nicNetworkSchema.optional(), sriov: z.boolean() });
const virtualNumaNodeSchema = objectOf<VirtualNumaNode>()({ vcpus: count, memoryBytes: bytes, pinnedHostNode: count.optional() });
const affinityRuleSchema = objectOf<AffinityRule>()({
  group: z.string(),
  polarity: z.enum(['affinity', 'anti-affinity']),
  target: z.enum(['vm', 'host']),
  enforcement: z.enum(['hard', 'soft']),
  hosts: strings,
});

export const vmSpecSchema = objectOf<VmSpec>()({
  vmId: nonEmpty,
  name: z.string(),
  vcpus: positiveInt,
  memoryBytes: bytes,
  disks: z.array(diskRequestSchema),
  devices: z.array(deviceRequestSchema),
  nics: z.array(nicRequestSchema),
  numaNodes: z.array(virtualNumaNodeSchema),
  cpuPolicy: z.enum(['shared', 'dedicated']),
  hugepageSizeBytes: bytes.optional(),
  passthroughCpu: z.boolean(),
  cpuModel: z.string().optional(),
  highPerformance: z.boolean(),
  topology: cpuTopologySchema.optional(),
  slaTier: z.enum(['platinum', 'gold', 'silver', 'vapor']),
  priority: z.number().int(),
  tags: strings,
  allowedHosts: strings,
  resourcePool: z.string().optional(),
  affinity: z.array(affinityRuleSchema),
  migrationMode: z.enum(['none', 'manual', 'manual-and-automatic']),
});

const idRecord = z.record(z.string(), z.looseObject({ id: nonEmpty }));
/**
 * The hardware config is checked to its outline only (records of cost functions and profiles by
 * id): inventory validated it field by field before recording it, and no consumer reads it from
 * the bus (the scheduler reads the `berth-hardware-config` bucket).
 */
const hardwareConfigOutline = z.looseObject({
  costFunctions: idRecord,
  profiles: idRecord,
  realm: z.looseObject({ name: z.string() }).optional(),
});
export const hardwareConfigSchema = z.custom<HardwareConfig>(
  (v) => hardwareConfigOutline.safeParse(v).success,
  'must be a hardware config: costFunctions and profiles, each a record of objects with an id',
);
