import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { Claim } from '@berth/fit';
import { domainSpecFromClaim, type DomainSpec } from '../domain-spec.ts';
import { DEFAULT_REALM } from '../realm.ts';
import { buildDomainXml } from './domain-xml.ts';

const base: DomainSpec = {
  vmId: 'vm-1',
  title: 'web',
  vcpus: 2,
  memoryBytes: 1024 ** 3,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'default',
  networks: [],
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed XML is checked by the assertions
const parse = (x: string): any => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(x);

describe('buildDomainXml', () => {
  it('escapes user strings instead of concatenating them', () => {
    const x = buildDomainXml({ ...base, title: `</title><devices><hostdev/></devices><title>"'&` }, 'test');
    expect(x).not.toContain('<hostdev');
    expect(x).toContain('&lt;/title&gt;&lt;devices&gt;');
    expect(parse(x).domain.title).toBe(`</title><devices><hostdev/></devices><title>"'&`);
    expect(parse(x).domain.devices.hostdev).toBeUndefined();
  });

  it('pins each vCPU to its claimed host CPU with guest NUMA cells and strict numatune', () => {
    const d = parse(
      buildDomainXml(
        {
          ...base,
          vcpus: 4,
          pinnedCpus: [2, 3, 8, 9],
          numaCells: [
            { hostNode: 0, vcpus: 2, memoryBytes: 512 * 1024 ** 2 },
            { hostNode: 1, vcpus: 2, memoryBytes: 512 * 1024 ** 2 },
          ],
          hugepageSizeBytes: 2 * 1024 ** 2,
          passthroughCpu: true,
        },
        'kvm',
      ),
    ).domain;
    expect(d.cputune.vcpupin).toEqual([
      { vcpu: '0', cpuset: '2' },
      { vcpu: '1', cpuset: '3' },
      { vcpu: '2', cpuset: '8' },
      { vcpu: '3', cpuset: '9' },
    ]);
    expect(d.numatune.memory).toEqual({ mode: 'strict', nodeset: '0,1' });
    expect(d.numatune.memnode).toEqual([
      { cellid: '0', mode: 'strict', nodeset: '0' },
      { cellid: '1', mode: 'strict', nodeset: '1' },
    ]);
    expect(d.cpu.mode).toBe('host-passthrough');
    expect(d.cpu.numa.cell).toEqual([
      { id: '0', cpus: '0-1', memory: '524288', unit: 'KiB' },
      { id: '1', cpus: '2-3', memory: '524288', unit: 'KiB' },
    ]);
    expect(d.memoryBacking.hugepages.page).toEqual({ size: '2048', unit: 'KiB' });
    expect(d.type).toBe('kvm');
  });

  it('gives each unpinned guest cell its own vCPUs from the claim, every vCPU in exactly one cell', () => {
    const MiB = 1024 ** 2;
    const claim = (vcpus: number, cells: { vcpus?: number; memoryBytes: number }[]): Claim => ({
      vmId: 'vm-1',
      hostId: 'h',
      vcpus,
      memoryBytes: cells.reduce((s, c) => s + c.memoryBytes, 0),
      pinnedCpus: [],
      numaCells: cells.map((c, i) => ({ guestCell: i, hostNode: 0, cpus: [], ...c })),
      hugepages: [],
      devices: [],
      vfs: [],
      volumes: [],
      affinityGroups: [],
    });
    const cellsOf = (c: Claim): string[] => {
      const cell = parse(buildDomainXml(domainSpecFromClaim({ vmId: 'vm-1', name: 'x', claim: c }, DEFAULT_REALM), 'test')).domain.cpu.numa
        .cell;
      return (Array.isArray(cell) ? cell : [cell]).map((x: { cpus: string }) => x.cpus);
    };
    expect(
      cellsOf(
        claim(3, [
          { vcpus: 1, memoryBytes: 256 * MiB },
          { vcpus: 2, memoryBytes: 512 * MiB },
        ]),
      ),
    ).toEqual(['0', '1-2']);
    expect(
      cellsOf(
        claim(4, [
          { vcpus: 1, memoryBytes: MiB },
          { vcpus: 1, memoryBytes: MiB },
          { vcpus: 2, memoryBytes: MiB },
        ]),
      ),
    ).toEqual(['0', '1', '2-3']);
    // A claim recorded before cells carried their vCPUs: an even split that still covers every vCPU.
    expect(cellsOf(claim(4, [{ memoryBytes: MiB }, { memoryBytes: MiB }, { memoryBytes: MiB }]))).toEqual(['0-1', '2', '3']);
  });

  it('writes the requested guest CPU topology, with or without pass-through', () => {
    const topology = { sockets: 2, coresPerSocket: 2, threadsPerCore: 1 };
    expect(parse(buildDomainXml({ ...base, vcpus: 4, topology }, 'qemu')).domain.cpu.topology).toEqual({
      sockets: '2',
      cores: '2',
      threads: '1',
    });
    const d = parse(buildDomainXml({ ...base, vcpus: 4, topology, passthroughCpu: true }, 'kvm')).domain;
    expect(d.cpu).toMatchObject({ mode: 'host-passthrough', topology: { sockets: '2', cores: '2', threads: '1' } });
  });

  it('shared VMs get neither pinning nor numatune', () => {
    const d = parse(buildDomainXml(base, 'qemu')).domain;
    expect(d.cputune).toBeUndefined();
    expect(d.numatune).toBeUndefined();
    expect(d.cpu).toBeUndefined();
    expect(d.memory).toEqual({ unit: 'KiB', '#text': 1048576 });
    expect(d.devices.memballoon.model).toBe('virtio');
    expect(d.devices.graphics).toBeUndefined();
  });

  it('adds hostdevs, SR-IOV VF interfaces, volumes with the realm cache mode and filtered NICs', () => {
    const d = parse(
      buildDomainXml(
        {
          ...base,
          hostdevs: ['0000:02:03.4'],
          vfs: [{ nic: 'ens1', count: 2 }],
          diskCache: 'writeback',
          volumes: [{ name: 'berth-vm-1-disk0', pool: 'drives', sizeBytes: 10 * 1024 ** 3 }],
          networks: ['default'],
          networkFilter: 'clean-traffic',
        },
        'kvm',
      ),
    ).domain;
    expect(d.devices.hostdev.source.address).toEqual({ domain: '0x0000', bus: '0x02', slot: '0x03', function: '0x4' });
    expect(d.devices.interface).toHaveLength(3);
    expect(d.devices.interface[0].filterref.filter).toBe('clean-traffic');
    expect(d.devices.interface[1].source.network).toBe('berth-sriov-ens1');
    expect(d.devices.disk.driver.cache).toBe('writeback');
    expect(d.devices.disk.source).toEqual({ pool: 'drives', volume: 'berth-vm-1-disk0' });
    expect(d.devices.disk.target.dev).toBe('vda');
  });

  it("boots the realm's guest kernel directly when the realm gives one (os kernel, initrd, cmdline)", () => {
    expect(parse(buildDomainXml(base, 'qemu')).domain.os.kernel).toBeUndefined();
    const os = parse(
      buildDomainXml(
        { ...base, guestBoot: { kernel: '/var/lib/berth/vmlinuz', initrd: '/var/lib/berth/initrd.gz', cmdline: 'console=ttyS0' } },
        'qemu',
      ),
    ).domain.os;
    expect(os).toMatchObject({ kernel: '/var/lib/berth/vmlinuz', initrd: '/var/lib/berth/initrd.gz', cmdline: 'console=ttyS0' });
    expect(os.type['#text']).toBe('hvm');
    expect(parse(buildDomainXml({ ...base, guestBoot: { kernel: '/k' } }, 'qemu')).domain.os).not.toHaveProperty('initrd');
  });

  it('derives name and UUID from the VM id, the same on every call', () => {
    const a = parse(buildDomainXml({ ...base, vmId: 'abc' }, 'test')).domain;
    const b = parse(buildDomainXml({ ...base, vmId: 'abc', title: 'other' }, 'test')).domain;
    expect(a.name).toBe('berth-abc');
    expect(a.uuid).toBe(b.uuid);
  });

  it('gives session hosts user-mode NICs, since they cannot join libvirt networks', () => {
    const d = parse(buildDomainXml({ ...base, networks: ['default'] }, 'qemu', { userNetworking: true })).domain;
    expect(d.devices.interface.type).toBe('user');
    expect(d.devices.interface.source).toBeUndefined();
  });
});
