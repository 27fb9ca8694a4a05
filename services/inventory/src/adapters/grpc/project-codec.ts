import { inventoryV1 as pb } from '@berth/contracts';
import type { ProjectView } from '../../application/projects.ts';
import type { ProjectRow } from '../postgres/read-model.ts';
import type { ProjectQuota, ProjectTotals } from '../../domain/project/state.ts';

export function decodeQuota(q: pb.ProjectQuota | undefined): ProjectQuota {
  return {
    ...(q?.vms === undefined ? {} : { vms: q.vms }),
    ...(q?.vcpus === undefined ? {} : { vcpus: q.vcpus }),
    ...(q?.memoryBytes === undefined ? {} : { memoryBytes: q.memoryBytes }),
    devices: { ...(q?.devices ?? {}) },
  };
}

const encodeQuota = (q: ProjectQuota): pb.ProjectQuota => ({
  ...(q.vms === undefined ? {} : { vms: q.vms }),
  ...(q.vcpus === undefined ? {} : { vcpus: q.vcpus }),
  ...(q.memoryBytes === undefined ? {} : { memoryBytes: q.memoryBytes }),
  devices: { ...q.devices },
});

const encodeUsage = (u: ProjectTotals): pb.ProjectUsage => ({
  vms: u.vms,
  vcpus: u.vcpus,
  memoryBytes: u.memoryBytes,
  devices: { ...u.devices },
});

export const encodeProject = (p: ProjectView | ProjectRow, identities: readonly string[]): pb.Project => ({
  name: p.project,
  description: p.description,
  quota: encodeQuota(p.quota),
  usage: encodeUsage(p.usage),
  identities: [...identities],
});
