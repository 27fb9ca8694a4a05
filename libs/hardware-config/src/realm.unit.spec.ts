import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigFileError } from './errors.ts';
import { loadRealmSettingsFile } from './load.ts';
import { parseHardwareConfig, parseRealmSettings } from './parse.ts';

const GiB = 1024 ** 3;

describe('realm settings', () => {
  it('a realm file in the seed format loads every parameter', async () => {
    const realm = await loadRealmSettingsFile(fileURLToPath(new URL('../fixtures/realm.conf', import.meta.url)));
    expect(realm).toEqual({
      disabled: false,
      driver: 'libvirt',
      name: 'Research realm',
      volumesPool: 'ticrypt-vm',
      drivesPool: 'ticrypt-vm-drives',
      bricksPool: 'ticrypt-bricks',
      logScheduling: true,
      registrationTimeoutMillis: 600_000,
      pollFrequencyMillis: 15_000,
      networkFilter: 'clean-traffic',
      drives: { lazyAllocation: true, cache: 'writeback', minSizeBytes: GiB, maxSizeBytes: 2 * 1024 ** 4 },
    });
  });

  it("defaults are Berth's pools, 5m registration, 30s polling, lazy drives with the default cache", () => {
    expect(parseRealmSettings('', { file: 'realm.conf' })).toEqual({
      disabled: false,
      driver: 'libvirt',
      name: 'libvirt',
      volumesPool: 'berth-vm',
      drivesPool: 'berth-vm-drives',
      bricksPool: 'berth-bricks',
      logScheduling: false,
      registrationTimeoutMillis: 300_000,
      pollFrequencyMillis: 30_000,
      drives: { lazyAllocation: true, cache: 'default' },
    });
  });

  it("Berth's guest-boot extension: a kernel (and optionally an initrd and command line) every guest boots", () => {
    const text = 'guest-boot { kernel: /var/cache/berth/vmlinuz, initrd: /var/cache/berth/initrd.gz, cmdline: "console=ttyS0 quiet" }';
    expect(parseRealmSettings(text, { file: 'realm.conf' }).guestBoot).toEqual({
      kernel: '/var/cache/berth/vmlinuz',
      initrd: '/var/cache/berth/initrd.gz',
      cmdline: 'console=ttyS0 quiet',
    });
    expect(parseRealmSettings('', { file: 'realm.conf' })).not.toHaveProperty('guestBoot');
  });

  it('a berth.realm section rides along with the hardware configuration', () => {
    const config = parseHardwareConfig('berth.realm { disabled: yes, drives.lazy-allocation: off }', { file: 'c.conf' });
    expect(config.realm).toMatchObject({ disabled: true, drives: { lazyAllocation: false, cache: 'default' } });
    expect(config.costFunctions).toEqual({});
  });

  it.each([
    ['drives.min-size: 2 GiB\ndrives.max-size: 1 GiB', 2, 'drives.max-size', /at least min-size/],
    ['\ndrives.cache: fast', 2, 'drives.cache', /unknown cache strategy "fast"/],
    ['driver: lxd', 1, 'driver', /unknown realm driver/],
    ['poll-frequency: 0s', 1, 'poll-frequency', /longer than zero/],
    ['registration-timeout: soon', 1, 'registration-timeout', /expected a duration/],
    ['drives.lazy-allocation: maybe', 1, 'drives.lazy-allocation', /expected a boolean/],
    ['volume-pool: x', 1, 'volume-pool', /unknown parameter/],
    ['guest-boot { initrd: /boot/initrd.gz }', 1, 'guest-boot.kernel', /required when guest-boot is given/],
    ['\nguest-boot.kernel: vmlinuz', 2, 'guest-boot.kernel', /absolute path on the hypervisor host, got "vmlinuz"/],
    ['guest-boot { kernel: /k, append: quiet }', 1, 'guest-boot.append', /unknown parameter/],
  ])('%j is refused naming line and key', (text, line, key, reason) => {
    let error: unknown;
    try {
      parseRealmSettings(text, { file: 'realm.conf' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error).toMatchObject({ file: 'realm.conf', line, key, reason: expect.stringMatching(reason) as unknown });
  });
});
