import type { Claim, VmSpec } from '@berth/fit';
import { inventoryEvents } from '@berth/contracts';
import { unreachable } from '../shared/event.ts';
import type { VmEvent } from './events.ts';

export interface VmCore {
  readonly vmId: string;
  /** The project the VM belongs to (`default` for VMs recorded before projects existed). */
  readonly project: string;
  readonly spec: VmSpec;
  readonly attempt: number;
  readonly excludedHosts: readonly string[];
  /** ISO time after which a VM still unplaced fails, when it asked to wait for capacity. */
  readonly capacityDeadline?: string;
}

export interface Placement {
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly claim: Claim;
  readonly generation: number;
  readonly explanation: unknown;
}

/** A live migration in progress: the VM also holds a claim on the destination. */
export interface MigrationInProgress {
  readonly migrationId: string;
  readonly destination: Placement;
}

export type PlacedStatus = 'placed' | 'provisioning' | 'running' | 'stopping' | 'stopped';

export type Vm =
  | { readonly status: 'absent'; readonly version: number }
  | { readonly status: 'requested'; readonly version: number; readonly core: VmCore }
  | {
      readonly status: 'waiting-for-capacity';
      readonly version: number;
      readonly core: VmCore;
      readonly reason: string;
      readonly explanation: unknown;
    }
  | {
      readonly status: PlacedStatus;
      readonly version: number;
      readonly core: VmCore;
      readonly placement: Placement;
      readonly reason?: string;
      readonly migration?: MigrationInProgress;
    }
  | { readonly status: 'deleting'; readonly version: number; readonly core: VmCore; readonly placement?: Placement }
  | { readonly status: 'placement-failed' | 'provision-failed'; readonly version: number; readonly core: VmCore; readonly reason: string }
  | { readonly status: 'deleted'; readonly version: number; readonly core: VmCore; readonly reason: string };

export type VmStatus = Vm['status'];
export type PlacedVm = Extract<Vm, { status: PlacedStatus }>;

export const initialVm = (): Vm => ({ status: 'absent', version: 0 });

export const placementOf = (vm: Vm): Placement | undefined => ('placement' in vm ? vm.placement : undefined);
export const migrationOf = (vm: Vm): MigrationInProgress | undefined => ('migration' in vm ? vm.migration : undefined);

export function evolveVm(vm: Vm, e: VmEvent): Vm {
  const version = vm.version + 1;
  if (e.type === 'VmRequested') {
    const { vmId, spec, attempt, excludedHosts, capacityDeadline } = e.data;
    const project = e.data.project ?? inventoryEvents.DEFAULT_PROJECT;
    return {
      status: 'requested',
      version,
      core: { vmId, project, spec, attempt, excludedHosts, ...(capacityDeadline !== undefined ? { capacityDeadline } : {}) },
    };
  }
  if (vm.status === 'absent') return { ...vm, version };
  const core = vm.core;
  const placement = placementOf(vm);
  const migration = migrationOf(vm);
  const placed = (status: PlacedStatus): Vm =>
    placement ? { status, version, core, placement, ...(migration ? { migration } : {}) } : { ...vm, version };
  switch (e.type) {
    case 'VmPlaced': {
      const { hostId, hypervisorUri, claim, generation, explanation } = e.data;
      return { status: 'placed', version, core, placement: { hostId, hypervisorUri, claim, generation, explanation } };
    }
    case 'VmPlacementFailed':
      return { status: 'placement-failed', version, core, reason: e.data.reason };
    case 'VmPlacementDeferred':
      return { status: 'waiting-for-capacity', version, core, reason: e.data.reason, explanation: e.data.explanation };
    case 'VmProvisionFailed':
      return { status: 'provision-failed', version, core, reason: e.data.reason };
    case 'VmProvisioningStarted':
    case 'VmStartRequested':
      return placed('provisioning');
    case 'VmBecameRunning':
      return placed('running');
    case 'VmStopRequested':
      return placed('stopping');
    case 'VmStopped':
      return placed('stopped');
    case 'VmRebootRequested':
      return { ...vm, version };
    case 'VmOperationFailed': {
      // The VM stays where it was: a failed stop leaves it running, a failed start stopped.
      const reason = `${e.data.operation} failed: ${e.data.reason}`;
      if (!placement || vm.status === 'deleting') return { ...vm, version };
      const back: PlacedStatus =
        e.data.operation === 'stop' && vm.status === 'stopping'
          ? 'running'
          : e.data.operation === 'start' && vm.status === 'provisioning'
            ? 'stopped'
            : (vm.status as PlacedStatus);
      return { status: back, version, core, placement, reason };
    }
    case 'VmDeleteRequested':
      return placement ? { status: 'deleting', version, core, placement } : { status: 'deleting', version, core };
    case 'VmDeleted':
      return { status: 'deleted', version, core, reason: e.data.reason };
    case 'VmMigrationStarted': {
      if (vm.status === 'deleting' || !placement || !('placement' in vm)) return { ...vm, version };
      const { migrationId, hostId, hypervisorUri, claim, generation } = e.data;
      return {
        ...vm,
        version,
        migration: { migrationId, destination: { hostId, hypervisorUri, claim, generation, explanation: `migration ${migrationId}` } },
      };
    }
    case 'VmMigrated': {
      if (vm.status === 'deleting' || !('placement' in vm)) return { ...vm, version };
      const { hostId, hypervisorUri, claim, generation, migrationId } = e.data;
      const { migration: _done, ...rest } = vm;
      return {
        ...rest,
        version,
        placement: { hostId, hypervisorUri, claim, generation, explanation: `migrated (migration ${migrationId})` },
      };
    }
    case 'VmMigrationAborted': {
      if (!('migration' in vm)) return { ...vm, version };
      const { migration: _aborted, ...rest } = vm;
      return { ...rest, version };
    }
    default:
      return unreachable(e);
  }
}

export const foldVm = (events: readonly VmEvent[]): Vm => events.reduce(evolveVm, initialVm());
