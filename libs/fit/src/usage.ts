import type { Claim, HostCapacity, HostSnapshot } from './model.ts';

export interface NumaNodeUsage {
  readonly id: number;
  /** Host CPU ids of this node pinned by dedicated VMs. */
  readonly pinnedCpus: number[];
  /** Ordinary memory placed on this node by NUMA-aware (non-hugepage) cells. */
  memoryBytes: number;
  /** Pages in use per page size (bytes). */
  readonly hugepages: Map<number, number>;
}

/** What a host has given out, derived from its claims. */
export interface HostUsage {
  vms: number;
  /** Every claimed vCPU, shared or dedicated (a pinned CPU also counts against vCPU capacity). */
  vcpus: number;
  /** Ordinary memory claimed (hugepage-backed memory comes from the pools instead). */
  memoryBytes: number;
  readonly pinnedCpus: Set<number>;
  readonly numa: Map<number, NumaNodeUsage>;
  /** PCI addresses in use. */
  readonly devices: Set<string>;
  /** Devices in use per type (what cost functions read). */
  readonly devicesByType: Map<string, number>;
  /** VFs in use per SR-IOV NIC name. */
  readonly vfs: Map<string, number>;
  /** Bytes claimed per storage pool name. */
  readonly pools: Map<string, number>;
  /** VMs on the host per affinity group. */
  readonly affinityGroups: Map<string, number>;
}

function bump<K>(map: Map<K, number>, key: K, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function nodeUsage(u: HostUsage, id: number): NumaNodeUsage {
  let n = u.numa.get(id);
  if (!n) {
    n = { id, pinnedCpus: [], memoryBytes: 0, hugepages: new Map() };
    u.numa.set(id, n);
  }
  return n;
}

/**
 * Adds one claim to a usage in place (O(size of the claim)); for holders of a private usage that
 * follow a host claim by claim, such as the scheduler's view.
 */
export function addClaimToUsage(u: HostUsage, host: HostCapacity, claim: Claim): void {
  u.vms += 1;
  u.vcpus += claim.vcpus;
  if (claim.hugepages.length === 0) {
    u.memoryBytes += claim.memoryBytes;
    for (const cell of claim.numaCells) nodeUsage(u, cell.hostNode).memoryBytes += cell.memoryBytes;
  }
  for (const cpu of claim.pinnedCpus) {
    u.pinnedCpus.add(cpu);
    const node = host.numaNodes.find((n) => n.cpus.includes(cpu));
    if (node) {
      const pinned = nodeUsage(u, node.id).pinnedCpus;
      pinned.push(cpu);
      pinned.sort((a, b) => a - b);
    }
  }
  for (const hp of claim.hugepages) bump(nodeUsage(u, hp.numaNode).hugepages, hp.pageSizeBytes, hp.count);
  for (const d of claim.devices) {
    u.devices.add(d.address);
    bump(u.devicesByType, d.type, 1);
  }
  for (const vf of claim.vfs) bump(u.vfs, vf.nic, vf.count);
  for (const vol of claim.volumes) bump(u.pools, vol.pool, vol.sizeBytes);
  for (const g of claim.affinityGroups) bump(u.affinityGroups, g, 1);
}

/** `by` less under `key`; the key goes once nothing is left, as in a usage built without the claim. */
function drop<K>(map: Map<K, number>, key: K, by: number): void {
  const left = (map.get(key) ?? 0) - by;
  if (left === 0) map.delete(key);
  else map.set(key, left);
}

/**
 * Takes one claim out of a usage in place (O(size of the claim)), the inverse of addClaimToUsage:
 * afterwards `u` holds what `usage()` builds from the host's other claims (the same counts, and no
 * key left at 0). Claims on one host never share a pinned CPU or a device address (claimFits
 * refuses them), so the claim's CPUs and addresses are free afterwards.
 */
export function removeClaimFromUsage(u: HostUsage, host: HostCapacity, claim: Claim): void {
  u.vms -= 1;
  u.vcpus -= claim.vcpus;
  if (claim.hugepages.length === 0) {
    u.memoryBytes -= claim.memoryBytes;
    for (const cell of claim.numaCells) {
      nodeUsage(u, cell.hostNode).memoryBytes -= cell.memoryBytes;
      dropIfUnlisted(u, host, cell.hostNode);
    }
  }
  for (const cpu of claim.pinnedCpus) {
    u.pinnedCpus.delete(cpu);
    const node = host.numaNodes.find((n) => n.cpus.includes(cpu));
    if (node) {
      const pinned = nodeUsage(u, node.id).pinnedCpus;
      const at = pinned.indexOf(cpu);
      if (at >= 0) pinned.splice(at, 1);
    }
  }
  for (const hp of claim.hugepages) {
    drop(nodeUsage(u, hp.numaNode).hugepages, hp.pageSizeBytes, hp.count);
    dropIfUnlisted(u, host, hp.numaNode);
  }
  for (const d of claim.devices) {
    u.devices.delete(d.address);
    drop(u.devicesByType, d.type, 1);
  }
  for (const vf of claim.vfs) drop(u.vfs, vf.nic, vf.count);
  for (const vol of claim.volumes) drop(u.pools, vol.pool, vol.sizeBytes);
  for (const g of claim.affinityGroups) drop(u.affinityGroups, g, 1);
}

/** A node the host does not list is in a usage only while a claim names it (usage() starts from the listed ones). */
function dropIfUnlisted(u: HostUsage, host: HostCapacity, id: number): void {
  const n = u.numa.get(id);
  if (n === undefined || n.memoryBytes !== 0 || n.pinnedCpus.length > 0 || n.hugepages.size > 0) return;
  if (!host.numaNodes.some((h) => h.id === id)) u.numa.delete(id);
}

export function usage(host: HostSnapshot): HostUsage {
  const u: HostUsage = {
    vms: 0,
    vcpus: 0,
    memoryBytes: 0,
    pinnedCpus: new Set(),
    numa: new Map(),
    devices: new Set(),
    devicesByType: new Map(),
    vfs: new Map(),
    pools: new Map(),
    affinityGroups: new Map(),
  };
  for (const node of host.capacity.numaNodes) nodeUsage(u, node.id);
  for (const claim of host.claims) addClaimToUsage(u, host.capacity, claim);
  return u;
}
