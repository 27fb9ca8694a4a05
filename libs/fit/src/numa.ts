import { allocatableVcpus } from './capacity.ts';
import { shortage, type FitFailure } from './failures.ts';
import type { ClaimedHugepages, ClaimedNumaCell, HostCapacity, VirtualNumaNode, VmSpec } from './model.ts';
import type { NodeFree } from './topology.ts';

export interface NumaPlacement {
  readonly cells: ClaimedNumaCell[];
  readonly pinnedCpus: number[];
  readonly hugepages: ClaimedHugepages[];
}

/** Dedicated and hugepage VMs are NUMA-placed even without explicit virtual nodes: as one cell. */
export function needsNuma(vm: VmSpec): boolean {
  return vm.numaNodes.length > 0 || vm.cpuPolicy === 'dedicated' || vm.hugepageSizeBytes !== undefined;
}

export function guestCells(vm: VmSpec): readonly VirtualNumaNode[] {
  return vm.numaNodes.length > 0 ? vm.numaNodes : [{ vcpus: vm.vcpus, memoryBytes: vm.memoryBytes }];
}

export function pagesFor(bytes: number, pageSize: number): number {
  return Math.ceil(bytes / pageSize);
}

function cpusFit(host: HostCapacity, vm: VmSpec, node: NodeFree, vcpus: number): boolean {
  // Dedicated cells need one free host CPU per vCPU; shared cells float over the node's unpinned CPUs.
  return vm.cpuPolicy === 'dedicated'
    ? node.cpus.length >= vcpus
    : allocatableVcpus(node.cpus.length, host.cpuOvercommit) >= vcpus;
}

function memoryFree(node: NodeFree, pageSize: number | undefined): number {
  return pageSize === undefined ? node.memoryBytes : (node.hugepages.get(pageSize) ?? 0) * pageSize;
}

/**
 * Places each guest cell on a host node (the pinned one, else the lowest id with room), taking the
 * lowest free CPU ids for dedicated VMs. Mutates `nodes` so later cells and devices see what is left.
 */
export function placeCells(host: HostCapacity, vm: VmSpec, nodes: NodeFree[]): NumaPlacement | FitFailure {
  const pageSize = vm.hugepageSizeBytes;
  const placement: NumaPlacement = { cells: [], pinnedCpus: [], hugepages: [] };
  const cells = guestCells(vm);
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    const candidates =
      cell.pinnedHostNode === undefined ? nodes : nodes.filter((n) => n.id === cell.pinnedHostNode);
    const where = cell.pinnedHostNode === undefined ? 'any host NUMA node' : `host NUMA node ${cell.pinnedHostNode}`;
    if (candidates.length === 0) {
      return { filter: 'numa', detail: `guest cell ${i} is pinned to host NUMA node ${cell.pinnedHostNode}, which does not exist`, subject: `node ${cell.pinnedHostNode}` };
    }
    const node = candidates.find((n) => cpusFit(host, vm, n, cell.vcpus) && memoryFree(n, pageSize) >= cell.memoryBytes);
    if (!node) {
      const withCpus = candidates.filter((n) => cpusFit(host, vm, n, cell.vcpus));
      if (withCpus.length === 0) {
        const best = Math.max(...candidates.map((n) => n.cpus.length));
        return shortage('numa', 'cpus', cell.vcpus, best, `guest cell ${i} needs ${cell.vcpus} CPUs on ${where}`);
      }
      const best = Math.max(...withCpus.map((n) => memoryFree(n, pageSize)));
      const kind = pageSize === undefined ? 'memory' : 'hugepage memory';
      return shortage('numa', 'bytes', cell.memoryBytes, best, `guest cell ${i} needs ${kind} on ${where}`);
    }
    let cpus: number[] = [];
    if (vm.cpuPolicy === 'dedicated') {
      cpus = node.cpus.splice(0, cell.vcpus);
      placement.pinnedCpus.push(...cpus);
    }
    if (pageSize === undefined) {
      node.memoryBytes -= cell.memoryBytes;
    } else {
      const pages = pagesFor(cell.memoryBytes, pageSize);
      node.hugepages.set(pageSize, (node.hugepages.get(pageSize) ?? 0) - pages);
      const same = placement.hugepages.findIndex((h) => h.numaNode === node.id);
      const prev = placement.hugepages[same];
      if (prev) placement.hugepages[same] = { ...prev, count: prev.count + pages };
      else placement.hugepages.push({ numaNode: node.id, pageSizeBytes: pageSize, count: pages });
    }
    placement.cells.push({ guestCell: i, hostNode: node.id, cpus, memoryBytes: cell.memoryBytes });
  }
  placement.pinnedCpus.sort((a, b) => a - b);
  return placement;
}
