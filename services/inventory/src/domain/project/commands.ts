import type { ProjectQuota, ProjectUsage } from './state.ts';

/** Operators' commands on a project, and the compose/delete steps of its VMs. */
export type ProjectCommand =
  | { readonly type: 'CreateProject'; readonly project: string; readonly description: string }
  | { readonly type: 'SetProjectQuota'; readonly project: string; readonly quota: ProjectQuota }
  /** Counts a new VM against the quota; refused with QuotaExceededError when it would pass a limit. */
  | { readonly type: 'AdmitVm'; readonly project: string; readonly vmId: string; readonly usage: ProjectUsage }
  | { readonly type: 'ReleaseVm'; readonly project: string; readonly vmId: string };

export type IdentityCommand =
  | { readonly type: 'BindIdentity'; readonly identity: string; readonly project: string }
  | { readonly type: 'UnbindIdentity'; readonly identity: string; readonly project: string };
