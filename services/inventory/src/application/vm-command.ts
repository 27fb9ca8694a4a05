import { NotFoundError, PermissionDeniedError, type CallDeadline } from '@berth/errors';
import type { CommandBatcher } from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
import type { VmCommand } from '../domain/vm/commands.ts';
import { decideVm } from '../domain/vm/decide.ts';
import { initialVm, placementOf } from '../domain/vm/state.ts';
import { decideHost } from '../domain/host/decide.ts';
import { decideProject, usageOf } from '../domain/project/decide.ts';
import { ALL, CommandStreams, type Scope } from './scope.ts';
import { hostOf, identityOf, projectOf, vmOf } from './streams.ts';
import { checkVmId, PlacementMoved, view, type VmView } from './vm-view.ts';

const { vmStreamId, hostStreamId, projectStreamId, identityStreamId } = inventoryEvents;

/**
 * One VM command; when it releases the VM's claim (deleted, provisioning failed) the host's
 * ClaimReleased commits with it, and a deletion frees the VM's usage of its project's quota in the
 * same commit. A compose is admitted by its project (quota) in the commit that records it. A
 * client's command reads its bindings in the same commit, so an unbind and a command serialise.
 */
export async function runVmCommand(
  batcher: CommandBatcher,
  vmId: string,
  commandId: string | undefined,
  command: VmCommand,
  releaseReason?: string,
  scope: Scope = ALL,
  call?: CallDeadline,
): Promise<VmView> {
  checkVmId(vmId);
  const vmStream = vmStreamId(vmId);
  const compose = command.type === 'ComposeVm' ? command : undefined;
  for (let attempt = 0; ; attempt++) {
    const seen = compose ? initialVm() : vmOf(await batcher.read(vmStream, call));
    // The host whose claim a release would return, as last seen; decide checks it still is.
    const hostId = releaseReason === undefined ? undefined : placementOf(seen)?.hostId;
    const project = compose?.project ?? (releaseReason !== undefined && seen.status !== 'absent' ? seen.core.project : undefined);
    const streams = new CommandStreams(vmStream);
    const hostAt = hostId === undefined ? undefined : streams.add(hostStreamId(hostId));
    const projectAt = project === undefined ? undefined : streams.add(projectStreamId(project));
    const identityAt = scope.kind === 'client' ? streams.add(identityStreamId(scope.identity)) : undefined;
    try {
      const r = await batcher.execute(
        {
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
        },
        call,
      );
      return view(vmId, r.states[0]);
    } catch (e) {
      if (!(e instanceof PlacementMoved) || attempt >= 3) throw e;
    }
  }
}
