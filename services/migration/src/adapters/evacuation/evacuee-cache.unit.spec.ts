import { describe, expect, it } from 'vitest';
import type { VmInfo } from '../../application/ports.ts';
import { EvacueeCache, foldVmEvent } from './evacuee-cache.ts';

const vm = (vmId: string, version: number, over: Partial<VmInfo> = {}): VmInfo => ({
  vmId,
  name: vmId,
  status: 'running',
  hostId: 'src',
  hypervisorUri: 'sim://src',
  memoryBytes: 1024 ** 3,
  migrationMode: 'manual-and-automatic',
  highPerformanceOrPinned: false,
  resourcePool: '',
  migrationId: '',
  schedulingSpec: {},
  version,
  ...over,
});
const ev = (vmId: string, streamPosition: number, type: string, data: unknown = {}) => ({
  streamId: `vm-${vmId}`,
  streamPosition,
  type,
  data,
});

describe('EvacueeCache', () => {
  it('folds the next migration events in order and tells the hosts following the VM', () => {
    const c = new EvacueeCache();
    c.load('src', [vm('a', 5), vm('b', 3)]);
    expect(c.apply(ev('a', 6, 'VmMigrationStarted', { migrationId: 'm1', hostId: 'dst' }))).toEqual(['src']);
    expect(c.get('a')).toMatchObject({ migrationId: 'm1', hostId: 'src', version: 5 });
    c.apply(ev('a', 7, 'VmMigrated', { migrationId: 'm1', hostId: 'dst', hypervisorUri: 'sim://dst', fromHostId: 'src' }));
    expect(c.get('a')).toMatchObject({ migrationId: '', hostId: 'dst', hypervisorUri: 'sim://dst' });
    // Not followed: nothing kept, nobody told.
    expect(c.apply(ev('zz', 9, 'VmStopped'))).toEqual([]);
    expect(c.get('zz')).toBeUndefined();
  });

  it('ignores events at or below the record, and marks it stale on a gap or an event it does not fold', () => {
    const c = new EvacueeCache();
    c.load('src', [vm('a', 5), vm('b', 5)]);
    expect(c.apply(ev('a', 5, 'VmMigrationStarted', { migrationId: 'old' }))).toEqual([]);
    expect(c.get('a')?.migrationId).toBe('');
    c.apply(ev('a', 7, 'VmMigrationStarted', { migrationId: 'm2' }));
    expect(c.get('a')).toBeUndefined();
    c.apply(ev('b', 6, 'VmStopped', { hostId: 'src', hypervisorUri: 'sim://src' }));
    expect(c.get('b')).toBeUndefined();
    // A fresh read replaces the stale record; an older read never replaces a current one.
    c.put('src', vm('b', 6, { status: 'stopped' }));
    expect(c.get('b')?.status).toBe('stopped');
    c.put('src', vm('b', 4));
    expect(c.get('b')?.status).toBe('stopped');
  });

  it('a record loaded behind an event already seen (a lagging ListVms) is stale from the start', () => {
    const c = new EvacueeCache();
    c.apply(ev('a', 8, 'VmMigrationStarted', { migrationId: 'm1' }));
    c.load('src', [vm('a', 7), vm('b', 2)]);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('b')?.version).toBe(2);
  });

  it('forgets a host it no longer follows (a VM kept for another followed host stays), and invalidates on demand', () => {
    const c = new EvacueeCache();
    c.load('h1', [vm('a', 1), vm('shared', 1)]);
    c.load('h2', [vm('shared', 1)]);
    c.forget('h1');
    expect(c.follows('h1')).toBe(false);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('shared')).toBeDefined();
    c.put('h1', vm('late', 1)); // a read that finished after the drain ended keeps nothing
    expect(c.get('late')).toBeUndefined();
    c.invalidate('shared');
    expect(c.get('shared')).toBeUndefined();
  });

  it('folds as inventory does: nothing for a VM being deleted, nothing it cannot read', () => {
    expect(foldVmEvent(vm('a', 1, { status: 'deleting' }), 'VmMigrationAborted', {})).toBeUndefined();
    expect(foldVmEvent(vm('a', 1), 'VmMigrated', { hostId: 'dst' })).toBeUndefined();
    expect(foldVmEvent(vm('a', 1, { migrationId: 'm' }), 'VmMigrationAborted', { migrationId: 'm' })?.migrationId).toBe('');
    expect(foldVmEvent(vm('a', 1), 'VmBecameRunning', {})).toBeUndefined();
  });
});
