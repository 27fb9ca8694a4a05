import { describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import { buildDomainXml } from './domain-xml.ts';
import { berthVolumesOf, retargetDomainXml } from './migration-xml.ts';

const GiB = 1024 ** 3;
const spec = (over: Partial<DomainSpec> = {}): DomainSpec => ({
  vmId: 'vm1',
  title: 'vm1',
  vcpus: 2,
  memoryBytes: 2 * GiB,
  pinnedCpus: [2, 3],
  numaCells: [{ hostNode: 0, vcpus: 2, memoryBytes: 2 * GiB }],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [{ pool: 'local-a', name: 'berth-vm1-disk0', sizeBytes: GiB }],
  lazyAllocation: true,
  diskCache: 'default',
  networks: [],
  ...over,
});

// The shape of `virsh dumpxml --migratable` (libvirt 9): what libvirt adds (MAC, PCI addresses, aliases) must survive.
const LIVE = `<domain type='qemu'>
  <name>berth-vm1</name>
  <uuid>0f0e8c5e-4d7b-5a55-8d6e-6f1c2b0a9d11</uuid>
  <title>vm1</title>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='2'/>
    <vcpupin vcpu='1' cpuset='3'/>
    <emulatorpin cpuset='0'/>
  </cputune>
  <numatune>
    <memory mode='strict' nodeset='0'/>
    <memnode cellid='0' mode='strict' nodeset='0'/>
  </numatune>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <numa>
      <cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>
    </numa>
  </cpu>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='local-a' volume='berth-vm1-disk0'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </disk>
    <disk type='volume' device='cdrom'>
      <source pool='isos' volume='tools.iso'/>
      <target dev='hdc' bus='ide'/>
    </disk>
    <interface type='user'>
      <mac address='52:54:00:8a:11:2c'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
  </devices>
</domain>
`;

describe('retargetDomainXml', () => {
  it("gives the destination claim's pinning, NUMA binding and pools, and keeps everything the guest sees", () => {
    const out = retargetDomainXml(
      LIVE,
      spec({
        pinnedCpus: [6, 7],
        numaCells: [{ hostNode: 1, vcpus: 2, memoryBytes: 2 * GiB }],
        volumes: [{ pool: 'local-b', name: 'berth-vm1-disk0', sizeBytes: GiB }],
      }),
    );
    expect(out).toContain(`  <cputune>
    <vcpupin vcpu='0' cpuset='6'/>
    <vcpupin vcpu='1' cpuset='7'/>
    <emulatorpin cpuset='0'/>
  </cputune>
  <numatune>
    <memory mode='strict' nodeset='1'/>
    <memnode cellid='0' mode='strict' nodeset='1'/>
  </numatune>
  <os>`);
    expect(out).toContain(`<source pool='local-b' volume='berth-vm1-disk0'/>`);
    // Not Berth's volume: left alone. The guest's ABI (cells, MAC, addresses) is untouched.
    expect(out).toContain(`<source pool='isos' volume='tools.iso'/>`);
    const rest = (xml: string): string => xml.replace(/<cputune>[\s\S]*<\/numatune>/, '').replace(/pool='local-[ab]'/, '');
    expect(rest(out)).toBe(rest(LIVE));
    expect(out.match(/vcpupin/g)).toHaveLength(2);
  });

  it('the same spec gives the same document back', () => {
    expect(retargetDomainXml(LIVE, spec())).toBe(LIVE);
  });

  it("adds pinning to a definition without any, as buildDomainXml writes it, and escapes a pool's name", () => {
    const unpinned = buildDomainXml(spec({ pinnedCpus: [], numaCells: [] }), 'qemu');
    expect(unpinned).not.toContain('cputune');
    const out = retargetDomainXml(unpinned, spec({ volumes: [{ pool: "a'b", name: 'berth-vm1-disk0', sizeBytes: GiB }] }));
    // The same pins and nodes as a domain defined with that spec (libvirt's quoting aside).
    const direct = buildDomainXml(spec(), 'qemu');
    const pins = (xml: string): string[] =>
      [...xml.matchAll(/<(vcpupin|memory|memnode) ([^>/]*mode[^>/]*|vcpu[^>/]*)/g)].map((m) => `${m[1]} ${m[2]!.replace(/"/g, "'")}`);
    expect(pins(out)).toEqual(pins(direct));
    expect(pins(out)).toEqual([
      "vcpupin vcpu='0' cpuset='2'",
      "vcpupin vcpu='1' cpuset='3'",
      "memory mode='strict' nodeset='0'",
      "memnode cellid='0' mode='strict' nodeset='0'",
    ]);
    expect(out).toMatch(/<\/vcpu>\n\s*<cputune>[\s\S]*<\/cputune>\n\s*<numatune>/);
    expect(out).toContain('pool="a&apos;b" volume="berth-vm1-disk0"');
  });

  it('drops the pinning of a destination whose claim shares its vCPUs', () => {
    const out = retargetDomainXml(LIVE, spec({ pinnedCpus: [], numaCells: [] }));
    expect(out).not.toContain('vcpupin');
    expect(out).not.toContain('numatune');
    expect(out).toContain(`<cputune>\n    <emulatorpin cpuset='0'/>\n  </cputune>`);
  });

  it("finds Berth's volumes of a domain", () => {
    expect(berthVolumesOf(LIVE, 'berth-vm1')).toEqual([{ pool: 'local-a', name: 'berth-vm1-disk0' }]);
  });
});
