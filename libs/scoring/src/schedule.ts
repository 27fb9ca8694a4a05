import { fits, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { CostFunctionSpec, HardwareProfile } from '@berth/hardware-config';
import { classPolicyPenalty, classScore, scoreContext, type ScoreContext } from './class-score.ts';
import { NO_COST, type CostBreakdown } from './cost.ts';
import { explainFailure, type FailureExplanation } from './explain.ts';
import { bucketOf, BUCKETS, firstMember, type HostClass } from './host-class.ts';
import { HostView } from './view.ts';
import {
  hasSoftRules,
  hpTopologyPenalty,
  numaAlignmentPenalty,
  softAffinityPenalty,
  type PlacementPolicy,
  type Weights,
} from './weights.ts';

export interface ScheduleOptions {
  /** Used only when `hosts` is a plain array (a HostView carries its own). */
  readonly costFunctions?: Readonly<Record<string, CostFunctionSpec>>;
  readonly profiles?: Readonly<Record<string, HardwareProfile>>;
  /** Placement policy of a resource pool; none: cost and weights only. */
  readonly policyFor?: (pool: string) => PlacementPolicy | undefined;
  /** Hosts this VM must not go to (e.g. where provisioning failed). */
  readonly excludedHosts?: readonly string[];
  /** How many runners-up to return with their claims (default 3). */
  readonly alternates?: number;
  readonly weights?: Partial<Weights>;
}

export interface WeightBreakdown {
  readonly policy: number;
  readonly hpTopology: number;
  readonly softAffinity: number;
  readonly numaAlignment: number;
}

export interface Candidate {
  readonly hostId: string;
  readonly generation: number;
  /** cost.total + the weighted penalties; lowest wins, ties by host id. */
  readonly score: number;
  readonly cost: CostBreakdown;
  readonly weights: WeightBreakdown;
  readonly claim: Claim;
}

export type ScheduleResult =
  | {
      readonly kind: 'placed';
      readonly vmId: string;
      readonly hostId: string;
      readonly generation: number;
      readonly claim: Claim;
      readonly breakdown: Candidate;
      readonly alternates: readonly Candidate[];
    }
  | { readonly kind: 'failed'; readonly vmId: string; readonly explanation: FailureExplanation };

export interface Finalist {
  slot: number;
  score: number;
  hostId: string;
  claim: Claim;
}

/** Hosts carrying a member of each hard "together" group; empty set: no member placed yet. */
function togetherHosts(view: HostView, vm: VmSpec): Set<string> | null {
  if (vm.affinity.length === 0) return null;
  const groups = vm.affinity.filter((r) => r.enforcement === 'hard' && r.target === 'vm' && r.polarity === 'affinity').map((r) => r.group);
  if (groups.length === 0) return null;
  const hosts = new Set<string>();
  view.snapshots.forEach((s, slot) => {
    const u = view.usages[slot];
    if (s && u && groups.every((g) => (u.affinityGroups.get(g) ?? 0) > 0)) hosts.add(s.capacity.hostId);
  });
  return hosts.size > 0 ? hosts : null;
}

/** What ranks a finalist: lowest score first, ties by host id. */
interface Ranked {
  readonly score: number;
  readonly hostId: string;
}

/** Puts `f` among the `k` best kept in `best` (ranked), dropping the one it pushes past `k`. */
export function insert<F extends Ranked>(best: F[], f: F, k: number): void {
  let i = best.length;
  while (i > 0 && (best[i - 1]!.score > f.score || (best[i - 1]!.score === f.score && best[i - 1]!.hostId > f.hostId))) i--;
  best.splice(i, 0, f);
  if (best.length > k) best.pop();
}

/** A candidate can only enter if it beats the worst finalist on score, or ties and has a lower id. */
export function loses(best: readonly Ranked[], k: number, score: number, hostId: string): boolean {
  const w = best.length < k ? undefined : best[k - 1]!;
  return w !== undefined && (score > w.score || (score === w.score && hostId > w.hostId));
}

/** Members examined past the k-th finalist of a class when the NUMA alignment weight varies. */
const EXTRA_MEMBERS = 32;

/** A finalist with its cost breakdown and weights (ScheduleCache builds the same ones). */
export function candidate(view: HostView, ctx: ScoreContext, cls: HostClass, f: Finalist): Candidate {
  const snap = view.snapshots[f.slot]!;
  const u = view.usages[f.slot]!;
  const vm = ctx.vm;
  let cost = NO_COST;
  if (cls.cost) {
    const devices = new Map(u.devicesByType);
    for (const d of f.claim.devices) devices.set(d.type, (devices.get(d.type) ?? 0) + 1);
    cost = cls.cost.breakdown({
      vms: cls.vms + 1,
      vcpus: cls.usedVcpus + vm.vcpus,
      memoryBytes: cls.claimedMemory + vm.memoryBytes,
      devices,
    });
  }
  const w = ctx.weights;
  const weights: WeightBreakdown = {
    policy: classPolicyPenalty(ctx, cls),
    hpTopology: vm.highPerformance ? w.hpTopology * hpTopologyPenalty(vm, cls.topology) : 0,
    softAffinity: w.softAffinity * softAffinityPenalty(vm, snap.capacity, u),
    numaAlignment: w.numaAlignment * numaAlignmentPenalty(f.claim, snap.capacity),
  };
  return { hostId: f.hostId, generation: snap.generation, score: f.score, cost, weights, claim: f.claim };
}

/**
 * Chooses a host for `vm`: class-level filters and scores first (cheap), then the full fit of
 * @berth/fit on members of the best classes only, lowest score first, until the winner and
 * `alternates` runners-up are known. Does not change the view.
 */
export function schedule(vm: VmSpec, hosts: HostView | readonly HostSnapshot[], options: ScheduleOptions = {}): ScheduleResult {
  const view =
    hosts instanceof HostView
      ? hosts
      : new HostView(hosts, { costFunctions: options.costFunctions ?? {}, profiles: options.profiles ?? {} });
  const ctx = scoreContext(vm, options.weights, options.policyFor);
  const k = 1 + Math.max(0, options.alternates ?? 3);
  const excluded = new Set(options.excludedHosts ?? []);
  const allowed = vm.allowedHosts.length > 0 ? new Set(vm.allowedHosts) : null;
  const together = togetherHosts(view, vm);
  const soft = hasSoftRules(vm);
  const lazy = vm.devices.length > 0 || vm.nics.some((n) => n.sriov);
  const uniform = !soft && !lazy;

  const classes: HostClass[] = [];
  const scores: number[] = [];
  for (let b = bucketOf(vm.vcpus); b < BUCKETS; b++) {
    // Indexed: an iterator for each of the BUCKETS buckets (most of them empty) was a large share of
    // what a placement allocated.
    const bucket = view.buckets[b]!;
    for (let i = 0; i < bucket.length; i++) {
      const c = bucket[i]!;
      const s = classScore(ctx, c);
      if (s < Infinity) {
        classes.push(c);
        scores.push(s);
      }
    }
  }

  const best: Finalist[] = [];
  const owner = new Map<number, HostClass>();
  const done = new Uint8Array(classes.length);
  for (;;) {
    let next = -1;
    for (let i = 0; i < classes.length; i++) {
      if (
        done[i] ||
        (next >= 0 &&
          (scores[i]! > scores[next]! || (scores[i] === scores[next] && firstMember(classes[i]!) > firstMember(classes[next]!))))
      )
        continue;
      next = i;
    }
    if (next < 0) break;
    done[next] = 1;
    const cls = classes[next]!;
    const base = scores[next]!;
    if (loses(best, k, base, firstMember(cls))) break;
    let extra = 0;
    for (let m = cls.members.length - 1; m >= 0; m--) {
      const hostId = cls.members[m]!;
      if (excluded.has(hostId) || (together && !together.has(hostId))) continue;
      const slot = cls.slots[m]!;
      const snap = view.snapshots[slot]!;
      // Checked here too (fits() would refuse them) so a short allow-list in a big class stays cheap.
      if (allowed && !allowed.has(hostId) && !allowed.has(snap.capacity.name)) continue;
      const u = view.usages[slot]!;
      const partial = soft ? base + ctx.weights.softAffinity * softAffinityPenalty(vm, snap.capacity, u) : base;
      if (loses(best, k, partial, hostId)) {
        if (uniform) break;
        continue;
      }
      const r = fits(snap, vm, u);
      if (!r.ok) continue;
      const score = lazy ? partial + ctx.weights.numaAlignment * numaAlignmentPenalty(r.claim, snap.capacity) : partial;
      insert(best, { slot, score, hostId, claim: r.claim }, k);
      owner.set(slot, cls);
      // Soft affinity is cheap to read per member, so those VMs see every member (exact); the NUMA
      // alignment needs a full fit per member, so that search stops after EXTRA_MEMBERS more.
      if (best.length === k && (uniform || best[k - 1]!.score <= base || (!soft && ++extra > EXTRA_MEMBERS))) break;
    }
  }

  return (
    placed(vm.vmId, best, (f) => candidate(view, ctx, owner.get(f.slot)!, f)) ?? {
      kind: 'failed',
      vmId: vm.vmId,
      explanation: explainFailure(view, vm, excluded, together),
    }
  );
}

/** The placed result of the finalists (best first): the first chosen, the rest alternates; undefined when there are none. */
export function placed<F>(vmId: string, best: readonly F[], candidateOf: (f: F) => Candidate): ScheduleResult | undefined {
  const [first, ...rest] = best;
  if (first === undefined) return undefined;
  const chosen = candidateOf(first);
  return {
    kind: 'placed',
    vmId,
    hostId: chosen.hostId,
    generation: chosen.generation,
    claim: chosen.claim,
    breakdown: chosen,
    alternates: rest.map(candidateOf),
  };
}
