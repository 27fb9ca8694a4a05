import { aggregate, CommandBatcher, type CommandBatcherOptions, type PostgresEventStore, type StoredEvent } from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
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

export const evolveVmRecord = (r: VmRecord, e: StoredEvent): VmRecord => ({
  vm: evolveVm(r.vm, e as unknown as VmEvent),
  requestedAt: r.requestedAt || e.occurredAt,
  updatedAt: e.occurredAt,
});

const hosts = aggregate<Host>({ prefix: 'host-', initial: initialHost, evolve: (h, e) => evolveHost(h, e as unknown as HostEvent) });
const vms = aggregate<VmRecord>({ prefix: 'vm-', initial: initialVmRecord, evolve: evolveVmRecord });
const hardwareConfig = aggregate<HardwareConfigState>({
  prefix: inventoryEvents.HARDWARE_CONFIG_STREAM,
  initial: initialHardwareConfig,
  evolve: (s, e) => evolveHardwareConfig(s, e as unknown as HardwareConfigEvent),
});

const projects = aggregate<Project>({
  prefix: 'project-',
  initial: initialProject,
  evolve: (p, e) => evolveProject(p, e as unknown as ProjectEvent),
});
const identities = aggregate<IdentityBindings>({
  prefix: 'identity-',
  initial: initialIdentity,
  evolve: (s, e) => evolveIdentity(s, e as unknown as IdentityEvent),
});

/** Inventory's command path: every command of the service goes through one batcher (group commit, cached aggregates). */
export const inventoryBatcher = (store: PostgresEventStore, opts: Omit<CommandBatcherOptions, 'aggregates'> = {}): CommandBatcher =>
  new CommandBatcher(store, { ...opts, aggregates: [hosts, vms, hardwareConfig, projects, identities] });
