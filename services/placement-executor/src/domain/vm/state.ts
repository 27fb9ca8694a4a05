import type { Claim } from '@berth/fit';
import type { Location, VmRef, MigrationPlan, ProvisionRequest, VmEvent, VmOperation } from './events.ts';

export type ProvisionStep = 'requested' | 'volumes-created' | 'domain-defined' | 'domain-started';

export interface PendingOperation {
  readonly operation: VmOperation;
  readonly force: boolean;
  readonly requestId: string;
}

interface Placed {
  readonly location: Location;
  readonly request: ProvisionRequest;
  /** The latest start/stop/reboot accepted and not yet carried out; a delete always wins. */
  readonly pending: PendingOperation | null;
}

/**
 * A migration this executor carries out for the VM (the location stays the source until VmMigrated):
 * live for a running VM, cold (the definition moves, nothing runs) for a stopped one.
 */
export interface MigrationWork {
  readonly migrationId: string;
  readonly cold: boolean;
  readonly attempt: number;
  readonly destination: { readonly hostId: string; readonly uri: string };
  readonly plan: MigrationPlan;
  readonly startedAt: string;
  readonly cancel: string | null;
  /** Set while a post-copy migration is paused (only resuming recovers it). */
  readonly postCopyPaused: string | null;
  /**
   * The claim inventory holds on the destination (its pinned CPUs, NUMA cells, volume pools): the
   * domain there is built from it, and once moved it is the VM's claim. Absent in migrations recorded
   * before it was carried.
   */
  readonly destinationClaim?: Claim;
}

/** One VM as the executor's log tells it. */
export type VmState =
  | { readonly status: 'unknown' }
  | (Placed & {
      readonly status: 'provisioning';
      readonly step: ProvisionStep;
      readonly deadline: string;
      readonly domain: { readonly name: string; readonly uuid: string };
    })
  | (Placed & { readonly status: 'running'; readonly migration?: MigrationWork })
  | (Placed & { readonly status: 'stopped'; readonly migration?: MigrationWork })
  | { readonly status: 'failed'; readonly location: Location; readonly reason: string; readonly permanent: boolean }
  | { readonly status: 'deleted'; readonly location: VmRef };

export type VmStatus = VmState['status'];

export const initialState = (): VmState => ({ status: 'unknown' });

const assertNever = (x: never): never => {
  throw new Error(`unhandled ${JSON.stringify(x)}`);
};

const locationOf = (d: Location): Location => ({ vmId: d.vmId, hostId: d.hostId, hypervisorUri: d.hypervisorUri, attempt: d.attempt });

export function evolve(state: VmState, event: VmEvent): VmState {
  switch (event.type) {
    case 'DomainProvisioningStarted':
      return {
        status: 'provisioning',
        step: 'requested',
        location: locationOf(event.data),
        request: event.data.request,
        deadline: event.data.registrationDeadline,
        pending: null,
        domain: { name: event.data.domainName, uuid: event.data.domainUuid },
      };
    case 'VolumesCreated':
      return state.status === 'provisioning' ? { ...state, step: 'volumes-created' } : state;
    case 'DomainDefined':
      return state.status === 'provisioning' ? { ...state, step: 'domain-defined' } : state;
    case 'DomainStarted':
      return state.status === 'provisioning' ? { ...state, step: 'domain-started' } : state;
    case 'VmStarted': {
      if (state.status !== 'provisioning' && state.status !== 'running' && state.status !== 'stopped') return state;
      // Running is what a start or reboot asked for; a stop or delete that arrived meanwhile still waits.
      const op = state.pending?.operation;
      const pending = op === 'start' || op === 'reboot' ? null : state.pending;
      const migration = state.status === 'provisioning' ? undefined : state.migration;
      return { status: 'running', location: state.location, request: state.request, pending, ...(migration && { migration }) };
    }
    case 'DomainProvisionFailed':
      return { status: 'failed', location: locationOf(event.data), reason: event.data.reason, permanent: event.data.permanent };
    case 'OperationRequested': {
      if (state.status !== 'provisioning' && state.status !== 'running' && state.status !== 'stopped') return state;
      if (state.pending?.operation === 'delete') return state;
      return { ...state, pending: { operation: event.data.operation, force: event.data.force, requestId: event.data.requestId } };
    }
    case 'DomainStopped':
      // A migration under way stays recorded (a guest that shuts down mid-migration): only its end removes it.
      return state.status === 'running' || state.status === 'stopped'
        ? {
            status: 'stopped',
            location: state.location,
            request: state.request,
            pending: state.pending?.operation === 'stop' ? null : state.pending,
            ...(state.migration && { migration: state.migration }),
          }
        : state;
    case 'DomainDeleted': {
      const { vmId, hostId, hypervisorUri, attempt } = event.data;
      return {
        status: 'deleted',
        location: {
          vmId,
          ...(hostId !== undefined && { hostId }),
          ...(hypervisorUri !== undefined && { hypervisorUri }),
          ...(attempt !== undefined && { attempt }),
        },
      };
    }
    case 'DomainOperationFailed':
      return state.status === 'running' || state.status === 'stopped' || state.status === 'provisioning'
        ? { ...state, pending: null }
        : state;
    case 'DomainDriftDetected':
    case 'VmMigrationProgressed':
      return state;
    case 'VmMigrationStarted': {
      if (state.status !== 'running' && state.status !== 'stopped') return state;
      const d = event.data;
      return {
        ...state,
        migration: {
          migrationId: d.migrationId,
          cold: d.cold === true,
          attempt: d.migrationAttempt,
          destination: { hostId: d.destinationHostId, uri: d.destinationUri },
          plan: d.plan,
          startedAt: '',
          cancel: null,
          postCopyPaused: null,
          ...(d.destinationClaim && { destinationClaim: d.destinationClaim }),
        },
      };
    }
    case 'VmMigrationCancelRequested':
      return (state.status === 'running' || state.status === 'stopped') && state.migration
        ? { ...state, migration: { ...state.migration, cancel: event.data.reason } }
        : state;
    case 'VmMigrationPostCopyPaused':
      return state.status === 'running' && state.migration
        ? { ...state, migration: { ...state.migration, postCopyPaused: event.data.detail } }
        : state;
    case 'VmMigrated': {
      if (state.status !== 'running' && state.status !== 'stopped') return state;
      const { migration: done, ...rest } = state;
      // From now on the domain is (re)built from the claim it holds where it runs: the destination's.
      const request = done?.destinationClaim ? { ...state.request, claim: done.destinationClaim } : state.request;
      return { ...rest, request, location: { ...state.location, hostId: event.data.hostId, hypervisorUri: event.data.hypervisorUri } };
    }
    case 'VmMigrationFailed': {
      if (state.status !== 'running' && state.status !== 'stopped') return state;
      const { migration: _failed, ...rest } = state;
      return rest;
    }
    default:
      return assertNever(event);
  }
}
