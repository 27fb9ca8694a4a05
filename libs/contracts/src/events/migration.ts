/**
 * Payloads of the events the migration service records in its log and publishes on
 * `berth.migration.<streamType>.<Type>`. Stream `migration-<migrationId>` (stream type `migration`)
 * holds one live migration's state machine. Documented in docs/events.md (Migration). Schema version 1,
 * but AttemptFailed at 2 (its `hostId` is absent when no destination was chosen; version 1 wrote '').
 *
 * The executor acts on three of them (its commands): `DestinationClaimed` (run the hypervisor part),
 * `CancelRequested` (abort the copy) and `ResumeRequested` (resume a paused post-copy); their zod
 * schemas below are checked at the consumer's edge.
 */
import { z } from 'zod';
import type { Claim } from './model.ts';
import { claimSchema } from './schemas/model.ts';

export const MIGRATION_SERVICE = 'migration';
export const migrationStreamId = (migrationId: string): string => `migration-${migrationId}`;

export type MigrationTrigger = 'manual' | 'evacuation' | 'balancer';

/** Effective convergence settings of one migration (defaults applied). */
export interface MigrationPolicy {
  /** 0 = the hypervisor's default. */
  readonly maxDowntimeMillis: number;
  /** 0 = unlimited. */
  readonly bandwidthMiBps: number;
  readonly autoConverge: boolean;
  /** Off by default: after a post-copy switch-over nothing can be aborted. */
  readonly postCopy: boolean;
  readonly completionBudgetSecondsPerGiB: number;
  readonly noProgressTimeoutSeconds: number;
  readonly maxAttempts: number;
}

export interface MigrationProgress {
  readonly dataTotalBytes: number;
  readonly dataProcessedBytes: number;
  readonly dataRemainingBytes: number;
  readonly memoryDirtyRateBytesPerSecond?: number;
  readonly iteration?: number;
  readonly elapsedMillis: number;
  readonly phase: 'precopy' | 'postcopy';
}

export interface MigrationRequested {
  readonly migrationId: string;
  readonly vmId: string;
  readonly vmName: string;
  readonly trigger: MigrationTrigger;
  readonly sourceHostId: string;
  readonly sourceHypervisorUri: string;
  /** A host id, or '' for the scheduler's choice. */
  readonly requestedDestination: string;
  readonly memoryBytes: number;
  readonly policy: MigrationPolicy;
  /** The seed's warning for high-performance and pinned VMs; '' otherwise. */
  readonly warning: string;
  readonly reason: string;
  readonly evacuationId?: string;
  /** `cold`: the VM was stopped when asked; its definition moves, nothing runs. Absent: live. */
  readonly kind?: 'live' | 'cold';
}
/** Which concurrency cap holds a queued migration back (`vm-busy`: another migration of the VM holds its slot). */
export type MigrationCapName = 'fleet' | 'outbound' | 'inbound' | 'vm-busy';
/**
 * The migration waits for a concurrency slot (MIGRATION_MAX_PER_FLEET, _OUTBOUND_PER_HOST,
 * _INBOUND_PER_HOST): recorded when it starts to wait, and again only when the reason changes
 * (never per poll). Its destination is chosen once a slot is free (DestinationChosen ends the wait).
 */
export interface MigrationQueued {
  /** The attempt that waits (1, or the next after a retry). */
  readonly attempt: number;
  readonly cap: MigrationCapName;
  /** e.g. "fleet cap 5 reached", "host h1 has 2 outbound migrations (cap 2)". */
  readonly reason: string;
}
export interface DestinationChosen {
  readonly attempt: number;
  readonly hostId: string;
  /** The destination host's generation the claim was computed from. */
  readonly generation: number;
  /** The exact claim (berth.inventory.v1.Claim as JSON) to take there. */
  readonly claim: unknown;
  readonly explanation: string;
}
/** Inventory holds the destination claim: the executor may copy. Carries all the executor needs. */
export interface DestinationClaimed {
  readonly attempt: number;
  readonly vmId: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly generation: number;
  readonly sourceHostId: string;
  readonly sourceHypervisorUri: string;
  readonly memoryBytes: number;
  readonly policy: MigrationPolicy;
  /** A cold move of a stopped VM (absent: live). */
  readonly cold?: boolean;
  /**
   * The claim inventory holds for the VM on the destination (the chosen one, exactly as taken): its
   * pinned CPUs, NUMA cells, hugepages, devices, VFs and volumes are the destination's, and the
   * executor builds the domain there from it (never from the source's claim). Absent only in events
   * written before it was carried (an optional field: the version stays 1).
   */
  readonly claim?: Claim;
  /**
   * The latest moment (ISO 8601) the executor may start this attempt: half the migration service's
   * executor silence after the claim, so a start never follows the watchdog giving the attempt up
   * (a late DestinationClaimed, held by a network fault, is refused instead). The executor also applies
   * its own EXECUTOR_MIGRATION_START_WINDOW and keeps the earlier of the two. Absent in events written
   * before it was carried (an optional field: the version stays 1): the executor's window alone.
   */
  readonly startBy?: string;
}
export interface MigrationCopyStarted {
  readonly attempt: number;
}
export interface MigrationProgressed {
  readonly attempt: number;
  readonly progress: MigrationProgress;
}
/** The hypervisor confirmed the VM runs on the destination. */
export interface SwitchedOver {
  readonly attempt: number;
  readonly hostId: string;
}
export interface SourceReleased {
  readonly attempt: number;
  readonly hostId: string;
}
export interface MigrationCompleted {
  readonly hostId: string;
  readonly attempts: number;
}
export type FailureStage = 'choose' | 'claim' | 'copy';
export interface AttemptFailed {
  readonly attempt: number;
  /** The destination that failed; absent when none was chosen (stage `choose`). Version 1 wrote ''. */
  readonly hostId?: string;
  readonly stage: FailureStage;
  readonly reason: string;
}
export interface DestinationReleased {
  readonly attempt: number;
  readonly hostId: string;
}
export interface RetryScheduled {
  /** The attempt that comes next. */
  readonly attempt: number;
  readonly notBefore: string;
}
export interface AttemptSummary {
  readonly attempt: number;
  /** The destination that failed; absent when none was chosen. MigrationFailed version 1 wrote ''. */
  readonly hostId?: string;
  readonly reason: string;
}
export interface MigrationFailed {
  readonly reason: string;
  readonly attempts: readonly AttemptSummary[];
}
export interface CancelRequested {
  readonly vmId: string;
  /** The attempt being cancelled (0 when none runs). */
  readonly attempt: number;
  readonly reason: string;
}
export interface MigrationAborted {
  readonly reason: string;
}
/** A post-copy migration lost its connection: the guest is paused; only resuming recovers it. */
export interface PostCopyPaused {
  readonly attempt: number;
  readonly detail: string;
}
export interface ResumeRequested {
  readonly vmId: string;
  readonly attempt: number;
}

/** What a silent executor said when the watchdog asked (MIGRATION_EXECUTOR_SILENCE). */
export type ProbeOutcome = 'under-way' | 'switched-over' | 'not-running' | 'unreachable' | 'unexpected';
/**
 * The watchdog asked the executor about an attempt it had said nothing of for `silentMillis`;
 * `switched-over` is followed by SwitchedOver, `not-running` by AttemptFailed (compensation).
 */
export interface ExecutorProbed {
  readonly attempt: number;
  /** When it asked (ISO 8601). */
  readonly at: string;
  readonly outcome: ProbeOutcome;
  readonly detail: string;
  readonly silentMillis: number;
}

export interface MigrationEventMap {
  MigrationRequested: MigrationRequested;
  DestinationChosen: DestinationChosen;
  DestinationClaimed: DestinationClaimed;
  MigrationCopyStarted: MigrationCopyStarted;
  MigrationProgressed: MigrationProgressed;
  SwitchedOver: SwitchedOver;
  SourceReleased: SourceReleased;
  MigrationCompleted: MigrationCompleted;
  AttemptFailed: AttemptFailed;
  DestinationReleased: DestinationReleased;
  RetryScheduled: RetryScheduled;
  MigrationFailed: MigrationFailed;
  CancelRequested: CancelRequested;
  MigrationAborted: MigrationAborted;
  PostCopyPaused: PostCopyPaused;
  ResumeRequested: ResumeRequested;
  ExecutorProbed: ExecutorProbed;
  MigrationQueued: MigrationQueued;
}
export type MigrationEventType = keyof MigrationEventMap;

const id = z.string().min(1);
const count = z.number().int().min(0);
const policySchema = z.object({
  maxDowntimeMillis: count,
  bandwidthMiBps: count,
  autoConverge: z.boolean(),
  postCopy: z.boolean(),
  completionBudgetSecondsPerGiB: z.number().positive(),
  noProgressTimeoutSeconds: z.number().positive(),
  maxAttempts: z.number().int().min(1),
});

/** Schemas of the events other services act on, checked at their consumers' edge. */
export const migrationEventSchemas = {
  DestinationClaimed: z.object({
    attempt: z.number().int().min(1),
    vmId: id,
    hostId: id,
    hypervisorUri: id,
    generation: count,
    sourceHostId: id,
    sourceHypervisorUri: id,
    memoryBytes: z.number().int().positive(),
    policy: policySchema,
    cold: z.boolean().optional(),
    claim: claimSchema.optional(),
    startBy: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 time')
      .optional(),
  }),
  CancelRequested: z.object({ vmId: id, attempt: count, reason: z.string() }),
  ResumeRequested: z.object({ vmId: id, attempt: z.number().int().min(1) }),
} as const;
