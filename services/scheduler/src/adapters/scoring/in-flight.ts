/**
 * The view placements decide on, with the claims this replica has sent to inventory and not yet
 * seen come back in a snapshot.
 *
 * Why: placements run side by side (`SCHEDULER_PARALLELISM`), each deciding synchronously on the
 * view and then waiting for inventory. Without this, every placement decided while the first claims
 * were on the wire saw the same view, so all of them chose the same best host (with `spread`, the
 * emptiest), and inventory took every claim that still fitted (a claim at an older generation is
 * re-checked, not refused): 32 composes at once on four empty hosts piled 20-30 VMs onto one. Here a
 * claim counts against its host from the moment it is sent (`reserve`) until inventory says no
 * (`settle` without a generation), or, once taken, until the host's snapshot holds it (or is at least
 * at the generation inventory answered).
 *
 * `get` answers the snapshots as inventory published them (plus the replica's own remembered claims):
 * candidates carry those generations, so inventory compares a claim with what it really has, and the
 * bucket watch skips what it already holds as before. Scoring (and Score, Explain's what-if) sees the
 * same hosts with the reserved claims added.
 */
import { applyClaim, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import type {
  Candidate,
  Decision,
  DecideOptions,
  HostRejection,
  PlacementEngine,
  Reservations,
  SnapshotView,
  WhatIfResult,
} from '../../application/ports.ts';

interface Reserved {
  readonly claim: Claim;
  /** The host's generation inventory answered once it took the claim. */
  takenAt?: number;
}

/** The engine this wraps: scores over what it is given, and takes hosts back at an older generation after `remove`. */
type Engine = PlacementEngine & SnapshotView;

export class InFlightView implements PlacementEngine, SnapshotView, Reservations {
  private readonly published = new Map<string, HostSnapshot>();
  private readonly reserved = new Map<string, Map<string, Reserved>>();

  constructor(private readonly engine: Engine) {}

  get(hostId: string): HostSnapshot | undefined {
    return this.published.get(hostId);
  }

  upsert(snapshot: HostSnapshot): void {
    const hostId = snapshot.capacity.hostId;
    const current = this.published.get(hostId);
    if (current !== undefined && current.generation > snapshot.generation) return;
    this.published.set(hostId, snapshot);
    this.sync(hostId);
  }

  /** The replica's own claim, taken by inventory (place-vm's rememberClaim): part of the host now. */
  applyClaim(claim: Claim): void {
    const current = this.published.get(claim.hostId);
    if (current === undefined) return;
    this.published.set(claim.hostId, applyClaim(current, claim));
    this.sync(claim.hostId);
  }

  remove(hostId: string): void {
    this.published.delete(hostId);
    this.reserved.delete(hostId);
    this.engine.remove(hostId);
  }

  get size(): number {
    return this.published.size;
  }

  reserve(claim: Claim): void {
    const host = this.published.get(claim.hostId);
    if (host === undefined || host.claims.some((c) => c.vmId === claim.vmId)) return;
    const onHost = this.reserved.get(claim.hostId) ?? this.reserved.set(claim.hostId, new Map()).get(claim.hostId)!;
    if (onHost.has(claim.vmId)) return;
    onHost.set(claim.vmId, { claim });
    this.sync(claim.hostId);
  }

  settle(claim: Claim, generation: number | undefined): void {
    const onHost = this.reserved.get(claim.hostId);
    const r = onHost?.get(claim.vmId);
    if (r === undefined || r.claim !== claim) return;
    if (generation === undefined) onHost!.delete(claim.vmId);
    else r.takenAt = generation;
    this.sync(claim.hostId);
  }

  /** Claims reserved and not yet in the published snapshots (tests and logs). */
  get inFlight(): number {
    let n = 0;
    for (const m of this.reserved.values()) n += m.size;
    return n;
  }

  decide(vm: VmSpec, opts: DecideOptions): Decision {
    const d = this.engine.decide(vm, opts);
    if (d.kind === 'failed') return d;
    return { ...d, chosen: this.asPublished(d.chosen), alternates: d.alternates.map((c) => this.asPublished(c)) };
  }

  rejections(vm: VmSpec, hostIds: readonly string[], excludedHosts: readonly string[]): HostRejection[] {
    return this.engine.rejections(vm, hostIds, excludedHosts);
  }

  missing(vm: VmSpec, excludedHosts: readonly string[]): { readonly summary: string; readonly detail: unknown } {
    return this.engine.missing(vm, excludedHosts);
  }

  whatIf(vm: VmSpec, hostIds?: readonly string[]): WhatIfResult {
    return this.engine.whatIf(vm, hostIds);
  }

  /** A candidate as inventory knows its host: at the published generation. */
  private asPublished(c: Candidate): Candidate {
    const generation = this.published.get(c.hostId)?.generation;
    return generation === undefined || generation === c.generation ? c : { ...c, generation };
  }

  /**
   * The engine's host = the published snapshot plus the reservations it does not hold yet. A
   * reservation ends when the snapshot holds its VM, or once taken, when the snapshot reached the
   * generation inventory answered (the claim was in it, or released again since).
   */
  private sync(hostId: string): void {
    const host = this.published.get(hostId);
    if (host === undefined) return;
    const onHost = this.reserved.get(hostId);
    let scored = host;
    if (onHost !== undefined) {
      for (const [vmId, r] of onHost) {
        if (host.claims.some((c) => c.vmId === vmId) || (r.takenAt !== undefined && host.generation >= r.takenAt)) onHost.delete(vmId);
        else scored = applyClaim(scored, r.claim);
      }
      if (onHost.size === 0) this.reserved.delete(hostId);
    }
    // One reservation fewer can take the scored host back a generation: the engine keeps the newer one otherwise.
    if ((this.engine.get(hostId)?.generation ?? -1) > scored.generation) this.engine.remove(hostId);
    this.engine.upsert(scored);
  }
}
