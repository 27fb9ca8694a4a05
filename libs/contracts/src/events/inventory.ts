/**
 * Payloads of the events inventory records and publishes on `berth.inventory.<streamType>.<Type>`.
 * Streams: `host-<hostId>` (stream type `host`), `vm-<vmId>` (`vm`), `config-hardware` (`config`),
 * `project-<name>` (`project`), `identity-<identity URI>` (`identity`: the projects a client is bound to).
 * Documented in docs/events.md (Inventory section). Payload schema versions: docs/events.md (1 unless it says otherwise).
 */
import type { HardwareConfig } from './hardware-config.ts';
import type { Claim, HostCapacity, HostState, VmSpec } from './model.ts';

export const INVENTORY_SERVICE = 'inventory';
export const HARDWARE_CONFIG_STREAM = 'config-hardware';
export const hostStreamId = (hostId: string): string => `host-${hostId}`;
export const vmStreamId = (vmId: string): string => `vm-${vmId}`;
export const projectStreamId = (project: string): string => `project-${project}`;
export const identityStreamId = (identity: string): string => `identity-${identity}`;
/** The project of VMs composed without one (and of VMs recorded before projects existed). */
export const DEFAULT_PROJECT = 'default';

export interface AddressTranslation {
  readonly address: string;
  readonly basePort: number;
}

/** Everything inventory knows about a host besides its claims and state. */
export interface HostRecord {
  /** Effective capacity: profile defaults applied, PCI addresses normalised. */
  readonly capacity: HostCapacity;
  readonly hypervisorUri: string;
  readonly addressTranslation?: AddressTranslation;
}

// ---- host stream ----
export interface HostRegistered extends HostRecord {
  readonly hostId: string;
}
/** The whole record is replaced; claims are unchanged (and still fit). */
export type HostUpdated = HostRecord;
export interface HostStateChanged {
  readonly from: HostState;
  readonly to: HostState;
  readonly reason: string;
}
export interface HostRemoved {
  readonly reason: string;
}
export interface ResourcesClaimed {
  readonly claim: Claim;
  /** Generation (stream version) the scheduler based the claim on. */
  readonly expectedGeneration: number;
}
export interface ClaimReleased {
  readonly vmId: string;
  /** Exactly what the claim took. */
  readonly claim: Claim;
  readonly reason: string;
}

// ---- config stream ----
export interface HardwareConfigApplied {
  readonly config: HardwareConfig;
  /** Where it came from (a file name), for the record. */
  readonly source: string;
}

// ---- vm stream ----
/** Where the executor finds the VM: included in every event the executor acts on. */
export interface VmLocation {
  readonly hostId: string;
  readonly hypervisorUri: string;
}
export interface VmRequested {
  readonly vmId: string;
  /** The project the VM belongs to; absent in events recorded before projects existed (= `default`). */
  readonly project?: string;
  /** The full request, defaults applied (migration mode, cpu policy, pools). */
  readonly spec: VmSpec;
  /** 1 for the first placement; +1 after each failed provisioning. */
  readonly attempt: number;
  /** Hosts to avoid (where provisioning failed before). */
  readonly excludedHosts: readonly string[];
  /**
   * When the VM asked to wait for capacity (ComposeVm wait_for_capacity_millis): the ISO time after
   * which it fails if still unplaced. Carried by every VmRequested of the VM.
   */
  readonly capacityDeadline?: string;
}
export interface VmPlaced extends VmLocation {
  readonly spec: VmSpec;
  /** The VmRequested.attempt this placement answers (always set by inventory; optional for older events). */
  readonly attempt?: number;
  readonly claim: Claim;
  /** Host generation after the claim. */
  readonly generation: number;
  /** Scheduler's explanation (scores per host), opaque JSON. */
  readonly explanation: unknown;
  readonly alternates: readonly { readonly hostId: string; readonly generation: number }[];
}
export interface VmPlacementFailed {
  readonly reason: string;
  /** Reasons per filter with host counts, opaque JSON. */
  readonly explanation: unknown;
}
/** Inventory's log position (transaction id, global position), both decimal strings. */
export interface LogPosition {
  readonly transactionId: string;
  readonly position: string;
}
/**
 * No host could take the VM, and it asked to wait for capacity until `until`: it stays unplaced and
 * is requested again (a new VmRequested) when capacity appears; VmPlacementFailed once `until` passes.
 */
export interface VmPlacementDeferred {
  readonly reason: string;
  readonly explanation: unknown;
  /** The capacity deadline (ISO). */
  readonly until: string;
  /** The scheduler view's position when it decided (absent when it did not say). */
  readonly viewPosition?: LogPosition;
}
/** The executor began provisioning the VM where it was placed (its DomainProvisioningStarted). */
export type VmProvisioningStarted = VmLocation;
/** The VM runs (provisioned, started, rebooted or restarted; the executor's VmStarted). */
export type VmBecameRunning = VmLocation;
export interface VmProvisionFailed extends VmLocation {
  readonly reason: string;
  readonly attempt: number;
}
export type VmStartRequested = VmLocation;
export interface VmStopRequested extends VmLocation {
  readonly force: boolean;
}
export type VmRebootRequested = VmLocation;
export type VmStopped = VmLocation;
/** The executor could not carry out a start, stop, reboot or delete; the VM stays where it was. */
export interface VmOperationFailed extends VmLocation {
  readonly operation: 'start' | 'stop' | 'reboot' | 'delete';
  readonly reason: string;
}
/** The VM's location when it was placed; absent (both) when it never was (schema version 2; v1 held empty strings). */
export type VmDeleteRequested = Partial<VmLocation>;
export interface VmDeleted {
  readonly reason: string;
}

// ---- live migration (the migration service's calls; the VM holds two claims in between)
/** The destination claim is taken (the destination host's ResourcesClaimed commits with it). */
export interface VmMigrationStarted {
  readonly migrationId: string;
  readonly sourceHostId: string;
  /** The destination. */
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly claim: Claim;
  /** Destination host generation after the claim. */
  readonly generation: number;
}
/** Switch-over confirmed: the VM runs on `hostId`; the source's ClaimReleased commits with it. */
export interface VmMigrated {
  readonly migrationId: string;
  readonly fromHostId: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly claim: Claim;
  readonly generation: number;
}
/** The migration ended without a switch-over: the destination claim is released (same commit), the VM stays. */
export interface VmMigrationAborted {
  readonly migrationId: string;
  /** The destination whose claim was released. */
  readonly hostId: string;
  readonly reason: string;
}

// ---- project stream ----
/** Limits of a project; an absent limit is unlimited. Devices by type (`gpu`, `nvme`, ...). */
export interface ProjectQuota {
  readonly vms?: number;
  readonly vcpus?: number;
  readonly memoryBytes?: number;
  readonly devices: Readonly<Record<string, number>>;
}
/** What one VM counts against its project's quota. */
export interface ProjectUsage {
  readonly vcpus: number;
  readonly memoryBytes: number;
  readonly devices: Readonly<Record<string, number>>;
}
export interface ProjectCreated {
  readonly project: string;
  readonly description: string;
}
/** Replaces the whole quota. Lowering it below the usage refuses new VMs only; existing ones stay. */
export interface ProjectQuotaSet {
  readonly project: string;
  readonly quota: ProjectQuota;
}
/** A VM was composed in the project (commits with its VmRequested; the project stream's version guards the quota). */
export interface ProjectVmAdmitted {
  readonly project: string;
  readonly vmId: string;
  readonly usage: ProjectUsage;
}
/** The VM was deleted: its usage no longer counts (commits with its VmDeleted). */
export interface ProjectVmReleased {
  readonly project: string;
  readonly vmId: string;
  readonly usage: ProjectUsage;
}

// ---- identity stream ----
/** A client identity (e.g. `spiffe://berth/client/acme`) may see and act on the project's VMs. */
export interface IdentityBound {
  readonly identity: string;
  readonly project: string;
}
export interface IdentityUnbound {
  readonly identity: string;
  readonly project: string;
}

export interface InventoryEventMap {
  ProjectCreated: ProjectCreated;
  ProjectQuotaSet: ProjectQuotaSet;
  ProjectVmAdmitted: ProjectVmAdmitted;
  ProjectVmReleased: ProjectVmReleased;
  IdentityBound: IdentityBound;
  IdentityUnbound: IdentityUnbound;
  HostRegistered: HostRegistered;
  HostUpdated: HostUpdated;
  HostStateChanged: HostStateChanged;
  HostRemoved: HostRemoved;
  ResourcesClaimed: ResourcesClaimed;
  ClaimReleased: ClaimReleased;
  HardwareConfigApplied: HardwareConfigApplied;
  VmRequested: VmRequested;
  VmPlaced: VmPlaced;
  VmPlacementFailed: VmPlacementFailed;
  VmPlacementDeferred: VmPlacementDeferred;
  VmProvisioningStarted: VmProvisioningStarted;
  VmBecameRunning: VmBecameRunning;
  VmProvisionFailed: VmProvisionFailed;
  VmStartRequested: VmStartRequested;
  VmStopRequested: VmStopRequested;
  VmRebootRequested: VmRebootRequested;
  VmStopped: VmStopped;
  VmOperationFailed: VmOperationFailed;
  VmDeleteRequested: VmDeleteRequested;
  VmDeleted: VmDeleted;
  VmMigrationStarted: VmMigrationStarted;
  VmMigrated: VmMigrated;
  VmMigrationAborted: VmMigrationAborted;
}
export type InventoryEventType = keyof InventoryEventMap;
