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
 *
 * The engine follows reservations claim by claim (`applyClaim`/`releaseClaim`: its usage of the host
 * changes by the claim, never rebuilt), so a placement costs the engine what it did before this view
 * existed: one claim applied. Only a new snapshot from the bucket rebuilds the host, with the
 * reservations it does not hold yet added.
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

/**
 * The engine this wraps: scores over what it is given, follows claims incrementally, and takes a
 * host whatever the generation it holds (`replace`: its hosts carry reservations the bucket's do not).
 */
type Engine = PlacementEngine &
  SnapshotView & {
    releaseClaim(hostId: string, vmId: string): void;
    replace(snapshot: HostSnapshot): void;
  };

export class InFlightView implements PlacementEngine, SnapshotView, Reservations {
  private readonly published = new Map<string, HostSnapshot>();
  /**
   * Per host, the claims counted in the engine that the published snapshot does not hold (never one
   * of its VMs: a reservation ends when the snapshot takes its VM in).
   */
  private readonly reserved = new Map<string, Map<string, Reserved>>();

  constructor(private readonly engine: Engine) {}

  get(hostId: string): HostSnapshot | undefined {
    return this.published.get(hostId);
  }

  /**
   * A snapshot from the bucket (or a fresh read): the engine's host is rebuilt from it plus the
   * reservations it does not hold yet. A reservation ends when the snapshot holds its VM, or once
   * taken, when the snapshot reached the generation inventory answered (the claim was in it, or
   * released again since).
   */
  upsert(snapshot: HostSnapshot): void {
    const hostId = snapshot.capacity.hostId;
    const current = this.published.get(hostId);
    if (current !== undefined && current.generation > snapshot.generation) return;
    this.published.set(hostId, snapshot);
    const onHost = this.reserved.get(hostId);
    let scored = snapshot;
    if (onHost !== undefined) {
      const extra: Claim[] = [];
      for (const [vmId, r] of onHost) {
        if (r.takenAt !== undefined && snapshot.generation >= r.takenAt) onHost.delete(vmId);
        else if (snapshot.claims.some((c) => c.vmId === vmId)) onHost.delete(vmId);
        else extra.push(r.claim);
      }
      if (onHost.size === 0) this.reserved.delete(hostId);
      // As applyClaim would, one claim at a time: a generation later for each.
      if (extra.length > 0)
        scored = { ...snapshot, generation: snapshot.generation + extra.length, claims: [...snapshot.claims, ...extra] };
    }
    this.engine.replace(scored);
  }

  /**
   * The replica's own claim, taken by inventory (place-vm's rememberClaim): part of the host now.
   * Its reservation ends, and the engine keeps counting it (the same claim); taken reservations whose
   * generation the host has now reached end too.
   */
  applyClaim(claim: Claim): void {
    const hostId = claim.hostId;
    const current = this.published.get(hostId);
    if (current === undefined) return;
    const next = applyClaim(current, claim);
    this.published.set(hostId, next);
    const onHost = this.reserved.get(hostId);
    const own = onHost?.get(claim.vmId);
    if (own === undefined) this.engine.applyClaim(claim);
    else {
      onHost!.delete(claim.vmId);
      if (own.claim !== claim) {
        this.engine.releaseClaim(hostId, claim.vmId);
        this.engine.applyClaim(claim);
      }
    }
    if (onHost === undefined) return;
    for (const [vmId, r] of onHost) {
      if (r.takenAt !== undefined && next.generation >= r.takenAt) {
        onHost.delete(vmId);
        this.engine.releaseClaim(hostId, vmId);
      }
    }
    if (onHost.size === 0) this.reserved.delete(hostId);
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
    let onHost = this.reserved.get(claim.hostId);
    if (onHost === undefined) {
      onHost = new Map();
      this.reserved.set(claim.hostId, onHost);
    }
    if (onHost.has(claim.vmId)) return;
    onHost.set(claim.vmId, { claim });
    this.engine.applyClaim(claim);
  }

  settle(claim: Claim, generation: number | undefined): void {
    const onHost = this.reserved.get(claim.hostId);
    const r = onHost?.get(claim.vmId);
    if (r === undefined || r.claim !== claim) return;
    if (generation !== undefined) {
      r.takenAt = generation;
      // Still counted until the published snapshot reaches that generation (see upsert).
      if (this.published.get(claim.hostId)!.generation < generation) return;
    }
    onHost!.delete(claim.vmId);
    if (onHost!.size === 0) this.reserved.delete(claim.hostId);
    this.engine.releaseClaim(claim.hostId, claim.vmId);
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
    const alternates: Candidate[] = [];
    for (const c of d.alternates) alternates.push(this.asPublished(c));
    return { kind: 'placed', chosen: this.asPublished(d.chosen), alternates, summary: d.summary };
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
    if (generation === undefined || generation === c.generation) return c;
    return { hostId: c.hostId, hostName: c.hostName, generation, claim: c.claim, score: c.score, breakdown: c.breakdown };
  }
}
