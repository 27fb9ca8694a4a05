import { inventoryEvents } from '@berth/contracts';
import { unreachable } from '../shared/event.ts';
import { PersistentMap } from '../shared/persistent-map.ts';
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

export const NO_VMS: ProjectTotals = { vms: 0, vcpus: 0, memoryBytes: 0, devices: {} };

/**
 * A project's VMs (composed, not yet deleted) and what each counts, with their totals kept as events
 * arrive: admitting a VM and checking a quota cost the same for the `default` project's thousands of
 * VMs as for a project of three (the map is persistent: a fold never copies it whole).
 */
export interface ProjectVms {
  readonly vms: PersistentMap<ProjectUsage>;
  readonly totals: ProjectTotals;
}

export type Project =
  | ({ readonly status: 'absent'; readonly version: number } & ProjectVms)
  | ({
      readonly status: 'active';
      readonly version: number;
      readonly project: string;
      readonly description: string;
      readonly quota: ProjectQuota;
    } & ProjectVms);

export const UNLIMITED: ProjectQuota = { devices: {} };

export const initialProject = (): Project => ({ status: 'absent', version: 0, vms: PersistentMap.empty(), totals: NO_VMS });

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
    totals: p.totals,
  };
}

export function evolveProject(p: Project, e: ProjectEvent): Project {
  const version = p.version + 1;
  switch (e.type) {
    case 'ProjectCreated':
      return {
        status: 'active',
        version,
        project: e.data.project,
        description: e.data.description,
        quota: UNLIMITED,
        vms: p.vms,
        totals: p.totals,
      };
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
    case 'ProjectVmAdmitted': {
      // Admitted again with another usage (not decided today, but a fold takes what the log holds): the new one counts.
      const before = p.vms.get(e.data.vmId);
      const totals = withUsage(before === undefined ? p.totals : withUsage(p.totals, before, -1), e.data.usage, 1);
      return { ...p, version, vms: p.vms.set(e.data.vmId, e.data.usage), totals };
    }
    case 'ProjectVmReleased': {
      // What the VM was admitted with is released (the event repeats it).
      const before = p.vms.get(e.data.vmId);
      if (before === undefined) return { ...p, version };
      return { ...p, version, vms: p.vms.delete(e.data.vmId), totals: withUsage(p.totals, before, -1) };
    }
    default:
      return unreachable(e);
  }
}

/** `t` with one VM of usage `u` added (`sign` 1) or taken away (-1); a device type at 0 is left out. */
export function withUsage(t: ProjectTotals, u: ProjectUsage, sign: 1 | -1): ProjectTotals {
  const devices: Record<string, number> = { ...t.devices };
  for (const [type, n] of Object.entries(u.devices)) {
    const left = (devices[type] ?? 0) + sign * n;
    if (left === 0) delete devices[type];
    else devices[type] = left;
  }
  return { vms: t.vms + sign, vcpus: t.vcpus + sign * u.vcpus, memoryBytes: t.memoryBytes + sign * u.memoryBytes, devices };
}

/** The totals of the given VMs, summed afresh (what the running totals must always equal). */
export function totalsOf(vms: Readonly<Record<string, ProjectUsage>> | PersistentMap<ProjectUsage>): ProjectTotals {
  const list = vms instanceof PersistentMap ? vms.values() : Object.values(vms);
  let t = NO_VMS;
  for (const u of list) t = withUsage(t, u, 1);
  return t;
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
