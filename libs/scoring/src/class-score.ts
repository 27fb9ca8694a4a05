import type { VmSpec } from '@berth/fit';
import type { HostClass } from './host-class.ts';
import { DEFAULT_WEIGHTS, hpTopologyPenalty, policyPenalty, type PlacementPolicy, type Weights } from './weights.ts';

/** Per-call settings of the hot loop, resolved once per VM. */
export interface ScoreContext {
  readonly vm: VmSpec;
  readonly hugepages: boolean;
  readonly cpuModel: string | undefined;
  readonly weights: Weights;
  readonly policyFor: ((pool: string) => PlacementPolicy | undefined) | undefined;
  readonly policies: Map<string, PlacementPolicy | null>;
}

export function scoreContext(vm: VmSpec, weights: Partial<Weights> | undefined, policyFor: ScoreContext['policyFor']): ScoreContext {
  return {
    vm,
    hugepages: vm.hugepageSizeBytes !== undefined,
    cpuModel: vm.passthroughCpu && vm.cpuModel !== undefined ? vm.cpuModel.toLowerCase() : undefined,
    weights: weights ? { ...DEFAULT_WEIGHTS, ...weights } : DEFAULT_WEIGHTS,
    policyFor,
    policies: new Map(),
  };
}

/** NaN: a class-level filter refuses the VM; Infinity: the cost function does. */
export const REFUSED = NaN;

export type CostState = Pick<HostClass, 'cost' | 'deviceSum' | 'devicesInUse' | 'vms' | 'usedVcpus' | 'claimedMemory'>;

export function classCost(c: CostState, vm: VmSpec): number {
  const cost = c.cost;
  if (!cost) return 0;
  let devices = c.deviceSum;
  if (devices === Infinity) return Infinity;
  for (const req of vm.devices) {
    const inUse = c.devicesInUse.get(req.type) ?? 0;
    devices += cost.device(req.type, inUse + req.count) - cost.device(req.type, inUse);
  }
  if (Number.isNaN(devices)) return Infinity;
  return cost.total(c.vms + 1, c.usedVcpus + vm.vcpus, c.claimedMemory + vm.memoryBytes, devices);
}

export function policyOf(ctx: ScoreContext, pool: string): PlacementPolicy | null {
  let p = ctx.policies.get(pool);
  if (p === undefined) {
    p = ctx.policyFor?.(pool) ?? null;
    ctx.policies.set(pool, p);
  }
  return p;
}

/** Utilisation of the bottleneck dimension (vCPUs or ordinary memory) after the placement. */
export function utilisationAfter(c: HostClass, vm: VmSpec, hugepages: boolean): number {
  const v = c.allocVcpus > 0 ? (c.usedVcpus + vm.vcpus) / c.allocVcpus : 1;
  const m = c.allocMemory > 0 ? (c.usedMemory + (hugepages ? 0 : vm.memoryBytes)) / c.allocMemory : 1;
  return v > m ? v : m;
}

export function classPolicyPenalty(ctx: ScoreContext, c: HostClass): number {
  const policy = policyOf(ctx, c.pool);
  if (!policy) return 0;
  return (policy.weight ?? ctx.weights.policy) * policyPenalty(policy.kind, utilisationAfter(c, ctx.vm, ctx.hugepages), c.vms === 0);
}

/**
 * The score every member of the class shares (cost + policy + topology weights), or REFUSED when
 * the class cannot take the VM whatever the member. Host-specific parts come later.
 */
export function classScore(ctx: ScoreContext, c: HostClass): number {
  const vm = ctx.vm;
  if (c.allocVcpus - c.usedVcpus < vm.vcpus) return REFUSED;
  if (!ctx.hugepages && c.allocMemory - c.usedMemory < vm.memoryBytes) return REFUSED;
  if (vm.resourcePool !== undefined && vm.resourcePool !== c.pool) return REFUSED;
  if (ctx.cpuModel !== undefined && ctx.cpuModel !== c.cpuModel) return REFUSED;
  for (const req of vm.devices) {
    if ((c.devicesTotal.get(req.type) ?? 0) - (c.devicesInUse.get(req.type) ?? 0) < req.count) return REFUSED;
  }
  const cost = classCost(c, vm);
  if (cost === Infinity) return Infinity;
  let score = cost + classPolicyPenalty(ctx, c);
  if (vm.highPerformance) score += ctx.weights.hpTopology * hpTopologyPenalty(vm, c.topology);
  return score;
}
