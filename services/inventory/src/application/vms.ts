import { NotFoundError, ValidationError, type CallDeadline } from '@berth/errors';
import type { CommandBatcher, StoredEvent } from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
import type { VmCommand, VmSpecInput } from '../domain/vm/commands.ts';
import { initialVm, type Vm } from '../domain/vm/state.ts';
import { checkProjectName } from '../domain/project/validate.ts';
import { ALL, type Scope } from './scope.ts';
import { newId, priorId } from './ids.ts';
import { evolveVmStored, identityOf, vmOf } from './streams.ts';
import { runVmCommand } from './vm-command.ts';
import { checkVmId, view, type VmView } from './vm-view.ts';

const { vmStreamId, identityStreamId } = inventoryEvents;

/** Storage pool names any host ever declared: a disk naming another pool could never be placed. */
export type KnownPools = () => Promise<ReadonlySet<string>>;

export interface ExecutorReport {
  readonly vmId: string;
  readonly hostId: string;
  readonly reason: string;
  /** For VmOperationFailed: which operation failed. */
  readonly operation?: 'start' | 'stop' | 'reboot' | 'delete';
}

/**
 * VM commands (compose, lifecycle, capacity waits) and the executor's reports; all go through the
 * service's batcher (group commit over cached aggregates, see @berth/event-store). Claims on hosts
 * are ClaimCommands (`claims.ts`).
 */
export class VmCommands {
  constructor(
    private readonly batcher: CommandBatcher,
    private readonly knownPools: KnownPools,
    private readonly maxProvisionAttempts = 3,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async compose(
    input: {
      commandId?: string;
      vmId?: string;
      /** Empty: `default` for operators and services, the one bound project for a client. */
      project?: string;
      spec: VmSpecInput;
      waitForCapacityMillis?: number;
      scope?: Scope;
    },
    call?: CallDeadline,
  ): Promise<VmView> {
    const scope = input.scope ?? ALL;
    const project = await this.projectFor(input.project ?? '', scope, call);
    checkProjectName(project);
    const vmId = input.vmId || (await priorId(this.batcher.store, input.commandId, 'vm-', call)) || newId();
    const knownPools = input.spec.disks.some((d) => d.pool !== undefined) ? await this.knownPools() : new Set<string>();
    const now = this.clock().toISOString();
    const command: VmCommand = {
      type: 'ComposeVm',
      vmId,
      project,
      spec: input.spec,
      knownPools,
      waitForCapacityMillis: input.waitForCapacityMillis ?? 0,
      now,
    };
    return runVmCommand(this.batcher, vmId, input.commandId, command, undefined, scope, call);
  }

  /** The project a compose names, or its default (the decide re-checks a client's binding in the commit). */
  private async projectFor(named: string, scope: Scope, call: CallDeadline | undefined): Promise<string> {
    if (named !== '') return named;
    if (scope.kind === 'all') return inventoryEvents.DEFAULT_PROJECT;
    const bound = identityOf(await this.batcher.readFresh(identityStreamId(scope.identity), call)).projects;
    if (bound.length !== 1 || bound[0] === undefined)
      throw new ValidationError({ field: 'project', reason: `required: ${scope.identity} is bound to ${bound.length} projects` });
    return bound[0];
  }

  /**
   * The project an event of `streamId` concerns (VM and project streams), for the bus: a VM's project
   * never changes, so the cached VM answers (read from the log when this process has not seen it).
   */
  async projectOfStream(streamId: string): Promise<string | undefined> {
    if (streamId.startsWith('project-')) return streamId.slice('project-'.length);
    if (!streamId.startsWith('vm-')) return undefined;
    let vm = vmOf(await this.batcher.read(streamId));
    if (vm.status === 'absent') vm = vmOf(await this.batcher.readFresh(streamId));
    return vm.status === 'absent' ? undefined : vm.core.project;
  }

  /** The projects whose VMs the caller sees (undefined: all). */
  async visibleProjects(scope: Scope, call?: CallDeadline): Promise<readonly string[] | undefined> {
    if (scope.kind === 'all') return undefined;
    return identityOf(await this.batcher.readFresh(identityStreamId(scope.identity), call)).projects;
  }

  /** A VM waiting for capacity is requested again (capacity appeared that may fit it); otherwise nothing. */
  requeueForCapacity = (i: { commandId: string; vmId: string }): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'RequeueForCapacity' });

  /** A VM waiting for capacity past its deadline fails with the last explanation; otherwise nothing. */
  expireCapacityWait = (i: { commandId: string; vmId: string }): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'ExpireCapacityWait', now: this.clock().toISOString() });

  async get(vmId: string, scope: Scope = ALL, call?: CallDeadline): Promise<VmView> {
    checkVmId(vmId);
    const found = view(vmId, await this.batcher.readFresh(vmStreamId(vmId), call));
    const visible = await this.visibleProjects(scope, call);
    if (visible !== undefined && !visible.includes(found.vm.core.project)) throw new NotFoundError('vm', vmId);
    return found;
  }

  /** Events of the VM's stream after `fromPosition` with the VM after each (for WatchVm). */
  async eventsAfter(vmId: string, fromPosition: number, call?: CallDeadline): Promise<{ event: StoredEvent; vm: Vm }[]> {
    checkVmId(vmId);
    const { events } = await this.batcher.store.readStream(vmStreamId(vmId), call);
    const out: { event: StoredEvent; vm: Vm }[] = [];
    let vm = initialVm();
    for (const e of events) {
      vm = evolveVmStored(vm, e);
      if (e.streamPosition > fromPosition) out.push({ event: e, vm });
    }
    return out;
  }

  delete = (i: { commandId?: string; vmId: string; scope?: Scope }, call?: CallDeadline): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'DeleteVm' }, 'VM deleted', i.scope, call);
  start = (i: { commandId?: string; vmId: string; scope?: Scope }, call?: CallDeadline): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'StartVm' }, undefined, i.scope, call);
  stop = (i: { commandId?: string; vmId: string; force: boolean; scope?: Scope }, call?: CallDeadline): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'StopVm', force: i.force }, undefined, i.scope, call);
  reboot = (i: { commandId?: string; vmId: string; scope?: Scope }, call?: CallDeadline): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, { type: 'RebootVm' }, undefined, i.scope, call);

  /** Fails the VM's placement, or has it wait for capacity while its deadline is ahead. */
  reportPlacementFailed(
    i: {
      commandId?: string;
      vmId: string;
      reason: string;
      explanation: unknown;
      viewPosition?: inventoryEvents.LogPosition;
    },
    call?: CallDeadline,
  ): Promise<VmView> {
    const { reason, explanation, viewPosition } = i;
    return runVmCommand(
      this.batcher,
      i.vmId,
      i.commandId,
      {
        type: 'FailPlacement',
        reason,
        explanation,
        now: this.clock().toISOString(),
        ...(viewPosition !== undefined ? { viewPosition } : {}),
      },
      undefined,
      ALL,
      call,
    );
  }

  /**
   * The scheduler's consumer dead-lettered the VM's request at `requestPosition` of its stream: the VM
   * fails with `reason` if that request is still the last thing that happened to it; otherwise nothing.
   */
  failDeadLetteredRequest = (i: {
    commandId: string;
    vmId: string;
    requestPosition: number;
    reason: string;
    explanation: unknown;
  }): Promise<VmView> =>
    runVmCommand(this.batcher, i.vmId, i.commandId, {
      type: 'FailDeadLetteredRequest',
      requestPosition: i.requestPosition,
      reason: i.reason,
      explanation: i.explanation,
    });

  /** Folds one executor report into the VM (idempotent: a repeated or stale report changes nothing). */
  async recordExecutorEvent(type: string, r: ExecutorReport, commandId: string): Promise<VmView | undefined> {
    const command = ((): VmCommand | undefined => {
      switch (type) {
        case 'DomainProvisioningStarted':
          return { type: 'RecordProvisioning', hostId: r.hostId };
        case 'VmStarted':
          return { type: 'RecordStarted', hostId: r.hostId };
        case 'DomainStopped':
          return { type: 'RecordStopped', hostId: r.hostId };
        case 'DomainOperationFailed':
          return r.operation === undefined
            ? undefined
            : { type: 'RecordOperationFailed', hostId: r.hostId, operation: r.operation, reason: r.reason };
        case 'DomainProvisionFailed':
          return { type: 'RecordProvisionFailed', hostId: r.hostId, reason: r.reason, maxAttempts: this.maxProvisionAttempts };
        case 'DomainDeleted':
          return { type: 'RecordDeleted', hostId: r.hostId, reason: r.reason || 'deleted by the executor' };
        default:
          return undefined;
      }
    })();
    if (!command) return undefined;
    // Only these two can end the VM's claim; the other reports touch the VM stream alone.
    const releaseReason =
      type === 'DomainDeleted' ? 'VM deleted' : type === 'DomainProvisionFailed' ? `provisioning failed: ${r.reason}` : undefined;
    return runVmCommand(this.batcher, r.vmId, commandId, command, releaseReason);
  }
}
