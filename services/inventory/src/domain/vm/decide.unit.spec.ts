import { IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import { specFor } from '../shared/given.ts';
import type { VmCommand, VmSpecInput } from './commands.ts';
import { decideVm } from './decide.ts';
import type { VmEvent } from './events.ts';
import { evolveVm, foldVm, initialVm, type Vm } from './state.ts';
import { GiB, placementOn, vmSpecInput } from '../../testing/host-specs.ts';

const given = specFor<VmCommand, VmEvent, Vm>({ decide: decideVm, evolve: evolveVm, initialState: initialVm });

const input = (over: Partial<VmSpecInput> = {}): VmSpecInput => vmSpecInput({ disks: [{ sizeBytes: 10 * GiB }], ...over });

const NOW = '2026-12-05T10:00:00.000Z';
const compose = (over: Partial<VmSpecInput> = {}, pools = new Set(['fast']), waitForCapacityMillis = 0): VmEvent[] =>
  decideVm(
    { type: 'ComposeVm', vmId: 'vm1', project: 'default', spec: input(over), knownPools: pools, waitForCapacityMillis, now: NOW },
    initialVm(),
  );

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
      compose({
        memoryBytes: -1,
        disks: [{ sizeBytes: -10 }, { sizeBytes: GiB, pool: 'nope' }],
        numaNodes: [{ vcpus: 1, memoryBytes: GiB }],
      });
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
      { type: 'PlaceVm', placement: placementOn('h1') },
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
    const once = run(compose(), { type: 'PlaceVm', placement: placementOn('h1') });
    const retried = given(...once)
      .when(fail('h1'))
      .run();
    expect(retried.map((e) => e.type)).toEqual(['VmProvisionFailed', 'VmRequested']);
    expect(retried[1]?.type === 'VmRequested' && retried[1].data).toMatchObject({ attempt: 2, excludedHosts: ['h1'] });
    const twice = run([...once, ...retried], { type: 'PlaceVm', placement: placementOn('h2') }, fail('h2'));
    const vm = foldVm(twice);
    expect(vm.status).toBe('provision-failed');
    expect(vm.status === 'provision-failed' && vm.reason).toBe('h2 broke');
  });

  it('reports from a host the VM left change nothing; repeated reports change nothing', () => {
    const placed = run(compose(), { type: 'PlaceVm', placement: placementOn('h2') });
    given(...placed)
      .when({ type: 'RecordStarted', hostId: 'h1' })
      .then([]);
    const running = run(placed, { type: 'RecordStarted', hostId: 'h2' });
    given(...running)
      .when({ type: 'RecordStarted', hostId: 'h2' })
      .then([]);
  });

  it('placement fails with a reason; placing a VM twice is refused', () => {
    const failed = run(compose(), { type: 'FailPlacement', reason: 'no host has 2 vCPUs free', explanation: {}, now: NOW });
    const vm = foldVm(failed);
    expect(vm.status === 'placement-failed' && vm.reason).toBe('no host has 2 vCPUs free');
    const placed = run(compose(), { type: 'PlaceVm', placement: placementOn('h1') });
    expect(() =>
      given(...placed)
        .when({ type: 'PlaceVm', placement: placementOn('h2') })
        .run(),
    ).toThrow(IllegalStateError);
  });

  it('a dead-lettered request fails the VM only while that request is the last thing that happened to it', () => {
    const dead = (requestPosition: number): VmCommand => ({
      type: 'FailDeadLetteredRequest',
      requestPosition,
      reason: 'dead-lettered',
      explanation: { summary: 'dead-lettered' },
    });
    const failed = run(compose(), dead(1));
    expect(failed.at(-1)).toEqual({
      type: 'VmPlacementFailed',
      data: { reason: 'dead-lettered', explanation: { summary: 'dead-lettered' } },
    });
    expect(foldVm(failed).status).toBe('placement-failed');
    // Again (a redelivered dead letter), or after the VM was placed or deleted: nothing.
    given(...failed)
      .when(dead(1))
      .then([]);
    given(...run(compose(), { type: 'PlaceVm', placement: placementOn('h1') }))
      .when(dead(1))
      .then([]);
    given(...run(compose(), { type: 'DeleteVm' }))
      .when(dead(1))
      .then([]);
    // The dead letter of an earlier request of a VM requested again (a provisioning retry) changes nothing either.
    const retried = run(
      compose(),
      { type: 'PlaceVm', placement: placementOn('h1') },
      { type: 'RecordProvisionFailed', hostId: 'h1', reason: 'x', maxAttempts: 3 },
    );
    expect(foldVm(retried).status).toBe('requested');
    given(...retried)
      .when(dead(1))
      .then([]);
    expect(run(retried, dead(retried.length)).at(-1)?.type).toBe('VmPlacementFailed');
  });

  it('deleting a VM never placed is immediate; deleting twice changes nothing; unknown VMs are not found', () => {
    const deleted = given(...compose())
      .when({ type: 'DeleteVm' })
      .then([
        { type: 'VmDeleteRequested', data: {} },
        { type: 'VmDeleted', data: { reason: 'deleted before placement' } },
      ]);
    given(...compose(), ...deleted)
      .when({ type: 'DeleteVm' })
      .then([]);
    expect(() => given().when({ type: 'DeleteVm' }).run()).toThrow(NotFoundError);
  });

  it('start, stop and reboot only from states where they mean something', () => {
    const running = run(compose(), { type: 'PlaceVm', placement: placementOn('h1') }, { type: 'RecordStarted', hostId: 'h1' });
    given(...running)
      .when({ type: 'RebootVm' })
      .then([{ type: 'VmRebootRequested', data: { hostId: 'h1', hypervisorUri: 'sim://h1' } }]);
    given(...running)
      .when({ type: 'StartVm' })
      .then([]);
    expect(() =>
      given(...compose())
        .when({ type: 'StopVm', force: true })
        .run(),
    ).toThrow(IllegalStateError);
    const stopped = run(running, { type: 'StopVm', force: true }, { type: 'RecordStopped', hostId: 'h1' });
    given(...stopped)
      .when({ type: 'StartVm' })
      .then([{ type: 'VmStartRequested', data: { hostId: 'h1', hypervisorUri: 'sim://h1' } }]);
  });

  it('a failed stop leaves the VM running, with the reason; a report from another host changes nothing', () => {
    const running = run(compose(), { type: 'PlaceVm', placement: placementOn('h1') }, { type: 'RecordStarted', hostId: 'h1' });
    const stopping = run(running, { type: 'StopVm', force: false });
    const failure = { type: 'RecordOperationFailed', hostId: 'h1', operation: 'stop', reason: 'domain busy' } as const;
    const failed = given(...stopping)
      .when(failure)
      .then([{ type: 'VmOperationFailed', data: { hostId: 'h1', hypervisorUri: 'sim://h1', operation: 'stop', reason: 'domain busy' } }]);
    const vm = foldVm([...stopping, ...failed]);
    expect(vm.status).toBe('running');
    expect('reason' in vm ? vm.reason : undefined).toBe('stop failed: domain busy');
    given(...stopping)
      .when({ ...failure, hostId: 'h2' })
      .then([]);
  });
});

describe('waiting for capacity', () => {
  const at = (seconds: number): string => new Date(Date.parse(NOW) + seconds * 1000).toISOString();
  const fail = (now: string): VmCommand => ({
    type: 'FailPlacement',
    reason: '0/3 hosts can take vm1',
    explanation: { summary: 's' },
    now,
    viewPosition: { transactionId: '9', position: '40' },
  });
  it('a request that may wait carries its deadline; one that may not has none; a wait out of range is refused', () => {
    const [e] = compose({}, undefined, 600_000);
    expect(e?.type === 'VmRequested' && e.data.capacityDeadline).toBe(at(600));
    const [plain] = compose();
    expect(plain?.type === 'VmRequested' && 'capacityDeadline' in plain.data).toBe(false);
    expect(() => compose({}, undefined, -1)).toThrow(ValidationError);
    expect(() => compose({}, undefined, 8 * 24 * 3600 * 1000)).toThrow(ValidationError);
  });
  it('before the deadline no host means waiting, not failed; capacity requests it again with the same deadline', () => {
    const waiting = run(compose({}, undefined, 600_000), fail(at(1)));
    expect(waiting.at(-1)).toEqual({
      type: 'VmPlacementDeferred',
      data: {
        reason: '0/3 hosts can take vm1',
        explanation: { summary: 's' },
        until: at(600),
        viewPosition: { transactionId: '9', position: '40' },
      },
    });
    expect(foldVm(waiting).status).toBe('waiting-for-capacity');
    given(...waiting)
      .when(fail(at(2)))
      .then([]);
    const again = given(...waiting)
      .when({ type: 'RequeueForCapacity' })
      .run();
    expect(again).toMatchObject([{ type: 'VmRequested', data: { vmId: 'vm1', attempt: 1, capacityDeadline: at(600) } }]);
    given(...waiting, ...again)
      .when({ type: 'RequeueForCapacity' })
      .then([]);
    expect(
      foldVm([...waiting, ...again, ...decideVm({ type: 'PlaceVm', placement: placementOn('h1') }, foldVm([...waiting, ...again]))]).status,
    ).toBe('placed');
  });
  it('fails with the explanation once the deadline passed, and not before; without a deadline a failure is at once', () => {
    const waiting = run(compose({}, undefined, 600_000), fail(at(1)));
    given(...waiting)
      .when({ type: 'ExpireCapacityWait', now: at(599) })
      .then([]);
    const expired = given(...waiting)
      .when({ type: 'ExpireCapacityWait', now: at(600) })
      .run();
    expect(expired).toEqual([
      {
        type: 'VmPlacementFailed',
        data: {
          reason: `no host could take it before its capacity deadline ${at(600)}: 0/3 hosts can take vm1`,
          explanation: { summary: 's' },
        },
      },
    ]);
    expect(run(compose({}, undefined, 600_000), fail(at(600))).at(-1)?.type).toBe('VmPlacementFailed');
    expect(run(compose(), fail(at(1))).at(-1)?.type).toBe('VmPlacementFailed');
  });
  it('a waiting VM is deleted at once (it holds nothing)', () => {
    const waiting = run(compose({}, undefined, 600_000), fail(at(1)));
    expect(
      given(...waiting)
        .when({ type: 'DeleteVm' })
        .run()
        .map((e) => e.type),
    ).toEqual(['VmDeleteRequested', 'VmDeleted']);
  });
});
