import type { executorEvents } from '@berth/contracts';
import type { Claim, CpuTopology } from '@berth/fit';

/**
 * What the executor needs to (re)build the domain after a restart, recorded with DomainProvisioningStarted.
 * Pure data from inventory's VmPlaced; the application turns it into a driver DomainSpec.
 */
export interface ProvisionRequest {
  readonly name: string;
  readonly claim: Claim;
  readonly passthroughCpu: boolean;
  readonly hugepageSizeBytes?: number;
  readonly networks: readonly string[];
  /** The requested guest CPU topology (absent in requests recorded before it was kept). */
  readonly topology?: CpuTopology;
}

type X = executorEvents.ExecutorEventMap;

/** One progress reading, without the migration reference. */
export type MigrationProgressData = Omit<X['VmMigrationProgressed'], keyof executorEvents.MigrationRef>;

/** What the executor needs to carry out (or resume) a migration, recorded with VmMigrationStarted. */
export interface MigrationPlan {
  readonly memoryBytes: number;
  readonly bandwidthMiBps: number;
  readonly maxDowntimeMillis: number;
  readonly autoConverge: boolean;
  readonly postCopy: boolean;
  readonly completionBudgetSecondsPerGiB: number;
  readonly noProgressTimeoutSeconds: number;
}

/** The executor's VM stream events: the published payloads, DomainProvisioningStarted also holding the request. */
export type VmEvent =
  | { readonly type: 'DomainProvisioningStarted'; readonly data: X['DomainProvisioningStarted'] & { readonly request: ProvisionRequest } }
  | { readonly type: 'VolumesCreated'; readonly data: X['VolumesCreated'] }
  | { readonly type: 'DomainDefined'; readonly data: X['DomainDefined'] }
  | { readonly type: 'DomainStarted'; readonly data: X['DomainStarted'] }
  | { readonly type: 'VmStarted'; readonly data: X['VmStarted'] }
  | { readonly type: 'DomainProvisionFailed'; readonly data: X['DomainProvisionFailed'] }
  | { readonly type: 'OperationRequested'; readonly data: X['OperationRequested'] }
  | { readonly type: 'DomainStopped'; readonly data: X['DomainStopped'] }
  | { readonly type: 'DomainDeleted'; readonly data: X['DomainDeleted'] }
  | { readonly type: 'DomainOperationFailed'; readonly data: X['DomainOperationFailed'] }
  | { readonly type: 'DomainDriftDetected'; readonly data: X['DomainDriftDetected'] }
  | {
      readonly type: 'VmMigrationStarted';
      /** Also holding the plan and the destination's claim (what a restarted executor needs to carry the move out). */
      readonly data: X['VmMigrationStarted'] & { readonly plan: MigrationPlan; readonly destinationClaim?: Claim };
    }
  | { readonly type: 'VmMigrationProgressed'; readonly data: X['VmMigrationProgressed'] }
  | { readonly type: 'VmMigrationCancelRequested'; readonly data: X['VmMigrationCancelRequested'] }
  | { readonly type: 'VmMigrated'; readonly data: X['VmMigrated'] }
  | { readonly type: 'VmMigrationFailed'; readonly data: X['VmMigrationFailed'] }
  | { readonly type: 'VmMigrationPostCopyPaused'; readonly data: X['VmMigrationPostCopyPaused'] };

export type VmEventType = VmEvent['type'];
export type Location = executorEvents.ExecutorVmLocation;
/** A VM's location as far as it is known (none for a VM this executor never provisioned). */
export type VmRef = executorEvents.ExecutorVmRef;
export type VmOperation = executorEvents.VmOperation;
export type VmStartedCause = executorEvents.VmStartedCause;
