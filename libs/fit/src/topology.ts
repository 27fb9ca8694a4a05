import { ordinaryNodeMemoryCapacity } from './capacity.ts';
import type { HostCapacity, NumaNode } from './model.ts';
import type { HostUsage } from './usage.ts';

/** A host without NUMA information is one node holding every CPU and all memory. */
export function nodesOf(host: HostCapacity): readonly NumaNode[] {
  if (host.numaNodes.length > 0) return host.numaNodes;
  return [{ id: 0, cpus: Array.from({ length: host.cpus }, (_, i) => i), memoryBytes: host.memoryBytes, hugepages: [] }];
}

/** Free resources of one host NUMA node, mutated while a VM's cells are placed. */
export interface NodeFree {
  readonly id: number;
  /** Unpinned CPU ids, ascending. */
  readonly cpus: number[];
  memoryBytes: number;
  /** Free pages per page size. */
  readonly hugepages: Map<number, number>;
}

export function freeNodes(host: HostCapacity, u: HostUsage): NodeFree[] {
  return nodesOf(host).map((node) => {
    const nu = u.numa.get(node.id);
    const hugepages = new Map<number, number>();
    for (const pool of node.hugepages) {
      hugepages.set(pool.pageSizeBytes, pool.total - (nu?.hugepages.get(pool.pageSizeBytes) ?? 0));
    }
    return {
      id: node.id,
      cpus: node.cpus.filter((c) => !u.pinnedCpus.has(c)).sort((a, b) => a - b),
      memoryBytes: ordinaryNodeMemoryCapacity(host, node) - (nu?.memoryBytes ?? 0),
      hugepages,
    };
  });
}

export function allCpuIds(host: HostCapacity): Set<number> {
  const ids = new Set<number>();
  for (const node of nodesOf(host)) for (const c of node.cpus) ids.add(c);
  return ids;
}
