/**
 * The PlacementEngine and SnapshotView over @berth/scoring: its HostView keeps every host's usage
 * incrementally (a snapshot update costs O(claims on that host)), `schedule` filters with the fit
 * rules, scores with the cost functions of the host's hardware profile, and adds the weights
 * (placement policy per resource pool, NUMA alignment, high-performance topology, soft affinity).
 * A host whose profile has no cost function costs 0, so the pool's policy (pack by default)
 * decides: that is the default cost function.
 */
import { fits, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import {
  HostView,
  explainFailure,
  formatExplanation,
  schedule,
  whatIf,
  type Candidate as Scored,
  type CostConfig,
  type PlacementPolicy,
} from '@berth/scoring';
import type {
  Candidate,
  Decision,
  DecideOptions,
  HostRejection,
  PlacementEngine,
  SnapshotView,
  WhatIfResult,
} from '../../application/ports.ts';

export const EMPTY_COST_CONFIG: CostConfig = { costFunctions: {}, profiles: {} };

export class ScoringEngine implements PlacementEngine, SnapshotView {
  private view: HostView;

  constructor(
    config: CostConfig,
    private readonly policyFor: (pool: string) => PlacementPolicy | undefined,
  ) {
    this.view = new HostView([], config);
  }

  /** A new hardware config recompiles the cost functions and regroups every host. */
  setConfig(config: CostConfig): void {
    this.view = new HostView(this.view.all(), config);
  }

  get(hostId: string): HostSnapshot | undefined {
    return this.view.get(hostId);
  }

  upsert(snapshot: HostSnapshot): void {
    this.view.upsert(snapshot);
  }

  /** Incremental: the host's usage follows the claim instead of being rebuilt from all its claims. */
  applyClaim(claim: Claim): void {
    this.view.applyClaim(claim);
  }

  /** Incremental too: the host's usage gives back what the claim took. */
  releaseClaim(hostId: string, vmId: string): void {
    this.view.releaseClaim(hostId, vmId);
  }

  /** As upsert, whatever the generation held (see HostView.replace). */
  replace(snapshot: HostSnapshot): void {
    this.view.replace(snapshot);
  }

  remove(hostId: string): void {
    this.view.remove(hostId);
  }

  get size(): number {
    return this.view.size;
  }

  decide(vm: VmSpec, opts: DecideOptions): Decision {
    const r = schedule(vm, this.view, { policyFor: this.policyFor, excludedHosts: opts.excludedHosts, alternates: opts.alternates });
    if (r.kind === 'failed') return { kind: 'failed', summary: formatExplanation(r.explanation), detail: r.explanation };
    const chosen = this.candidate(r.breakdown);
    return {
      kind: 'placed',
      chosen,
      alternates: r.alternates.map((a) => this.candidate(a)),
      summary: `${vm.name} goes to ${chosen.hostName} (score ${+chosen.score.toFixed(4)}; ${r.alternates.length} runners-up)`,
    };
  }

  rejections(vm: VmSpec, hostIds: readonly string[], excludedHosts: readonly string[]): HostRejection[] {
    const excluded = new Set(excludedHosts);
    const out: HostRejection[] = [];
    for (const hostId of hostIds) {
      const snap = this.view.get(hostId);
      if (snap === undefined) {
        out.push({ hostId, hostName: hostId, reasons: [{ filter: 'unknown', detail: "no such host in the scheduler's view" }] });
        continue;
      }
      const hostName = snap.capacity.name;
      if (excluded.has(hostId)) {
        out.push({
          hostId,
          hostName,
          reasons: [{ filter: 'excluded', detail: 'excluded for this request (the source, or a destination that already failed)' }],
        });
        continue;
      }
      const r = fits(snap, vm);
      if (!r.ok) out.push({ hostId, hostName, reasons: r.reasons.map((f) => ({ filter: f.filter, detail: f.detail })) });
    }
    return out;
  }

  missing(vm: VmSpec, excludedHosts: readonly string[]): { summary: string; detail: unknown } {
    const e = explainFailure(this.view, vm, new Set(excludedHosts), null);
    return { summary: formatExplanation(e), detail: e };
  }

  whatIf(vm: VmSpec, hostIds: readonly string[] = []): WhatIfResult {
    const hosts = hostIds.length === 0 ? this.view.all() : hostIds.flatMap((id) => this.view.get(id) ?? []);
    const r = whatIf({ ...vm, vmId: vm.vmId || 'what-if' }, hosts);
    return { total: r.total, perHost: r.perHost.map((p) => ({ ...p, hostName: this.view.get(p.hostId)?.capacity.name ?? p.hostId })) };
  }

  private candidate(c: Scored): Candidate {
    return {
      hostId: c.hostId,
      hostName: this.view.get(c.hostId)?.capacity.name ?? c.hostId,
      generation: c.generation,
      claim: c.claim,
      score: c.score,
      breakdown: { cost: c.cost, weights: c.weights },
    };
  }
}

/** `pool=kind` pairs, e.g. `gpu=spread,batch=pack`; pools not listed get `fallback`. */
export function policyTable(fallback: PlacementPolicy['kind'], pairs: Readonly<Record<string, PlacementPolicy['kind']>>) {
  return (pool: string): PlacementPolicy => ({ kind: pairs[pool] ?? fallback });
}
