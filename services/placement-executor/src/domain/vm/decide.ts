import { IllegalStateError } from '@berth/errors';
import type { VmCommand } from './commands.ts';
import type { Location, VmEvent } from './events.ts';
import type { ProvisionStep, VmState } from './state.ts';

const STEP_ORDER: readonly ProvisionStep[] = ['requested', 'volumes-created', 'domain-defined', 'domain-started'];

const assertNever = (x: never): never => {
  throw new Error(`unhandled ${JSON.stringify(x)}`);
};

function locationOf(state: VmState, command: string): Location {
  if (state.status === 'unknown') throw new IllegalStateError(`${command}: the executor has no record of this VM`);
  const { hostId, hypervisorUri, attempt } = state.location;
  // A VM deleted before it was provisioned here has no location: treated like one never heard of.
  if (hostId === undefined || hypervisorUri === undefined || attempt === undefined)
    throw new IllegalStateError(`${command}: the executor never provisioned this VM`);
  return { vmId: state.location.vmId, hostId, hypervisorUri, attempt };
}

/** The VM's migration when it is the one named, with the reference every migration event carries. */
function activeMigration(state: VmState, migrationId: string) {
  if ((state.status !== 'running' && state.status !== 'stopped') || state.migration?.migrationId !== migrationId) return undefined;
  const work = state.migration;
  return { work, ref: { ...state.location, migrationId, migrationAttempt: work.attempt, ...(work.cold && { cold: true as const }) } };
}

/**
 * The provisioning state machine. Duplicated or late commands (redelivered messages, a resumed
 * step after a crash) decide nothing rather than fail, so retries are always safe.
 */
export function decide(command: VmCommand, state: VmState): VmEvent[] {
  switch (command.type) {
    case 'Provision': {
      const { location } = command;
      if (state.status === 'deleted') return [];
      // Another attempt (after a failure elsewhere) starts over; the same or an older one is a duplicate.
      if (state.status !== 'unknown' && location.attempt <= state.location.attempt) return [];
      if (state.status === 'provisioning' || state.status === 'running' || state.status === 'stopped') return [];
      return [
        {
          type: 'DomainProvisioningStarted',
          data: {
            ...location,
            domainName: command.domainName,
            domainUuid: command.domainUuid,
            registrationDeadline: command.registrationDeadline,
            request: command.request,
          },
        },
      ];
    }
    case 'Advance': {
      if (state.status !== 'provisioning') return [];
      const loc = state.location;
      const from = STEP_ORDER.indexOf(state.step);
      const to = command.to === 'running' ? STEP_ORDER.length : STEP_ORDER.indexOf(command.to);
      const out: VmEvent[] = [];
      // Steps are recorded so a restart resumes after them; in the append that records VmStarted
      // the domain steps say nothing more (DomainProvisioningStarted named the domain), so only volumes stay.
      const running = command.to === 'running';
      for (let i = from + 1; i <= Math.min(to, STEP_ORDER.length - 1); i++) {
        const step = STEP_ORDER[i];
        if (step === 'volumes-created' && command.volumes.length > 0)
          out.push({ type: 'VolumesCreated', data: { ...loc, volumes: command.volumes } });
        if (step === 'domain-defined' && !running)
          out.push({ type: 'DomainDefined', data: { ...loc, domainName: state.domain.name, domainUuid: state.domain.uuid } });
        if (step === 'domain-started' && !running) out.push({ type: 'DomainStarted', data: loc });
      }
      if (command.to === 'running') out.push({ type: 'VmStarted', data: { ...loc, cause: 'provisioned' } });
      return out;
    }
    case 'MarkStarted':
      // Provisioning reaches running through Advance.
      if (state.status !== 'running' && state.status !== 'stopped') return [];
      return [{ type: 'VmStarted', data: { ...state.location, cause: command.cause } }];
    case 'FailProvisioning':
      if (state.status !== 'provisioning') return [];
      return [{ type: 'DomainProvisionFailed', data: { ...state.location, reason: command.reason, permanent: command.permanent } }];
    case 'RequestOperation': {
      if (state.status === 'deleted') return [];
      if (state.status === 'unknown' || state.status === 'failed') {
        // Nothing runs for this VM here: a delete is complete at once, anything else cannot be done.
        const location = state.status === 'failed' ? state.location : command.location;
        return command.operation === 'delete'
          ? [
              {
                type: 'DomainDeleted',
                data: { ...location, reason: state.status === 'failed' ? 'deleted after failed provisioning' : 'never provisioned' },
              },
            ]
          : [
              {
                type: 'DomainOperationFailed',
                data: {
                  ...location,
                  operation: command.operation,
                  reason: `VM is ${state.status === 'failed' ? 'failed' : 'not provisioned'} on this executor`,
                },
              },
            ];
      }
      if (state.pending?.requestId === command.requestId) return [];
      return [
        {
          type: 'OperationRequested',
          data: { ...state.location, operation: command.operation, force: command.force, requestId: command.requestId },
        },
      ];
    }
    case 'MarkStopped':
      if (state.status !== 'running' && state.status !== 'stopped') return [];
      if (state.status === 'stopped' && state.pending?.operation !== 'stop') return [];
      return [{ type: 'DomainStopped', data: { ...state.location, how: command.how } }];
    case 'MarkDeleted':
      if (state.status === 'deleted') return [];
      return [{ type: 'DomainDeleted', data: { ...locationOf(state, 'MarkDeleted'), reason: command.reason } }];
    case 'FailOperation':
      if (state.status === 'unknown' || state.status === 'deleted' || state.status === 'failed') return [];
      return [{ type: 'DomainOperationFailed', data: { ...state.location, operation: command.operation, reason: command.reason } }];
    case 'StartMigration': {
      const ref = { migrationId: command.migrationId, migrationAttempt: command.attempt };
      const location = locationOf(state, 'StartMigration');
      const placed = state.status === 'running' || state.status === 'stopped';
      if (placed && state.migration?.migrationId === command.migrationId && state.migration.attempt === command.attempt) return [];
      // A stopped VM moves cold (its definition), a running one live; the migration service asked for the one it saw.
      const cold = state.status === 'stopped';
      const refuse = (reason: string): VmEvent[] => [
        { type: 'VmMigrationFailed', data: { ...location, ...ref, ...(cold && { cold: true as const }), reason, cause: 'error' } },
      ];
      if (!placed) return refuse(`the VM is ${state.status} here, neither running nor stopped`);
      if (command.cold !== undefined && command.cold !== cold)
        return refuse(`the VM is ${state.status} here: a ${command.cold ? 'cold move' : 'live migration'} was asked for`);
      if (state.migration) return refuse(`the VM is already migrating (migration ${state.migration.migrationId})`);
      if (state.location.hostId !== command.sourceHostId)
        return refuse(`the VM runs on ${state.location.hostId}, not on ${command.sourceHostId}`);
      if (state.pending) return refuse(`a ${state.pending.operation} is pending`);
      // Too old to start: the migration service's watchdog may have given this attempt up meanwhile.
      if (command.startBy !== undefined && command.now !== undefined && command.now > command.startBy)
        return refuse(`asked at least until ${command.startBy} to start, and it is ${command.now}: too late, not started`);
      return [
        {
          type: 'VmMigrationStarted',
          data: {
            ...state.location,
            ...ref,
            ...(cold && { cold: true as const }),
            destinationHostId: command.destination.hostId,
            destinationUri: command.destination.uri,
            plan: command.plan,
            ...(command.destinationClaim && { destinationClaim: command.destinationClaim }),
          },
        },
      ];
    }
    case 'RecordMigrationProgress': {
      const m = activeMigration(state, command.migrationId);
      if (!m) return [];
      return [{ type: 'VmMigrationProgressed', data: { ...m.ref, ...command.progress } }];
    }
    case 'CancelMigration': {
      const m = activeMigration(state, command.migrationId);
      if (!m || m.work.attempt !== command.attempt || m.work.cancel !== null) return [];
      return [{ type: 'VmMigrationCancelRequested', data: { ...m.ref, reason: command.reason } }];
    }
    case 'CompleteMigration': {
      const m = activeMigration(state, command.migrationId);
      if (!m) return [];
      return [
        {
          type: 'VmMigrated',
          data: {
            ...m.ref,
            hostId: m.work.destination.hostId,
            hypervisorUri: m.work.destination.uri,
            fromHostId: m.ref.hostId,
            fromHypervisorUri: m.ref.hypervisorUri,
            confirmedBy: command.confirmedBy,
          },
        },
      ];
    }
    case 'FailMigration': {
      const m = activeMigration(state, command.migrationId);
      if (!m) return [];
      return [{ type: 'VmMigrationFailed', data: { ...m.ref, reason: command.reason, cause: command.cause } }];
    }
    case 'PauseMigration': {
      const m = activeMigration(state, command.migrationId);
      if (!m || m.work.postCopyPaused !== null) return [];
      return [
        { type: 'VmMigrationPostCopyPaused', data: { ...m.ref, destinationHostId: m.work.destination.hostId, detail: command.detail } },
      ];
    }
    case 'ReportDrift':
      return [
        {
          type: 'DomainDriftDetected',
          data: { ...locationOf(state, 'ReportDrift'), expected: command.expected, actual: command.actual, action: command.action },
        },
      ];
    default:
      return assertNever(command);
  }
}
