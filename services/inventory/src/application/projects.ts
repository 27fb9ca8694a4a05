import type { CallDeadline } from '@berth/errors';
import type { CommandBatcher } from '@berth/event-store';
import { inventoryEvents } from '@berth/contracts';
import type { ProjectCommand } from '../domain/project/commands.ts';
import { decideIdentity, decideProject, existingProject } from '../domain/project/decide.ts';
import type { Project, ProjectQuota, ProjectTotals } from '../domain/project/state.ts';
import { identityOf, projectOf } from './streams.ts';
import { checkIdentity, checkProjectName } from '../domain/project/validate.ts';

const { projectStreamId, identityStreamId } = inventoryEvents;

/** A project as GetProject shows it: read from the log (usage exact at this moment). */
export interface ProjectView {
  readonly project: string;
  readonly description: string;
  readonly quota: ProjectQuota;
  readonly usage: ProjectTotals;
  readonly vmIds: readonly string[];
}

export interface BindingsReader {
  identitiesOf(project: string): Promise<readonly string[]>;
}

/** Operators' project commands: projects, quotas and client bindings, each in the inventory log. */
export class ProjectCommands {
  constructor(private readonly batcher: CommandBatcher) {}

  private async run(project: string, commandId: string | undefined, command: ProjectCommand, call?: CallDeadline): Promise<ProjectView> {
    checkProjectName(project);
    const r = await this.batcher.execute(
      {
        streamIds: [projectStreamId(project)],
        ...(commandId ? { commandId } : {}),
        decide: ([state]) => [decideProject(command, projectOf(state))],
      },
      call,
    );
    return viewOf(projectOf(r.states[0]), project);
  }

  create = (i: { commandId?: string; project: string; description: string }, call?: CallDeadline): Promise<ProjectView> =>
    this.run(i.project, i.commandId, { type: 'CreateProject', project: i.project, description: i.description }, call);

  setQuota = (i: { commandId?: string; project: string; quota: ProjectQuota }, call?: CallDeadline): Promise<ProjectView> =>
    this.run(i.project, i.commandId, { type: 'SetProjectQuota', project: i.project, quota: i.quota }, call);

  /** Binds (or unbinds) a client identity; the project must exist to be bound. Answers the identity's projects. */
  async bind(
    i: { commandId?: string; identity: string; project: string; unbind?: boolean },
    call?: CallDeadline,
  ): Promise<readonly string[]> {
    checkIdentity(i.identity);
    checkProjectName(i.project);
    const type = i.unbind === true ? 'UnbindIdentity' : 'BindIdentity';
    const r = await this.batcher.execute(
      {
        streamIds: [identityStreamId(i.identity), projectStreamId(i.project)],
        ...(i.commandId ? { commandId: i.commandId } : {}),
        decide: ([identity, project]) => [
          decideIdentity({ type, identity: i.identity, project: i.project }, identityOf(identity), projectOf(project)),
          [],
        ],
      },
      call,
    );
    return identityOf(r.states[0]).projects;
  }

  async get(project: string, call?: CallDeadline): Promise<ProjectView> {
    checkProjectName(project);
    return viewOf(projectOf(await this.batcher.readFresh(projectStreamId(project), call)), project);
  }

  /** The projects an identity is bound to, from the log. */
  async projectsOf(identity: string, call?: CallDeadline): Promise<readonly string[]> {
    checkIdentity(identity);
    return identityOf(await this.batcher.readFresh(identityStreamId(identity), call)).projects;
  }
}

function viewOf(p: Project, name: string): ProjectView {
  const active = existingProject(p, name);
  return {
    project: name,
    description: active.description,
    quota: active.quota,
    usage: active.totals,
    vmIds: active.vms.keys().sort(),
  };
}
