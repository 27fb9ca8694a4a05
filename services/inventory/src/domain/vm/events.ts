import type { DomainEvent } from '../shared/event.ts';

export type VmEvent = DomainEvent<
  | 'VmRequested'
  | 'VmPlaced'
  | 'VmPlacementFailed'
  | 'VmPlacementDeferred'
  | 'VmProvisioningStarted'
  | 'VmBecameRunning'
  | 'VmProvisionFailed'
  | 'VmStartRequested'
  | 'VmStopRequested'
  | 'VmRebootRequested'
  | 'VmStopped'
  | 'VmOperationFailed'
  | 'VmDeleteRequested'
  | 'VmDeleted'
  | 'VmMigrationStarted'
  | 'VmMigrated'
  | 'VmMigrationAborted'
>;
export type VmEventType = VmEvent['type'];
