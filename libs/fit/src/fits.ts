import { allocatableVcpus, ordinaryMemoryCapacity } from './capacity.ts';
import { shortage, type FitFailure, type FitResult } from './failures.ts';
import { describeNetwork, hostFilters, networkMatches } from './filters.ts';
import type { Claim, ClaimedVfs, ClaimedVolume, HostCapacity, HostSnapshot, PciDevice, VmSpec } from './model.ts';
import { guestCells, needsNuma, pagesFor, placeCells, type NumaPlacement } from './numa.ts';
import { freeNodes } from './topology.ts';
import { usage as usageOf, type HostUsage } from './usage.ts';

const GiB = 1024 ** 3;
const fmtBytes = (b: number): string => `${Math.round((b / GiB) * 100) / 100} GiB`;

/** vCPU, ordinary memory, dedicated CPU and hugepage totals: the arithmetic before any placement. */
function totals(host: HostCapacity, u: HostUsage, vm: VmSpec, out: FitFailure[]): void {
  const freeVcpus = allocatableVcpus(host.cpus, host.cpuOvercommit) - u.vcpus;
  if (vm.vcpus > freeVcpus)
    out.push(shortage('vcpus', 'vcpus', vm.vcpus, freeVcpus, `needs ${vm.vcpus} vCPUs, ${Math.max(0, freeVcpus)} free`));
  const pageSize = vm.hugepageSizeBytes;
  if (pageSize === undefined) {
    const freeMemory = ordinaryMemoryCapacity(host) - u.memoryBytes;
    if (vm.memoryBytes > freeMemory)
      out.push(
        shortage(
          'memory',
          'bytes',
          vm.memoryBytes,
          freeMemory,
          `needs ${fmtBytes(vm.memoryBytes)}, ${fmtBytes(Math.max(0, freeMemory))} free`,
        ),
      );
  }
  const nodes = vm.cpuPolicy === 'dedicated' || pageSize !== undefined ? freeNodes(host, u) : [];
  if (vm.cpuPolicy === 'dedicated') {
    const free = nodes.reduce((s, n) => s + n.cpus.length, 0);
    if (vm.vcpus > free) out.push(shortage('dedicated-cpus', 'cpus', vm.vcpus, free, `needs ${vm.vcpus} dedicated CPUs, ${free} unpinned`));
  }
  if (pageSize !== undefined) {
    const freePages = nodes.reduce((s, n) => s + (n.hugepages.get(pageSize) ?? 0), 0);
    const pages = guestCells(vm).reduce((s, c) => s + pagesFor(c.memoryBytes, pageSize), 0);
    if (pages > freePages)
      out.push(
        shortage(
          'hugepages',
          'bytes',
          pages * pageSize,
          freePages * pageSize,
          `needs ${fmtBytes(pages * pageSize)} of ${pageSize}-byte hugepages, ${fmtBytes(freePages * pageSize)} free`,
        ),
      );
  }
}

function nearCells(numaNode: number | undefined, cellNodes: ReadonlySet<number>): number {
  return numaNode !== undefined && cellNodes.has(numaNode) ? 0 : 1;
}

function pickDevices(host: HostCapacity, u: HostUsage, vm: VmSpec, cellNodes: ReadonlySet<number>, out: FitFailure[]): PciDevice[] {
  const taken: PciDevice[] = [];
  for (const req of vm.devices) {
    const free = host.pciDevices
      .filter((d) => d.type === req.type && !u.devices.has(d.address) && !taken.includes(d))
      .sort(
        (a, b) =>
          nearCells(a.numaNode, cellNodes) - nearCells(b.numaNode, cellNodes) ||
          (a.address < b.address ? -1 : a.address > b.address ? 1 : 0),
      );
    if (free.length < req.count) {
      out.push(shortage('devices', 'devices', req.count, free.length, `needs ${req.count} ${req.type}, ${free.length} free`, req.type));
    } else {
      taken.push(...free.slice(0, req.count));
    }
  }
  return taken;
}

function pickVfs(host: HostCapacity, u: HostUsage, vm: VmSpec, cellNodes: ReadonlySet<number>, out: FitFailure[]): ClaimedVfs[] {
  if (!wantsSriov(vm)) return [];
  const takenNow = new Map<string, number>();
  for (const nic of vm.nics) {
    if (!nic.sriov) continue;
    const wanted = nic.network;
    const candidates = host.sriovNics
      .filter((n) => wanted === undefined || n.networks.some((o) => networkMatches(wanted, o)))
      .sort((a, b) => nearCells(a.numaNode, cellNodes) - nearCells(b.numaNode, cellNodes) || (a.name < b.name ? -1 : 1));
    const freeOf = (name: string, total: number): number => total - (u.vfs.get(name) ?? 0) - (takenNow.get(name) ?? 0);
    const nicWithRoom = candidates.find((n) => freeOf(n.name, n.vfsTotal) > 0);
    if (!nicWithRoom) {
      const best = Math.max(0, ...candidates.map((n) => freeOf(n.name, n.vfsTotal)));
      const net = wanted === undefined ? 'any network' : describeNetwork(wanted);
      out.push(shortage('sriov', 'vfs', 1, best, `needs an SR-IOV VF on ${net}, none free`, net));
    } else {
      takenNow.set(nicWithRoom.name, (takenNow.get(nicWithRoom.name) ?? 0) + 1);
    }
  }
  return [...takenNow.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([nic, count]) => ({ nic, count }));
}

function pickVolumes(host: HostCapacity, u: HostUsage, vm: VmSpec, out: FitFailure[]): ClaimedVolume[] {
  if (vm.disks.length === 0) return [];
  const takenNow = new Map<string, number>();
  const volumes: ClaimedVolume[] = [];
  vm.disks.forEach((disk, diskIndex) => {
    const pool = disk.pool === undefined ? host.storagePools.find((p) => p.isDefault) : host.storagePools.find((p) => p.name === disk.pool);
    if (!pool) {
      out.push({
        filter: 'storage',
        detail: disk.pool === undefined ? 'host has no default storage pool' : `host has no storage pool ${disk.pool}`,
        subject: disk.pool ?? 'default',
      });
      return;
    }
    const free = pool.totalBytes - pool.externalUsedBytes - (u.pools.get(pool.name) ?? 0) - (takenNow.get(pool.name) ?? 0);
    if (disk.sizeBytes > free) {
      out.push(
        shortage(
          'storage',
          'bytes',
          disk.sizeBytes,
          free,
          `disk ${diskIndex} needs ${fmtBytes(disk.sizeBytes)} in pool ${pool.name}, ${fmtBytes(Math.max(0, free))} free`,
          pool.name,
        ),
      );
      return;
    }
    takenNow.set(pool.name, (takenNow.get(pool.name) ?? 0) + disk.sizeBytes);
    volumes.push({ diskIndex, pool: pool.name, sizeBytes: disk.sizeBytes });
  });
  return volumes;
}

/**
 * Does `vm` fit on `host` now, and with which concrete resources? Every filter that fails is
 * reported (in filter order); allocation is deterministic (lowest node, CPU, address, NIC first).
 * `u` may be passed when the caller keeps the host's usage already.
 */
export function fits(host: HostSnapshot, vm: VmSpec, u: HostUsage = usageOf(host)): FitResult {
  const cap = host.capacity;
  const reasons = hostFilters(cap, u, vm);
  totals(cap, u, vm, reasons);
  let numa: NumaPlacement | undefined;
  if (reasons.length === 0 && needsNuma(vm)) {
    const placed = placeCells(cap, vm, freeNodes(cap, u));
    if ('filter' in placed) reasons.push(placed);
    else numa = placed;
  }
  // For a VM that asks for no devices, VFs, disks or affinity (the usual case; fits() runs for every
  // finalist of every placement) the steps below allocate only the claim's empty lists.
  const cellNodes = vm.devices.length > 0 || wantsSriov(vm) ? new Set(numa?.cells.map((c) => c.hostNode)) : NO_NODES;
  const devices = pickDevices(cap, u, vm, cellNodes, reasons);
  const vfs = pickVfs(cap, u, vm, cellNodes, reasons);
  const volumes = pickVolumes(cap, u, vm, reasons);
  if (reasons.length > 0) return { ok: false, reasons };
  const claim: Claim = {
    vmId: vm.vmId,
    hostId: cap.hostId,
    vcpus: vm.vcpus,
    memoryBytes: vm.memoryBytes,
    pinnedCpus: numa?.pinnedCpus ?? [],
    numaCells: numa?.cells ?? [],
    hugepages: numa?.hugepages ?? [],
    devices,
    vfs,
    volumes,
    affinityGroups: vm.affinity.length === 0 ? [] : [...new Set(vm.affinity.filter((r) => r.target === 'vm').map((r) => r.group))].sort(),
  };
  return { ok: true, claim };
}

const NO_NODES: ReadonlySet<number> = new Set();

function wantsSriov(vm: VmSpec): boolean {
  for (const nic of vm.nics) if (nic.sriov) return true;
  return false;
}
