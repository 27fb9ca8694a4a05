import { ValidationError } from '@berth/errors';
import type { HostCapacity, NumaNode } from './model.ts';

/**
 * MAAS arithmetic: allocatable = floor(physical x ratio), ratio 0..10. Products that land a hair
 * below an integer through binary rounding (100 x 0.29) count as that integer.
 */
function overcommitted(amount: number, ratio: number, field: string): number {
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 10) {
    throw new ValidationError({ field, reason: `overcommit ratio must be between 0 and 10, got ${ratio}` });
  }
  const exact = amount * ratio;
  const nearest = Math.round(exact);
  return Math.abs(exact - nearest) <= 1e-9 * Math.max(1, exact) ? nearest : Math.floor(exact);
}

/** 8 cores x 0.5 = 4 vCPUs; 32 x 10 = 320. */
export function allocatableVcpus(cpus: number, ratio: number): number {
  return overcommitted(cpus, ratio, 'cpuOvercommit');
}

/** 128 GiB x 5.5 = 704 GiB. */
export function allocatableMemory(bytes: number, ratio: number): number {
  return overcommitted(bytes, ratio, 'memoryOvercommit');
}

/** Bytes a NUMA node has reserved as hugepages (never available as ordinary memory). */
export function hugepageBytes(node: NumaNode): number {
  let total = 0;
  for (const pool of node.hugepages) total += pool.pageSizeBytes * pool.total;
  return total;
}

/**
 * Ordinary (overcommittable) memory of a host: its physical memory minus what the NUMA nodes
 * reserve as hugepages, since hugepage-backed VMs take from the pools instead.
 */
export function ordinaryMemoryCapacity(host: HostCapacity): number {
  let reserved = 0;
  for (const node of host.numaNodes) reserved += hugepageBytes(node);
  return allocatableMemory(Math.max(0, host.memoryBytes - reserved), host.memoryOvercommit);
}

export function ordinaryNodeMemoryCapacity(host: HostCapacity, node: NumaNode): number {
  return allocatableMemory(Math.max(0, node.memoryBytes - hugepageBytes(node)), host.memoryOvercommit);
}
