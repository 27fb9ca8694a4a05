import { inventoryEvents } from '@berth/contracts';
import { unreachable } from '../shared/event.ts';
import type { IdentityEvent, ProjectEvent } from './events.ts';

export type ProjectQuota = inventoryEvents.ProjectQuota;
export type ProjectUsage = inventoryEvents.ProjectUsage;

/** Totals of the VMs a project holds. */
export interface ProjectTotals {
  readonly vms: number;
  readonly vcpus: number;
  readonly memoryBytes: number;
  readonly devices: Readonly<Record<string, number>>;
}

export type Project =
  | { readonly status: 'absent'; readonly version: number; readonly vms: Readonly<Record<string, ProjectUsage>> }
  | {
      readonly status: 'active';
      readonly version: number;
      readonly project: string;
      readonly description: string;
      readonly quota: ProjectQuota;
      /** What each VM of the project counts (composed, not yet deleted). */
      readonly vms: Readonly<Record<string, ProjectUsage>>;
    };

export const UNLIMITED: ProjectQuota = { devices: {} };

export const initialProject = (): Project => ({ status: 'absent', version: 0, vms: {} });

/**
 * The project as commands see it: `default` exists without being created (VMs composed without a
 * project, and those recorded before projects existed, belong to it) and is unlimited until a quota is set.
 */
export function effectiveProject(p: Project, name: string): Extract<Project, { status: 'active' }> | undefined {
  if (p.status === 'active') return p;
  if (name !== inventoryEvents.DEFAULT_PROJECT) return undefined;
  return {
    status: 'active',
    version: p.version,
    project: name,
    description: 'VMs composed without a project',
    quota: UNLIMITED,
    vms: p.vms,
  };
}

export function evolveProject(p: Project, e: ProjectEvent): Project {
  const version = p.version + 1;
  switch (e.type) {
    case 'ProjectCreated':
      return { status: 'active', version, project: e.data.project, description: e.data.description, quota: UNLIMITED, vms: p.vms };
    case 'ProjectQuotaSet': {
      // `default` may get a quota without being created.
      const active = effectiveProject(p, e.data.project) ?? {
        ...p,
        status: 'active',
        project: e.data.project,
        description: '',
        quota: UNLIMITED,
      };
      return { ...active, version, quota: e.data.quota };
    }
    case 'ProjectVmAdmitted':
      return { ...p, version, vms: { ...p.vms, [e.data.vmId]: e.data.usage } };
    case 'ProjectVmReleased': {
      const { [e.data.vmId]: _released, ...vms } = p.vms;
      return { ...p, version, vms };
    }
    default:
      return unreachable(e);
  }
}

export function totalsOf(vms: Readonly<Record<string, ProjectUsage>>): ProjectTotals {
  let vcpus = 0;
  let memoryBytes = 0;
  const devices: Record<string, number> = {};
  const list = Object.values(vms);
  for (const u of list) {
    vcpus += u.vcpus;
    memoryBytes += u.memoryBytes;
    for (const [type, n] of Object.entries(u.devices)) devices[type] = (devices[type] ?? 0) + n;
  }
  return { vms: list.length, vcpus, memoryBytes, devices };
}

/** The projects an identity is bound to. */
export interface IdentityBindings {
  readonly version: number;
  readonly projects: readonly string[];
}

export const initialIdentity = (): IdentityBindings => ({ version: 0, projects: [] });

export function evolveIdentity(s: IdentityBindings, e: IdentityEvent): IdentityBindings {
  const version = s.version + 1;
  switch (e.type) {
    case 'IdentityBound':
      return { version, projects: s.projects.includes(e.data.project) ? s.projects : [...s.projects, e.data.project].sort() };
    case 'IdentityUnbound':
      return { version, projects: s.projects.filter((p) => p !== e.data.project) };
    default:
      return unreachable(e);
  }
}
