import { NotFoundError, ValidationError } from '@berth/errors';
import { unary, type CallContext } from '@berth/grpc-kit';
import { withCall } from '@berth/event-store';
import { inventoryV1 as pb } from '@berth/contracts';
import type { ProjectCommands } from '../../application/projects.ts';
import type { ReadModel } from '../postgres/read-model.ts';
import { requireOperator, scopeOf } from './caller.ts';
import { decodeQuota, encodeProject } from './project-codec.ts';

function commandId(meta: pb.CommandMeta | undefined): string {
  const id = meta?.commandId ?? '';
  if (id.trim() === '' || id.length > 200)
    throw new ValidationError({ field: 'meta.commandId', reason: 'required (1-200 characters, a UUID recommended)' });
  return id;
}

/**
 * Projects, quotas and bindings (operators manage them; a client may read the projects it is
 * bound to, another project is NOT_FOUND to it, as its VMs are).
 */
export function projectHandlers(projects: ProjectCommands, readModel: ReadModel) {
  const answer = async (name: string, ctx: CallContext) => {
    const view = await projects.get(name, ctx);
    return { project: encodeProject(view, await withCall(ctx, 'identitiesOf', () => readModel.identitiesOf(name))) };
  };
  return {
    createProject: unary<pb.CreateProjectRequest, pb.CreateProjectResponse>(async (r, ctx) => {
      requireOperator(ctx);
      await projects.create({ commandId: commandId(r.meta), project: r.name, description: r.description }, ctx);
      return answer(r.name, ctx);
    }),
    setProjectQuota: unary<pb.SetProjectQuotaRequest, pb.SetProjectQuotaResponse>(async (r, ctx) => {
      requireOperator(ctx);
      if (r.quota === undefined) throw new ValidationError({ field: 'quota', reason: 'required (an empty quota is unlimited)' });
      await projects.setQuota({ commandId: commandId(r.meta), project: r.name, quota: decodeQuota(r.quota) }, ctx);
      return answer(r.name, ctx);
    }),
    bindIdentity: unary<pb.BindIdentityRequest, pb.BindIdentityResponse>(async (r, ctx) => {
      requireOperator(ctx);
      return { projects: [...(await projects.bind({ commandId: commandId(r.meta), identity: r.identity, project: r.project }, ctx))] };
    }),
    unbindIdentity: unary<pb.UnbindIdentityRequest, pb.UnbindIdentityResponse>(async (r, ctx) => {
      requireOperator(ctx);
      const left = await projects.bind({ commandId: commandId(r.meta), identity: r.identity, project: r.project, unbind: true }, ctx);
      return { projects: [...left] };
    }),
    getProject: unary<pb.GetProjectRequest, pb.GetProjectResponse>(async (r, ctx) => {
      const scope = scopeOf(ctx);
      if (scope.kind === 'client' && !(await projects.projectsOf(scope.identity, ctx)).includes(r.name))
        throw new NotFoundError('project', r.name);
      return answer(r.name, ctx);
    }),
    listProjects: unary<pb.ListProjectsRequest, pb.ListProjectsResponse>(async (_r, ctx) => {
      const scope = scopeOf(ctx);
      const visible = scope.kind === 'client' ? await projects.projectsOf(scope.identity, ctx) : undefined;
      const rows = await withCall(ctx, 'listProjects', () => readModel.listProjects());
      return {
        projects: rows.filter((p) => visible === undefined || visible.includes(p.project)).map((p) => encodeProject(p, p.identities)),
      };
    }),
  };
}
