import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyError, IllegalStateError, NotFoundError, Violations, type CallDeadline } from '@berth/errors';
import { handleCommand, type EventStreams, type HandleCommandResult, type StoredEvent } from '@berth/event-store';
import { migrationEvents } from '@berth/contracts';
import type { MigrationCommand } from '../domain/migration/commands.ts';
import { decideMigration } from '../domain/migration/decide.ts';
import type { MigrationEvent } from '../domain/migration/events.ts';
import { initialMigration, type ExistingMigration, type Migration } from '../domain/migration/state.ts';
import { evolveMigrationStored } from './stream.ts';
import { checkPolicy, HP_WARNING, resolvePolicy, type Policy, type PolicyOverrides } from './policy.ts';
import type { Clock, InventoryPort, SchedulerPort, VmInfo } from './ports.ts';

const { migrationStreamId } = migrationEvents;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const HOST_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface MigrationDeps {
  /** The migration log (the service's PostgresEventStore). */
  readonly store: EventStreams;
  readonly inventory: InventoryPort;
  readonly scheduler: SchedulerPort;
  readonly defaults: Policy;
  readonly poolPolicies: Readonly<Record<string, PolicyOverrides>>;
  readonly clock: Clock;
  /** Called after each change (with the migration after it), so the runner takes the next step at once. */
  readonly changed: (migrationId: string, migration: Migration) => void;
}

export interface MigrateInput {
  readonly commandId?: string;
  readonly vmId: string;
  /** A host id, or '' / 'auto' for the scheduler's choice. */
  readonly destination: string;
  readonly policy: PolicyOverrides;
  readonly trigger: migrationEvents.MigrationTrigger;
  readonly reason: string;
  readonly evacuationId?: string;
  /**
   * The VM as the caller knows it now (a drain keeps its VMs fresh from inventory's events): taken
   * instead of asking inventory, and a named destination is not scored before the request is recorded.
   * Nothing is lost: the runner's first step reads the VM from inventory and scores the named host
   * with the scheduler before any claim, and records why when either says no.
   */
  readonly known?: VmInfo;
}

/**
 * An operator's command (cancel, resume) that lost its append to a concurrent step (a progress report,
 * the runner's next step, a probe) re-reads the stream and decides again: `handleCommand` does so
 * three more times at once; after that it waits a little (growing, with jitter) and starts over, this
 * many rounds at most (1.4 s of waiting at most), so a cancel racing a busy migration is still
 * honoured instead of ending ABORTED. Each round decides on the stream as it is then: a migration
 * that switched over meanwhile is no longer cancellable, and the caller hears so.
 */
export const OPERATOR_COMMAND_ROUNDS = 8;
const operatorBackoffMillis = (round: number): number => Math.min(400, 10 * 2 ** round) * (0.5 + Math.random() / 2);

/** Which trigger may move a VM of which mode (seed 004). */
export function modeAllows(mode: VmInfo['migrationMode'], trigger: migrationEvents.MigrationTrigger): string | undefined {
  if (mode === 'none') return 'its migration mode is none: change the mode (to manual or manual-and-automatic) or stop the VM';
  if (trigger === 'balancer' && mode !== 'manual-and-automatic')
    return 'its migration mode is manual: only an operator moves it (automatic moves need manual-and-automatic)';
  return undefined;
}

/** The refusal of a named destination, with every filter it fails. */
export function refusal(hostId: string, vmName: string, reasons: readonly string[]): IllegalStateError {
  return new IllegalStateError(`host ${hostId} cannot take ${vmName}: ${reasons.join('; ')}`);
}

/**
 * The migration aggregate's command path (load, fold, decide, append) and the MigrationService calls.
 * A `call` (the gRPC call served) bounds the reads, the append and the calls to other services made
 * for it: once it ends, a statement still running is cancelled and nothing more is sent or appended.
 * The runner's steps have no call.
 */
export class MigrationCommands {
  constructor(private readonly d: MigrationDeps) {}

  async execute(
    migrationId: string,
    command: MigrationCommand,
    commandId?: string,
    call?: CallDeadline,
    known?: Migration,
  ): Promise<HandleCommandResult<Migration>> {
    const r = await handleCommand<Migration, MigrationCommand, MigrationEvent>({
      store: this.d.store,
      streamId: migrationStreamId(migrationId),
      decide: decideMigration,
      evolve: evolveMigrationStored,
      initialState: initialMigration,
      command,
      ...(commandId ? { commandId } : {}),
      ...(call && { call }),
      // Its version is the number of events folded into it: the stream's version when it was folded.
      ...(known && { known: { state: known, version: known.version } }),
    });
    if (r.events.length > 0 && !r.duplicate) this.d.changed(migrationId, r.state);
    return r;
  }

  /**
   * A runner's step: decided on the migration as the step found it (what the previous append left, or
   * a read) and appended at its version in one round trip; if the stream moved on meanwhile, decided
   * again on the stream as read (see handleCommand's `known`).
   */
  executeFrom(known: Migration, migrationId: string, command: MigrationCommand): Promise<HandleCommandResult<Migration>> {
    return this.execute(migrationId, command, undefined, undefined, known);
  }

  async load(migrationId: string): Promise<Migration> {
    const { events } = await this.d.store.readStream(migrationStreamId(migrationId));
    return events.reduce(evolveMigrationStored, initialMigration());
  }

  async get(migrationId: string, call?: CallDeadline): Promise<{ migration: ExistingMigration; requestedAt: string; updatedAt: string }> {
    checkId(migrationId, 'migrationId');
    const { events } = await this.d.store.readStream(migrationStreamId(migrationId), call);
    const m = events.reduce(evolveMigrationStored, initialMigration());
    if (m.status === 'absent') throw new NotFoundError('migration', migrationId);
    return { migration: m, requestedAt: events[0]!.occurredAt, updatedAt: events.at(-1)!.occurredAt };
  }

  /** Events after `fromPosition`, each with the migration after it (WatchMigration). */
  async eventsAfter(migrationId: string, fromPosition: number): Promise<{ event: StoredEvent; migration: ExistingMigration }[]> {
    checkId(migrationId, 'migrationId');
    const { events } = await this.d.store.readStream(migrationStreamId(migrationId));
    if (events.length === 0) throw new NotFoundError('migration', migrationId);
    const out: { event: StoredEvent; migration: ExistingMigration }[] = [];
    let m = initialMigration();
    for (const e of events) {
      m = evolveMigrationStored(m, e);
      if (e.streamPosition > fromPosition && m.status !== 'absent') out.push({ event: e, migration: m });
    }
    return out;
  }

  /**
   * MigrateVm: checks the VM can move now and, for a named host, that the scheduler finds it fits
   * (else FAILED_PRECONDITION with every filter it fails and nothing recorded), then records the
   * request; the runner takes it from there.
   */
  async migrate(input: MigrateInput, call?: CallDeadline): Promise<ExistingMigration> {
    const v = new Violations();
    v.check(ID.test(input.vmId), 'vmId', `must be 1-128 of [A-Za-z0-9_.-], got '${input.vmId}'`);
    const destination = input.destination === 'auto' ? '' : input.destination;
    v.check(
      destination === '' || HOST_ID.test(destination),
      'destinationHostId',
      `must be a host id or "auto", got '${input.destination}'`,
    );
    checkPolicy(input.policy, v);
    v.throwIfAny();

    if (input.commandId) {
      const prior = (await this.d.store.commandResult(input.commandId, call))?.appends.find((a) => a.streamId.startsWith('migration-'));
      // The answer of a command already recorded is read whatever becomes of this call.
      if (prior) return (await this.get(prior.streamId.slice('migration-'.length))).migration;
    }
    const vm = input.known ?? (await this.d.inventory.getVm(input.vmId, call));
    // A running VM moves live; a stopped one cold (its definition moves, nothing runs), whatever its
    // mode: the mode governs live migration (docs/evacuation-and-balancer.md).
    const cold = vm.status === 'stopped';
    if (vm.status !== 'running' && !cold)
      throw new IllegalStateError(`VM ${vm.vmId} is ${vm.status}: only a running VM (live) or a stopped one (cold) is moved`);
    if (cold && input.trigger === 'balancer') throw new IllegalStateError(`VM ${vm.vmId} is stopped: the balancer moves running VMs only`);
    if (vm.migrationId !== '') throw new IllegalStateError(`VM ${vm.vmId} is already moving (migration ${vm.migrationId})`);
    const forbidden = cold ? undefined : modeAllows(vm.migrationMode, input.trigger);
    if (forbidden) throw new IllegalStateError(`VM ${vm.vmId} cannot be migrated: ${forbidden}`);
    if (destination !== '' && destination === vm.hostId) throw new IllegalStateError(`VM ${vm.vmId} already runs on ${destination}`);
    if (destination !== '' && input.known === undefined) {
      const answer = await this.d.scheduler.score(vm, { excludedHosts: [vm.hostId], limit: 1, explainHosts: [destination] }, call);
      const reasons = answer.rejections.get(destination);
      if (reasons) throw refusal(destination, vm.name, reasons);
    }
    const migrationId = randomUUID();
    // The VM's resource pool's policy (VMs of no pool: pool `default`), under the request's own fields.
    const policy = resolvePolicy(this.d.defaults, this.d.poolPolicies[vm.resourcePool || 'default'], input.policy);
    const request: migrationEvents.MigrationRequested = {
      migrationId,
      vmId: vm.vmId,
      vmName: vm.name,
      trigger: input.trigger,
      sourceHostId: vm.hostId,
      sourceHypervisorUri: vm.hypervisorUri,
      requestedDestination: destination,
      memoryBytes: vm.memoryBytes,
      policy,
      warning: vm.highPerformanceOrPinned ? HP_WARNING : '',
      reason: input.reason,
      ...(input.evacuationId ? { evacuationId: input.evacuationId } : {}),
      ...(cold && { kind: 'cold' as const }),
    };
    return this.record(request, input.commandId, call);
  }

  /**
   * The first event of a new migration's stream: decided on the empty state and appended at version
   * 0 in one statement (its id is new: there is nothing to read first). A command id recorded
   * meanwhile by a concurrent request answers with that request's migration.
   */
  private async record(
    request: migrationEvents.MigrationRequested,
    commandId: string | undefined,
    call?: CallDeadline,
  ): Promise<ExistingMigration> {
    const id = request.migrationId;
    const events = decideMigration({ type: 'RequestMigration', request }, initialMigration());
    const r = await this.d.store.append(migrationStreamId(id), events, {
      expectedVersion: 0,
      ...(commandId ? { commandId } : {}),
      ...(call && { call }),
    });
    if (r.duplicate) {
      // Recorded by a concurrent request: its answer is read whatever becomes of this call.
      const prior = (await this.d.store.commandResult(commandId!))?.appends.find((a) => a.streamId.startsWith('migration-'));
      if (!prior) throw new Error(`command ${commandId} recorded without a migration`);
      return (await this.get(prior.streamId.slice('migration-'.length))).migration;
    }
    const state = r.events.reduce(evolveMigrationStored, initialMigration());
    if (state.status === 'absent') throw new Error('migration not recorded');
    this.d.changed(id, state);
    return state;
  }

  async cancel(input: { commandId?: string; migrationId: string; reason: string }, call?: CallDeadline): Promise<ExistingMigration> {
    checkId(input.migrationId, 'migrationId');
    await this.get(input.migrationId, call);
    const r = await this.executeOperator(
      input.migrationId,
      { type: 'Cancel', reason: input.reason || 'cancelled by the operator' },
      input.commandId,
      call,
    );
    return r.state as ExistingMigration;
  }

  async resume(input: { commandId?: string; migrationId: string }, call?: CallDeadline): Promise<ExistingMigration> {
    checkId(input.migrationId, 'migrationId');
    await this.get(input.migrationId, call);
    const r = await this.executeOperator(input.migrationId, { type: 'Resume' }, input.commandId, call);
    return r.state as ExistingMigration;
  }

  /**
   * `execute` for an operator's command, which races the migration's own steps: a lost append is
   * decided again on the stream as it is now, up to OPERATOR_COMMAND_ROUNDS rounds (see there). The
   * wait ends with the call; the next read then fails with the call's own error.
   */
  private async executeOperator(
    migrationId: string,
    command: MigrationCommand,
    commandId: string | undefined,
    call: CallDeadline | undefined,
  ): Promise<HandleCommandResult<Migration>> {
    for (let round = 1; ; round++) {
      try {
        return await this.execute(migrationId, command, commandId, call);
      } catch (e) {
        if (!(e instanceof ConcurrencyError) || round >= OPERATOR_COMMAND_ROUNDS) throw e;
      }
      await sleep(operatorBackoffMillis(round), undefined, call && { signal: call.signal }).catch(() => undefined);
    }
  }

  /** Where the VM could go, ranked, and why every other host is missing. */
  async destinations(
    vmId: string,
    limit: number,
    call?: CallDeadline,
  ): Promise<{ vm: VmInfo; answer: Awaited<ReturnType<SchedulerPort['score']>> }> {
    const v = new Violations();
    v.check(ID.test(vmId), 'vmId', `must be 1-128 of [A-Za-z0-9_.-], got '${vmId}'`);
    v.check(Number.isInteger(limit) && limit >= 0 && limit <= 1000, 'limit', 'must be between 0 and 1000');
    v.throwIfAny();
    const vm = await this.d.inventory.getVm(vmId, call);
    if (vm.hostId === '') throw new IllegalStateError(`VM ${vmId} is ${vm.status}: it runs nowhere`);
    const answer = await this.d.scheduler.score(vm, { excludedHosts: [vm.hostId], limit: limit || 20, explainMissing: true }, call);
    return { vm, answer };
  }
}

function checkId(id: string, field: string): void {
  new Violations().check(ID.test(id), field, `must be 1-128 of [A-Za-z0-9_.-], got '${id}'`).throwIfAny();
}
