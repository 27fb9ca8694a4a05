/**
 * Payloads of the migration service's evacuation and balancer events, recorded in its log and
 * published on `berth.migration.evacuation.<Type>` (stream `evacuation-<hostId>`, one round per
 * drain of that host) and `berth.migration.balancer.<Type>` (stream `balancer-<pool>`).
 * Documented in docs/events.md (Evacuation, Balancer). Schema version 1 but BalancerRunRecorded (2).
 */
import type { HostState } from './model.ts';

/** Who asked for the host to be emptied: an operator's maintenance moves manual-only VMs too. */
export type EvacuationTrigger = 'operator' | 'automatic';
export type EvacuationMoveKind = 'live' | 'cold';
export type EvacuationMoveOutcome = 'completed' | 'failed' | 'aborted';
/** Why a VM cannot move now; `cap`: it waits for a migration slot. */
export type WaitingKind = 'mode-none' | 'manual-only' | 'no-destination' | 'busy' | 'cap';

export interface EvacuationStarted {
  /** `<hostId>#<round>`. */
  readonly evacuationId: string;
  readonly hostId: string;
  readonly trigger: EvacuationTrigger;
  /** The host's state before the drain; a cancel puts it back. */
  readonly previousState: HostState;
  readonly vmCount: number;
  readonly totalMemoryBytes: number;
  /** The seed's warning per high-performance or pinned VM that will move. */
  readonly warnings: readonly { readonly vmId: string; readonly warning: string }[];
  readonly at: string;
}
export interface EvacuationMoveStarted {
  readonly vmId: string;
  readonly migrationId: string;
  readonly destinationHostId: string;
  readonly kind: EvacuationMoveKind;
  readonly priority: number;
  readonly at: string;
}
export interface EvacuationMoveEnded {
  readonly vmId: string;
  readonly migrationId: string;
  readonly outcome: EvacuationMoveOutcome;
  readonly reason: string;
  readonly at: string;
}
/** A VM the drain cannot move now, as the last pass saw it (`vmId` '' for the caps' line). */
export interface WaitingVm {
  readonly vmId: string;
  readonly kind: WaitingKind;
  readonly reason: string;
  readonly remedies: readonly string[];
}
/** What waits and why, and when the drain plans again: a blocked drain never waits silently. */
export interface EvacuationWaiting {
  readonly waiting: readonly WaitingVm[];
  readonly nextRetryAt: string;
}
export interface EvacuationCancelRequested {
  /** Running moves are aborted (true) or finish (false). */
  readonly abortRunning: boolean;
  readonly reason: string;
  readonly at: string;
  /**
   * Set when the drain ends because an operator took the host out of maintenance (to this state):
   * the host keeps it, instead of being put back to `previousState`. Absent in a cancel through the API.
   */
  readonly hostStateSet?: HostState;
}
export interface EvacuationCompleted {
  readonly moved: number;
  readonly at: string;
}
export interface EvacuationCancelled {
  readonly restoredState: HostState;
  readonly at: string;
}

export interface EvacuationEventMap {
  EvacuationStarted: EvacuationStarted;
  EvacuationMoveStarted: EvacuationMoveStarted;
  EvacuationMoveEnded: EvacuationMoveEnded;
  EvacuationWaiting: EvacuationWaiting;
  EvacuationCancelRequested: EvacuationCancelRequested;
  EvacuationCompleted: EvacuationCompleted;
  EvacuationCancelled: EvacuationCancelled;
}

export type BalancerMode = 'off' | 'pack' | 'spread';
export type BalancerTrigger = 'interval' | 'pressure' | 'manual';

/**
 * A resource pool's balancing policy. `pack` is oVirt's power saving (empty lightly used hosts),
 * `spread` its evenly-distributed (relieve hosts above the high threshold); `off` is the default.
 */
export interface BalancerPolicy {
  readonly pool: string;
  readonly mode: BalancerMode;
  /** Bottleneck load (the larger of CPU and memory, 0..1) above which a host is over-utilised (oVirt: 80%). */
  readonly highThreshold: number;
  /** Below it a host is under-utilised; pack empties such hosts (oVirt: 20%). */
  readonly lowThreshold: number;
  /** A host is over (under) only if every sample in this window is (oVirt's CpuOverCommitDurationMinutes: 2 min). */
  readonly windowSeconds: number;
  /** Moves per run; runs are `intervalSeconds` apart (oVirt: one per pool per minute). */
  readonly maxMovesPerInterval: number;
  readonly intervalSeconds: number;
  /** Minimum predicted improvement of a move (Incus: 20%); see the migration README for what it measures per mode. */
  readonly minImprovement: number;
  /** A VM the balancer moved is not moved again before this (Incus: 6 h). */
  readonly cooldownSeconds: number;
  /**
   * The pressure trigger (0: off, the default): a host whose measured memory use (telemetry's
   * `berth-host-usage`, used/total) stays above this for the whole window — i.e. ballooning did not
   * relieve it — starts a pass at once that moves VMs off it, whatever the mode.
   */
  readonly pressureThreshold: number;
  /**
   * Hysteresis: a host under pressure stays so until its measured memory falls below this; a pressure
   * move never takes a destination above it, so a move can never put another host under pressure.
   */
  readonly pressureClearThreshold: number;
}

export interface RecordedMove {
  readonly vmId: string;
  readonly from: string;
  readonly to: string;
  readonly migrationId: string;
  readonly improvement: number;
  readonly reason: string;
}

/**
 * A policy as recorded. Policies recorded before a field existed lack it (the pressure fields):
 * the reader takes the default for what is missing.
 */
export type RecordedBalancerPolicy = Omit<BalancerPolicy, 'pressureThreshold' | 'pressureClearThreshold'> &
  Partial<Pick<BalancerPolicy, 'pressureThreshold' | 'pressureClearThreshold'>>;

export interface BalancerPolicySet {
  readonly policy: RecordedBalancerPolicy;
  readonly at: string;
}
export type BalancerHostRole = 'over' | 'under' | 'normal' | 'excluded';
export type BalancerVerdict = 'moved' | 'rejected' | 'skipped';
/** Where a run's loads came from: the claims, or telemetry's measured usage (for any host of the pool). */
export type BalancerLoadSource = 'allocation' | 'measured';

/** Bottleneck loads (0..1) of a move's source and destination. */
export interface PairLoads {
  readonly from: number;
  readonly to: number;
}

/** A host of the pool as the run read it: its load, its window, the role it took, and its load after the run's moves. */
export interface BalancerHostInput {
  readonly hostId: string;
  readonly name: string;
  /** CPU and memory load (0..1) and their larger one, the bottleneck the thresholds are compared with. */
  readonly cpu: number;
  readonly memory: number;
  readonly bottleneck: number;
  /** The samples of the window (`windowSeconds`) before this one, and their smallest and largest bottleneck. */
  readonly samplesInWindow: number;
  readonly windowMin?: number;
  readonly windowMax?: number;
  /** Load from telemetry's measured usage (else allocation). */
  readonly measured: boolean;
  readonly role: BalancerHostRole;
  readonly note: string;
  /** Predicted bottleneck after the run's moves (equal to `bottleneck` when none touches the host). */
  readonly predicted: number;
}

/** A VM the run looked at: moved, or why not (skipped before any destination was judged, or rejected with the best or first judged one). */
export interface BalancerCandidate {
  readonly vmId: string;
  readonly vmName: string;
  readonly from: string;
  readonly to?: string;
  /** Bottleneck loads of source and destination now and predicted after this move. */
  readonly before?: PairLoads;
  readonly after?: PairLoads;
  readonly improvement?: number;
  readonly verdict: BalancerVerdict;
  readonly reason: string;
  /** The migration a moved candidate started (absent: the start was refused, `reason` says why). */
  readonly migrationId?: string;
}

/**
 * One balancer run (schema 2): every run is recorded, moves or not (a run that moves nothing and
 * records exactly what the pool's last recorded run did is counted by BalancerRunRepeated instead).
 * Schema 1 held `at`, `trigger` (optional), `summary` and `moves`; it reads with trigger `interval`
 * when absent, no host inputs, no policy, and its moves as the candidates.
 */
export interface BalancerRunRecorded {
  readonly at: string;
  readonly trigger: BalancerTrigger;
  readonly summary: string;
  /** The moves started (each with its migration). */
  readonly moves: readonly RecordedMove[];
  /** The policy the run applied: the mode and the thresholds. Absent in runs recorded at schema 1. */
  readonly policy?: BalancerPolicy;
  /** Absent in runs recorded at schema 1. */
  readonly source?: BalancerLoadSource;
  readonly hosts: readonly BalancerHostInput[];
  readonly candidates: readonly BalancerCandidate[];
}

/**
 * Runs that recorded exactly what the run at `runPosition` (of this stream) did, moving nothing, and
 * were not recorded themselves: `count` of them since, the last at `lastAt`. Cumulative (the newest
 * one for a run holds its count); written when the outcome changes and at most once an hour meanwhile.
 */
export interface BalancerRunRepeated {
  readonly runPosition: number;
  readonly count: number;
  readonly lastAt: string;
}

export interface BalancerEventMap {
  BalancerPolicySet: BalancerPolicySet;
  BalancerRunRecorded: BalancerRunRecorded;
  BalancerRunRepeated: BalancerRunRepeated;
}
