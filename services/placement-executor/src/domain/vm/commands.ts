import type { Location, VmRef, MigrationPlan, MigrationProgressData, ProvisionRequest, VmOperation, VmStartedCause } from './events.ts';
import type { ProvisionStep } from './state.ts';
import type { Claim } from '@berth/fit';

/** Commands on one VM's stream; times and ids come in with the command (STYLE.md §1). */
export type VmCommand =
  | {
      readonly type: 'Provision';
      readonly location: Location;
      readonly request: ProvisionRequest;
      readonly domainName: string;
      readonly domainUuid: string;
      readonly registrationDeadline: string;
    }
  /**
   * Records provisioning progress up to `to` in one append (every step in between, VolumesCreated
   * only when there are volumes; `running` adds VmStarted). Steps are idempotent on the hypervisor,
   * so the executor may carry out several before recording them.
   */
  | {
      readonly type: 'Advance';
      readonly to: Exclude<ProvisionStep, 'requested'> | 'running';
      readonly volumes: readonly { pool: string; name: string; sizeBytes: number }[];
    }
  | { readonly type: 'MarkStarted'; readonly cause: Exclude<VmStartedCause, 'provisioned'> }
  | { readonly type: 'FailProvisioning'; readonly reason: string; readonly permanent: boolean }
  | {
      readonly type: 'RequestOperation';
      /** Where inventory's request says the VM is (nothing for a VM never placed). */
      readonly location: VmRef;
      readonly operation: VmOperation;
      readonly force: boolean;
      readonly requestId: string;
    }
  | { readonly type: 'MarkStopped'; readonly how: 'graceful' | 'forced' | 'already-stopped' }
  | { readonly type: 'MarkDeleted'; readonly reason: string }
  | { readonly type: 'FailOperation'; readonly operation: VmOperation; readonly reason: string }
  /** The migration service's DestinationClaimed: record the migration before the hypervisor work. */
  | {
      readonly type: 'StartMigration';
      readonly migrationId: string;
      readonly attempt: number;
      readonly sourceHostId: string;
      readonly destination: { readonly hostId: string; readonly uri: string };
      readonly plan: MigrationPlan;
      /** What the migration service asked for (absent: whatever the VM's state here calls for). */
      readonly cold?: boolean;
      /** The claim inventory holds on the destination: the domain there is built from it (absent in DestinationClaimed written before it was carried). */
      readonly destinationClaim?: Claim;
      /** Past this time (ISO) the request is refused, not started (the start window), as judged at `now`. */
      readonly startBy?: string;
      readonly now?: string;
    }
  | { readonly type: 'RecordMigrationProgress'; readonly migrationId: string; readonly progress: MigrationProgressData }
  | { readonly type: 'CancelMigration'; readonly migrationId: string; readonly attempt: number; readonly reason: string }
  | { readonly type: 'CompleteMigration'; readonly migrationId: string; readonly confirmedBy: 'migrate-call' | 'hypervisors' }
  | {
      readonly type: 'FailMigration';
      readonly migrationId: string;
      readonly reason: string;
      readonly cause: 'budget' | 'cancelled' | 'error' | 'interrupted';
    }
  | { readonly type: 'PauseMigration'; readonly migrationId: string; readonly detail: string }
  | {
      readonly type: 'ReportDrift';
      readonly expected: 'running' | 'shut-off' | 'absent';
      readonly actual: string;
      readonly action: 'restarted' | 'redefined-and-started' | 'removed' | 'reported';
    };
