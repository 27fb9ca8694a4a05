import type { HostFacts, HostNumaNode } from '../driver.ts';

/** `/1.0/resources` as the driver's host facts. Pure. */

interface Resources {
  readonly cpu?: {
    readonly total?: number;
    readonly sockets?: readonly {
      readonly name?: string;
      readonly socket?: number;
      readonly cores?: readonly {
        readonly core?: number;
        readonly threads?: readonly { readonly id: number; readonly numa_node?: number; readonly online?: boolean }[];
      }[];
    }[];
  };
  readonly memory?: {
    readonly total?: number;
    readonly hugepages_size?: number;
    readonly nodes?: readonly { readonly numa_node: number; readonly total?: number; readonly hugepages_total?: number }[];
  };
  readonly gpu?: {
    readonly cards?: readonly {
      readonly pci_address?: string;
      readonly vendor?: string;
      readonly product?: string;
      readonly driver?: string;
    }[];
  };
  readonly network?: {
    readonly cards?: readonly {
      readonly pci_address?: string;
      readonly ports?: readonly { readonly id?: string }[];
      readonly sriov?: { readonly current_vfs?: number; readonly maximum_vfs?: number };
    }[];
  };
}

/** Host facts from `/1.0/resources`: CPU topology, NUMA nodes with their CPUs, memory and hugepages, GPUs, SR-IOV NICs. */
export function hostFactsFromResources(r: Resources): HostFacts {
  const sockets = r.cpu?.sockets ?? [];
  const threads = sockets.flatMap((s) => (s.cores ?? []).flatMap((c) => c.threads ?? []));
  const cpus = r.cpu?.total ?? threads.length;
  const coresPerSocket = Math.max(1, ...sockets.map((s) => (s.cores ?? []).length));
  const threadsPerCore = Math.max(1, ...sockets.flatMap((s) => (s.cores ?? []).map((c) => (c.threads ?? []).length)));
  const pageSize = r.memory?.hugepages_size ?? 0;
  const nodes: HostNumaNode[] = (r.memory?.nodes ?? []).map((n) => ({
    id: n.numa_node,
    cpus: threads
      .filter((t) => (t.numa_node ?? 0) === n.numa_node)
      .map((t) => t.id)
      .sort((a, b) => a - b),
    memoryBytes: n.total ?? 0,
    hugepages:
      pageSize > 0 && (n.hugepages_total ?? 0) > 0
        ? [{ pageSizeBytes: pageSize, total: Math.floor((n.hugepages_total ?? 0) / pageSize) }]
        : [],
  }));
  const gpus = (r.gpu?.cards ?? [])
    .filter((c) => c.pci_address !== undefined)
    .map((c) => ({
      address: c.pci_address ?? '',
      vendor: c.vendor ?? '',
      product: c.product ?? '',
    }));
  const sriovNics = (r.network?.cards ?? [])
    .filter((c) => (c.sriov?.maximum_vfs ?? 0) > 0)
    .map((c) => ({
      name: c.ports?.[0]?.id ?? c.pci_address ?? '',
      vfs: c.sriov?.maximum_vfs ?? 0,
    }));
  return {
    cpuModel: sockets[0]?.name ?? 'unknown',
    cpus,
    memoryBytes: r.memory?.total ?? 0,
    topology: { sockets: Math.max(1, sockets.length), coresPerSocket, threadsPerCore },
    numaNodes: nodes,
    gpus,
    sriovNics,
  };
}
