import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractSpec } from '../testing/contract.ts';
import { lxdUsable, startTestLxd, type TestLxd } from '../testing/lxd.ts';
import { LxdDriver } from './lxd-driver.ts';

/**
 * The virtual-machine half. There is no KVM here, so VMs cannot start; with the daemon in a private
 * mount namespace that has a /dev/kvm node (see testing/lxd.ts) LXD enables the VM instance type and
 * validates every config key and device Berth sets when the instance is created.
 */
interface Instance {
  readonly type: string;
  readonly status: string;
  readonly config: Record<string, string>;
  readonly devices: Record<string, Record<string, string>>;
}

describe.skipIf(!lxdUsable())('LxdDriver: virtual-machine instances validated by a real LXD', () => {
  let lxd: TestLxd;
  let driver: LxdDriver;
  beforeAll(async () => {
    lxd = await startTestLxd({ label: 'vm', vm: true });
    driver = new LxdDriver({ uri: lxd.socketUri, callTimeoutMillis: 60_000 });
  });
  afterAll(async () => {
    await driver?.close();
    await lxd?.stop();
  });

  it('defines a VM with pinning, hugepages, a GPU, an SR-IOV VF and two disks, all accepted by LXD', async () => {
    const spec = contractSpec('vm1', {
      vcpus: 1,
      pinnedCpus: [1],
      memoryBytes: 512 * 1024 ** 2,
      hugepageSizeBytes: 2 * 1024 ** 2,
      hostdevs: ['0000:3b:00.0'],
      vfs: [{ nic: 'enp94s0f0', count: 1 }],
      volumes: [
        { name: 'berth-vm1-disk0', pool: 'default', sizeBytes: 2 * 1024 ** 3 },
        { name: 'berth-vm1-disk1', pool: 'default', sizeBytes: 1024 ** 3 },
      ],
    });
    await driver.createVolumes(spec);
    await driver.define(spec);
    const inst = await lxd.api<Instance>('/1.0/instances/berth-vm1');
    expect(inst.type).toBe('virtual-machine');
    expect(inst.config).toMatchObject({
      'limits.cpu': '1-1',
      'limits.memory': `${512 * 1024 ** 2}B`,
      'limits.memory.hugepages': 'true',
      'user.berth.vm-id': 'vm1',
    });
    expect(inst.devices).toMatchObject({
      root: { type: 'disk', path: '/', pool: 'default', size: `${2 * 1024 ** 3}B` },
      disk1: { type: 'disk', pool: 'default', source: 'berth-vm1-disk1' },
      gpu0: { type: 'gpu', gputype: 'physical', pci: '0000:3b:00.0' },
      sriov0: { type: 'nic', nictype: 'sriov', parent: 'enp94s0f0' },
    });
    const vol = await lxd.api<{ content_type: string; config: Record<string, string> }>(
      '/1.0/storage-pools/default/volumes/custom/berth-vm1-disk1',
    );
    expect(vol).toMatchObject({ content_type: 'block', config: { size: `${1024 ** 3}B` } });
    // Redefining with the same spec (a retry) changes nothing and creates nothing.
    await driver.define(spec);
    expect((await lxd.api<string[]>('/1.0/instances')).filter((u) => u.endsWith('/berth-vm1'))).toHaveLength(1);

    // Start cannot succeed without KVM (or that GPU): the operation ends in Failure, a permanent error.
    const err = await driver.start('vm1').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(await driver.state('vm1')).toBe('shut-off');

    await driver.undefine('vm1');
    expect(await driver.state('vm1')).toBeUndefined();
    expect((await lxd.api<string[]>('/1.0/storage-pools/default/volumes/custom')).join()).not.toContain('berth-vm1-disk1');
  });

  it('pins several cores as a set and runs shared vCPUs as a count', async () => {
    await driver.define(contractSpec('vm2', { vcpus: 4, pinnedCpus: [4, 5, 6, 9] }));
    await driver.define(contractSpec('vm3', { vcpus: 3 }));
    expect((await lxd.api<Instance>('/1.0/instances/berth-vm2')).config['limits.cpu']).toBe('4-6,9');
    expect((await lxd.api<Instance>('/1.0/instances/berth-vm3')).config['limits.cpu']).toBe('3');
    await driver.undefine('vm2');
    await driver.undefine('vm3');
  });

  it('reports what LXD refuses at definition as a permanent error and leaves nothing behind', async () => {
    const err = await driver
      .define(contractSpec('vm4', { volumes: [{ name: 'x', pool: 'no-such-pool', sizeBytes: 1024 ** 3 }] }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(await driver.state('vm4')).toBeUndefined();
    const bad = await driver.define(contractSpec('vm5', { hostdevs: ['not-a-pci-address'] })).catch((e: unknown) => e);
    expect(bad).toMatchObject({ kind: 'permanent' });
    expect(await driver.state('vm5')).toBeUndefined();
  });
});
