/**
 * The ports of the scheduler's application layer. The application decides and retries; the
 * adapters (NATS KV, inventory gRPC, the @berth/scoring engine) implement these.
 */
import type { Claim, HostSnapshot, VmSpec } from '@berth/fit';

/** One host the engine would place the VM on, with the exact claim computed from `generation`. */
export interface Candidate {
  readonly hostId: string;
  readonly hostName: string;
  readonly generation: number;
  readonly claim: Claim;
  /** Final score (cost + weights); lower is better. */
  readonly score: number;
  /** Cost breakdown, curve by curve, as the engine reports it. */
  readonly breakdown: unknown;
}

export type Decision =
  | {
      readonly kind: 'placed';
      readonly chosen: Candidate;
      readonly alternates: readonly Candidate[];
      /** One line a person can read. */
      readonly summary: string;
    }
  | {
      readonly kind: 'failed';
      /** e.g. "0/120 hosts can take vm-7: 80 lack memory (needs 16 GiB; the best has 12 GiB free), ..." */
      readonly summary: string;
      /** Per filter: how many hosts it removed and the closest miss. */
      readonly detail: unknown;
    };

export interface DecideOptions {
  readonly excludedHosts: readonly string[];
  /** How many runners-up to return besides the chosen host. */
  readonly alternates: number;
}

export interface HostRejection {
  readonly hostId: string;
  readonly hostName: string;
  readonly reasons: readonly { readonly filter: string; readonly detail: string }[];
}

export interface WhatIfResult {
  readonly total: number;
  /** Hosts that can take at least one more, most first. */
  readonly perHost: readonly { readonly hostId: string; readonly hostName: string; readonly count: number }[];
}

/**
 * The scheduler's only state: the latest snapshot of every host, rebuilt from the KV bucket on
 * start. An older generation never replaces a newer one (a watch and a direct read may race).
 */
export interface SnapshotView {
  get(hostId: string): HostSnapshot | undefined;
  upsert(snapshot: HostSnapshot): void;
  /** The host of `claim` with the claim added, one generation later (what inventory does when it takes it). */
  applyClaim(claim: Claim): void;
  remove(hostId: string): void;
  readonly size: number;
}

/**
 * Claims sent to inventory and not answered yet. Placements decided side by side must see each
 * other's choices, or all of them choose the same best host while the first claims are on the wire.
 */
export interface Reservations {
  /** The claim is on its way to inventory: its host is scored with it until `settle`. */
  reserve(claim: Claim): void;
  /** Inventory's answer: the host's generation when it took the claim; undefined when it did not (or nobody knows). */
  settle(claim: Claim, generation: number | undefined): void;
}

/** The pure engine (@berth/scoring) bound to the view it scores. Nothing here changes the view. */
export interface PlacementEngine {
  decide(vm: VmSpec, opts: DecideOptions): Decision;
  /** Every filter each named host fails for this VM (hosts that pass are left out). */
  rejections(vm: VmSpec, hostIds: readonly string[], excludedHosts: readonly string[]): HostRejection[];
  /** Why the hosts that cannot take the VM are missing, grouped by first failing filter. */
  missing(vm: VmSpec, excludedHosts: readonly string[]): { readonly summary: string; readonly detail: unknown };
  whatIf(vm: VmSpec, hostIds?: readonly string[]): WhatIfResult;
}

export interface ClaimRequest {
  readonly commandId: string;
  readonly vmId: string;
  readonly hostId: string;
  readonly expectedGeneration: number;
  readonly claim: Claim;
  /** The decision as JSON (summary + breakdowns), recorded by inventory in VmPlaced. */
  readonly explanation: string;
  readonly alternates: readonly { readonly hostId: string; readonly generation: number }[];
}

/**
 * What inventory answered. Transport failures (unavailable, deadline) are thrown instead, so
 * the message is redelivered later.
 */
export type ClaimOutcome =
  /** `generation`: the host's generation after the claim. */
  | { readonly kind: 'claimed'; readonly generation: number }
  /** ABORTED: the host's generation moved since the snapshot the decision used. */
  | { readonly kind: 'generation-moved'; readonly detail: string }
  /** FAILED_PRECONDITION: the claim no longer fits the host. */
  | { readonly kind: 'no-longer-fits'; readonly detail: string }
  /** The VM is no longer waiting for a placement (already placed by an earlier delivery, or deleted). */
  | { readonly kind: 'vm-not-pending'; readonly detail: string };

export interface PlacementFailedReport {
  readonly commandId: string;
  readonly vmId: string;
  /** One line a person can read. */
  readonly reason: string;
  readonly explanation: string;
  /**
   * The view the decision was made on (inventory's log position): a VM waiting for capacity is
   * re-evaluated at once if capacity came back after it (see inventory's capacity waits).
   */
  readonly viewPosition?: { readonly transactionId: string; readonly position: string };
}

export interface InventoryPort {
  claim(req: ClaimRequest): Promise<ClaimOutcome>;
  reportPlacementFailed(req: PlacementFailedReport): Promise<'recorded' | 'vm-not-pending'>;
  /** The explanation inventory recorded with the VM's last placement decision, if any. */
  lastDecision?(vmId: string): Promise<RecordedDecision | undefined>;
  /**
   * Whether inventory has the host, read from its own log (not the projection the view follows):
   * tells a view that lags behind a registration from a host that does not exist.
   */
  hasHost?(hostId: string): Promise<boolean>;
}

export interface RecordedDecision {
  readonly vmId: string;
  readonly outcome: 'placed' | 'failed';
  readonly hostId?: string;
  readonly explanation: string;
}

/** Fresh reads of one host, bypassing the watch (used after inventory rejected a claim). */
export interface SnapshotSource {
  get(hostId: string): Promise<HostSnapshot | undefined>;
}
