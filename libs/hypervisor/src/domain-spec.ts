import { guestCellVcpus, type Claim, type CpuTopology } from '@berth/fit';
import type { GuestBoot } from '@berth/hardware-config';
import type { DriveCache, RealmSettings } from './realm.ts';
import { assertVmId, volumeName } from './naming.ts';

/** Everything the driver needs to create one VM on one host; built from the claim. */
export interface DomainSpec {
  readonly vmId: string;
  /** The user's display name; stored escaped as the domain title, never used as the domain name. */
  readonly title: string;
  readonly vcpus: number;
  readonly memoryBytes: number;
  /** vCPU i is pinned to pinnedCpus[i]; empty for shared vCPUs. */
  readonly pinnedCpus: readonly number[];
  /** Guest NUMA cells in order; cell i holds the next `vcpus` guest vCPU ids. */
  readonly numaCells: readonly { readonly hostNode: number; readonly vcpus: number; readonly memoryBytes: number }[];
  readonly hugepageSizeBytes?: number;
  readonly passthroughCpu: boolean;
  /** Guest CPU topology (`<cpu><topology>`); sockets x cores x threads = vcpus. */
  readonly topology?: CpuTopology;
  /** Canonical PCI addresses `dddd:bb:ss.f` of claimed devices. */
  readonly hostdevs: readonly string[];
  /** SR-IOV VFs, taken from the libvirt hostdev network `berth-sriov-<nic>` of each NIC. */
  readonly vfs: readonly { readonly nic: string; readonly count: number }[];
  readonly volumes: readonly { readonly name: string; readonly pool: string; readonly sizeBytes: number }[];
  readonly lazyAllocation: boolean;
  readonly diskCache: DriveCache;
  /** libvirt networks of the virtio NICs. */
  readonly networks: readonly string[];
  readonly networkFilter?: string;
  /** Direct kernel boot (the realm's `guest-boot`). */
  readonly guestBoot?: GuestBoot;
}

export interface VmRuntimeRequest {
  readonly vmId: string;
  readonly name: string;
  readonly claim: Claim;
  readonly passthroughCpu?: boolean;
  readonly hugepageSizeBytes?: number;
  readonly networks?: readonly string[];
  readonly topology?: CpuTopology;
}

export const sriovNetworkName = (nic: string): string => `berth-sriov-${nic}`;

export function domainSpecFromClaim(req: VmRuntimeRequest, realm: RealmSettings): DomainSpec {
  assertVmId(req.vmId);
  const c = req.claim;
  const cellVcpus = guestCellVcpus(c);
  return {
    vmId: req.vmId,
    title: req.name,
    vcpus: c.vcpus,
    memoryBytes: c.memoryBytes,
    pinnedCpus: c.pinnedCpus,
    numaCells: c.numaCells.map((cell, i) => ({ hostNode: cell.hostNode, vcpus: cellVcpus[i]!, memoryBytes: cell.memoryBytes })),
    ...(req.hugepageSizeBytes !== undefined ? { hugepageSizeBytes: req.hugepageSizeBytes } : {}),
    passthroughCpu: req.passthroughCpu ?? false,
    ...(req.topology !== undefined ? { topology: req.topology } : {}),
    hostdevs: c.devices.map((d) => d.address),
    vfs: c.vfs,
    volumes: c.volumes.map((v) => ({
      name: volumeName(req.vmId, v.diskIndex),
      // Claims name the pool; an empty name falls back to the realm's drives pool.
      pool: v.pool === '' ? realm.drivesPool : v.pool,
      sizeBytes: v.sizeBytes,
    })),
    lazyAllocation: realm.drives.lazyAllocation,
    diskCache: realm.drives.cache,
    networks: req.networks ?? [],
    ...(realm.networkFilter !== undefined ? { networkFilter: realm.networkFilter } : {}),
    ...(realm.guestBoot !== undefined ? { guestBoot: realm.guestBoot } : {}),
  };
}
