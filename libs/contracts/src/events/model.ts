/**
 * The model as Berth's events carry it: the language of the event payloads (inventory's host and VM
 * streams, the hardware configuration), defined here so that contracts stands on the ground floor
 * and imports no domain library. The domain libraries (@berth/fit, @berth/hardware-config) keep
 * their own types; @berth/model-codec proves at compile time that the two are the same shapes
 * (`model-parity.ts`), so a change on either side that is not made on the other fails to compile.
 *
 * Units: memory and storage in bytes, CPU in whole vCPUs / host CPU ids, hugepages in pages of
 * `pageSizeBytes`. Documented for subscribers in docs/events.md.
 */

export type HostState = 'enabled' | 'no-scheduling' | 'disabled' | 'maintenance-preparing' | 'maintenance';

export type SlaTier = 'platinum' | 'gold' | 'silver' | 'vapor';

export type MigrationMode = 'none' | 'manual' | 'manual-and-automatic';

export interface HugepagePool {
  readonly pageSizeBytes: number;
  readonly total: number;
}

export interface NumaNode {
  readonly id: number;
  /** Host CPU ids (logical CPUs) belonging to this node. */
  readonly cpus: readonly number[];
  readonly memoryBytes: number;
  readonly hugepages: readonly HugepagePool[];
}

export interface SriovNic {
  readonly name: string;
  readonly numaNode: number;
  readonly vfsTotal: number;
  /** Networks this NIC reaches (by space/subnet/vlan). */
  readonly networks: readonly NetworkRef[];
}

export interface PciDevice {
  /** Device type, the key used by VM requests and cost functions, e.g. `nvidia-gpu`. */
  readonly type: string;
  /** Canonical PCI address `dddd:bb:ss.f` (the short `bb:ss.f` form is normalised to domain 0000). */
  readonly address: string;
  readonly numaNode?: number;
}

export interface StoragePool {
  readonly name: string;
  readonly type: string;
  readonly path: string;
  readonly totalBytes: number;
  /** Space used by things Berth did not claim (reported by the host). */
  readonly externalUsedBytes: number;
  readonly isDefault: boolean;
}

export interface NetworkRef {
  readonly space?: string;
  readonly subnet?: string;
  readonly vlan?: number;
}

export interface CpuTopology {
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly threadsPerCore: number;
}

export interface HostCapacity {
  readonly hostId: string;
  readonly name: string;
  readonly state: HostState;
  readonly resourcePool: string;
  readonly tags: readonly string[];
  readonly cpuModel: string;
  readonly topology: CpuTopology;
  /** Physical CPUs usable by VMs (logical CPU count). */
  readonly cpus: number;
  readonly memoryBytes: number;
  /** 0..10, default 1 (MAAS): allocatable vCPUs = floor(cpus * cpuOvercommit). */
  readonly cpuOvercommit: number;
  /** 0..10, default 1 (MAAS): allocatable memory = floor(memoryBytes * memoryOvercommit). */
  readonly memoryOvercommit: number;
  readonly numaNodes: readonly NumaNode[];
  readonly sriovNics: readonly SriovNic[];
  readonly pciDevices: readonly PciDevice[];
  readonly storagePools: readonly StoragePool[];
  readonly networks: readonly NetworkRef[];
  /** Id of the hardware profile the host uses (its cost function is resolved from it). */
  readonly profileId?: string;
}

/** The exact resources one VM holds on one host. Releasing a claim returns exactly these. */
export interface Claim {
  readonly vmId: string;
  readonly hostId: string;
  readonly vcpus: number;
  readonly memoryBytes: number;
  /** Host CPU ids given exclusively to this VM (dedicated/pinned VMs); empty for shared vCPUs. */
  readonly pinnedCpus: readonly number[];
  /** Guest NUMA cell -> host NUMA node, with the cpus and memory placed there. */
  readonly numaCells: readonly ClaimedNumaCell[];
  readonly hugepages: readonly ClaimedHugepages[];
  readonly devices: readonly PciDevice[];
  readonly vfs: readonly ClaimedVfs[];
  readonly volumes: readonly ClaimedVolume[];
  /** Affinity groups of the VM, so other placements can honour (anti-)affinity from snapshots. */
  readonly affinityGroups: readonly string[];
}

export interface ClaimedNumaCell {
  readonly guestCell: number;
  readonly hostNode: number;
  /** Host CPUs pinned for this cell (dedicated VMs); empty for shared vCPUs. */
  readonly cpus: readonly number[];
  readonly memoryBytes: number;
  /**
   * Guest vCPUs of this cell; the guest's vCPU ids are consecutive, cell 0 first. Absent only in
   * claims recorded before it existed (then see guestCellVcpus).
   */
  readonly vcpus?: number;
}

export interface ClaimedHugepages {
  readonly numaNode: number;
  readonly pageSizeBytes: number;
  readonly count: number;
}

export interface ClaimedVfs {
  readonly nic: string;
  readonly count: number;
}

export interface ClaimedVolume {
  readonly diskIndex: number;
  readonly pool: string;
  readonly sizeBytes: number;
}

/** What the scheduler sees of a host: capacity plus every claim, at a generation. */
export interface HostSnapshot {
  readonly capacity: HostCapacity;
  /** Incremented by every change to the host (claims, releases, state, capacity). */
  readonly generation: number;
  readonly claims: readonly Claim[];
}

export interface DiskRequest {
  readonly sizeBytes: number;
  /** Storage pool name; the host's default pool when absent. */
  readonly pool?: string;
}

export interface DeviceRequest {
  readonly type: string;
  readonly count: number;
}

export interface NicRequest {
  readonly network?: NetworkRef & { readonly ip?: string };
  /** An SR-IOV virtual function rather than a bridged/virtio NIC. */
  readonly sriov: boolean;
}

export interface VirtualNumaNode {
  readonly vcpus: number;
  readonly memoryBytes: number;
  /** Host NUMA node this guest cell is pinned to, when the request pins it. */
  readonly pinnedHostNode?: number;
}

export interface AffinityRule {
  readonly group: string;
  /** affinity: together; anti-affinity: apart. */
  readonly polarity: 'affinity' | 'anti-affinity';
  /** vm: relative to the other VMs of the group; host: relative to `hosts`. */
  readonly target: 'vm' | 'host';
  readonly enforcement: 'hard' | 'soft';
  readonly hosts: readonly string[];
}

export interface VmSpec {
  readonly vmId: string;
  readonly name: string;
  readonly vcpus: number;
  readonly memoryBytes: number;
  readonly disks: readonly DiskRequest[];
  readonly devices: readonly DeviceRequest[];
  readonly nics: readonly NicRequest[];
  readonly numaNodes: readonly VirtualNumaNode[];
  /** dedicated: every vCPU gets its own host CPU (never overcommitted). */
  readonly cpuPolicy: 'shared' | 'dedicated';
  /** Back memory with hugepages of this size (never overcommitted). */
  readonly hugepageSizeBytes?: number;
  readonly passthroughCpu: boolean;
  /** Required host CPU model for pass-through (absent: any). */
  readonly cpuModel?: string;
  readonly highPerformance: boolean;
  readonly topology?: CpuTopology;
  readonly slaTier: SlaTier;
  readonly priority: number;
  readonly tags: readonly string[];
  /** Host ids the VM may run on; empty means any. */
  readonly allowedHosts: readonly string[];
  readonly resourcePool?: string;
  readonly affinity: readonly AffinityRule[];
  readonly migrationMode: MigrationMode;
}

export type * from './hardware-config.ts';
