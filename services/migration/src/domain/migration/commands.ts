import type { migrationEvents } from '@berth/contracts';
import type { Claim } from '@berth/fit';

type Ev = migrationEvents.MigrationEventMap;

/** What the executor's log says of the VM (GetVmRuntime), or that it could not be asked. */
export type ExecutorAnswer =
  | { readonly kind: 'unreachable'; readonly detail: string }
  /** The executor has no record of the VM at all. */
  | { readonly kind: 'unknown-vm' }
  | {
      readonly kind: 'vm';
      readonly status: string;
      readonly hostId: string;
      /** The migration under way in its log ('' when none) and its attempt. */
      readonly migrationId: string;
      readonly migrationAttempt: number;
    };

/** Commands of the migration aggregate. Time comes in with the command (`now`); the decider reads no clock. */
export type MigrationCommand =
  | { readonly type: 'RequestMigration'; readonly request: Ev['MigrationRequested'] }
  /** No concurrency slot is free for this attempt: `cap` holds it back (recorded only when the reason changes). */
  | { readonly type: 'RecordQueued'; readonly attempt: number; readonly cap: migrationEvents.MigrationCapName; readonly reason: string }
  | {
      readonly type: 'RecordDestinationChosen';
      readonly attempt: number;
      readonly hostId: string;
      readonly generation: number;
      readonly claim: unknown;
      readonly explanation: string;
      readonly now: string;
    }
  /** The scheduler found no host (or refused the one asked for): nothing to try. */
  | { readonly type: 'RecordNoDestination'; readonly attempt: number; readonly reason: string }
  | {
      readonly type: 'RecordDestinationClaimed';
      readonly attempt: number;
      readonly hypervisorUri: string;
      readonly generation: number;
      /** The claim inventory now holds on the destination (the chosen one, decoded): the executor defines the domain from it. */
      readonly claim: Claim;
      /** Until when the executor may start the attempt (DestinationClaimed.startBy); absent: the executor's own window. */
      readonly startBy?: string;
    }
  /** Inventory refused the claim (no longer fits, host state changed, VM not migratable). */
  | { readonly type: 'RecordClaimRefused'; readonly attempt: number; readonly reason: string }
  | { readonly type: 'RecordCopyStarted'; readonly attempt: number }
  | { readonly type: 'RecordProgress'; readonly attempt: number; readonly progress: migrationEvents.MigrationProgress }
  | { readonly type: 'RecordSwitchedOver'; readonly attempt: number; readonly hostId: string }
  | { readonly type: 'RecordSourceReleased'; readonly attempt: number }
  /** The executor reports the copy failed or was aborted; the VM runs on the source. */
  | { readonly type: 'RecordCopyFailed'; readonly attempt: number; readonly reason: string }
  | { readonly type: 'RecordPostCopyPaused'; readonly attempt: number; readonly detail: string }
  | { readonly type: 'RecordDestinationReleased'; readonly attempt: number; readonly now: string; readonly backoffMillis: number }
  /** The watchdog's question to an executor silent for `silentMillis`, and what it answered. */
  | {
      readonly type: 'RecordExecutorProbe';
      readonly attempt: number;
      readonly at: string;
      readonly silentMillis: number;
      readonly answer: ExecutorAnswer;
    }
  | { readonly type: 'Cancel'; readonly reason: string }
  | { readonly type: 'Resume' };
