import { allocatableVcpus, ordinaryMemoryCapacity, type HostSnapshot, type VmSpec } from '@berth/fit';
import { formatExplanation, HostView, ScheduleCache, type Candidate, type PlacementPolicy } from '@berth/scoring';
import type { Blocker, EvacuationPlan, Evacuee, PlanInput, PlannedMove } from './model.ts';

/** A pinned VM: pass-through host CPU, dedicated (pinned) CPUs or NUMA nodes pinned to host nodes (seed 004). */
export function isPinned(spec: VmSpec): boolean {
  return spec.passthroughCpu || spec.cpuPolicy === 'dedicated' || spec.numaNodes.some((n) => n.pinnedHostNode !== undefined);
}

export const PERFORMANCE_WARNING = 'high-performance or pinned VM: its performance may decrease after the migration';

/** Weight of the share of a destination's CPUs already pinned (the seed's "less pinned"), beside the engine's weights. */
export const PINNED_WEIGHT = 10;
/** Runners-up the engine returns; the least pinned of these (by adjusted score) is taken. */
const CANDIDATES = 4;

const SPREAD: PlacementPolicy = { kind: 'spread' };

/** Start order: high priority first, then the larger memory (first-fit decreasing packs best), then VM id. */
export function byStartOrder(a: Evacuee, b: Evacuee): number {
  return (
    b.spec.priority - a.spec.priority ||
    b.claim.memoryBytes - a.claim.memoryBytes ||
    (a.spec.vmId < b.spec.vmId ? -1 : a.spec.vmId > b.spec.vmId ? 1 : 0)
  );
}

function pinnedShare(view: HostView, hostId: string): number {
  const slot = view.slot(hostId);
  const snap = view.get(hostId);
  const u = slot === undefined ? undefined : view.usages[slot];
  if (!snap || !u || snap.capacity.cpus === 0) return 0;
  return u.pinnedCpus.size / snap.capacity.cpus;
}

/** Bottleneck utilisation (vCPUs, ordinary memory) of a host as the view holds it. */
export function allocationLoad(snapshot: HostSnapshot): { cpu: number; memory: number } {
  const c = snapshot.capacity;
  let vcpus = 0;
  let memory = 0;
  for (const cl of snapshot.claims) {
    vcpus += cl.vcpus;
    if (cl.hugepages.length === 0) memory += cl.memoryBytes;
  }
  const av = allocatableVcpus(c.cpus, c.cpuOvercommit);
  const am = ordinaryMemoryCapacity(c);
  return { cpu: av > 0 ? vcpus / av : 1, memory: am > 0 ? memory / am : 1 };
}

/** allocationLoad of a host the view holds, from the view's usage (the same sums, without a walk over its claims). */
function loadAfter(view: HostView, snapshot: HostSnapshot): { cpu: number; memory: number } {
  const u = view.usages[view.slot(snapshot.capacity.hostId)!]!;
  const c = snapshot.capacity;
  const av = allocatableVcpus(c.cpus, c.cpuOvercommit);
  const am = ordinaryMemoryCapacity(c);
  return { cpu: av > 0 ? u.vcpus / av : 1, memory: am > 0 ? u.memoryBytes / am : 1 };
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

function chooseDestination(
  view: HostView,
  engine: ScheduleCache,
  vm: Evacuee,
  input: PlanInput,
  hasRoom: (hostId: string) => boolean,
): { best: Candidate } | { failed: Blocker } {
  const failed = input.excludedFor?.(vm.spec.vmId) ?? [];
  const excluded = failed.length === 0 ? [input.hostId] : [input.hostId, ...failed];
  const r = engine.schedule(vm.spec, { excludedHosts: excluded, alternates: CANDIDATES });
  if (r.kind === 'failed') {
    const why = formatExplanation(r.explanation);
    return {
      failed: {
        vmId: vm.spec.vmId,
        vmName: vm.spec.name,
        priority: vm.spec.priority,
        kind: 'no-destination',
        reason: `no host can take it: ${why}`,
        remedies: [
          'free or add capacity on a host that matches its requirements (retried automatically)',
          'stop it or delete it',
          'relax its placement constraints',
        ],
        explanation: r.explanation,
      },
    };
  }
  // The least pinned of the candidates (by adjusted score); one with an inbound slot free before one without.
  let best = r.breakdown;
  let bestRoom = hasRoom(best.hostId);
  let bestScore = best.score + PINNED_WEIGHT * pinnedShare(view, best.hostId);
  for (const alt of r.alternates) {
    const room = hasRoom(alt.hostId);
    const s = alt.score + PINNED_WEIGHT * pinnedShare(view, alt.hostId);
    if ((room && !bestRoom) || (room === bestRoom && (s < bestScore || (s === bestScore && alt.hostId < best.hostId)))) {
      best = alt;
      bestRoom = room;
      bestScore = s;
    }
  }
  return { best };
}

function blocked(vm: Evacuee, kind: Blocker['kind'], reason: string, remedies: string[]): Blocker {
  return { vmId: vm.spec.vmId, vmName: vm.spec.name, priority: vm.spec.priority, kind, reason, remedies };
}

/**
 * Plans the evacuation of one host: a destination for every VM that may move, chosen by the
 * placement engine (same filters, cost functions and weights as placement; the source and the
 * VM's failed destinations excluded; spread by default, i.e. less loaded, then less pinned), each
 * choice applied to a private view before the next, so the plan never overcommits a destination.
 * No I/O, no clock: the same input always gives the same plan.
 */
export function planEvacuation(input: PlanInput): EvacuationPlan {
  const shared = input.view;
  if (!shared) return plan(input, new HostView(input.hosts ?? [], input.costConfig ?? { costFunctions: {}, profiles: {} }));
  // The plan's moves are taken back before it returns; synchronous from start to end, so nobody
  // else saw the view while it held them.
  shared.checkpoint();
  try {
    return plan(input, shared);
  } finally {
    shared.rollback();
  }
}

function plan(input: PlanInput, view: HostView): EvacuationPlan {
  const moves: PlannedMove[] = [];
  const blockers: Blocker[] = [];
  const inFlight: string[] = [];
  const deferred: string[] = [];
  const maxMoves = input.maxMoves ?? Infinity;
  // One engine for the whole plan: VMs of the same shape share the ranking of the hosts, re-scored
  // only where the plan's earlier moves (or anything else) changed the view.
  const policyFor = (pool: string): PlacementPolicy => input.policyFor?.(pool) ?? SPREAD;
  const engine = new ScheduleCache(view, { policyFor });
  const inboundFree = input.inboundFree;
  const plannedInto = new Map<string, number>();
  const hasRoom = (hostId: string): boolean => inboundFree === undefined || inboundFree(hostId) - (plannedInto.get(hostId) ?? 0) > 0;
  for (const vm of [...input.vms].sort(byStartOrder)) {
    const spec = vm.spec;
    if (vm.status === 'migrating') {
      inFlight.push(spec.vmId);
      continue;
    }
    if (vm.status === 'busy') {
      blockers.push(blocked(vm, 'busy', 'it is being started, stopped or deleted', ['wait: the drain retries when it settles']));
      continue;
    }
    const live = vm.status === 'running';
    if (live && spec.migrationMode === 'none') {
      blockers.push(
        blocked(vm, 'mode-none', 'its migration mode is none: it cannot be migrated', [
          'change its migration mode to manual or manual-and-automatic',
          'stop it: a stopped VM moves cold',
        ]),
      );
      continue;
    }
    if (live && spec.migrationMode === 'manual' && input.trigger === 'automatic') {
      blockers.push(
        blocked(vm, 'manual-only', 'its migration mode is manual only: automatic evacuations do not move it', [
          'migrate it by hand (berth vms migrate)',
          'put the host in maintenance yourself: an operator maintenance moves manual-only VMs',
          'change its migration mode to manual-and-automatic',
        ]),
      );
      continue;
    }
    if (moves.length >= maxMoves) {
      deferred.push(spec.vmId);
      continue;
    }
    const choice = chooseDestination(view, engine, vm, input, hasRoom);
    if ('failed' in choice) {
      blockers.push(choice.failed);
      continue;
    }
    const { best } = choice;
    plannedInto.set(best.hostId, (plannedInto.get(best.hostId) ?? 0) + 1);
    const destination = view.applyClaim(best.claim);
    const after = loadAfter(view, destination);
    const dest = destination.capacity;
    const warnings = live && (spec.highPerformance || isPinned(spec)) ? [PERFORMANCE_WARNING] : [];
    moves.push({
      vmId: spec.vmId,
      vmName: spec.name,
      priority: spec.priority,
      memoryBytes: vm.claim.memoryBytes,
      mode: spec.migrationMode,
      kind: live ? 'live' : 'cold',
      destinationHostId: best.hostId,
      destinationName: dest.name,
      destinationGeneration: best.generation,
      claim: best.claim,
      reason: `best of the hosts that fit (score ${+best.score.toFixed(2)}): ${pct(after.cpu)} vCPUs and ${pct(after.memory)} memory allocated after the move, ${pct(pinnedShare(view, best.hostId))} of its CPUs pinned`,
      warnings,
    });
  }
  const caps = input.caps;
  return {
    hostId: input.hostId,
    trigger: input.trigger,
    moves,
    blockers,
    inFlight,
    deferred,
    totalMemoryBytes: moves.reduce((s, m) => s + m.memoryBytes, 0),
    concurrency: { effective: Math.min(caps.outboundPerHost, caps.fleet), caps },
    complete: blockers.length === 0,
  };
}
