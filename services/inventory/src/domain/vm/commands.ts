import type { Claim, VmSpecInput } from '@berth/fit';
import type { inventoryEvents } from '@berth/contracts';

type LogPosition = inventoryEvents.LogPosition;

/** Longest capacity wait a request may ask for. */
export const MAX_CAPACITY_WAIT_MILLIS = 7 * 24 * 3600 * 1000;

export type { VmSpecInput } from '@berth/fit';

export interface PlacementInput {
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly claim: Claim;
  /** Host generation after the claim. */
  readonly generation: number;
  readonly explanation: unknown;
  readonly alternates: readonly { readonly hostId: string; readonly generation: number }[];
}

/** Commands from clients and from the executor's reports (`Record*`). */
export type VmCommand =
  | {
      readonly type: 'ComposeVm';
      readonly vmId: string;
      /** Checked to exist (and to have room) by the project's decider in the same commit. */
      readonly project: string;
      readonly spec: VmSpecInput;
      readonly knownPools: ReadonlySet<string>;
      /** Wait this long for capacity when nothing fits (0: fail at once), counted from `now`. */
      readonly waitForCapacityMillis: number;
      readonly now: string;
    }
  | { readonly type: 'PlaceVm'; readonly placement: PlacementInput }
  /** The scheduler found no host: fails the VM, or has it wait while its capacity deadline is ahead of `now`. */
  | {
      readonly type: 'FailPlacement';
      readonly reason: string;
      readonly explanation: unknown;
      readonly now: string;
      readonly viewPosition?: LogPosition;
    }
  /**
   * The scheduler's consumer gave up on the VmRequested at `requestPosition` of the VM's stream (its
   * dead letter): the VM fails with `reason`, if that request is still what the VM waits on.
   */
  | { readonly type: 'FailDeadLetteredRequest'; readonly requestPosition: number; readonly reason: string; readonly explanation: unknown }
  /** Capacity appeared that may fit a VM waiting for it: request its placement again. */
  | { readonly type: 'RequeueForCapacity' }
  /** A VM waiting for capacity whose deadline is not after `now` fails with the last explanation. */
  | { readonly type: 'ExpireCapacityWait'; readonly now: string }
  | { readonly type: 'RecordProvisioning'; readonly hostId: string }
  | { readonly type: 'RecordStarted'; readonly hostId: string }
  | { readonly type: 'RecordProvisionFailed'; readonly hostId: string; readonly reason: string; readonly maxAttempts: number }
  | { readonly type: 'RecordStopped'; readonly hostId: string }
  | {
      readonly type: 'RecordOperationFailed';
      readonly hostId: string;
      readonly operation: 'start' | 'stop' | 'reboot' | 'delete';
      readonly reason: string;
    }
  | { readonly type: 'RecordDeleted'; readonly hostId: string; readonly reason: string }
  | { readonly type: 'StartVm' }
  | { readonly type: 'StopVm'; readonly force: boolean }
  | { readonly type: 'RebootVm' }
  | { readonly type: 'DeleteVm' }
  /** The destination claim of a live migration; `automatic`: Berth moves it (balancer), not an operator. */
  | {
      readonly type: 'BeginMigration';
      readonly migrationId: string;
      readonly destination: Omit<PlacementInput, 'explanation' | 'alternates'>;
      readonly automatic: boolean;
    }
  | { readonly type: 'CompleteMigration'; readonly migrationId: string }
  | { readonly type: 'AbortMigration'; readonly migrationId: string; readonly reason: string };
