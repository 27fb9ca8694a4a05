import { describe, expect, it } from 'vitest';
import { decodeEvent, storedEventEvolution, withFormerNames } from './catalog.ts';
import { eventCatalog } from './index.ts';

const loc = { vmId: 'v1', hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1 };
const ref = { ...loc, migrationId: 'm1', migrationAttempt: 1 };

/** Events as logs and streams of existing installations hold them: former name, version 1, old shape. */
const written: readonly (readonly [service: string, old: string, data: unknown, current: string, read: unknown])[] = [
  ['inventory', 'VmProvisioning', { hostId: 'h1', hypervisorUri: 'sim://h1' }, 'VmProvisioningStarted', undefined],
  ['inventory', 'VmRunning', { hostId: 'h1', hypervisorUri: 'sim://h1' }, 'VmBecameRunning', undefined],
  [
    'inventory',
    'VmAwaitingCapacity',
    { reason: 'full', explanation: {}, until: '2026-12-06T10:00:00.000Z' },
    'VmPlacementDeferred',
    undefined,
  ],
  ['inventory', 'VmDeleteRequested', { hostId: '', hypervisorUri: '' }, 'VmDeleteRequested', {}],
  ['inventory', 'VmDeleteRequested', { hostId: 'h1', hypervisorUri: 'sim://h1' }, 'VmDeleteRequested', undefined],
  [
    'executor',
    'VmProvisioning',
    { ...loc, domainName: 'berth-v1', domainUuid: 'u', registrationDeadline: '2026-12-06T10:00:00.000Z', request: { name: 'v' } },
    'DomainProvisioningStarted',
    undefined,
  ],
  ['executor', 'VmProvisionFailed', { ...loc, reason: 'disk', permanent: true }, 'DomainProvisionFailed', undefined],
  ['executor', 'VmStopped', { ...loc, how: 'graceful' }, 'DomainStopped', undefined],
  ['executor', 'VmDeleted', { ...loc, reason: 'deleted' }, 'DomainDeleted', undefined],
  [
    'executor',
    'VmDeleted',
    { vmId: 'v1', hostId: '', hypervisorUri: '', attempt: 0, reason: 'never provisioned' },
    'DomainDeleted',
    { vmId: 'v1', reason: 'never provisioned' },
  ],
  [
    'executor',
    'VmOperationFailed',
    { vmId: 'v1', hostId: '', hypervisorUri: '', attempt: 0, operation: 'stop', reason: 'not provisioned' },
    'DomainOperationFailed',
    { vmId: 'v1', operation: 'stop', reason: 'not provisioned' },
  ],
  ['executor', 'VmOperationFailed', { ...loc, operation: 'start', reason: 'busy' }, 'DomainOperationFailed', undefined],
  ['executor', 'DomainDrift', { ...loc, expected: 'running', actual: 'shut-off', action: 'restarted' }, 'DomainDriftDetected', undefined],
  [
    'executor',
    'VmMigrationProgress',
    { ...ref, dataTotalBytes: 10, dataProcessedBytes: 5, dataRemainingBytes: 5, elapsedMillis: 100, phase: 'precopy' },
    'VmMigrationProgressed',
    undefined,
  ],
  [
    'telemetry',
    'IntervalsUnchanged',
    { entries: [{ hostId: 'h1', at: '2026-12-06T10:00:00.000Z', policy: 'default@1' }] },
    'UnchangedIntervalsRecorded',
    undefined,
  ],
];

describe('events written under a former name or an older version', () => {
  it.each(written)('%s %s (v1) is read as %s', (service, old, data, current, read) => {
    const expected = read ?? data;
    const version = eventCatalog[service]![current]!.version;
    expect(decodeEvent(eventCatalog, service, old, 1, data)).toEqual({
      ok: true,
      type: current,
      data: expected,
      ...(version === 1 ? {} : { upcastFrom: 1 }),
    });
    const stored = { id: 'e1', type: old, schemaVersion: 1, streamId: 'vm-v1', data };
    expect(storedEventEvolution(eventCatalog, service).upcast(stored)).toEqual({
      ...stored,
      type: current,
      schemaVersion: version,
      data: expected,
    });
  });

  it('passes current events and types the catalog does not know through untouched, and writes the current version', () => {
    const evolution = storedEventEvolution(eventCatalog, 'executor');
    const current = { type: 'DomainStopped', schemaVersion: 1, data: { ...loc, how: 'forced' } };
    expect(evolution.upcast(current)).toBe(current);
    const own = { type: 'SomethingPrivate', schemaVersion: 1, data: { anything: true } };
    expect(evolution.upcast(own)).toBe(own);
    expect(evolution.currentVersion('DomainDeleted')).toBe(2);
    expect(evolution.currentVersion('DomainStopped')).toBe(1);
    expect(evolution.currentVersion('SomethingPrivate')).toBe(1);
    expect(storedEventEvolution(eventCatalog, 'inventory').currentVersion('VmDeleteRequested')).toBe(2);
  });

  it('refuses a stored old event that its upcasting cannot make valid', () => {
    const evolution = storedEventEvolution(eventCatalog, 'executor');
    expect(() => evolution.upcast({ type: 'VmStopped', schemaVersion: 1, data: { ...loc, how: 'sideways' } })).toThrow(
      /stored executor event VmStopped v1 cannot be read: invalid DomainStopped \(written as VmStopped\) v1 data: how: /,
    );
  });

  it('no longer accepts the sentinel location in the current versions', () => {
    expect(decodeEvent(eventCatalog, 'executor', 'DomainDeleted', 2, { vmId: 'v1', hostId: '', reason: 'x' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^invalid DomainDeleted v2 data: hostId: /) as string,
    });
    expect(decodeEvent(eventCatalog, 'inventory', 'VmDeleteRequested', 2, { hostId: '', hypervisorUri: '' })).toMatchObject({
      ok: false,
    });
  });

  it('gives consumers the former names of the types they want, and no former name is a current type of its service', () => {
    expect(withFormerNames(eventCatalog, 'executor', ['DomainStopped', 'VmStarted']).sort()).toEqual([
      'DomainStopped',
      'VmStarted',
      'VmStopped',
    ]);
    for (const [service, events] of Object.entries(eventCatalog)) {
      const former = Object.values(events).flatMap((d) => d.formerNames ?? []);
      expect(new Set(former).size, service).toBe(former.length);
      for (const name of former) expect(Object.hasOwn(events, name), `${service}/${name}`).toBe(false);
    }
  });
});
