import {
  aggregate,
  CommandBatcher,
  evolveStored,
  sameAsTentative,
  type CommandBatcherOptions,
  type Folded,
  type PostgresEventStore,
  type StoredEvent,
} from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
import type { DomainEvent, DomainEventType } from '../domain/shared/event.ts';
import type { HostEvent } from '../domain/host/events.ts';
import { evolveHost, initialHost, type Host } from '../domain/host/state.ts';
import type { VmEvent } from '../domain/vm/events.ts';
import { evolveVm, initialVm, type Vm } from '../domain/vm/state.ts';
import type { IdentityEvent, ProjectEvent } from '../domain/project/events.ts';
import {
  evolveIdentity,
  evolveProject,
  initialIdentity,
  initialProject,
  type IdentityBindings,
  type Project,
} from '../domain/project/state.ts';
import {
  evolveHardwareConfig,
  initialHardwareConfig,
  type HardwareConfigEvent,
  type HardwareConfigState,
} from '../domain/hardware-config/decide.ts';

/** A VM with the times of its first and last events (what the API shows as requested/updated). */
export interface VmRecord {
  readonly vm: Vm;
  readonly requestedAt: string;
  readonly updatedAt: string;
}

export const initialVmRecord = (): VmRecord => ({ vm: initialVm(), requestedAt: '', updatedAt: '' });

/** Stored events folded as each aggregate's own events (checked by type; see `evolveStored`). */
export const evolveHostStored = evolveStored<Host, HostEvent>(
  {
    HostRegistered: true,
    HostUpdated: true,
    HostStateChanged: true,
    HostRemoved: true,
    ResourcesClaimed: true,
    ClaimReleased: true,
  },
  evolveHost,
);
export const evolveVmStored = evolveStored<Vm, VmEvent>(
  {
    VmRequested: true,
    VmPlaced: true,
    VmPlacementFailed: true,
    VmPlacementDeferred: true,
    VmProvisioningStarted: true,
    VmBecameRunning: true,
    VmProvisionFailed: true,
    VmStartRequested: true,
    VmStopRequested: true,
    VmRebootRequested: true,
    VmStopped: true,
    VmOperationFailed: true,
    VmDeleteRequested: true,
    VmDeleted: true,
    VmMigrationStarted: true,
    VmMigrated: true,
    VmMigrationAborted: true,
  },
  evolveVm,
);

export const evolveVmRecord = (r: VmRecord, e: StoredEvent): VmRecord => ({
  vm: evolveVmStored(r.vm, e),
  requestedAt: r.requestedAt || e.occurredAt,
  updatedAt: e.occurredAt,
});

/**
 * A record folded tentatively, with the times its events were stored at: the VM is the same (its
 * evolve reads types and data only); requested is the first stored event's time when the events
 * started the stream, updated the last one's.
 */
export function restampVmRecord(tentative: VmRecord, stored: readonly StoredEvent[]): VmRecord {
  const first = stored[0];
  const last = stored.at(-1);
  if (first === undefined || last === undefined) return tentative;
  return {
    vm: tentative.vm,
    requestedAt: first.streamPosition === 1 ? first.occurredAt : tentative.requestedAt,
    updatedAt: last.occurredAt,
  };
}

/**
 * A stored event of inventory's log as the domain event of its type, for the projections (which read
 * every stream): sound for the reason `evolveStored` gives (a stream is written only through its
 * decider's typed events), and checked by type, so no payload is cast.
 */
export const isStored = <K extends DomainEventType>(e: StoredEvent, type: K): e is StoredEvent & DomainEvent<K> => e.type === type;

/** The inventory's aggregates; each gives its streams' states back typed (`hostAggregate.of(f)`). */
export const hostAggregate = aggregate<Host>({
  prefix: 'host-',
  initial: initialHost,
  evolve: evolveHostStored,
  adoptTentative: sameAsTentative,
});
export const vmAggregate = aggregate<VmRecord>({
  prefix: 'vm-',
  initial: initialVmRecord,
  evolve: evolveVmRecord,
  adoptTentative: restampVmRecord,
});
export const hardwareConfigAggregate = aggregate<HardwareConfigState>({
  prefix: inventoryEvents.HARDWARE_CONFIG_STREAM,
  initial: initialHardwareConfig,
  evolve: evolveStored<HardwareConfigState, HardwareConfigEvent>({ HardwareConfigApplied: true }, evolveHardwareConfig),
  adoptTentative: sameAsTentative,
});

export const projectAggregate = aggregate<Project>({
  prefix: 'project-',
  initial: initialProject,
  evolve: evolveStored<Project, ProjectEvent>(
    { ProjectCreated: true, ProjectQuotaSet: true, ProjectVmAdmitted: true, ProjectVmReleased: true },
    evolveProject,
  ),
  adoptTentative: sameAsTentative,
});
export const identityAggregate = aggregate<IdentityBindings>({
  prefix: 'identity-',
  initial: initialIdentity,
  evolve: evolveStored<IdentityBindings, IdentityEvent>({ IdentityBound: true, IdentityUnbound: true }, evolveIdentity),
  adoptTentative: sameAsTentative,
});

/** Inventory's command path: every command of the service goes through one batcher (group commit, cached aggregates). */
export const inventoryBatcher = (store: PostgresEventStore, opts: Omit<CommandBatcherOptions, 'aggregates'> = {}): CommandBatcher =>
  new CommandBatcher(store, {
    ...opts,
    aggregates: [hostAggregate, vmAggregate, hardwareConfigAggregate, projectAggregate, identityAggregate],
  });

/**
 * The typed state of one of a command's folded streams (`states[i]` of a batcher command, or a
 * batcher read), checked by its aggregate (`of`) instead of cast; a stream the command did not name
 * (an index past its streams) reads as the aggregate's initial state.
 */
export const hostOf = (f: Folded | undefined): Host => (f === undefined ? initialHost() : hostAggregate.of(f).state);
export const vmRecordOf = (f: Folded | undefined): VmRecord => (f === undefined ? initialVmRecord() : vmAggregate.of(f).state);
export const vmOf = (f: Folded | undefined): Vm => vmRecordOf(f).vm;
export const projectOf = (f: Folded | undefined): Project => (f === undefined ? initialProject() : projectAggregate.of(f).state);
export const identityOf = (f: Folded | undefined): IdentityBindings =>
  f === undefined ? initialIdentity() : identityAggregate.of(f).state;
export const hardwareConfigOf = (f: Folded | undefined): HardwareConfigState =>
  f === undefined ? initialHardwareConfig() : hardwareConfigAggregate.of(f).state;
