import { IllegalStateError, NotFoundError, ValidationError, type CallDeadline } from '@berth/errors';
import type { CommandBatcher, NewEvent } from '@berth/event-store';
import { claimMatchesVm, type Claim } from '@berth/fit';
import { inventoryEvents } from '@berth/contracts';
import type { VmCommand } from '../domain/vm/commands.ts';
import { decideVm } from '../domain/vm/decide.ts';
import { migrationOf, placementOf, type Vm } from '../domain/vm/state.ts';
import { decideHost } from '../domain/host/decide.ts';
import { checkHostId } from './hosts.ts';
import { hostOf, vmOf } from './streams.ts';
import { checkVmId, PlacementMoved, view, type VmView } from './vm-view.ts';

const { vmStreamId, hostStreamId } = inventoryEvents;

/**
 * Claims on hosts, which touch a host and a VM in one commit: a placement's claim, a live
 * migration's destination claim and its end (switch-over or abort), and a plain release. All go
 * through the service's batcher.
 */
export class ClaimCommands {
  constructor(private readonly batcher: CommandBatcher) {}

  /**
   * The claim is the lock: the fit is re-checked against the host's state at the expected generation,
   * and ResourcesClaimed + VmPlaced commit together at the versions decided on, so of two racing
   * claims at most one commits.
   */
  async claim(
    input: {
      commandId?: string;
      vmId: string;
      hostId: string;
      expectedGeneration: number;
      claim: Claim;
      explanation: unknown;
      alternates: readonly { hostId: string; generation: number }[];
    },
    call?: CallDeadline,
  ): Promise<{ generation: number; vm: VmView }> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    if (input.claim.vmId !== input.vmId)
      throw new ValidationError({ field: 'claim.vmId', reason: `must be the VM claimed for (${input.vmId})` });
    if (input.claim.hostId !== input.hostId)
      throw new ValidationError({ field: 'claim.hostId', reason: `must be the host claimed on (${input.hostId})` });
    const r = await this.batcher.execute(
      {
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
          const vmEvents: readonly NewEvent[] = decideVm({ type: 'PlaceVm', placement }, vm);
          return [hostEvents, vmEvents];
        },
      },
      call,
    );
    const placed = view(input.vmId, r.states[1]);
    // A command id already recorded answers with what that command did. Replicas of the scheduler that
    // took the same delivery claim under the same id, possibly on different hosts: the one whose host
    // is not where the VM went must not hear "claimed" (it would report a placement that did not happen).
    const where = placementOf(placed.vm)?.hostId;
    if (r.duplicate && where !== input.hostId)
      throw new IllegalStateError(
        `cannot place VM ${input.vmId} on ${input.hostId}: command ${input.commandId} placed it ${where ? `on ${where}` : 'before'} already`,
      );
    return { generation: hostOf(r.states[0]).generation, vm: placed };
  }

  /**
   * Live migration, step 1: the destination claim. Taken like a placement claim (fit re-checked at
   * the expected generation, host state applies) while the VM keeps its source claim; the VM records
   * the migration in the same commit. A repeat for the same migration changes nothing.
   */
  async beginMigration(
    input: {
      commandId?: string;
      vmId: string;
      migrationId: string;
      hostId: string;
      expectedGeneration: number;
      claim: Claim;
      automatic: boolean;
    },
    call?: CallDeadline,
  ): Promise<{ generation: number; hypervisorUri: string; vm: VmView }> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    if (input.migrationId.trim() === '') throw new ValidationError({ field: 'migrationId', reason: 'is required' });
    if (input.claim.vmId !== input.vmId)
      throw new ValidationError({ field: 'claim.vmId', reason: `must be the VM migrated (${input.vmId})` });
    if (input.claim.hostId !== input.hostId)
      throw new ValidationError({ field: 'claim.hostId', reason: `must be the destination (${input.hostId})` });
    const r = await this.batcher.execute(
      {
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
          ];
        },
      },
      call,
    );
    const view1 = view(input.vmId, r.states[1]);
    const m = migrationOf(view1.vm);
    // The VM's record of the migration says where the claim is (also when this was a repeat).
    return {
      generation: m?.destination.generation ?? hostOf(r.states[0]).generation,
      hypervisorUri: m?.destination.hypervisorUri ?? '',
      vm: view1,
    };
  }

  /** Live migration, switch-over confirmed: the VM is on the destination and its source claim is released (one commit). */
  async completeMigration(input: { commandId?: string; vmId: string; migrationId: string }, call?: CallDeadline): Promise<VmView> {
    return this.endMigration(
      input,
      { type: 'CompleteMigration', migrationId: input.migrationId },
      'VmMigrated',
      (vm) => placementOf(vm)?.hostId,
      'migrated away',
      call,
    );
  }

  /** Live migration ended without a switch-over: the destination claim is released, the VM stays where it runs. */
  async abortMigration(
    input: { commandId?: string; vmId: string; migrationId: string; reason: string },
    call?: CallDeadline,
  ): Promise<VmView> {
    return this.endMigration(
      input,
      { type: 'AbortMigration', migrationId: input.migrationId, reason: input.reason },
      'VmMigrationAborted',
      (vm) => migrationOf(vm)?.destination.hostId,
      `migration aborted: ${input.reason}`,
      call,
    );
  }

  private async endMigration(
    input: { commandId?: string; vmId: string; migrationId: string },
    command: VmCommand,
    releasingEvent: string,
    releasedHost: (vm: Vm) => string | undefined,
    reason: string,
    call: CallDeadline | undefined,
  ): Promise<VmView> {
    checkVmId(input.vmId);
    if (input.migrationId.trim() === '') throw new ValidationError({ field: 'migrationId', reason: 'is required' });
    const vmStream = vmStreamId(input.vmId);
    for (let attempt = 0; ; attempt++) {
      const before = vmOf(await this.batcher.readFresh(vmStream, call));
      if (before.status === 'absent') throw new NotFoundError('vm', input.vmId);
      const hostId = migrationOf(before)?.migrationId === input.migrationId ? releasedHost(before) : undefined;
      try {
        const r = await this.batcher.execute(
          {
            streamIds: hostId === undefined ? [vmStream] : [vmStream, hostStreamId(hostId)],
            ...(input.commandId ? { commandId: input.commandId } : {}),
            decide: ([vmState, hostState]) => {
              const vm = vmOf(vmState);
              const decided = decideVm(command, vm);
              if (!decided.some((e) => e.type === releasingEvent)) return [decided, []];
              if (releasedHost(vm) !== hostId || hostId === undefined) throw new PlacementMoved();
              return [decided, decideHost({ type: 'ReleaseClaim', vmId: input.vmId, reason }, hostOf(hostState))];
            },
          },
          call,
        );
        return view(input.vmId, r.states[0]);
      } catch (e) {
        if (!(e instanceof PlacementMoved) || attempt >= 3) throw e;
      }
    }
  }

  /** Releases a VM's claim on a host (host stream only); a claim not held changes nothing. */
  async releaseClaim(input: { commandId?: string; vmId: string; hostId: string; reason: string }, call?: CallDeadline): Promise<number> {
    checkVmId(input.vmId);
    checkHostId(input.hostId);
    const r = await this.batcher.execute(
      {
        streamIds: [hostStreamId(input.hostId)],
        ...(input.commandId ? { commandId: input.commandId } : {}),
        decide: ([hostState]) => {
          const host = hostOf(hostState);
          if (host.status === 'absent') throw new NotFoundError('host', input.hostId);
          return [decideHost({ type: 'ReleaseClaim', vmId: input.vmId, reason: input.reason }, host)];
        },
      },
      call,
    );
    return hostOf(r.states[0]).generation;
  }
}
