import { describe, expect, it } from 'vitest';
import { contractSpec } from '../testing/contract.ts';
import { classifyLxdError } from './errors.ts';
import { lifecycleFromLxd } from './events.ts';
import { hostFactsFromResources } from './host-facts.ts';
import { instanceFromSpec, limitsCpu, lxdInstanceName, pinnedFromLimitsCpu } from './instance.ts';
import { memoryStatsFromState, parseLxdSize, stateFromLxd } from './instance-state.ts';
import { decodeTrustToken } from './trust.ts';
import { parseLxdUri } from './uri.ts';

describe('LXD host URIs', () => {
  it('parses https with the default port, a pinned fingerprint and options', () => {
    expect(parseLxdUri('https://lxd1.example.com')).toMatchObject({
      transport: 'https',
      address: 'https://lxd1.example.com:8443',
      instanceType: 'virtual-machine',
      project: 'default',
    });
    const fp = 'AB'.repeat(32);
    expect(parseLxdUri(`https://10.0.0.5:9443/?fingerprint=${fp}&project=p1`)).toMatchObject({
      address: 'https://10.0.0.5:9443',
      fingerprint: fp.toLowerCase(),
      project: 'p1',
    });
  });
  it('parses the unix socket form and container hosts', () => {
    expect(parseLxdUri('lxd+unix:///var/lib/lxd/unix.socket?instance-type=container&image=alpine')).toMatchObject({
      transport: 'unix',
      socketPath: '/var/lib/lxd/unix.socket',
      instanceType: 'container',
      image: 'alpine',
    });
  });
  it.each([
    ['https://h?bogus=1', /unknown LXD URI option 'bogus'/],
    ['https://h?instance-type=vm', /instance-type/],
    ['https://h?instance-type=container', /image/],
    ['https://h?fingerprint=abc', /64 hex/],
    ['https://h/1.0', /no path/],
    ['lxd+unix://host/sock', /absolute socket path/],
    ['qemu:///system', /not an LXD URI/],
  ])('refuses %s', (uri, why) => {
    expect(() => parseLxdUri(uri)).toThrow(why);
  });
});

describe('instances from a DomainSpec', () => {
  it('writes a single pinned core as N-N, folds ranges, and a count when unpinned', () => {
    expect(limitsCpu(1, [7])).toBe('7-7');
    expect(limitsCpu(4, [4, 5, 6, 9])).toBe('4-6,9');
    expect(limitsCpu(2, [12, 4])).toBe('4,12');
    expect(limitsCpu(2, [4, 5])).toBe('4,5');
    expect(limitsCpu(3, [])).toBe('3');
    expect(pinnedFromLimitsCpu('4-6,9')).toEqual([4, 5, 6, 9]);
    expect(pinnedFromLimitsCpu('7-7')).toEqual([7]);
    expect(pinnedFromLimitsCpu('3')).toBeUndefined();
  });

  it('names instances from the VM id, shortening and hashing ids LXD would refuse', () => {
    expect(lxdInstanceName('web-1')).toBe('berth-web-1');
    const long = lxdInstanceName('tenant_a.vm.' + 'x'.repeat(50));
    expect(long).toMatch(/^berth-tenant-a-vm-x+-[0-9a-f]{10}$/);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(lxdInstanceName('tenant_a.vm.' + 'x'.repeat(50))).toBe(long);
    expect(lxdInstanceName('a_b')).not.toBe(lxdInstanceName('a.b'));
  });

  it('maps a VM claim: limits, hugepages, GPU, VF, root + data disks, NICs, empty source', () => {
    const { instance, volumes } = instanceFromSpec(
      contractSpec('v', {
        vcpus: 2,
        pinnedCpus: [2, 3],
        memoryBytes: 1024 ** 3,
        hugepageSizeBytes: 2 * 1024 ** 2,
        hostdevs: ['0000:3b:00.0'],
        vfs: [{ nic: 'ens1f0', count: 2 }],
        networks: ['br0'],
        volumes: [
          { name: 'berth-v-disk0', pool: 'fast', sizeBytes: 10 * 1024 ** 3 },
          { name: 'berth-v-disk1', pool: 'slow', sizeBytes: 1024 ** 3 },
        ],
      }),
      { type: 'virtual-machine' },
    );
    expect(instance).toMatchObject({
      name: 'berth-v',
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.cpu': '2,3', 'limits.memory': `${1024 ** 3}B`, 'limits.memory.hugepages': 'true', 'user.berth.vm-id': 'v' },
      devices: {
        root: { type: 'disk', path: '/', pool: 'fast', size: `${10 * 1024 ** 3}B` },
        disk1: { type: 'disk', pool: 'slow', source: 'berth-v-disk1' },
        gpu0: { type: 'gpu', gputype: 'physical', pci: '0000:3b:00.0' },
        sriov0: { type: 'nic', nictype: 'sriov', parent: 'ens1f0' },
        sriov1: { type: 'nic', nictype: 'sriov', parent: 'ens1f0' },
        eth0: { type: 'nic', network: 'br0', name: 'eth0' },
      },
    });
    expect(volumes).toEqual([{ pool: 'slow', name: 'berth-v-disk1', sizeBytes: 1024 ** 3, contentType: 'block' }]);
  });

  it('maps a container: image source, hugetlb limit by size, filesystem data volumes mounted', () => {
    const { instance, volumes } = instanceFromSpec(
      contractSpec('c', {
        hugepageSizeBytes: 2 * 1024 ** 2,
        memoryBytes: 256 * 1024 ** 2,
        volumes: [
          { name: 'a', pool: 'p', sizeBytes: 1 },
          { name: 'b', pool: 'p', sizeBytes: 2 },
        ],
      }),
      { type: 'container', image: 'busybox' },
    );
    expect(instance.source).toEqual({ type: 'image', alias: 'busybox' });
    expect(instance.config['limits.hugepages.2MB']).toBe(`${256 * 1024 ** 2}B`);
    expect(instance.config['limits.memory.hugepages']).toBeUndefined();
    expect(instance.devices['disk1']).toMatchObject({ path: '/mnt/disk1' });
    expect(volumes[0]?.contentType).toBe('filesystem');
    expect(() => instanceFromSpec(contractSpec('c'), { type: 'container' })).toThrow(/image/);
  });
});

describe('LXD answers', () => {
  it('maps instance states', () => {
    expect(['Running', 'Stopped', 'Frozen', 'Error', 'Stopping', 'Weird'].map(stateFromLxd)).toEqual([
      'running',
      'shut-off',
      'paused',
      'crashed',
      'shutting-down',
      'no-state',
    ]);
  });
  it('parses sizes and memory statistics', () => {
    expect(parseLxdSize('268435456B')).toBe(268435456);
    expect(parseLxdSize('1GiB')).toBe(1024 ** 3);
    expect(parseLxdSize('512MB')).toBe(512e6);
    expect(parseLxdSize('nonsense')).toBeUndefined();
    expect(memoryStatsFromState({ status: 'Running', memory: { usage: 100, swap_usage: 5 } }, 1000)).toEqual({
      actualBytes: 1000,
      rssBytes: 100,
      unusedBytes: 900,
      swapOutBytes: 5,
    });
  });
  it('reads host facts from /1.0/resources', () => {
    const thread = (id: number, numa: number) => ({ id, numa_node: numa, online: true });
    const f = hostFactsFromResources({
      cpu: {
        total: 4,
        sockets: [
          {
            name: 'EPYC',
            socket: 0,
            cores: [
              { core: 0, threads: [thread(0, 0), thread(2, 0)] },
              { core: 1, threads: [thread(1, 1), thread(3, 1)] },
            ],
          },
        ],
      },
      memory: {
        total: 8 * 1024 ** 3,
        hugepages_size: 2 * 1024 ** 2,
        nodes: [
          { numa_node: 0, total: 4 * 1024 ** 3, hugepages_total: 1024 ** 3 },
          { numa_node: 1, total: 4 * 1024 ** 3, hugepages_total: 0 },
        ],
      },
      gpu: { cards: [{ pci_address: '0000:3b:00.0', vendor: 'NVIDIA', product: 'T4' }] },
      network: {
        cards: [
          { pci_address: '0000:5e:00.0', ports: [{ id: 'ens1f0' }], sriov: { current_vfs: 0, maximum_vfs: 8 } },
          { ports: [{ id: 'eth0' }] },
        ],
      },
    });
    expect(f).toMatchObject({
      cpuModel: 'EPYC',
      cpus: 4,
      memoryBytes: 8 * 1024 ** 3,
      topology: { sockets: 1, coresPerSocket: 2, threadsPerCore: 2 },
      numaNodes: [
        { id: 0, cpus: [0, 2], hugepages: [{ pageSizeBytes: 2 * 1024 ** 2, total: 512 }] },
        { id: 1, cpus: [1, 3], hugepages: [] },
      ],
      gpus: [{ address: '0000:3b:00.0', vendor: 'NVIDIA', product: 'T4' }],
      sriovNics: [{ name: 'ens1f0', vfs: 8 }],
    });
  });
  it('maps lifecycle events and ignores others', () => {
    const ev = (action: string, source = '/1.0/instances/berth-a') => ({ type: 'lifecycle', metadata: { action, source } });
    expect(lifecycleFromLxd(ev('instance-started'), () => 'a')).toEqual({
      domain: 'berth-a',
      vmId: 'a',
      kind: 'started',
      detail: 'instance-started',
    });
    expect(lifecycleFromLxd(ev('instance-stopped'), () => undefined)).toEqual({
      domain: 'berth-a',
      kind: 'stopped',
      detail: 'instance-stopped',
    });
    expect(lifecycleFromLxd(ev('instance-deleted'), () => 'a')?.kind).toBe('undefined');
    expect(lifecycleFromLxd(ev('instance-snapshot-created'), () => 'a')).toBeUndefined();
    expect(lifecycleFromLxd(ev('storage-volume-created', '/1.0/storage-pools/default/volumes/custom/x'), () => 'a')).toBeUndefined();
    expect(lifecycleFromLxd({ type: 'logging' }, () => 'a')).toBeUndefined();
  });
  it('tells transient from permanent failures', () => {
    expect(classifyLxdError(404, 'Instance not found')).toBe('not-found');
    expect(classifyLxdError(503, 'x')).toBe('transient');
    expect(classifyLxdError(500, 'Instance is busy running a "start" operation')).toBe('transient');
    expect(classifyLxdError(400, 'Invalid value for a boolean "maybe"')).toBe('permanent');
    expect(classifyLxdError(403, 'not authorized')).toBe('permanent');
  });
  it('decodes trust tokens and refuses other strings', () => {
    const token = Buffer.from(
      JSON.stringify({ client_name: 'b', fingerprint: 'a'.repeat(64), addresses: ['1.2.3.4:8443'], secret: 's' }),
    ).toString('base64');
    expect(decodeTrustToken(token)).toMatchObject({ fingerprint: 'a'.repeat(64), secret: 's' });
    expect(() => decodeTrustToken('hello')).toThrow(/trust token/);
  });
});
