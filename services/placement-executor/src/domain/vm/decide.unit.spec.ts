import { describe, expect, it } from 'vitest';
import type { VmCommand } from './commands.ts';
import { decide } from './decide.ts';
import type { Location, ProvisionRequest, VmEvent } from './events.ts';
import { evolve, initialState, type VmState } from './state.ts';

const loc = (attempt = 1, hostId = 'h1'): Location => ({ vmId: 'vm1', hostId, hypervisorUri: `sim://${hostId}`, attempt });
const request: ProvisionRequest = {
  name: 'web', passthroughCpu: false, networks: [],
  claim: { vmId: 'vm1', hostId: 'h1', vcpus: 1, memoryBytes: 1024, pinnedCpus: [], numaCells: [], hugepages: [], devices: [], vfs: [], volumes: [], affinityGroups: [] },
};
const provision = (attempt = 1, hostId = 'h1'): VmCommand => ({
  type: 'Provision', location: loc(attempt, hostId), request, domainName: 'berth-vm1', domainUuid: 'u', registrationDeadline: '2030-01-01T00:00:00Z',
});

const DEFINED: VmCommand = { type: 'RecordProgress', step: 'domain-defined', volumes: [] };

// given(events).when(command).then(events)
const given = (...commands: VmCommand[]): VmState =>
  commands.reduce((s, c) => decide(c, s).reduce(evolve, s), initialState());
const types = (events: VmEvent[]): string[] => events.map((e) => e.type);

describe('VM provisioning decider', () => {
  it('walks the state machine: requested -> volumes -> defined -> started -> running', () => {
    const s = given(provision(), { type: 'RecordProgress', step: 'volumes-created', volumes: [] },
      { type: 'RecordProgress', step: 'domain-defined', volumes: [] }, { type: 'RecordProgress', step: 'domain-started', volumes: [] });
    expect(s).toMatchObject({ status: 'provisioning', step: 'domain-started' });
    expect(types(decide({ type: 'MarkStarted', cause: 'provisioned' }, s))).toEqual(['VmStarted']);
  });

  it('records the start and its success together when the domain runs at once; never before it is defined', () => {
    const defined = given(provision(), { type: 'RecordProgress', step: 'domain-defined', volumes: [] });
    expect(types(decide({ type: 'MarkStarted', cause: 'provisioned' }, defined))).toEqual(['DomainStarted', 'VmStarted']);
    expect(decide({ type: 'MarkStarted', cause: 'provisioned' }, given(provision()))).toEqual([]);
  });

  it('ignores a redelivered placement and a step already recorded', () => {
    const s = given(provision(), { type: 'RecordProgress', step: 'domain-defined', volumes: [] });
    expect(decide(provision(), s)).toEqual([]);
    expect(decide({ type: 'RecordProgress', step: 'volumes-created', volumes: [] }, s)).toEqual([]);
    expect(decide({ type: 'MarkStarted', cause: 'provisioned' }, given(provision(), DEFINED, { type: 'MarkStarted', cause: 'provisioned' }))).toEqual([]);
  });

  it('starts over on the next attempt after a failure, on the new host', () => {
    const failed = given(provision(), { type: 'FailProvisioning', reason: 'boom', permanent: true });
    expect(failed).toMatchObject({ status: 'failed', permanent: true });
    expect(decide(provision(1), failed)).toEqual([]);
    const [e] = decide(provision(2, 'h2'), failed);
    expect(e).toMatchObject({ type: 'VmProvisioning', data: { hostId: 'h2', attempt: 2 } });
  });

  it('keeps a delete that arrives during provisioning until it is carried out', () => {
    const s = given(provision(),
      { type: 'RequestOperation', location: loc(), operation: 'delete', force: true, requestId: 'r1' },
      { type: 'RequestOperation', location: loc(), operation: 'start', force: false, requestId: 'r2' },
      DEFINED, { type: 'MarkStarted', cause: 'provisioned' });
    expect(s).toMatchObject({ status: 'running', pending: { operation: 'delete' } });
    expect(given(provision(), DEFINED, { type: 'MarkStarted', cause: 'provisioned' },
      { type: 'RequestOperation', location: loc(), operation: 'delete', force: true, requestId: 'r1' },
      { type: 'MarkDeleted', reason: 'requested' })).toMatchObject({ status: 'deleted' });
  });

  it('stops, records the stop once, and deletes a never-provisioned VM at once', () => {
    const running = given(provision(), DEFINED, { type: 'MarkStarted', cause: 'provisioned' });
    const stopping = given(provision(), DEFINED, { type: 'MarkStarted', cause: 'provisioned' },
      { type: 'RequestOperation', location: loc(), operation: 'stop', force: false, requestId: 'r1' });
    expect(decide({ type: 'RequestOperation', location: loc(), operation: 'stop', force: false, requestId: 'r1' }, stopping)).toEqual([]);
    expect(types(decide({ type: 'MarkStopped', how: 'graceful' }, stopping))).toEqual(['VmStopped']);
    const stopped = [...decide({ type: 'MarkStopped', how: 'graceful' }, stopping)].reduce(evolve, stopping);
    expect(stopped).toMatchObject({ status: 'stopped', pending: null });
    expect(decide({ type: 'MarkStopped', how: 'graceful' }, stopped)).toEqual([]);
    expect(running.status).toBe('running');
    expect(types(decide({ type: 'RequestOperation', location: loc(), operation: 'delete', force: true, requestId: 'x' }, initialState()))).toEqual(['VmDeleted']);
    expect(types(decide({ type: 'RequestOperation', location: loc(), operation: 'stop', force: true, requestId: 'x' }, initialState()))).toEqual(['VmOperationFailed']);
  });

  it('does not fail a VM that is no longer provisioning', () => {
    const running = given(provision(), DEFINED, { type: 'MarkStarted', cause: 'provisioned' });
    expect(decide({ type: 'FailProvisioning', reason: 'timeout', permanent: false }, running)).toEqual([]);
  });
});
