import { describe, expect, it } from 'vitest';
import type { VmCommand } from './commands.ts';
import { decide } from './decide.ts';
import type { Location, ProvisionRequest, VmEvent } from './events.ts';
import { evolve, initialState, type VmState } from './state.ts';

const loc = (attempt = 1, hostId = 'h1'): Location => ({ vmId: 'vm1', hostId, hypervisorUri: `sim://${hostId}`, attempt });
const request: ProvisionRequest = {
  name: 'web',
  passthroughCpu: false,
  networks: [],
  claim: {
    vmId: 'vm1',
    hostId: 'h1',
    vcpus: 1,
    memoryBytes: 1024,
    pinnedCpus: [],
    numaCells: [],
    hugepages: [],
    devices: [],
    vfs: [],
    volumes: [],
    affinityGroups: [],
  },
};
const provision = (attempt = 1, hostId = 'h1'): VmCommand => ({
  type: 'Provision',
  location: loc(attempt, hostId),
  request,
  domainName: 'berth-vm1',
  domainUuid: 'u',
  registrationDeadline: '2030-01-01T00:00:00Z',
});
const DEFINED: VmCommand = { type: 'Advance', to: 'domain-defined', volumes: [] };
const RUNNING: VmCommand = { type: 'Advance', to: 'running', volumes: [] };
const op = (operation: 'start' | 'stop' | 'reboot' | 'delete', requestId: string, force = false): VmCommand => ({
  type: 'RequestOperation',
  location: loc(),
  operation,
  force,
  requestId,
});

// given(commands).when(command).then(events)
const given = (...commands: VmCommand[]): VmState => commands.reduce((s, c) => decide(c, s).reduce(evolve, s), initialState());
const types = (events: VmEvent[]): string[] => events.map((e) => e.type);

describe('VM provisioning decider', () => {
  it('walks requested -> volumes -> defined -> started -> running, one step or several per append', () => {
    const vols = [{ pool: 'p', name: 'berth-vm1-disk0', sizeBytes: 1 }];
    const s = given(
      provision(),
      { type: 'Advance', to: 'volumes-created', volumes: vols },
      { type: 'Advance', to: 'domain-started', volumes: vols },
    );
    expect(s).toMatchObject({ status: 'provisioning', step: 'domain-started' });
    expect(types(decide(RUNNING, s))).toEqual(['VmStarted']);
    expect(types(decide({ type: 'Advance', to: 'domain-started', volumes: vols }, given(provision())))).toEqual([
      'VolumesCreated',
      'DomainDefined',
      'DomainStarted',
    ]);
    // Reaching running in one append: VmStarted says the domain is defined and started.
    expect(types(decide({ type: 'Advance', to: 'running', volumes: vols }, given(provision())))).toEqual(['VolumesCreated', 'VmStarted']);
    expect(types(decide(RUNNING, given(provision())))).toEqual(['VmStarted']);
    expect(given(provision(), RUNNING)).toMatchObject({ status: 'running' });
  });

  it('ignores a redelivered placement and steps already recorded', () => {
    const s = given(provision(), DEFINED);
    expect(decide(provision(), s)).toEqual([]);
    expect(decide({ type: 'Advance', to: 'volumes-created', volumes: [] }, s)).toEqual([]);
    expect(decide(RUNNING, given(provision(), RUNNING))).toEqual([]);
  });

  it('starts over on the next attempt after a failure, on the new host', () => {
    const failed = given(provision(), { type: 'FailProvisioning', reason: 'boom', permanent: true });
    expect(failed).toMatchObject({ status: 'failed', permanent: true });
    expect(decide(provision(1), failed)).toEqual([]);
    const [e] = decide(provision(2, 'h2'), failed);
    expect(e).toMatchObject({ type: 'DomainProvisioningStarted', data: { hostId: 'h2', attempt: 2 } });
  });

  it('keeps a delete that arrives during provisioning until it is carried out', () => {
    const s = given(provision(), op('delete', 'r1', true), op('start', 'r2'), RUNNING);
    expect(s).toMatchObject({ status: 'running', pending: { operation: 'delete' } });
    expect(given(provision(), RUNNING, op('delete', 'r1', true), { type: 'MarkDeleted', reason: 'requested' })).toMatchObject({
      status: 'deleted',
    });
  });

  it('stops once per request, and answers operations on a VM never provisioned here at once', () => {
    const stopping = given(provision(), RUNNING, op('stop', 'r1'));
    expect(decide(op('stop', 'r1'), stopping)).toEqual([]);
    expect(types(decide({ type: 'MarkStopped', how: 'graceful' }, stopping))).toEqual(['DomainStopped']);
    const stopped = decide({ type: 'MarkStopped', how: 'graceful' }, stopping).reduce(evolve, stopping);
    expect(stopped).toMatchObject({ status: 'stopped', pending: null });
    expect(decide({ type: 'MarkStopped', how: 'graceful' }, stopped)).toEqual([]);
    expect(
      types(
        decide(
          { type: 'MarkStarted', cause: 'start-requested' },
          given(provision(), RUNNING, op('stop', 'r1'), { type: 'MarkStopped', how: 'forced' }, op('start', 'r2')),
        ),
      ),
    ).toEqual(['VmStarted']);
    expect(types(decide(op('delete', 'x', true), initialState()))).toEqual(['DomainDeleted']);
    expect(types(decide(op('stop', 'x', true), initialState()))).toEqual(['DomainOperationFailed']);
  });

  it('does not fail a VM that is no longer provisioning, nor advance it', () => {
    const running = given(provision(), RUNNING);
    expect(decide({ type: 'FailProvisioning', reason: 'timeout', permanent: false }, running)).toEqual([]);
    expect(decide(RUNNING, running)).toEqual([]);
  });
});
