import type { Claim, HostCapacity, HostUsage, VmSpec } from '@berth/fit';

/** How a resource pool wants its hosts used (oVirt's power-saving vs evenly-distributed). */
export interface PlacementPolicy {
  /** pack: fill the most loaded host that fits (fewest hosts); spread: the least loaded. */
  readonly kind: 'pack' | 'spread';
  /** Overrides `Weights.policy` for this pool. */
  readonly weight?: number;
}

/**
 * Weights on top of the cost: final score = cost + sum(weight_i x penalty_i), every penalty in
 * [0, 1], lowest score wins. Defaults keep the weights below typical tiCrypt offsets (1000,
 * 100000) so cost tiers still decide first, while they dominate small curve differences.
 */
export interface Weights {
  /** pack: best fit by the bottleneck utilisation after placement (see policyPenalty); spread: the utilisation. */
  readonly policy: number;
  /** Share of the VM's devices and VFs not on the NUMA node(s) of its cells. */
  readonly numaAlignment: number;
  /** High-performance VM on a host with fewer sockets, cores or threads than it asks for. */
  readonly hpTopology: number;
  /** Share of the VM's soft affinity rules this host breaks. */
  readonly softAffinity: number;
}

export const DEFAULT_WEIGHTS: Weights = { policy: 100, numaAlignment: 10, hpTopology: 10, softAffinity: 50 };

/**
 * pack: a host already in use always beats an empty one (best fit: the fuller after placement,
 * the better, penalty 0..0.5); among empty hosts the largest opens first (0.5..1), which is what
 * keeps the number of hosts near its lower bound on mixed fleets. spread: the utilisation.
 */
export function policyPenalty(kind: PlacementPolicy['kind'], utilisation: number, emptyHost: boolean): number {
  const u = utilisation > 1 ? 1 : utilisation;
  if (kind === 'spread') return u;
  return emptyHost ? 0.5 + 0.5 * u : 0.5 * (1 - u);
}

export function hpTopologyPenalty(vm: VmSpec, topology: HostCapacity['topology']): number {
  const t = vm.topology;
  if (!vm.highPerformance || !t) return 0;
  return topology.sockets < t.sockets || topology.coresPerSocket < t.coresPerSocket || topology.threadsPerCore < t.threadsPerCore ? 1 : 0;
}

export function hasSoftRules(vm: VmSpec): boolean {
  return vm.affinity.some((r) => r.enforcement === 'soft');
}

/** Share of soft rules broken on this host (VM rules read the groups already on it). */
export function softAffinityPenalty(vm: VmSpec, host: HostCapacity, u: HostUsage): number {
  let rules = 0;
  let broken = 0;
  for (const r of vm.affinity) {
    if (r.enforcement !== 'soft') continue;
    rules++;
    const together =
      r.target === 'host' ? r.hosts.includes(host.hostId) || r.hosts.includes(host.name) : (u.affinityGroups.get(r.group) ?? 0) > 0;
    if (r.polarity === 'affinity' ? !together : together) broken++;
  }
  return rules === 0 ? 0 : broken / rules;
}

/** Known only once the claim exists (which NUMA node each device and VF landed on). */
export function numaAlignmentPenalty(claim: Claim, host: HostCapacity): number {
  if (claim.numaCells.length === 0) return 0;
  const cellNodes = new Set(claim.numaCells.map((c) => c.hostNode));
  let total = 0;
  let off = 0;
  for (const d of claim.devices) {
    total++;
    if (d.numaNode !== undefined && !cellNodes.has(d.numaNode)) off++;
  }
  for (const vf of claim.vfs) {
    total += vf.count;
    const nic = host.sriovNics.find((n) => n.name === vf.nic);
    if (nic && !cellNodes.has(nic.numaNode)) off += vf.count;
  }
  return total === 0 ? 0 : off / total;
}
