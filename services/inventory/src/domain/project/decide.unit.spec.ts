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

describe('project totals, kept as events arrive', () => {
  const quota = (q: { vms?: number; vcpus?: number; gpu?: number }) =>
    event('ProjectQuotaSet', {
      project: 'acme',
      quota: {
        ...(q.vms === undefined ? {} : { vms: q.vms }),
        ...(q.vcpus === undefined ? {} : { vcpus: q.vcpus }),
        devices: q.gpu === undefined ? {} : { gpu: q.gpu },
      },
    });
  const released = (vmId: string, vcpus: number, gpus = 0) =>
    event('ProjectVmReleased', { project: 'acme', vmId, usage: usage(vcpus, gpus) });
  const refusal = (run: () => unknown): unknown => {
    try {
      run();
    } catch (e) {
      return e instanceof QuotaExceededError ? e.violations : e;
    }
    return 'admitted';
  };

  it('admit: each admitted VM adds to the totals the quota is checked against', () => {
    const s = given(created, admitted('vm1', 2, 1), admitted('vm2', 1)).state();
    expect(s.totals).toEqual({ vms: 2, vcpus: 3, memoryBytes: 2 * GiB, devices: { gpu: 1 } });
    expect(
      refusal(() =>
        given(created, quota({ vcpus: 4 }), admitted('vm1', 2, 1), admitted('vm2', 1))
          .when(admit('vm3', 2))
          .run(),
      ),
    ).toEqual([{ subject: 'project:acme', quota: 'vcpus', limit: 4, used: 3, requested: 2 }]);
    given(created, quota({ vcpus: 4 }), admitted('vm1', 2, 1), admitted('vm2', 1))
      .when(admit('vm3', 1))
      .then([admitted('vm3', 1)]);
  });

  it('release: a released VM is taken off the totals with what it was admitted with; a device type at zero is gone', () => {
    const s = given(created, admitted('vm1', 2, 1), admitted('vm2', 1), released('vm1', 2, 1)).state();
    expect(s.totals).toEqual({ vms: 1, vcpus: 1, memoryBytes: GiB, devices: {} });
    given(created, quota({ vms: 2, gpu: 1 }), admitted('vm1', 2, 1), admitted('vm2', 1), released('vm1', 2, 1))
      .when(admit('vm3', 4, 1))
      .then([admitted('vm3', 4, 1)]);
    // A release of a VM the project does not hold changes no total.
    expect(given(created, admitted('vm2', 1), released('vm9', 8, 2)).state().totals).toEqual({
      vms: 1,
      vcpus: 1,
      memoryBytes: GiB,
      devices: {},
    });
  });

  it('resize: a VM admitted again counts with its new usage only', () => {
    const s = given(created, admitted('vm1', 2, 1), admitted('vm2', 1), admitted('vm1', 6)).state();
    expect(s.totals).toEqual({ vms: 2, vcpus: 7, memoryBytes: 2 * GiB, devices: {} });
    expect(s.vms.get('vm1')).toEqual(usage(6));
    // Deleting it releases the usage it holds now.
    given(created, admitted('vm1', 2, 1), admitted('vm1', 6))
      .when({ type: 'ReleaseVm', project: 'acme', vmId: 'vm1' })
      .then([released('vm1', 6)]);
  });

  it('delete: the totals after deleting every VM are those of an empty project, and a deleted VM can be admitted anew', () => {
    const s = given(created, admitted('vm1', 2, 1), admitted('vm2', 1), released('vm2', 1), released('vm1', 2, 1)).state();
    expect([s.totals, s.vms.size]).toEqual([{ vms: 0, vcpus: 0, memoryBytes: 0, devices: {} }, 0]);
    given(created, quota({ vms: 1 }), admitted('vm1', 2), released('vm1', 2))
      .when(admit('vm1', 3))
      .then([admitted('vm1', 3)]);
  });

  it('replay of many VMs: the running totals equal the VMs summed afresh, every earlier state keeps its own, and the quota sees them', () => {
    const history: ProjectEvent[] = [created];
    for (let i = 0; i < 10_000; i++) history.push(admitted(`vm-${i}`, 1 + (i % 4), i % 10 === 0 ? 1 : 0));
    for (let i = 0; i < 10_000; i += 2) history.push(released(`vm-${i}`, 1 + (i % 4), i % 10 === 0 ? 1 : 0));
    const states: Project[] = [];
    history.reduce((s, e) => {
      const next = evolveProject(s, e);
      states.push(next);
      return next;
    }, initialProject());
    const last = states.at(-1)!;
    expect(last.totals).toEqual(totalsOf(last.vms));
    // VMs 1, 3, 5, ...: vcpus 2 and 4 in turn; no GPU among the odd ones.
    expect(last.totals).toEqual({ vms: 5_000, vcpus: 15_000, memoryBytes: 5_000 * GiB, devices: {} });
    const allAdmitted = states[10_000]!;
    expect(allAdmitted.totals).toEqual({ vms: 10_000, vcpus: 25_000, memoryBytes: 10_000 * GiB, devices: { gpu: 1_000 } });
    expect(allAdmitted.totals).toEqual(totalsOf(allAdmitted.vms));
    expect(states[999]!.totals).toEqual(totalsOf(states[999]!.vms));
    expect(allAdmitted.vms.size).toBe(10_000);
    expect(
      refusal(() =>
        given(...history, quota({ vcpus: 15_000 }))
          .when(admit('one-more', 1))
          .run(),
      ),
    ).toEqual([{ subject: 'project:acme', quota: 'vcpus', limit: 15_000, used: 15_000, requested: 1 }]);
  });
});
