import type { evacuationEvents } from '@berth/contracts';
import type { Claim, HostSnapshot, MigrationMode, VmSpec } from '@berth/fit';
import type { CostConfig, FailureExplanation, HostView, PlacementPolicy } from '@berth/scoring';
import type { MigrationCaps } from '../caps/caps.ts';

/**
 * Who asked for the host to be emptied. An operator's maintenance moves manual-only VMs too (oVirt
 * 4.3, seed 004 §6); an evacuation Berth starts by itself only moves manual-and-automatic ones.
 */
export type EvacuationTrigger = evacuationEvents.EvacuationTrigger;

/** What the VM is doing, as inventory says: only running and stopped VMs can be moved now. */
export type EvacueeStatus = 'running' | 'stopped' | 'migrating' | 'busy';

export interface Evacuee {
  readonly spec: VmSpec;
  /** The VM's claim on the host being drained. */
  readonly claim: Claim;
  readonly status: EvacueeStatus;
}

export interface PlanInput {
  readonly hostId: string;
  /** Every host snapshot of the fleet (the bucket `berth-host-snapshots`), the drained host included. */
  readonly hosts?: readonly HostSnapshot[];
  /**
   * Or a live view of them (the service keeps one, as the scheduler does): the plan applies its moves
   * to it while planning and puts the touched hosts back before it returns, so the view is unchanged.
   */
  readonly view?: HostView;
  /** The VMs holding claims on the drained host. */
  readonly vms: readonly Evacuee[];
  readonly trigger: EvacuationTrigger;
  readonly caps: MigrationCaps;
  readonly costConfig?: CostConfig;
  /** The placement policy of a pool as placement uses it; evacuation defaults to spread (the seed's "less loaded"). */
  readonly policyFor?: (pool: string) => PlacementPolicy | undefined;
  /** Plan at most this many moves (the slots free now); the other movable VMs are listed as deferred, unplanned. */
  readonly maxMoves?: number;
  /** Destinations refused for a VM (an earlier attempt failed there). */
  readonly excludedFor?: (vmId: string) => readonly string[];
  /**
   * Migration slots free into a host now (its inbound cap less the migrations into it). Given, a
   * destination left without one (counting the plan's own moves) is passed over for the best of the
   * engine's runners-up that has one, when one does: a move to it could not start now, and every drain
   * would plan its next VM to the same best host while its inbound slots are taken. Without a runner-up
   * with a slot, the best is kept (the caps hold the move back). A drain's passes give it (they plan the
   * moves that start now); a full plan does not.
   */
  readonly inboundFree?: (hostId: string) => number;
}

export type MoveKind = evacuationEvents.EvacuationMoveKind;

export interface PlannedMove {
  readonly vmId: string;
  readonly vmName: string;
  readonly priority: number;
  readonly memoryBytes: number;
  readonly mode: MigrationMode;
  /** live: a running VM; cold: a stopped one (its definition and claim move, nothing runs). */
  readonly kind: MoveKind;
  readonly destinationHostId: string;
  readonly destinationName: string;
  /** The destination's generation the choice was computed at (its earlier moves in this plan included). */
  readonly destinationGeneration: number;
  readonly claim: Claim;
  /** Why this host: the engine's score and the load it will have afterwards. */
  readonly reason: string;
  readonly warnings: readonly string[];
}

export type BlockerKind = 'mode-none' | 'manual-only' | 'no-destination' | 'busy';

export interface Blocker {
  readonly vmId: string;
  readonly vmName: string;
  readonly priority: number;
  readonly kind: BlockerKind;
  readonly reason: string;
  /** What the operator can do about it. */
  readonly remedies: readonly string[];
  /** For no-destination: the scheduler's per-filter reasons. */
  readonly explanation?: FailureExplanation;
}

export interface PlanConcurrency {
  /** Moves this drain runs at once (the per-host outbound cap, within the fleet cap). */
  readonly effective: number;
  readonly caps: MigrationCaps;
}

export interface EvacuationPlan {
  readonly hostId: string;
  readonly trigger: EvacuationTrigger;
  /** In the order they will start: priority high first, then larger memory, then VM id. */
  readonly moves: readonly PlannedMove[];
  readonly blockers: readonly Blocker[];
  /** Movable VMs left unplanned because of `maxMoves` (planned on a later pass). */
  readonly deferred: readonly string[];
  /** VMs already on their way out (a migration in flight); the drain waits for them. */
  readonly inFlight: readonly string[];
  /** Memory of every planned move. */
  readonly totalMemoryBytes: number;
  readonly concurrency: PlanConcurrency;
  /** True when every VM has a move (no blocker): the host can reach maintenance. */
  readonly complete: boolean;
}
