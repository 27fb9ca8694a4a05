import { NotFoundError, PermissionDeniedError, ValidationError } from '@berth/errors';
import type { CommandBatcher, Folded, NewEvent, StoredEvent } from '@berth/event-store';
import { claimMatchesVm, type Claim } from '@berth/fit';
import { inventoryEvents } from '@berth/contracts';
import type { VmCommand, VmSpecInput } from '../domain/vm/commands.ts';
import { decideVm } from '../domain/vm/decide.ts';
import { initialVm, migrationOf, placementOf, type Vm } from '../domain/vm/state.ts';
import { decideHost } from '../domain/host/decide.ts';
import type { Host } from '../domain/host/state.ts';
import { checkHostId } from './hosts.ts';
import { evolveVmStored, type VmRecord } from './streams.ts';
import { decideProject, usageOf } from '../domain/project/decide.ts';
import { initialIdentity, initialProject, type IdentityBindings, type Project } from '../domain/project/state.ts';
import { checkProjectName } from '../domain/project/validate.ts';
import { ALL, CommandStreams, type Scope } from './scope.ts';
import { newId, priorId } from './ids.ts';

const { vmStreamId, hostStreamId, projectStreamId, identityStreamId } = inventoryEvents;
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

function view(vmId: string, f: Folded): VmView {
  const r = f.state as VmRecord;
  if (r.vm.status === 'absent') throw new NotFoundError('vm', vmId);
  return { vm: r.vm, requestedAt: r.requestedAt, updatedAt: r.updatedAt };
}

const vmOf = (f: Folded | undefined): Vm => (f?.state as VmRecord | undefined)?.vm ?? initialVm();
const hostOf = (f: Folded | undefined): Host => f!.state as Host;
const projectOf = (f: Folded | undefined): Project => (f?.state as Project | undefined) ?? initialProject();
const identityOf = (f: Folded | undefined): IdentityBindings => (f?.state as IdentityBindings | undefined) ?? initialIdentity();

/** Storage pool names any host ever declared: a disk naming another pool could never be placed. */
export type KnownPools = () => Promise<ReadonlySet<string>>;

export interface ExecutorReport {
  readonly vmId: string;
  readonly hostId: string;
  readonly reason: string;
  /** For VmOperationFailed: which operation failed. */
  readonly operation?: 'start' | 'stop' | 'reboot' | 'delete';
}

/** The VM's placement moved between reading it and deciding: decide again with the new host. */
class PlacementMoved extends Error {}

/**
 * VM commands, claims (which touch a host and a VM in one commit) and the executor's reports; all
 * go through the service's batcher (group commit over cached aggregates, see @berth/event-store).
 */
export class VmCommands {
  constructor(
    private readonly batcher: CommandBatcher,
    private readonly knownPools: KnownPools,
    private readonly maxProvisionAttempts = 3,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * One VM command; when it releases the VM's claim (deleted, provisioning failed) the host's
   * ClaimReleased commits with it, and a deletion frees the VM's usage of its project's quota in the
   * same commit. A compose is admitted by its project (quota) in the commit that records it. A
   * client's command reads its bindings in the same commit, so an unbind and a command serialise.
   */
  private async run(
    vmId: string,
    commandId: string | undefined,
    command: VmCommand,
    releaseReason?: string,
    scope: Scope = ALL,
  ): Promise<VmView> {
    checkVmId(vmId);
    const vmStream = vmStreamId(vmId);
    const compose = command.type === 'ComposeVm' ? command : undefined;
    for (let attempt = 0; ; attempt++) {
      const seen = compose ? initialVm() : vmOf(await this.batcher.read(vmStream));
      // The host whose claim a release would return, as last seen; decide checks it still is.
      const hostId = releaseReason === undefined ? undefined : placementOf(seen)?.hostId;
      const project = compose?.project ?? (releaseReason !== undefined && seen.status !== 'absent' ? seen.core.project : undefined);
      const streams = new CommandStreams(vmStream);
      const hostAt = hostId === undefined ? undefined : streams.add(hostStreamId(hostId));
      const projectAt = project === undefined ? undefined : streams.add(projectStreamId(project));
      const identityAt = scope.kind === 'client' ? streams.add(identityStreamId(scope.identity)) : undefined;
      try {
        const r = await this.batcher.execute({
          streamIds: streams.ids,
          ...(commandId ? { commandId } : {}),
          // A compose creates the stream: not read first (an existing one conflicts and is read then).
          ...(compose ? { newStreams: [vmStream] } : {}),
          decide: (states) => {
            const vm = vmOf(states[0]);
            if (identityAt !== undefined && scope.kind === 'client') {
              const bound = identityOf(states[identityAt]).projects;
              if (compose && !bound.includes(compose.project))
                throw new PermissionDeniedError(`${scope.identity} is not bound to project '${compose.project}'`);
              // Another project's VM does not exist for this client (its existence is not revealed).
              if (vm.status !== 'absent' && !bound.includes(vm.core.project)) throw new NotFoundError('vm', vmId);
            }
            const decided = decideVm(command, vm);
            const out = streams.events();
            out[0] = decided;
            const deleted = decided.some((e) => e.type === 'VmDeleted');
            if (compose && projectAt !== undefined) {
              const requested = decided.find((e) => e.type === 'VmRequested');
              if (requested)
                out[projectAt] = decideProject(
                  { type: 'AdmitVm', project: compose.project, vmId, usage: usageOf(requested.data.spec) },
                  projectOf(states[projectAt]),
                );
            } else if (deleted && vm.status !== 'absent') {
              if (projectAt === undefined || vm.core.project !== project) throw new PlacementMoved();
              out[projectAt] = decideProject({ type: 'ReleaseVm', project: vm.core.project, vmId }, projectOf(states[projectAt]));
            }
            const placement = placementOf(vm);
            const releases =
              releaseReason !== undefined && placement !== undefined && (deleted || decided.some((e) => e.type === 'VmProvisionFailed'));
            if (!releases) return out;
            if (placement.hostId !== hostId || hostAt === undefined) throw new PlacementMoved();
            out[hostAt] = decideHost({ type: 'ReleaseClaim', vmId, reason: releaseReason }, hostOf(states[hostAt]));
            return out;
          },
        });
        return view(vmId, r.states[0]!);
      } catch (e) {
        if (!(e instanceof PlacementMoved) || attempt >= 3) throw e;
      }
    }
  }

  async compose(input: {
    commandId?: string;
    vmId?: string;
    /** Empty: `default` for operators and services, the one bound project for a client. */
    project?: string;
    spec: VmSpecInput;
    waitForCapacityMillis?: number;
    scope?: Scope;
  }): Promise<VmView> {
    const scope = input.scope ?? ALL;
    const project = await this.projectFor(input.project ?? '', scope);
    checkProjectName(project);
    const vmId = input.vmId || (await priorId(this.batcher.store, input.commandId, 'vm-')) || newId();
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
    return this.run(vmId, input.commandId, command, undefined, scope);
  }

  /** The project a compose names, or its default (the decide re-checks a client's binding in the commit). */
  private async projectFor(named: string, scope: Scope): Promise<string> {
    if (named !== '') return named;
    if (scope.kind === 'all') return inventoryEvents.DEFAULT_PROJECT;
    const bound = identityOf(await this.batcher.readFresh(identityStreamId(scope.identity))).projects;
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
  async visibleProjects(scope: Scope): Promise<readonly string[] | undefined> {
    if (scope.kind === 'all') return undefined;
    return identityOf(await this.batcher.readFresh(identityStreamId(scope.identity))).projects;
  }

  /** A VM waiting for capacity is requested again (capacity appeared that may fit it); otherwise nothing. */
  requeueForCapacity = (i: { commandId: string; vmId: string }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'RequeueForCapacity' });

  /** A VM waiting for capacity past its deadline fails with the last explanation; otherwise nothing. */
  expireCapacityWait = (i: { commandId: string; vmId: string }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'ExpireCapacityWait', now: this.clock().toISOString() });

  async get(vmId: string, scope: Scope = ALL): Promise<VmView> {
    checkVmId(vmId);
    const found = view(vmId, await this.batcher.readFresh(vmStreamId(vmId)));
    const visible = await this.visibleProjects(scope);
    if (visible !== undefined && !visible.includes(found.vm.core.project)) throw new NotFoundError('vm', vmId);
    return found;
  }

  /** Events of the VM's stream after `fromPosition` with the VM after each (for WatchVm). */
  async eventsAfter(vmId: string, fromPosition: number): Promise<{ event: StoredEvent; vm: Vm }[]> {
    checkVmId(vmId);
    const { events } = await this.batcher.store.readStream(vmStreamId(vmId));
    const out: { event: StoredEvent; vm: Vm }[] = [];
    let vm = initialVm();
    for (const e of events) {
      vm = evolveVmStored(vm, e);
      if (e.streamPosition > fromPosition) out.push({ event: e, vm });
    }
    return out;
  }

  delete = (i: { commandId?: string; vmId: string; scope?: Scope }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'DeleteVm' }, 'VM deleted', i.scope);
  start = (i: { commandId?: string; vmId: string; scope?: Scope }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'StartVm' }, undefined, i.scope);
  stop = (i: { commandId?: string; vmId: string; force: boolean; scope?: Scope }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'StopVm', force: i.force }, undefined, i.scope);
  reboot = (i: { commandId?: string; vmId: string; scope?: Scope }): Promise<VmView> =>
    this.run(i.vmId, i.commandId, { type: 'RebootVm' }, undefined, i.scope);

  /** Fails the VM's placement, or has it wait for capacity while its deadline is ahead. */
  reportPlacementFailed(i: {
    commandId?: string;
    vmId: string;
    reason: string;
    explanation: unknown;
    viewPosition?: inventoryEvents.LogPosition;
  }): Promise<VmView> {
    const { reason, explanation, viewPosition } = i;
    return this.run(i.vmId, i.commandId, {
      type: 'FailPlacement',
      reason,
      explanation,
      now: this.clock().toISOString(),
      ...(viewPosition !== undefined ? { viewPosition } : {}),
    });
  }

  /**
   * The claim is the lock: the fit is re-checked against the host's state at the expected generation,
   * and ResourcesClaimed + VmPlaced commit together at the versions decided on, so of two racing
   * claims at most one commits.
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
    if (input.claim.vmId !== input.vmId)
      throw new ValidationError({ field: 'claim.vmId', reason: `must be the VM claimed for (${input.vmId})` });
    if (input.claim.hostId !== input.hostId)
      throw new ValidationError({ field: 'claim.hostId', reason: `must be the host claimed on (${input.hostId})` });
    const r = await this.batcher.execute({
      streamIds: [hostStreamId(input.hostId), vmStreamId(input.vmId)],
      ...(input.commandId ? { commandId: input.commandId } : {}),
      decide: ([hostState, vmState]) => {
        const host = hostOf(hostState);
        const vm = vmOf(vmState);
        if (vm.status === 'absent') throw new NotFoundError('vm', input.vmId);
        // The claim must give the VM what it asked for (cells, pinning) before it can lock anything.
        const mismatch = vm.status === 'requested' ? claimMatchesVm(vm.core.spec, input.claim) : [];
        if (mismatch.length > 0)
          throw new ValidationError(
            mismatch.map((f) => ({ field: `claim.${f.filter === 'numa' ? 'numaCells' : f.filter}`, reason: f.detail })),
          );
        const hostEvents = decideHost({ type: 'ClaimResources', claim: input.claim, expectedGeneration: input.expectedGeneration }, host);
        if (hostEvents.length === 0 || host.status !== 'active') return [[], []];
        const placement = {
          hostId: input.hostId,
          hypervisorUri: host.record.hypervisorUri,
          claim: input.claim,
          generation: hostState!.version + hostEvents.length,
          explanation: input.explanation,
          alternates: input.alternates,
        };
        return [hostEvents, decideVm({ type: 'PlaceVm', placement }, vm)] as readonly NewEvent[][];
      },
    });
    return { generation: hostOf(r.states[0]).generation, vm: view(input.vmId, r.states[1]!) };
  }

  /**
   * Live migration, step 1: the destination claim. Taken like a placement claim (fit re-checked at
   * the expected generation, host state applies) while the VM keeps its source claim; the VM records
   * the migration in the same commit. A repeat for the same migration changes nothing.
   */
  async beginMigration(input: {
    commandId?: string;
    vmId: string;
    migrationId: string;
    hostId: string;
    expectedGeneration: number;
    claim: Claim;
    automatic: boolean;
  }): Promise<{ generation: number; hypervisorUri: string; vm: VmView }> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    if (input.migrationId.trim() === '') throw new ValidationError({ field: 'migrationId', reason: 'is required' });
    if (input.claim.vmId !== input.vmId)
      throw new ValidationError({ field: 'claim.vmId', reason: `must be the VM migrated (${input.vmId})` });
    if (input.claim.hostId !== input.hostId)
      throw new ValidationError({ field: 'claim.hostId', reason: `must be the destination (${input.hostId})` });
    const r = await this.batcher.execute({
      streamIds: [hostStreamId(input.hostId), vmStreamId(input.vmId)],
      ...(input.commandId ? { commandId: input.commandId } : {}),
      decide: ([hostState, vmState]) => {
        const host = hostOf(hostState);
        const vm = vmOf(vmState);
        if (vm.status === 'absent') throw new NotFoundError('vm', input.vmId);
        if (host.status !== 'active') throw new NotFoundError('host', input.hostId);
        if (migrationOf(vm)?.migrationId === input.migrationId) return [[], []];
        const hostEvents = decideHost({ type: 'ClaimResources', claim: input.claim, expectedGeneration: input.expectedGeneration }, host);
        const destination = {
          hostId: input.hostId,
          hypervisorUri: host.record.hypervisorUri,
          claim: input.claim,
          generation: hostState!.version + hostEvents.length,
        };
        return [
          hostEvents,
          decideVm({ type: 'BeginMigration', migrationId: input.migrationId, destination, automatic: input.automatic }, vm),
        ] as readonly NewEvent[][];
      },
    });
    const view1 = view(input.vmId, r.states[1]!);
    const m = migrationOf(view1.vm);
    // The VM's record of the migration says where the claim is (also when this was a repeat).
    return {
      generation: m?.destination.generation ?? hostOf(r.states[0]).generation,
      hypervisorUri: m?.destination.hypervisorUri ?? '',
      vm: view1,
    };
  }

  /** Live migration, switch-over confirmed: the VM is on the destination and its source claim is released (one commit). */
  async completeMigration(input: { commandId?: string; vmId: string; migrationId: string }): Promise<VmView> {
    return this.endMigration(
      input,
      { type: 'CompleteMigration', migrationId: input.migrationId },
      'VmMigrated',
      (vm) => placementOf(vm)?.hostId,
      'migrated away',
    );
  }

  /** Live migration ended without a switch-over: the destination claim is released, the VM stays where it runs. */
  async abortMigration(input: { commandId?: string; vmId: string; migrationId: string; reason: string }): Promise<VmView> {
    return this.endMigration(
      input,
      { type: 'AbortMigration', migrationId: input.migrationId, reason: input.reason },
      'VmMigrationAborted',
      (vm) => migrationOf(vm)?.destination.hostId,
      `migration aborted: ${input.reason}`,
    );
  }

  private async endMigration(
    input: { commandId?: string; vmId: string; migrationId: string },
    command: VmCommand,
    releasingEvent: string,
    releasedHost: (vm: Vm) => string | undefined,
    reason: string,
  ): Promise<VmView> {
    checkVmId(input.vmId);
    if (input.migrationId.trim() === '') throw new ValidationError({ field: 'migrationId', reason: 'is required' });
    const vmStream = vmStreamId(input.vmId);
    for (let attempt = 0; ; attempt++) {
      const before = vmOf(await this.batcher.readFresh(vmStream));
      if (before.status === 'absent') throw new NotFoundError('vm', input.vmId);
      const hostId = migrationOf(before)?.migrationId === input.migrationId ? releasedHost(before) : undefined;
      try {
        const r = await this.batcher.execute({
          streamIds: hostId === undefined ? [vmStream] : [vmStream, hostStreamId(hostId)],
          ...(input.commandId ? { commandId: input.commandId } : {}),
          decide: ([vmState, hostState]) => {
            const vm = vmOf(vmState);
            const decided = decideVm(command, vm);
            if (!decided.some((e) => e.type === releasingEvent)) return [decided, []];
            if (releasedHost(vm) !== hostId || hostId === undefined) throw new PlacementMoved();
            return [decided, decideHost({ type: 'ReleaseClaim', vmId: input.vmId, reason }, hostOf(hostState))];
          },
        });
        return view(input.vmId, r.states[0]!);
      } catch (e) {
        if (!(e instanceof PlacementMoved) || attempt >= 3) throw e;
      }
    }
  }

  /** Releases a VM's claim on a host (host stream only); a claim not held changes nothing. */
  async releaseClaim(input: { commandId?: string; vmId: string; hostId: string; reason: string }): Promise<number> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    const r = await this.batcher.execute({
      streamIds: [hostStreamId(input.hostId)],
      ...(input.commandId ? { commandId: input.commandId } : {}),
      decide: ([hostState]) => {
        const host = hostOf(hostState);
        if (host.status === 'absent') throw new NotFoundError('host', input.hostId);
        return [decideHost({ type: 'ReleaseClaim', vmId: input.vmId, reason: input.reason }, host)];
      },
    });
    return hostOf(r.states[0]).generation;
  }

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
    return this.run(r.vmId, commandId, command, releaseReason);
  }
}
