/**
 * Payloads of the events the placement executor records in its own log and publishes on
 * `berth.executor.<streamType>.<Type>`. Streams: `vm-<vmId>` (stream type `vm`) for each VM's
 * provisioning state machine and lifecycle, `host-<hostId>` (`host`) for what reconciliation finds
 * on a host that no VM owns. Documented in docs/events.md (Placement executor), with each type's schema version.
 */
export const EXECUTOR_SERVICE = 'executor';
export const executorVmStreamId = (vmId: string): string => `vm-${vmId}`;
export const executorHostStreamId = (hostId: string): string => `host-${hostId}`;

/** Where the VM is (or was being) provisioned; every vm-stream event carries it. */
export interface ExecutorVmLocation {
  readonly vmId: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  /** Inventory's placement attempt (VmRequested.attempt) this provisioning belongs to. */
  readonly attempt: number;
}

export interface VolumeRef {
  readonly pool: string;
  readonly name: string;
  readonly sizeBytes: number;
}

/**
 * Where a VM was said to be when the executor has no provisioning of it (a delete or operation
 * that arrived first): the host and URI inventory's request named, if any; no attempt. For a VM
 * the executor provisioned, every field is set (as in ExecutorVmLocation).
 */
export interface ExecutorVmRef {
  readonly vmId: string;
  readonly hostId?: string;
  readonly hypervisorUri?: string;
  readonly attempt?: number;
}

// The executor's names are facts about the VM's domain on its host. Inventory records its own,
// differently named facts from them (VmProvisioningStarted, VmBecameRunning, VmStopped, VmDeleted…).

// ---- provisioning state machine: DomainProvisioningStarted -> VolumesCreated -> DomainDefined -> DomainStarted -> VmStarted | DomainProvisionFailed
export interface DomainProvisioningStarted extends ExecutorVmLocation {
  readonly domainName: string;
  readonly domainUuid: string;
  /** ISO time by which the domain must be running (realm registration-timeout). */
  readonly registrationDeadline: string;
}
export interface VolumesCreated extends ExecutorVmLocation {
  readonly volumes: readonly VolumeRef[];
}
export interface DomainDefined extends ExecutorVmLocation {
  readonly domainName: string;
  readonly domainUuid: string;
}
export type DomainStarted = ExecutorVmLocation;
export type VmStartedCause = 'provisioned' | 'start-requested' | 'rebooted' | 'restarted-by-reconciliation';
/** The domain reached `running` (tiCrypt's "registered"). */
export interface VmStarted extends ExecutorVmLocation {
  readonly cause: VmStartedCause;
}
/**
 * Provisioning gave up on this host. `permanent`: the host refused (retrying it will not help);
 * otherwise transient errors or the registration timeout used up the time. The executor has
 * removed whatever it created there; inventory releases the claim and re-requests placement.
 */
export interface DomainProvisionFailed extends ExecutorVmLocation {
  readonly reason: string;
  readonly permanent: boolean;
}

// ---- lifecycle
export type VmOperation = 'start' | 'stop' | 'reboot' | 'delete';
/** A start/stop/reboot/delete accepted from inventory, recorded before it is carried out. */
export interface OperationRequested extends ExecutorVmLocation {
  readonly operation: VmOperation;
  /** Stop: power off at once instead of a graceful shutdown. */
  readonly force: boolean;
  /** Id of the inventory event that asked for it. */
  readonly requestId: string;
}
export interface DomainStopped extends ExecutorVmLocation {
  readonly how: 'graceful' | 'forced' | 'already-stopped';
}
/** The VM is gone from its host (domain and volumes), or was never provisioned here (no location). */
export interface DomainDeleted extends ExecutorVmRef {
  readonly reason: string;
}
/** A start/stop/reboot/delete the executor could not carry out (after retries, or for a VM it never provisioned). */
export interface DomainOperationFailed extends ExecutorVmRef {
  readonly operation: VmOperation;
  readonly reason: string;
}

// ---- reconciliation
/** A VM's domain is not in the state the log says; `action` is what the executor did about it. */
export interface DomainDriftDetected extends ExecutorVmLocation {
  /** `absent`: the VM failed or was deleted here, yet its domain is still defined. */
  readonly expected: 'running' | 'shut-off' | 'absent';
  /** The hypervisor's state, or `missing` when the domain is gone. */
  readonly actual: string;
  readonly action: 'restarted' | 'redefined-and-started' | 'removed' | 'reported';
}
/** On stream `host-<hostId>`: a domain nothing in the log owns. It is never destroyed by Berth. */
export interface UnknownDomainFound {
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly domainName: string;
  readonly state: string;
}

// ---- live migration (the hypervisor part of a migration the migration service runs)
/** Names the migration and the attempt it belongs to. The location is the source until VmMigrated. */
export interface MigrationRef extends ExecutorVmLocation {
  readonly migrationId: string;
  /** The migration service's attempt (one per destination tried). */
  readonly migrationAttempt: number;
  /**
   * A cold move of a stopped VM (the definition moves to the destination, nothing runs); absent for
   * a live migration. The VM stays stopped whatever the outcome.
   */
  readonly cold?: true;
}
/** The copy began: `destinationHostId` / `destinationUri` is where it goes. */
export interface VmMigrationStarted extends MigrationRef {
  readonly destinationHostId: string;
  readonly destinationUri: string;
}
/** Progress from the hypervisor's job info, at most one per EXECUTOR_MIGRATION_PROGRESS_INTERVAL. */
export interface VmMigrationProgressed extends MigrationRef {
  readonly dataTotalBytes: number;
  readonly dataProcessedBytes: number;
  readonly dataRemainingBytes: number;
  readonly memoryDirtyRateBytesPerSecond?: number;
  readonly iteration?: number;
  readonly elapsedMillis: number;
  readonly phase: 'precopy' | 'postcopy';
}
/** The migration service asked to abort the copy (recorded before the abort is carried out). */
export interface VmMigrationCancelRequested extends MigrationRef {
  readonly reason: string;
}
/** Switch-over confirmed by the hypervisor: from here the location is the destination (hostId, hypervisorUri). */
export interface VmMigrated extends MigrationRef {
  readonly fromHostId: string;
  readonly fromHypervisorUri: string;
  /** How it was confirmed: the migrate call returned, or both hypervisors were asked (after a restart). */
  readonly confirmedBy: 'migrate-call' | 'hypervisors';
}
/** The copy failed or was aborted before any switch-over; the VM runs on the source (location). */
export interface VmMigrationFailed extends MigrationRef {
  readonly reason: string;
  /** `budget`: completion budget or no-progress timeout; `cancelled`: asked to abort; `error`: the hypervisor failed. */
  readonly cause: 'budget' | 'cancelled' | 'error' | 'interrupted';
}
/** Post-copy lost its connection: the guest is paused on the destination; only a resume recovers it. */
export interface VmMigrationPostCopyPaused extends MigrationRef {
  readonly destinationHostId: string;
  readonly detail: string;
}

export interface ExecutorEventMap {
  VmMigrationStarted: VmMigrationStarted;
  VmMigrationProgressed: VmMigrationProgressed;
  VmMigrationCancelRequested: VmMigrationCancelRequested;
  VmMigrated: VmMigrated;
  VmMigrationFailed: VmMigrationFailed;
  VmMigrationPostCopyPaused: VmMigrationPostCopyPaused;
  DomainProvisioningStarted: DomainProvisioningStarted;
  VolumesCreated: VolumesCreated;
  DomainDefined: DomainDefined;
  DomainStarted: DomainStarted;
  VmStarted: VmStarted;
  DomainProvisionFailed: DomainProvisionFailed;
  OperationRequested: OperationRequested;
  DomainStopped: DomainStopped;
  DomainDeleted: DomainDeleted;
  DomainOperationFailed: DomainOperationFailed;
  DomainDriftDetected: DomainDriftDetected;
  UnknownDomainFound: UnknownDomainFound;
}
export type ExecutorEventType = keyof ExecutorEventMap;
