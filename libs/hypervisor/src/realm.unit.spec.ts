import { ValidationError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import { checkDriveSize, DEFAULT_REALM, parseLibvirtRealm } from './realm.ts';

describe('parseLibvirtRealm', () => {
  it('fills the tiCrypt defaults', () => {
    expect(parseLibvirtRealm({})).toEqual(DEFAULT_REALM);
    expect(DEFAULT_REALM.drives.lazyAllocation).toBe(true);
    expect(DEFAULT_REALM.drives.cache).toBe('default');
  });

  it('reads the seed 003 keys, flat or nested, and the "Livbirt" spelling', () => {
    const r = parseLibvirtRealm({
      driver: 'Livbirt',
      'volumes-pool': 'ticrypt-vm',
      'registration-timeout': '10m',
      'poll-frequency': '15s',
      'drives.lazy-allocation': 'off',
      drives: { cache: 'none', 'min-size': '1 GiB', 'max-size': '2 TiB' },
      'network-filter': 'clean-traffic',
    });
    expect(r).toMatchObject({
      volumesPool: 'ticrypt-vm',
      registrationTimeoutMillis: 600_000,
      pollFrequencyMillis: 15_000,
      networkFilter: 'clean-traffic',
      drives: { lazyAllocation: false, cache: 'none', minSizeBytes: 1024 ** 3, maxSizeBytes: 2 * 1024 ** 4 },
    });
  });

  it('reports every bad key at once, by name', () => {
    try {
      parseLibvirtRealm({ 'drives.cache': 'fast', 'poll-frequency': 'often', 'drives.lazy-allocation': 'maybe', colour: 'red' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      const fields = (e as ValidationError).violations.map((v) => v.field).sort();
      expect(fields).toEqual(['realm.colour', 'realm.drives.cache', 'realm.drives.lazy-allocation', 'realm.poll-frequency']);
    }
  });

  it('rejects min-size above max-size and drives outside the bounds', () => {
    expect(() => parseLibvirtRealm({ 'drives.min-size': '2 GiB', 'drives.max-size': '1 GiB' })).toThrow(/min-size/);
    const r = parseLibvirtRealm({ 'drives.min-size': '1 GiB', 'drives.max-size': '4 GiB' });
    expect(() => checkDriveSize(r, 8 * 1024 ** 3, 'disks[0].sizeBytes')).toThrow(/disks\[0\]\.sizeBytes.*max-size/);
    expect(() => checkDriveSize(r, 2 * 1024 ** 3, 'disks[0].sizeBytes')).not.toThrow();
  });
});
