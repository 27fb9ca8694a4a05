import { IllegalStateError, QuotaExceededError, ValidationError, type QuotaViolation } from '@berth/errors';
import { event, unreachable } from '../shared/event.ts';
import type { IdentityCommand, ProjectCommand } from './commands.ts';
import type { IdentityEvent, ProjectEvent } from './events.ts';
import {
  effectiveProject,
  type IdentityBindings,
  type Project,
  type ProjectQuota,
  type ProjectTotals,
  type ProjectUsage,
} from './state.ts';
import { checkIdentity, checkProjectName, checkQuota } from './validate.ts';

/** An unknown project is bad input (the request names it), not a missing resource of the call. */
export function existingProject(p: Project, name: string, field = 'project'): Extract<Project, { status: 'active' }> {
  const active = effectiveProject(p, name);
  if (active === undefined) throw new ValidationError({ field, reason: `unknown project '${name}'` });
  return active;
}

/** The limits `usage` would pass on top of `totals` (empty: it fits). */
export function quotaViolations(project: string, quota: ProjectQuota, totals: ProjectTotals, usage: ProjectUsage): QuotaViolation[] {
  const subject = `project:${project}`;
  const out: QuotaViolation[] = [];
  const check = (name: string, limit: number | undefined, used: number, requested: number): void => {
    if (limit !== undefined && requested > 0 && used + requested > limit) out.push({ subject, quota: name, limit, used, requested });
  };
  check('vms', quota.vms, totals.vms, 1);
  check('vcpus', quota.vcpus, totals.vcpus, usage.vcpus);
  check('memoryBytes', quota.memoryBytes, totals.memoryBytes, usage.memoryBytes);
  for (const [type, n] of Object.entries(usage.devices)) check(`devices.${type}`, quota.devices[type], totals.devices[type] ?? 0, n);
  return out;
}

/** The project aggregate's decider: pure, throws the @berth/errors taxonomy for refused commands. */
export function decideProject(command: ProjectCommand, p: Project): ProjectEvent[] {
  switch (command.type) {
    case 'CreateProject': {
      checkProjectName(command.project);
      if (effectiveProject(p, command.project) !== undefined) {
        // A retry with the same description is the same request; another one is a conflict.
        if (p.status === 'active' && p.description === command.description) return [];
        throw new IllegalStateError(`project ${command.project} already exists`);
      }
      return [event('ProjectCreated', { project: command.project, description: command.description })];
    }
    case 'SetProjectQuota': {
      checkProjectName(command.project);
      checkQuota(command.quota);
      const active = existingProject(p, command.project);
      if (JSON.stringify(active.quota) === JSON.stringify(command.quota)) return [];
      return [event('ProjectQuotaSet', { project: command.project, quota: command.quota })];
    }
    case 'AdmitVm': {
      const active = existingProject(p, command.project);
      if (active.vms.has(command.vmId)) return [];
      const violations = quotaViolations(command.project, active.quota, active.totals, command.usage);
      if (violations.length > 0) throw new QuotaExceededError(violations);
      return [event('ProjectVmAdmitted', { project: command.project, vmId: command.vmId, usage: command.usage })];
    }
    case 'ReleaseVm': {
      const usage = p.vms.get(command.vmId);
      if (usage === undefined) return [];
      return [event('ProjectVmReleased', { project: command.project, vmId: command.vmId, usage })];
    }
    default:
      return unreachable(command);
  }
}

/** Bindings of one identity; `project` is the project's state (it must exist to be bound). */
export function decideIdentity(command: IdentityCommand, s: IdentityBindings, project: Project): IdentityEvent[] {
  checkIdentity(command.identity);
  checkProjectName(command.project);
  switch (command.type) {
    case 'BindIdentity':
      existingProject(project, command.project);
      if (s.projects.includes(command.project)) return [];
      return [event('IdentityBound', { identity: command.identity, project: command.project })];
    case 'UnbindIdentity':
      if (!s.projects.includes(command.project)) return [];
      return [event('IdentityUnbound', { identity: command.identity, project: command.project })];
    default:
      return unreachable(command);
  }
}

/** What a VM counts against its project's quota. */
export function usageOf(spec: {
  readonly vcpus: number;
  readonly memoryBytes: number;
  readonly devices: readonly { readonly type: string; readonly count: number }[];
}): ProjectUsage {
  const devices: Record<string, number> = {};
  for (const d of spec.devices) devices[d.type] = (devices[d.type] ?? 0) + d.count;
  return { vcpus: spec.vcpus, memoryBytes: spec.memoryBytes, devices };
}
