import { IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import type { Claim } from '@berth/fit';
import { specFor } from '../shared/given.ts';
import type { PlacementInput, VmCommand, VmSpecInput } from './commands.ts';
import { decideVm } from './decide.ts';
import type { VmEvent } from './events.ts';
import { evolveVm, foldVm, initialVm, type Vm } from './state.ts';

const GiB = 1024 ** 3;
const given = specFor<VmCommand, VmEvent, Vm>({ decide: decideVm, evolve: evolveVm, initialState: initialVm });

const input = (over: Partial<VmSpecInput> = {}): VmSpecInput => ({
  name: 'web-1',
  vcpus: 2,
  memoryBytes: 4 * GiB,
  disks: [{ sizeBytes: 10 * GiB }],
  devices: [],
  nics: [],
  numaNodes: [],
  passthroughCpu: false,
  highPerformance: false,
  priority: 0,
  tags: [],
  allowedHosts: [],
  affinity: [],
  ...over,
});

const compose = (over: Partial<VmSpecInput> = {}, pools = new Set(['fast'])): VmEvent[] =>
  decideVm({ type: 'ComposeVm', vmId: 'vm1', spec: input(over), knownPools: pools }, initialVm());

const claimOn = (hostId: string): Claim => ({
  vmId: 'vm1', hostId, vcpus: 2, memoryBytes: 4 * GiB, pinnedCpus: [], numaCells: [], hugepages: [], devices: [], vfs: [], volumes: [], affinityGroups: [],
});
const placement = (hostId: string): PlacementInput => ({ hostId, hypervisorUri: `sim://${hostId}`, claim: claimOn(hostId), generation: 2, explanation: { score: 1 }, alternates: [] });

function run(history: VmEvent[], ...commands: VmCommand[]): VmEvent[] {
  for (const c of commands) history = [...history, ...decideVm(c, foldVm(history))];
  return history;
}

describe('composing a VM', () => {
  it('records the request with defaults: shared CPUs, silver, migrates manually and automatically', () => {
    const [e] = compose();
    expect(e?.type).toBe('VmRequested');
    if (e?.type !== 'VmRequested') return;
    expect(e.data).toMatchObject({ vmId: 'vm1', attempt: 1, excludedHosts: [] });
    expect(e.data.spec).toMatchObject({ cpuPolicy: 'shared', slaTier: 'silver', migrationMode: 'manual-and-automatic' });
  });

  it.each([
    [{ cpuPolicy: 'dedicated' }],
    [{ passthroughCpu: true }],
    [{ highPerformance: true }],
    [{ numaNodes: [{ vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 0 }] }],
  ] as [Partial<VmSpecInput>][])('pinned and high-performance VMs default to manual migration (%j)', (over) => {
    const [e] = compose(over);
    expect(e?.type === 'VmRequested' && e.data.spec.migrationMode).toBe('manual');
  });

  it('keeps an explicit migration mode', () => {
    const [e] = compose({ highPerformance: true, migrationMode: 'none' });
    expect(e?.type === 'VmRequested' && e.data.spec.migrationMode).toBe('none');
  });

  it('names negative sizes, unknown pools and inconsistent NUMA nodes', () => {
    let err: unknown;
    try {
      compose({ memoryBytes: -1, disks: [{ sizeBytes: -10 }, { sizeBytes: GiB, pool: 'nope' }], numaNodes: [{ vcpus: 1, memoryBytes: GiB }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).violations.map((v) => v.field)).toEqual(
      expect.arrayContaining(['spec.memoryBytes', 'spec.disks[0].sizeBytes', 'spec.disks[1].pool', 'spec.numaNodes']),
    );
  });
});

describe('VM lifecycle', () => {
  it('goes requested -> placed -> provisioning -> running -> stopping -> stopped -> deleting -> deleted', () => {
    const statuses: string[] = [];
    let h = compose();
    const steps: VmCommand[] = [
      { type: 'PlaceVm', placement: placement('h1') },
      { type: 'RecordProvisioning', hostId: 'h1' },
      { type: 'RecordStarted', hostId: 'h1' },
      { type: 'StopVm', force: false },
      { type: 'RecordStopped', hostId: 'h1' },
      { type: 'DeleteVm' },
      { type: 'RecordDeleted', hostId: 'h1', reason: 'deleted' },
    ];
    statuses.push(foldVm(h).status);
    for (const s of steps) {
      h = run(h, s);
      statuses.push(foldVm(h).status);
    }
    expect(statuses).toEqual(['requested', 'placed', 'provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted']);
  });

  it('a failed provisioning asks for a new placement away from that host, a bounded number of times', () => {
    const fail = (host: string): VmCommand => ({ type: 'RecordProvisionFailed', hostId: host, reason: `${host} broke`, maxAttempts: 2 });
    const once = run(compose(), { type: 'PlaceVm', placement: placement('h1') });
    const retried = given(...once).when(fail('h1')).run();
    expect(retried.map((e) => e.type)).toEqual(['VmProvisionFailed', 'VmRequested']);
    expect(retried[1]?.type === 'VmRequested' && retried[1].data).toMatchObject({ attempt: 2, excludedHosts: ['h1'] });
    const twice = run([...once, ...retried], { type: 'PlaceVm', placement: placement('h2') }, fail('h2'));
    const vm = foldVm(twice);
    expect(vm.status).toBe('provision-failed');
    expect(vm.status === 'provision-failed' && vm.reason).toBe('h2 broke');
  });

  it('reports from a host the VM left change nothing; repeated reports change nothing', () => {
    const placed = run(compose(), { type: 'PlaceVm', placement: placement('h2') });
    given(...placed).when({ type: 'RecordStarted', hostId: 'h1' }).then([]);
    const running = run(placed, { type: 'RecordStarted', hostId: 'h2' });
    given(...running).when({ type: 'RecordStarted', hostId: 'h2' }).then([]);
  });

  it('placement fails with a reason; placing a VM twice is refused', () => {
    const failed = run(compose(), { type: 'FailPlacement', reason: 'no host has 2 vCPUs free', explanation: {} });
    const vm = foldVm(failed);
    expect(vm.status === 'placement-failed' && vm.reason).toBe('no host has 2 vCPUs free');
    const placed = run(compose(), { type: 'PlaceVm', placement: placement('h1') });
    expect(() => given(...placed).when({ type: 'PlaceVm', placement: placement('h2') }).run()).toThrow(IllegalStateError);
  });

  it('deleting a VM never placed is immediate; deleting twice changes nothing; unknown VMs are not found', () => {
    const deleted = given(...compose()).when({ type: 'DeleteVm' }).then([
      { type: 'VmDeleteRequested', data: { hostId: '', hypervisorUri: '' } },
      { type: 'VmDeleted', data: { reason: 'deleted before placement' } },
    ]);
    given(...compose(), ...deleted).when({ type: 'DeleteVm' }).then([]);
    expect(() => given().when({ type: 'DeleteVm' }).run()).toThrow(NotFoundError);
  });

  it('start, stop and reboot only from states where they mean something', () => {
    const running = run(compose(), { type: 'PlaceVm', placement: placement('h1') }, { type: 'RecordStarted', hostId: 'h1' });
    given(...running).when({ type: 'RebootVm' }).then([{ type: 'VmRebootRequested', data: { hostId: 'h1', hypervisorUri: 'sim://h1' } }]);
    given(...running).when({ type: 'StartVm' }).then([]);
    expect(() => given(...compose()).when({ type: 'StopVm', force: true }).run()).toThrow(IllegalStateError);
    const stopped = run(running, { type: 'StopVm', force: true }, { type: 'RecordStopped', hostId: 'h1' });
    given(...stopped).when({ type: 'StartVm' }).then([{ type: 'VmStartRequested', data: { hostId: 'h1', hypervisorUri: 'sim://h1' } }]);
  });

  it('a failed stop leaves the VM running, with the reason; a report from another host changes nothing', () => {
    const running = run(compose(), { type: 'PlaceVm', placement: placement('h1') }, { type: 'RecordStarted', hostId: 'h1' });
    const stopping = run(running, { type: 'StopVm', force: false });
    const failure = { type: 'RecordOperationFailed', hostId: 'h1', operation: 'stop', reason: 'domain busy' } as const;
    const failed = given(...stopping).when(failure).then([
      { type: 'VmOperationFailed', data: { hostId: 'h1', hypervisorUri: 'sim://h1', operation: 'stop', reason: 'domain busy' } },
    ]);
    const vm = foldVm([...stopping, ...failed]);
    expect(vm.status).toBe('running');
    expect('reason' in vm ? vm.reason : undefined).toBe('stop failed: domain busy');
    given(...stopping).when({ ...failure, hostId: 'h2' }).then([]);
  });
});
