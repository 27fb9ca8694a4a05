import { allocatableVcpus, applyClaim, fits, ordinaryMemoryCapacity, usage, type HostSnapshot, type VmSpec } from '@berth/fit';

export interface WhatIfResult {
  readonly total: number;
  /** Hosts that can take at least one more, most first (ties by host id). */
  readonly perHost: readonly { readonly hostId: string; readonly count: number }[];
}

/** Only vCPUs and ordinary memory limit how many copies fit: the count is arithmetic. */
function onlyCpuAndMemory(vm: VmSpec): boolean {
  return (
    vm.cpuPolicy === 'shared' &&
    vm.hugepageSizeBytes === undefined &&
    vm.numaNodes.length === 0 &&
    vm.devices.length === 0 &&
    vm.disks.length === 0 &&
    !vm.nics.some((n) => n.sriov) &&
    !vm.affinity.some((r) => r.target === 'vm')
  );
}

/** How many more copies of `spec` one host takes (claims applied to a copy of the host). */
export function howManyFit(spec: VmSpec, host: HostSnapshot, limit = 10_000): number {
  const u = usage(host);
  if (!fits(host, spec, u).ok) return 0;
  if (onlyCpuAndMemory(spec)) {
    const cap = host.capacity;
    const byCpu = spec.vcpus > 0 ? Math.floor((allocatableVcpus(cap.cpus, cap.cpuOvercommit) - u.vcpus) / spec.vcpus) : limit;
    const byMemory = spec.memoryBytes > 0 ? Math.floor((ordinaryMemoryCapacity(cap) - u.memoryBytes) / spec.memoryBytes) : limit;
    return Math.min(limit, byCpu, byMemory);
  }
  let copy = host;
  let count = 0;
  while (count < limit) {
    const r = fits(copy, { ...spec, vmId: `${spec.vmId}#what-if-${count}` });
    if (!r.ok) break;
    copy = applyClaim(copy, r.claim);
    count++;
  }
  return count;
}

/**
 * How many more VMs of `spec` fit, per host and in total. Hosts are independent, so per-host
 * counts add up; copies of a VM with hard VM anti-affinity meet their own group on the host.
 */
export function whatIf(spec: VmSpec, hosts: Iterable<HostSnapshot>, limitPerHost = 10_000): WhatIfResult {
  const perHost: { hostId: string; count: number }[] = [];
  let total = 0;
  for (const host of hosts) {
    const count = howManyFit(spec, host, limitPerHost);
    if (count > 0) perHost.push({ hostId: host.capacity.hostId, count });
    total += count;
  }
  perHost.sort((a, b) => b.count - a.count || (a.hostId < b.hostId ? -1 : 1));
  return { total, perHost };
}
