import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import { libvirtUsable, startSessionLibvirtd, type SessionLibvirtd } from '../testing/libvirtd.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

const qemuInstalled = (): boolean => {
  try {
    execFileSync('qemu-system-x86_64', ['--version']);
    return true;
  } catch {
    if (process.env['REQUIRE_INFRA'] === '1') throw new Error('REQUIRE_INFRA=1 but qemu-system-x86_64 is not installed');
    return false;
  }
};

// A real QEMU guest under TCG (no /dev/kvm needed) on qemu:///session as an unprivileged user.
// It has no disk and no OS: reaching `running` with libvirt's own memory figures is the point.
describe.skipIf(!libvirtUsable() || !qemuInstalled())('LibvirtDriver against real QEMU (qemu:///session, TCG)', () => {
  let session: SessionLibvirtd;
  let driver: LibvirtDriver;
  beforeAll(async () => {
    session = await startSessionLibvirtd();
    driver = new LibvirtDriver({ uri: session.uri, pollMillis: 100 }); // virt type detected: TCG
  });
  afterAll(async () => {
    await driver?.close();
    await session?.stop();
  });

  it('boots a tiny guest with a sparse disk that reports real memory statistics', async () => {
    const spec: DomainSpec = {
      vmId: 'tiny-qemu',
      title: 'tiny',
      vcpus: 1,
      memoryBytes: 64 * 1024 ** 2,
      pinnedCpus: [0],
      numaCells: [],
      passthroughCpu: false,
      hostdevs: [],
      vfs: [],
      volumes: [{ pool: 'default-pool', name: 'berth-tiny-qemu-disk0', sizeBytes: 16 * 1024 ** 2 }],
      lazyAllocation: true,
      diskCache: 'writeback',
      networks: ['default'],
    };
    await driver.defineAndStart(spec);
    expect(execFileSync('virsh', ['-q', '-c', session.uri, 'domstate', 'berth-tiny-qemu'], { encoding: 'utf8' }).trim()).toBe('running');
    const stats = await driver.memoryStats('tiny-qemu');
    expect(stats.actualBytes).toBe(64 * 1024 ** 2);
    // rss is the QEMU process's resident memory, measured by the host: real, and non-zero.
    expect(stats.rssBytes).toBeGreaterThan(0);
    expect(await driver.stop('tiny-qemu', { gracefulTimeoutMillis: 500 })).toMatch(/graceful|forced/);
    expect(await driver.state('tiny-qemu')).toBe('shut-off');
    await driver.undefine('tiny-qemu');
    expect(execFileSync('virsh', ['-q', '-c', session.uri, 'vol-list', 'default-pool'], { encoding: 'utf8' })).not.toContain(
      'berth-tiny-qemu-disk0',
    );
  });
});
