import type { executorEvents } from '@berth/contracts';
import type { Claim, CpuTopology } from '@berth/fit';

/**
 * What the executor needs to (re)build the domain after a restart, recorded with VmProvisioning.
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
export type MigrationProgressData = Omit<X['VmMigrationProgress'], keyof executorEvents.MigrationRef>;

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

/** The executor's VM stream events: the published payloads, VmProvisioning also holding the request. */
export type VmEvent =
  | { readonly type: 'VmProvisioning'; readonly data: X['VmProvisioning'] & { readonly request: ProvisionRequest } }
  | { readonly type: 'VolumesCreated'; readonly data: X['VolumesCreated'] }
  | { readonly type: 'DomainDefined'; readonly data: X['DomainDefined'] }
  | { readonly type: 'DomainStarted'; readonly data: X['DomainStarted'] }
  | { readonly type: 'VmStarted'; readonly data: X['VmStarted'] }
  | { readonly type: 'VmProvisionFailed'; readonly data: X['VmProvisionFailed'] }
  | { readonly type: 'OperationRequested'; readonly data: X['OperationRequested'] }
  | { readonly type: 'VmStopped'; readonly data: X['VmStopped'] }
  | { readonly type: 'VmDeleted'; readonly data: X['VmDeleted'] }
  | { readonly type: 'VmOperationFailed'; readonly data: X['VmOperationFailed'] }
  | { readonly type: 'DomainDrift'; readonly data: X['DomainDrift'] }
  | { readonly type: 'VmMigrationStarted'; readonly data: X['VmMigrationStarted'] & { readonly plan: MigrationPlan } }
  | { readonly type: 'VmMigrationProgress'; readonly data: X['VmMigrationProgress'] }
  | { readonly type: 'VmMigrationCancelRequested'; readonly data: X['VmMigrationCancelRequested'] }
  | { readonly type: 'VmMigrated'; readonly data: X['VmMigrated'] }
  | { readonly type: 'VmMigrationFailed'; readonly data: X['VmMigrationFailed'] }
  | { readonly type: 'VmMigrationPostCopyPaused'; readonly data: X['VmMigrationPostCopyPaused'] };

export type VmEventType = VmEvent['type'];
export type Location = executorEvents.ExecutorVmLocation;
export type VmOperation = executorEvents.VmOperation;
export type VmStartedCause = executorEvents.VmStartedCause;
