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
  | { readonly type: 'DomainDrift'; readonly data: X['DomainDrift'] };

export type VmEventType = VmEvent['type'];
export type Location = executorEvents.ExecutorVmLocation;
export type VmOperation = executorEvents.VmOperation;
export type VmStartedCause = executorEvents.VmStartedCause;
