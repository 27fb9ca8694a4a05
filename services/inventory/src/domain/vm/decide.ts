import { IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { resolveVmSpec } from '@berth/fit';
import { event, unreachable } from '../shared/event.ts';
import { MAX_CAPACITY_WAIT_MILLIS, type VmCommand } from './commands.ts';
import type { VmEvent } from './events.ts';
import { migrationOf, placementOf, type Vm } from './state.ts';

type Existing = Exclude<Vm, { status: 'absent' }>;

function existing(vm: Vm): Existing {
  if (vm.status === 'absent') throw new NotFoundError('vm', '(unknown)');
  return vm;
}

const refuse = (vm: Existing, what: string): never => {
  throw new IllegalStateError(`cannot ${what} VM ${vm.core.vmId}: it is ${vm.status}`);
};

/** Executor reports about a host the VM is no longer placed on (an earlier attempt) change nothing. */
const onCurrentHost = (vm: Vm, hostId: string): boolean => placementOf(vm)?.hostId === hostId;

/** The VM aggregate's decider: pure, throws the @berth/errors taxonomy for refused commands. */
export function decideVm(command: VmCommand, vm: Vm): VmEvent[] {
  switch (command.type) {
    case 'ComposeVm': {
      if (vm.status !== 'absent') throw new IllegalStateError(`VM ${command.vmId} already exists`);
      const spec = resolveVmSpec(command.vmId, command.spec, command.knownPools);
      const wait = command.waitForCapacityMillis;
      if (!Number.isSafeInteger(wait) || wait < 0 || wait > MAX_CAPACITY_WAIT_MILLIS) {
        throw new ValidationError({
          field: 'waitForCapacityMillis',
          reason: `must be 0..${MAX_CAPACITY_WAIT_MILLIS} (7 days), got ${wait}`,
        });
      }
      const capacityDeadline = wait > 0 ? new Date(Date.parse(command.now) + wait).toISOString() : undefined;
      return [
        event('VmRequested', {
          vmId: command.vmId,
          project: command.project,
          spec,
          attempt: 1,
          excludedHosts: [],
          ...(capacityDeadline !== undefined ? { capacityDeadline } : {}),
        }),
      ];
    }
    case 'PlaceVm': {
      const v = existing(vm);
      if (v.status !== 'requested') return refuse(v, 'place');
      const { alternates, ...p } = command.placement;
      return [event('VmPlaced', { ...p, spec: v.core.spec, attempt: v.core.attempt, alternates })];
    }
    case 'FailPlacement': {
      const v = existing(vm);
      if (v.status === 'placement-failed' || v.status === 'waiting-for-capacity') return [];
      if (v.status !== 'requested') return refuse(v, 'fail the placement of');
      const until = v.core.capacityDeadline;
      if (until !== undefined && Date.parse(command.now) < Date.parse(until)) {
        const { reason, explanation, viewPosition } = command;
        return [event('VmPlacementDeferred', { reason, explanation, until, ...(viewPosition !== undefined ? { viewPosition } : {}) })];
      }
      return [event('VmPlacementFailed', { reason: command.reason, explanation: command.explanation })];
    }
    case 'FailDeadLetteredRequest': {
      // Requested, and nothing recorded since that request (it is the stream's last event): placed,
      // failed, deferred, deleted or requested again since, the dead letter is an old story.
      if (vm.status !== 'requested' || vm.version !== command.requestPosition) return [];
      return [event('VmPlacementFailed', { reason: command.reason, explanation: command.explanation })];
    }
    case 'RequeueForCapacity': {
      if (vm.status !== 'waiting-for-capacity') return [];
      const { vmId, project, spec, attempt, excludedHosts, capacityDeadline } = vm.core;
      return [
        event('VmRequested', {
          vmId,
          project,
          spec,
          attempt,
          excludedHosts,
          ...(capacityDeadline !== undefined ? { capacityDeadline } : {}),
        }),
      ];
    }
    case 'ExpireCapacityWait': {
      const until = vm.status === 'waiting-for-capacity' ? vm.core.capacityDeadline : undefined;
      if (vm.status !== 'waiting-for-capacity' || until === undefined || Date.parse(command.now) < Date.parse(until)) return [];
      return [
        event('VmPlacementFailed', {
          reason: `no host could take it before its capacity deadline ${until}: ${vm.reason}`,
          explanation: vm.explanation,
        }),
      ];
    }
    case 'RecordProvisioning': {
      if (vm.status !== 'placed' || !onCurrentHost(vm, command.hostId)) return [];
      return [event('VmProvisioningStarted', { hostId: vm.placement.hostId, hypervisorUri: vm.placement.hypervisorUri })];
    }
    case 'RecordStarted': {
      if (vm.status === 'running' || vm.status === 'deleting' || !onCurrentHost(vm, command.hostId)) return [];
      const p = placementOf(vm);
      return p ? [event('VmBecameRunning', { hostId: p.hostId, hypervisorUri: p.hypervisorUri })] : [];
    }
    case 'RecordProvisionFailed': {
      if ((vm.status !== 'placed' && vm.status !== 'provisioning') || !onCurrentHost(vm, command.hostId)) return [];
      const { hostId, hypervisorUri } = vm.placement;
      const { attempt, vmId, project, spec, excludedHosts } = vm.core;
      const out: VmEvent[] = [event('VmProvisionFailed', { hostId, hypervisorUri, reason: command.reason, attempt })];
      if (attempt < command.maxAttempts) {
        const excluded = excludedHosts.includes(hostId) ? excludedHosts : [...excludedHosts, hostId];
        out.push(event('VmRequested', { vmId, project, spec, attempt: attempt + 1, excludedHosts: excluded }));
      }
      return out;
    }
    case 'RecordStopped': {
      const ok = vm.status === 'running' || vm.status === 'stopping' || vm.status === 'provisioning';
      if (!ok || !onCurrentHost(vm, command.hostId)) return [];
      return [event('VmStopped', { hostId: vm.placement.hostId, hypervisorUri: vm.placement.hypervisorUri })];
    }
    case 'RecordOperationFailed': {
      const p = placementOf(vm);
      if (p === undefined || !onCurrentHost(vm, command.hostId) || vm.status === 'deleted') return [];
      return [
        event('VmOperationFailed', {
          hostId: p.hostId,
          hypervisorUri: p.hypervisorUri,
          operation: command.operation,
          reason: command.reason,
        }),
      ];
    }
    case 'RecordDeleted': {
      if (vm.status === 'absent' || vm.status === 'deleted' || !onCurrentHost(vm, command.hostId)) return [];
      return [event('VmDeleted', { reason: command.reason })];
    }
    case 'StartVm': {
      const v = existing(vm);
      if (v.status === 'running' || v.status === 'provisioning') return [];
      refuseWhileMigrating(v, 'start');
      if (v.status !== 'stopped') return refuse(v, 'start');
      return [event('VmStartRequested', { hostId: v.placement.hostId, hypervisorUri: v.placement.hypervisorUri })];
    }
    case 'StopVm': {
      const v = existing(vm);
      refuseWhileMigrating(v, 'stop');
      if (v.status === 'stopped' || v.status === 'stopping') return [];
      if (v.status !== 'running' && v.status !== 'provisioning') return refuse(v, 'stop');
      return [event('VmStopRequested', { hostId: v.placement.hostId, hypervisorUri: v.placement.hypervisorUri, force: command.force })];
    }
    case 'RebootVm': {
      const v = existing(vm);
      refuseWhileMigrating(v, 'reboot');
      if (v.status !== 'running') return refuse(v, 'reboot');
      return [event('VmRebootRequested', { hostId: v.placement.hostId, hypervisorUri: v.placement.hypervisorUri })];
    }
    case 'DeleteVm': {
      const v = existing(vm);
      refuseWhileMigrating(v, 'delete');
      if (v.status === 'deleting' || v.status === 'deleted') return [];
      const p = placementOf(v);
      if (p) return [event('VmDeleteRequested', { hostId: p.hostId, hypervisorUri: p.hypervisorUri })];
      // Never placed (or placement/provisioning failed): nothing runs anywhere, so it is gone at once.
      return [event('VmDeleteRequested', {}), event('VmDeleted', { reason: 'deleted before placement' })];
    }
    case 'BeginMigration': {
      const v = existing(vm);
      const current = migrationOf(v);
      if (current?.migrationId === command.migrationId) return [];
      if (current)
        throw new IllegalStateError(
          `VM ${v.core.vmId} is already moving to ${current.destination.hostId} (migration ${current.migrationId})`,
        );
      // A stopped VM moves cold (its definition; nothing runs), whatever its migration mode, which
      // governs live migration only; a running one moves live within its mode.
      if (v.status !== 'running' && v.status !== 'stopped') return refuse(v, 'migrate');
      const mode = v.core.spec.migrationMode;
      const live = v.status === 'running';
      if (live && mode === 'none') throw new IllegalStateError(`VM ${v.core.vmId} has migration mode none: change the mode or stop the VM`);
      if (live && command.automatic && mode !== 'manual-and-automatic') {
        throw new IllegalStateError(`VM ${v.core.vmId} has migration mode ${mode}: only manual-and-automatic VMs are moved automatically`);
      }
      const { hostId, hypervisorUri, claim, generation } = command.destination;
      if (hostId === v.placement.hostId) throw new IllegalStateError(`VM ${v.core.vmId} already runs on ${hostId}`);
      return [
        event('VmMigrationStarted', {
          migrationId: command.migrationId,
          sourceHostId: v.placement.hostId,
          hostId,
          hypervisorUri,
          claim,
          generation,
        }),
      ];
    }
    case 'CompleteMigration': {
      const m = migrationOf(vm);
      const from = placementOf(vm);
      if (m?.migrationId !== command.migrationId || from === undefined) return [];
      const { hostId, hypervisorUri, claim, generation } = m.destination;
      return [event('VmMigrated', { migrationId: m.migrationId, fromHostId: from.hostId, hostId, hypervisorUri, claim, generation })];
    }
    case 'AbortMigration': {
      const m = migrationOf(vm);
      if (m?.migrationId !== command.migrationId) return [];
      return [event('VmMigrationAborted', { migrationId: m.migrationId, hostId: m.destination.hostId, reason: command.reason })];
    }
    default:
      return unreachable(command);
  }
}

function refuseWhileMigrating(vm: Existing, what: string): void {
  const m = migrationOf(vm);
  if (m)
    throw new IllegalStateError(
      `cannot ${what} VM ${vm.core.vmId}: it is moving to ${m.destination.hostId} (migration ${m.migrationId}); cancel the migration first`,
    );
}
