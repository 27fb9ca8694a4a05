import { describe, expect, it } from 'vitest';
import { QuotaExceededError, ValidationError } from '@berth/errors';
import { event } from '../shared/event.ts';
import { specFor } from '../shared/given.ts';
import type { ProjectCommand } from './commands.ts';
import { decideIdentity, decideProject, usageOf } from './decide.ts';
import type { ProjectEvent } from './events.ts';
import { evolveProject, initialIdentity, initialProject, totalsOf, type Project, type ProjectUsage } from './state.ts';

const given = specFor<ProjectCommand, ProjectEvent, Project>({
  decide: decideProject,
  evolve: evolveProject,
  initialState: initialProject,
});
const GiB = 1024 ** 3;
const created = event('ProjectCreated', { project: 'acme', description: 'Acme' });
const usage = (vcpus: number, gpus = 0): ProjectUsage => ({ vcpus, memoryBytes: GiB, devices: gpus > 0 ? { gpu: gpus } : {} });
const admitted = (vmId: string, vcpus: number, gpus = 0) =>
  event('ProjectVmAdmitted', { project: 'acme', vmId, usage: usage(vcpus, gpus) });
const admit = (vmId: string, vcpus: number, gpus = 0): ProjectCommand => ({
  type: 'AdmitVm',
  project: 'acme',
  vmId,
  usage: usage(vcpus, gpus),
});

describe('project decider', () => {
  it('admits a VM while every limit holds, and refuses naming each limit passed with its figures', () => {
    const quota = event('ProjectQuotaSet', { project: 'acme', quota: { vcpus: 4, devices: { gpu: 1 } } });
    given(created, quota, admitted('vm1', 3))
      .when(admit('vm2', 1))
      .then([admitted('vm2', 1)]);
    const refused = (): unknown =>
      given(created, quota, admitted('vm1', 3, 1))
        .when(admit('vm2', 2, 1))
        .run();
    expect(refused).toThrow(QuotaExceededError);
    try {
      refused();
    } catch (e) {
      expect((e as QuotaExceededError).violations).toEqual([
        { subject: 'project:acme', quota: 'vcpus', limit: 4, used: 3, requested: 2 },
        { subject: 'project:acme', quota: 'devices.gpu', limit: 1, used: 1, requested: 1 },
      ]);
    }
  });

  it('counts a deleted VM no more, and admits the same VM once', () => {
    const quota = event('ProjectQuotaSet', { project: 'acme', quota: { vms: 1, devices: {} } });
    const released = event('ProjectVmReleased', { project: 'acme', vmId: 'vm1', usage: usage(2) });
    given(created, quota, admitted('vm1', 2), released)
      .when(admit('vm2', 2))
      .then([admitted('vm2', 2)]);
    given(created, quota, admitted('vm1', 2)).when(admit('vm1', 2)).then([]);
    given(created, admitted('vm1', 2)).when({ type: 'ReleaseVm', project: 'acme', vmId: 'vm1' }).then([released]);
    given(created).when({ type: 'ReleaseVm', project: 'acme', vmId: 'vm1' }).then([]);
  });

  it('has default without creating it, unlimited until a quota is set; refuses unknown projects and bad quotas as bad input', () => {
    given()
      .when({ type: 'AdmitVm', project: 'default', vmId: 'v', usage: usage(64) })
      .then([event('ProjectVmAdmitted', { project: 'default', vmId: 'v', usage: usage(64) })]);
    expect(() => given().when(admit('vm1', 1)).run()).toThrow(ValidationError);
    expect(() =>
      given(created)
        .when({ type: 'SetProjectQuota', project: 'acme', quota: { vcpus: -1, devices: {} } })
        .run(),
    ).toThrow('quota.vcpus: must be a non-negative integer');
    expect(() => given(created).when({ type: 'CreateProject', project: 'acme', description: 'other' }).run()).toThrow('already exists');
    given(created).when({ type: 'CreateProject', project: 'acme', description: 'Acme' }).then([]);
  });

  it('binds identities to existing projects only; totals add devices by type', () => {
    const acme = [created].reduce(evolveProject, initialProject());
    expect(
      decideIdentity({ type: 'BindIdentity', identity: 'spiffe://berth/client/x', project: 'acme' }, initialIdentity(), acme),
    ).toHaveLength(1);
    expect(() =>
      decideIdentity({ type: 'BindIdentity', identity: 'spiffe://berth/client/x', project: 'nope' }, initialIdentity(), initialProject()),
    ).toThrow("project: unknown project 'nope'");
    expect(
      totalsOf({
        a: usageOf({
          vcpus: 2,
          memoryBytes: 1,
          devices: [
            { type: 'gpu', count: 1 },
            { type: 'gpu', count: 2 },
          ],
        }),
        b: usage(1, 1),
      }),
    ).toEqual({
      vms: 2,
      vcpus: 3,
      memoryBytes: 1 + GiB,
      devices: { gpu: 4 },
    });
  });
});
