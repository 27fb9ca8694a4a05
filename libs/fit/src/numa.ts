import { allocatableVcpus } from './capacity.ts';
import { shortage, type FitFailure } from './failures.ts';
import type { Claim, ClaimedHugepages, ClaimedNumaCell, HostCapacity, VirtualNumaNode, VmSpec } from './model.ts';
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
  return vm.cpuPolicy === 'dedicated' ? node.cpus.length >= vcpus : allocatableVcpus(node.cpus.length, host.cpuOvercommit) >= vcpus;
}

function memoryFree(node: NodeFree, pageSize: number | undefined): number {
  return pageSize === undefined ? node.memoryBytes : (node.hugepages.get(pageSize) ?? 0) * pageSize;
}

/**
 * A pinned VM (dedicated CPUs, or a guest cell pinned to a host node) gets a guest NUMA topology
 * that mirrors the host's: each guest cell on its own host node. As in Nova's NUMA topology filter
 * (each instance cell fits a distinct host cell), a VM with more cells than the host has nodes
 * does not fit there. Shared VMs' cells float (no numatune), so they may share a node.
 */
export function distinctNodes(vm: Pick<VmSpec, 'cpuPolicy' | 'numaNodes'>): boolean {
  return vm.cpuPolicy === 'dedicated' || vm.numaNodes.some((n) => n.pinnedHostNode !== undefined);
}

/**
 * The guest vCPUs of each claimed cell: recorded in the claim; for claims recorded before that, the
 * pinned CPUs of each cell, else an even split (the first cells one more) so every vCPU is in
 * exactly one cell.
 */
export function guestCellVcpus(claim: Pick<Claim, 'vcpus' | 'numaCells'>): number[] {
  const cells = claim.numaCells;
  if (cells.every((c) => c.vcpus !== undefined && c.vcpus > 0)) return cells.map((c) => c.vcpus!);
  if (cells.every((c) => c.cpus.length > 0)) return cells.map((c) => c.cpus.length);
  const base = Math.floor(claim.vcpus / cells.length);
  return cells.map((_, i) => base + (i < claim.vcpus % cells.length ? 1 : 0));
}

function cellFits(host: HostCapacity, vm: VmSpec, node: NodeFree, cell: VirtualNumaNode, pageSize: number | undefined): boolean {
  return cpusFit(host, vm, node, cell.vcpus) && memoryFree(node, pageSize) >= cell.memoryBytes;
}

/** Why guest cell `i` fits no candidate node (the closest miss), or undefined when one would take it. */
function cellShortage(
  host: HostCapacity,
  vm: VmSpec,
  candidates: readonly NodeFree[],
  cell: VirtualNumaNode,
  i: number,
  pageSize: number | undefined,
): FitFailure | undefined {
  const where = cell.pinnedHostNode === undefined ? 'any host NUMA node' : `host NUMA node ${cell.pinnedHostNode}`;
  if (candidates.length === 0) {
    return {
      filter: 'numa',
      detail: `guest cell ${i} is pinned to host NUMA node ${cell.pinnedHostNode}, which does not exist`,
      subject: `node ${cell.pinnedHostNode}`,
    };
  }
  if (candidates.some((n) => cellFits(host, vm, n, cell, pageSize))) return undefined;
  const withCpus = candidates.filter((n) => cpusFit(host, vm, n, cell.vcpus));
  if (withCpus.length === 0) {
    const best = Math.max(...candidates.map((n) => n.cpus.length));
    return shortage('numa', 'cpus', cell.vcpus, best, `guest cell ${i} needs ${cell.vcpus} CPUs on ${where}`);
  }
  const best = Math.max(...withCpus.map((n) => memoryFree(n, pageSize)));
  const kind = pageSize === undefined ? 'memory' : 'hugepage memory';
  return shortage('numa', 'bytes', cell.memoryBytes, best, `guest cell ${i} needs ${kind} on ${where}`);
}

const candidatesOf = (nodes: NodeFree[], cell: VirtualNumaNode): NodeFree[] =>
  cell.pinnedHostNode === undefined ? nodes : nodes.filter((n) => n.id === cell.pinnedHostNode);

/**
 * Each guest cell on a distinct host node (a bipartite matching, Kuhn's augmenting paths: cells in
 * order, the lowest free node first, another cell moved only when it must), or the reason there is none.
 */
function matchDistinct(
  host: HostCapacity,
  vm: VmSpec,
  nodes: NodeFree[],
  cells: readonly VirtualNumaNode[],
  pageSize: number | undefined,
): NodeFree[] | FitFailure {
  if (cells.length > nodes.length) {
    return shortage(
      'numa',
      'nodes',
      cells.length,
      nodes.length,
      `${cells.length} guest NUMA cells need ${cells.length} distinct host NUMA nodes, the host has ${nodes.length}`,
      'distinct nodes',
    );
  }
  const options = cells.map((cell) => candidatesOf(nodes, cell).filter((n) => cellFits(host, vm, n, cell, pageSize)));
  for (let i = 0; i < cells.length; i++) {
    if (options[i]!.length === 0) return cellShortage(host, vm, candidatesOf(nodes, cells[i]!), cells[i]!, i, pageSize)!;
  }
  const cellOf = new Map<number, number>(); // node id -> cell index
  const augment = (i: number, seen: Set<number>): boolean => {
    // A free node first (lowest id), so a cell moves another only when it must.
    const free = options[i]!.find((n) => !cellOf.has(n.id));
    if (free !== undefined) {
      cellOf.set(free.id, i);
      return true;
    }
    for (const n of options[i]!) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      const holder = cellOf.get(n.id);
      if (holder === undefined || augment(holder, seen)) {
        cellOf.set(n.id, i);
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < cells.length; i++) {
    if (!augment(i, new Set())) {
      const usable = new Set(options.flat().map((n) => n.id)).size;
      return shortage(
        'numa',
        'nodes',
        cells.length,
        usable,
        `${cells.length} guest NUMA cells need distinct host NUMA nodes with room, ${usable} can take one`,
        'distinct nodes',
      );
    }
  }
  const at: NodeFree[] = [];
  for (const [nodeId, i] of cellOf) at[i] = nodes.find((n) => n.id === nodeId)!;
  return at;
}

/**
 * Places each guest cell on a host node (the pinned one, else the lowest id with room; a distinct
 * node per cell for pinned VMs, see distinctNodes), taking the lowest free CPU ids for dedicated
 * VMs. Mutates `nodes` so later cells and devices see what is left.
 */
export function placeCells(host: HostCapacity, vm: VmSpec, nodes: NodeFree[]): NumaPlacement | FitFailure {
  const pageSize = vm.hugepageSizeBytes;
  const placement: NumaPlacement = { cells: [], pinnedCpus: [], hugepages: [] };
  const cells = guestCells(vm);
  const matched = distinctNodes(vm) ? matchDistinct(host, vm, nodes, cells, pageSize) : undefined;
  if (matched !== undefined && !Array.isArray(matched)) return matched;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    const node = matched?.[i] ?? candidatesOf(nodes, cell).find((n) => cellFits(host, vm, n, cell, pageSize));
    if (!node) return cellShortage(host, vm, candidatesOf(nodes, cell), cell, i, pageSize)!;
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
    placement.cells.push({ guestCell: i, hostNode: node.id, cpus, memoryBytes: cell.memoryBytes, vcpus: cell.vcpus });
  }
  placement.pinnedCpus.sort((a, b) => a - b);
  return placement;
}
