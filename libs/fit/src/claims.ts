import { IllegalStateError, NotFoundError } from '@berth/errors';
import { allocatableVcpus, ordinaryMemoryCapacity } from './capacity.ts';
import { shortage, type FitFailure } from './failures.ts';
import type { Claim, HostSnapshot, VmSpec } from './model.ts';
import { distinctNodes, guestCells, needsNuma } from './numa.ts';
import { allCpuIds, freeNodes } from './topology.ts';
import { usage as usageOf, type HostUsage } from './usage.ts';

function sumBy<T>(items: readonly T[], key: (t: T) => string, value: (t: T) => number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of items) m.set(key(t), (m.get(key(t)) ?? 0) + value(t));
  return m;
}

/**
 * Re-checks an exact claim against the host as it is now (inventory runs this inside the append,
 * so a claim computed on an older snapshot is accepted only if its resources are still free).
 */
export function claimFits(host: HostSnapshot, claim: Claim, u: HostUsage = usageOf(host)): FitFailure[] {
  const cap = host.capacity;
  const out: FitFailure[] = [];
  if (cap.state !== 'enabled') out.push({ filter: 'state', detail: `host ${cap.name} is ${cap.state}`, subject: cap.state });
  if (claim.hostId !== cap.hostId) out.push({ filter: 'allowed-hosts', detail: `claim is for host ${claim.hostId}, not ${cap.hostId}` });
  if (host.claims.some((c) => c.vmId === claim.vmId))
    out.push({ filter: 'allowed-hosts', detail: `${claim.vmId} already holds a claim on ${cap.name}` });
  const freeVcpus = allocatableVcpus(cap.cpus, cap.cpuOvercommit) - u.vcpus;
  if (claim.vcpus > freeVcpus) out.push(shortage('vcpus', 'vcpus', claim.vcpus, freeVcpus, `needs ${claim.vcpus} vCPUs`));
  const hugepageBacked = claim.hugepages.length > 0;
  if (!hugepageBacked) {
    const freeMemory = ordinaryMemoryCapacity(cap) - u.memoryBytes;
    if (claim.memoryBytes > freeMemory) out.push(shortage('memory', 'bytes', claim.memoryBytes, freeMemory, 'not enough memory'));
  }
  const cpuIds = allCpuIds(cap);
  const pinned = new Set<number>();
  for (const cpu of claim.pinnedCpus) {
    if (!cpuIds.has(cpu) || u.pinnedCpus.has(cpu) || pinned.has(cpu)) {
      out.push({
        filter: 'dedicated-cpus',
        detail: `CPU ${cpu} is ${cpuIds.has(cpu) ? 'already pinned' : 'not on this host'}`,
        subject: `cpu ${cpu}`,
      });
    }
    pinned.add(cpu);
  }
  const nodes = new Map(freeNodes(cap, u).map((n) => [n.id, n]));
  out.push(...cellsAgree(claim, new Set(nodes.keys())));
  if (!hugepageBacked) {
    for (const [node, bytes] of sumBy(
      claim.numaCells,
      (c) => String(c.hostNode),
      (c) => c.memoryBytes,
    )) {
      const free = nodes.get(Number(node))?.memoryBytes ?? 0;
      if (bytes > free) out.push(shortage('numa', 'bytes', bytes, free, `NUMA node ${node} lacks memory`, `node ${node}`));
    }
  }
  for (const hp of claim.hugepages) {
    const free = nodes.get(hp.numaNode)?.hugepages.get(hp.pageSizeBytes) ?? 0;
    if (hp.count > free)
      out.push(
        shortage(
          'hugepages',
          'pages',
          hp.count,
          free,
          `NUMA node ${hp.numaNode} lacks ${hp.pageSizeBytes}-byte hugepages`,
          `node ${hp.numaNode}`,
        ),
      );
  }
  const seen = new Set<string>();
  for (const d of claim.devices) {
    const exists = cap.pciDevices.some((p) => p.address === d.address && p.type === d.type);
    if (!exists || u.devices.has(d.address) || seen.has(d.address)) {
      out.push({ filter: 'devices', detail: `${d.type} ${d.address} is ${exists ? 'in use' : 'not on this host'}`, subject: d.type });
    }
    seen.add(d.address);
  }
  for (const [nic, count] of sumBy(
    claim.vfs,
    (v) => v.nic,
    (v) => v.count,
  )) {
    const total = cap.sriovNics.find((n) => n.name === nic)?.vfsTotal ?? 0;
    const free = total - (u.vfs.get(nic) ?? 0);
    if (count > free) out.push(shortage('sriov', 'vfs', count, free, `NIC ${nic} lacks free VFs`, nic));
  }
  for (const [poolName, bytes] of sumBy(
    claim.volumes,
    (v) => v.pool,
    (v) => v.sizeBytes,
  )) {
    const pool = cap.storagePools.find((p) => p.name === poolName);
    const free = pool ? pool.totalBytes - pool.externalUsedBytes - (u.pools.get(poolName) ?? 0) : 0;
    if (bytes > free) out.push(shortage('storage', 'bytes', bytes, free, `pool ${poolName} lacks space`, poolName));
  }
  return out;
}

/** The host with `claim` added, one generation later. Does not re-check fit (see claimFits). */
export function applyClaim(host: HostSnapshot, claim: Claim): HostSnapshot {
  if (claim.hostId !== host.capacity.hostId) {
    throw new IllegalStateError(`claim of ${claim.vmId} is for host ${claim.hostId}, not ${host.capacity.hostId}`);
  }
  if (host.claims.some((c) => c.vmId === claim.vmId)) {
    throw new IllegalStateError(`${claim.vmId} already holds a claim on host ${host.capacity.hostId}`);
  }
  return { ...host, generation: host.generation + 1, claims: [...host.claims, claim] };
}

/** The host without `vmId`'s claim, one generation later: exactly what the claim took is free again. */
export function releaseClaim(host: HostSnapshot, vmId: string): HostSnapshot {
  const index = host.claims.findIndex((c) => c.vmId === vmId);
  if (index < 0) throw new NotFoundError('claim', `${vmId} on host ${host.capacity.hostId}`);
  return { ...host, generation: host.generation + 1, claims: host.claims.filter((_, i) => i !== index) };
}

export function findClaim(host: HostSnapshot, vmId: string): Claim | undefined {
  return host.claims.find((c) => c.vmId === vmId);
}

/**
 * The claim's NUMA cells are consistent in themselves and with the host: each on a host node that
 * exists, the cells' vCPUs adding up to the claim's, and a pinned claim's cells on distinct nodes.
 */
function cellsAgree(claim: Claim, hostNodes: ReadonlySet<number>): FitFailure[] {
  const out: FitFailure[] = [];
  const cells = claim.numaCells;
  for (const c of cells) {
    if (!hostNodes.has(c.hostNode))
      out.push({
        filter: 'numa',
        detail: `guest cell ${c.guestCell} is on host NUMA node ${c.hostNode}, which does not exist`,
        subject: `node ${c.hostNode}`,
      });
  }
  if (cells.length > 0 && cells.every((c) => c.vcpus !== undefined)) {
    const sum = cells.reduce((s, c) => s + (c.vcpus ?? 0), 0);
    if (sum !== claim.vcpus) out.push({ filter: 'numa', detail: `guest cells hold ${sum} vCPUs, the claim ${claim.vcpus}` });
  }
  if (claim.pinnedCpus.length > 0) out.push(...sharedNodes(claim));
  return out;
}

function sharedNodes(claim: Claim): FitFailure[] {
  const seen = new Map<number, number>();
  const out: FitFailure[] = [];
  for (const c of claim.numaCells) {
    const other = seen.get(c.hostNode);
    if (other !== undefined) {
      out.push(
        shortage(
          'numa',
          'nodes',
          claim.numaCells.length,
          new Set(claim.numaCells.map((x) => x.hostNode)).size,
          `guest cells ${other} and ${c.guestCell} of a pinned VM share host NUMA node ${c.hostNode}`,
          'distinct nodes',
        ),
      );
    }
    seen.set(c.hostNode, c.guestCell);
  }
  return out;
}

/**
 * Does the claim give the VM what it asked for (inventory checks this before taking a claim): its
 * vCPUs and memory, one claimed cell per guest cell with that cell's vCPUs and memory, pinned cells
 * on their host node, a pinned VM's cells on distinct host nodes, a dedicated VM's CPUs pinned.
 */
export function claimMatchesVm(vm: VmSpec, claim: Claim): FitFailure[] {
  const out: FitFailure[] = [];
  if (claim.vcpus !== vm.vcpus) out.push({ filter: 'vcpus', detail: `claim holds ${claim.vcpus} vCPUs, the VM asks for ${vm.vcpus}` });
  if (claim.memoryBytes !== vm.memoryBytes)
    out.push({ filter: 'memory', detail: `claim holds ${claim.memoryBytes} bytes, the VM asks for ${vm.memoryBytes}` });
  if (vm.cpuPolicy === 'dedicated' && claim.pinnedCpus.length !== vm.vcpus) {
    out.push({ filter: 'dedicated-cpus', detail: `claim pins ${claim.pinnedCpus.length} CPUs, the VM has ${vm.vcpus} dedicated vCPUs` });
  }
  if (!needsNuma(vm)) return out;
  const wanted = guestCells(vm);
  if (claim.numaCells.length !== wanted.length) {
    out.push({ filter: 'numa', detail: `claim has ${claim.numaCells.length} NUMA cells, the VM ${wanted.length}` });
    return out;
  }
  claim.numaCells.forEach((c, i) => {
    const w = wanted[i]!;
    if (c.guestCell !== i || c.memoryBytes !== w.memoryBytes || (c.vcpus !== undefined && c.vcpus !== w.vcpus)) {
      out.push({
        filter: 'numa',
        detail: `claimed cell ${i} (${c.vcpus ?? '?'} vCPUs, ${c.memoryBytes} bytes) is not guest cell ${i} (${w.vcpus} vCPUs, ${w.memoryBytes} bytes)`,
      });
    }
    if (w.pinnedHostNode !== undefined && c.hostNode !== w.pinnedHostNode) {
      out.push({
        filter: 'numa',
        detail: `guest cell ${i} is pinned to host NUMA node ${w.pinnedHostNode}, the claim puts it on ${c.hostNode}`,
        subject: `node ${w.pinnedHostNode}`,
      });
    }
  });
  if (distinctNodes(vm)) out.push(...sharedNodes(claim));
  return out;
}
