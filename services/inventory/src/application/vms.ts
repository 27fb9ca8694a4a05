import { NotFoundError, ValidationError } from '@berth/errors';
import type { EventStreams, PostgresEventStore, StoredEvent } from '@berth/event-store';
import type { Claim } from '@berth/fit';
import { inventoryEvents } from '@berth/contracts';
import type { VmCommand, VmSpecInput } from '../domain/vm/commands.ts';
import { decideVm } from '../domain/vm/decide.ts';
import type { VmEvent } from '../domain/vm/events.ts';
import { evolveVm, initialVm, placementOf, type Vm } from '../domain/vm/state.ts';
import { decideHost } from '../domain/host/decide.ts';
import { evolveHost } from '../domain/host/state.ts';
import { checkHostId, loadHost } from './hosts.ts';
import { decideOnce, inTransaction, load, newId, priorId, save, withoutTransaction, type Loaded } from './tx.ts';

const { vmStreamId, hostStreamId } = inventoryEvents;
const VM_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkVmId(vmId: string, field = 'vmId'): void {
  if (!VM_ID.test(vmId)) throw new ValidationError({ field, reason: `must be 1-128 of [A-Za-z0-9_.-], got '${vmId}'` });
}

export type ExistingVm = Exclude<Vm, { status: 'absent' }>;

/** A VM with the times of its first and last events. */
export interface VmView {
  readonly vm: ExistingVm;
  readonly requestedAt: string;
  readonly updatedAt: string;
}

const loadVm = (tx: EventStreams, vmId: string): Promise<Loaded<Vm>> => load<Vm, VmEvent>(tx, vmStreamId(vmId), evolveVm, initialVm);

function view(vmId: string, vm: Vm, events: readonly StoredEvent[], appended: readonly StoredEvent[] = []): VmView {
  if (vm.status === 'absent') throw new NotFoundError('vm', vmId);
  const all = [...events, ...appended];
  return { vm, requestedAt: all[0]?.occurredAt ?? '', updatedAt: all.at(-1)?.occurredAt ?? '' };
}

/** Storage pool names any host ever declared: a disk naming another pool could never be placed. */
export type KnownPools = () => Promise<ReadonlySet<string>>;

export interface ExecutorReport {
  readonly vmId: string;
  readonly hostId: string;
  readonly reason: string;
  /** For VmOperationFailed: which operation failed. */
  readonly operation?: 'start' | 'stop' | 'reboot' | 'delete';
}

/** VM commands, claims (which touch a host and a VM in one commit) and the executor's reports. */
export class VmCommands {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly knownPools: KnownPools,
    private readonly maxProvisionAttempts = 3,
  ) {}

  /**
   * One VM command; when it releases the VM's claim (deleted, provisioning failed) the host's
   * ClaimReleased commits with it.
   */
  private async run(vmId: string, commandId: string | undefined, command: VmCommand, releaseReason?: string): Promise<VmView> {
    checkVmId(vmId);
    const body = async (tx: EventStreams): Promise<VmView> => {
      const loaded = await loadVm(tx, vmId);
      const decided = await decideOnce(tx, commandId, () => decideVm(command, loaded.state), () => []);
      const placement = placementOf(loaded.state);
      const releases = decided.some((e) => e.type === 'VmDeleted' || e.type === 'VmProvisionFailed');
      if (releaseReason !== undefined && placement && releases) await this.release(tx, placement.hostId, vmId, commandId, releaseReason);
      const saved = await save(tx, vmStreamId(vmId), loaded, decided, evolveVm, commandId);
      return view(vmId, saved.state, loaded.events, saved.duplicate ? [] : saved.events);
    };
    // A claim release touches a host stream too: both commit together, or neither.
    return releaseReason === undefined ? withoutTransaction(this.store, body) : inTransaction(this.store, body);
  }

  private async release(tx: EventStreams, hostId: string, vmId: string, commandId: string | undefined, reason: string): Promise<number> {
    const host = await loadHost(tx, hostId);
    const decided = decideHost({ type: 'ReleaseClaim', vmId, reason }, host.state);
    return (await save(tx, hostStreamId(hostId), host, decided, evolveHost, commandId)).state.generation;
  }

  async compose(input: { commandId?: string; vmId?: string; spec: VmSpecInput }): Promise<VmView> {
    const vmId = input.vmId || (await priorId(this.store, input.commandId, 'vm-')) || newId();
    const knownPools = input.spec.disks.some((d) => d.pool !== undefined) ? await this.knownPools() : new Set<string>();
    return this.run(vmId, input.commandId, { type: 'ComposeVm', vmId, spec: input.spec, knownPools });
  }

  async get(vmId: string): Promise<VmView> {
    checkVmId(vmId);
    const loaded = await loadVm(this.store, vmId);
    return view(vmId, loaded.state, loaded.events);
  }

  /** Events of the VM's stream after `fromPosition` with the VM after each (for WatchVm). */
  async eventsAfter(vmId: string, fromPosition: number): Promise<{ event: StoredEvent; vm: Vm }[]> {
    checkVmId(vmId);
    const { events } = await this.store.readStream(vmStreamId(vmId));
    const out: { event: StoredEvent; vm: Vm }[] = [];
    let vm = initialVm();
    for (const e of events) {
      vm = evolveVm(vm, e as unknown as VmEvent);
      if (e.streamPosition > fromPosition) out.push({ event: e, vm });
    }
    return out;
  }

  delete = (i: { commandId?: string; vmId: string }): Promise<VmView> => this.run(i.vmId, i.commandId, { type: 'DeleteVm' }, 'VM deleted');
  start = (i: { commandId?: string; vmId: string }): Promise<VmView> => this.run(i.vmId, i.commandId, { type: 'StartVm' });
  stop = (i: { commandId?: string; vmId: string; force: boolean }): Promise<VmView> => this.run(i.vmId, i.commandId, { type: 'StopVm', force: i.force });
  reboot = (i: { commandId?: string; vmId: string }): Promise<VmView> => this.run(i.vmId, i.commandId, { type: 'RebootVm' });

  reportPlacementFailed(i: { commandId?: string; vmId: string; reason: string; explanation: unknown }): Promise<VmView> {
    return this.run(i.vmId, i.commandId, { type: 'FailPlacement', reason: i.reason, explanation: i.explanation });
  }

  /**
   * The claim is the lock: inside one transaction the host is re-read, the claim re-checked with the
   * fit rules at the expected generation, and ResourcesClaimed + VmPlaced appended at the versions
   * read, so of two racing claims at most one commits.
   */
  async claim(input: {
    commandId?: string;
    vmId: string;
    hostId: string;
    expectedGeneration: number;
    claim: Claim;
    explanation: unknown;
    alternates: readonly { hostId: string; generation: number }[];
  }): Promise<{ generation: number; vm: VmView }> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    if (input.claim.vmId !== input.vmId) throw new ValidationError({ field: 'claim.vmId', reason: `must be the VM claimed for (${input.vmId})` });
    if (input.claim.hostId !== input.hostId) throw new ValidationError({ field: 'claim.hostId', reason: `must be the host claimed on (${input.hostId})` });
    return inTransaction(this.store, async (tx) => {
      const host = await loadHost(tx, input.hostId);
      const vm = await loadVm(tx, input.vmId);
      if (vm.state.status === 'absent') throw new NotFoundError('vm', input.vmId);
      const hostEvents = await decideOnce(tx, input.commandId, () => decideHost({ type: 'ClaimResources', claim: input.claim, expectedGeneration: input.expectedGeneration }, host.state), () => []);
      if (hostEvents.length === 0 || host.state.status !== 'active') return { generation: host.version, vm: view(input.vmId, vm.state, vm.events) };
      const placement = {
        hostId: input.hostId,
        hypervisorUri: host.state.record.hypervisorUri,
        claim: input.claim,
        generation: host.version + hostEvents.length,
        explanation: input.explanation,
        alternates: input.alternates,
      };
      const vmEvents = decideVm({ type: 'PlaceVm', placement }, vm.state);
      const savedHost = await save(tx, hostStreamId(input.hostId), host, hostEvents, evolveHost, input.commandId);
      const savedVm = await save(tx, vmStreamId(input.vmId), vm, vmEvents, evolveVm, input.commandId);
      return { generation: savedHost.state.generation, vm: view(input.vmId, savedVm.state, vm.events, savedVm.duplicate ? [] : savedVm.events) };
    });
  }

  /** Releases a VM's claim on a host (host stream only); a claim not held changes nothing. */
  async releaseClaim(input: { commandId?: string; vmId: string; hostId: string; reason: string }): Promise<number> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    return withoutTransaction(this.store, async (streams) => {
      const host = await loadHost(streams, input.hostId);
      if (host.state.status === 'absent') throw new NotFoundError('host', input.hostId);
      const decided = decideHost({ type: 'ReleaseClaim', vmId: input.vmId, reason: input.reason }, host.state);
      return (await save(streams, hostStreamId(input.hostId), host, decided, evolveHost, input.commandId)).state.generation;
    });
  }

  /** Folds one executor report into the VM (idempotent: a repeated or stale report changes nothing). */
  async recordExecutorEvent(type: string, r: ExecutorReport, commandId: string): Promise<VmView | undefined> {
    const command = ((): VmCommand | undefined => {
      switch (type) {
        case 'VmProvisioning':
          return { type: 'RecordProvisioning', hostId: r.hostId };
        case 'VmStarted':
          return { type: 'RecordStarted', hostId: r.hostId };
        case 'VmStopped':
          return { type: 'RecordStopped', hostId: r.hostId };
        case 'VmOperationFailed':
          return r.operation === undefined ? undefined : { type: 'RecordOperationFailed', hostId: r.hostId, operation: r.operation, reason: r.reason };
        case 'VmProvisionFailed':
          return { type: 'RecordProvisionFailed', hostId: r.hostId, reason: r.reason, maxAttempts: this.maxProvisionAttempts };
        case 'VmDeleted':
          return { type: 'RecordDeleted', hostId: r.hostId, reason: r.reason || 'deleted by the executor' };
        default:
          return undefined;
      }
    })();
    if (!command) return undefined;
    const reason = type === 'VmDeleted' ? 'VM deleted' : `provisioning failed: ${r.reason}`;
    return this.run(r.vmId, commandId, command, reason);
  }
}
