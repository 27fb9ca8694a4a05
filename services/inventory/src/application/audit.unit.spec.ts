import { hostSnapshot, type Claim } from '@berth/fit';
import { describe, expect, it } from 'vitest';
import { overbooking } from './audit.ts';

const claim = (vmId: string, over: Partial<Claim> = {}): Claim => ({
  vmId,
  hostId: 'h',
  vcpus: 1,
  memoryBytes: 1,
  pinnedCpus: [],
  numaCells: [],
  hugepages: [],
  devices: [],
  vfs: [],
  volumes: [],
  affinityGroups: [],
  ...over,
});

describe('overbooking audit', () => {
  it('finds vCPUs beyond the overcommitted capacity and a device given twice', () => {
    const snap = {
      ...hostSnapshot({ hostId: 'h', cpus: 2, cpuOvercommit: 1 }),
      claims: [
        claim('a', { vcpus: 2 }),
        claim('b', { devices: [{ type: 'gpu', address: '0000:01:00.0' }] }),
        claim('c', { devices: [{ type: 'gpu', address: '0000:01:00.0' }] }),
      ],
    };
    expect(overbooking(snap)).toEqual(['vcpus 4 > 2', 'device 0000:01:00.0 given 2 times']);
  });

  it('finds nothing on a host within capacity', () => {
    expect(
      overbooking({ ...hostSnapshot({ hostId: 'h', cpus: 4 }), claims: [claim('a', { vcpus: 2 }), claim('b', { vcpus: 2 })] }),
    ).toEqual([]);
  });
});
