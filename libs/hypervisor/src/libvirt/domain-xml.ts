import { XMLBuilder } from 'fast-xml-parser';
import { readPciAddress } from '@berth/config/units';
import type { DomainSpec } from '../domain-spec.ts';
import { sriovNetworkName } from '../domain-spec.ts';
import { domainName, domainUuid } from '../naming.ts';

export type VirtType = 'kvm' | 'qemu' | 'test';

// The builder escapes every text and attribute value (&, <, >, ", '), so user strings can only
// ever be data. processEntities is the default, stated here because the safety depends on it.
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, processEntities: true });

const kib = (bytes: number): number => Math.ceil(bytes / 1024);

/** A hostdev's PCI address as libvirt's `<address>` attributes (read by Berth's one PCI address reader). */
function parsePci(address: string): Record<string, string> {
  const r = readPciAddress(address);
  if (!r.ok) throw new Error(`hostdev address: ${r.reason}`);
  const a = r.value;
  return { '@_domain': `0x${a.domain}`, '@_bus': `0x${a.bus}`, '@_slot': `0x${a.slot}`, '@_function': `0x${a.function}` };
}

const diskTarget = (i: number): string => `vd${String.fromCharCode(97 + (i % 26))}${i >= 26 ? String(Math.floor(i / 26)) : ''}`;

/** libvirt domain XML for a spec. Pure: the same spec always gives the same document. */
export interface DomainXmlOptions {
  /** qemu:///session cannot use libvirt networks: virtio NICs get user-mode (SLIRP) networking instead. */
  readonly userNetworking?: boolean;
}

export function buildDomainXml(spec: DomainSpec, virtType: VirtType, opts: DomainXmlOptions = {}): string {
  const pinned = spec.pinnedCpus.length > 0;
  let nextVcpu = 0;
  const cells = spec.numaCells.map((cell, id) => {
    const first = nextVcpu;
    nextVcpu += cell.vcpus;
    const last = Math.min(nextVcpu, spec.vcpus) - 1;
    return { id, cell, cpus: first === last ? `${first}` : `${first}-${last}` };
  });
  const t = spec.topology;
  const cpuChildren = {
    ...(t !== undefined ? { topology: { '@_sockets': t.sockets, '@_cores': t.coresPerSocket, '@_threads': t.threadsPerCore } } : {}),
    ...(cells.length > 0
      ? {
          numa: {
            cell: cells.map(({ id, cell, cpus }) => ({ '@_id': id, '@_cpus': cpus, '@_memory': kib(cell.memoryBytes), '@_unit': 'KiB' })),
          },
        }
      : {}),
  };
  const cpu = spec.passthroughCpu
    ? { cpu: { '@_mode': 'host-passthrough', '@_check': 'none', ...cpuChildren } }
    : Object.keys(cpuChildren).length > 0
      ? { cpu: cpuChildren }
      : {};
  const hostNodes = [...new Set(spec.numaCells.map((c) => c.hostNode))].sort((a, b) => a - b);
  const numatune =
    pinned && hostNodes.length > 0
      ? {
          numatune: {
            memory: { '@_mode': 'strict', '@_nodeset': hostNodes.join(',') },
            memnode: cells.map(({ id, cell }) => ({ '@_cellid': id, '@_mode': 'strict', '@_nodeset': cell.hostNode })),
          },
        }
      : {};
  const disks = spec.volumes.map((v, i) => ({
    '@_type': 'volume',
    '@_device': 'disk',
    driver: { '@_name': 'qemu', '@_type': 'raw', ...(spec.diskCache !== 'default' ? { '@_cache': spec.diskCache } : {}) },
    source: { '@_pool': v.pool, '@_volume': v.name },
    target: { '@_dev': diskTarget(i), '@_bus': 'virtio' },
  }));
  const filter = spec.networkFilter !== undefined ? { filterref: { '@_filter': spec.networkFilter } } : {};
  const nics = [
    ...spec.networks.map((network) =>
      opts.userNetworking === true
        ? { '@_type': 'user', model: { '@_type': 'virtio' } }
        : { '@_type': 'network', source: { '@_network': network }, model: { '@_type': 'virtio' }, ...filter },
    ),
    ...spec.vfs.flatMap((vf) =>
      Array.from({ length: vf.count }, () => ({ '@_type': 'network', source: { '@_network': sriovNetworkName(vf.nic) } })),
    ),
  ];
  const hostdevs = spec.hostdevs.map((address) => ({
    '@_mode': 'subsystem',
    '@_type': 'pci',
    '@_managed': 'yes',
    source: { address: parsePci(address) },
  }));
  const doc = {
    domain: {
      '@_type': virtType,
      name: domainName(spec.vmId),
      uuid: domainUuid(spec.vmId),
      title: spec.title,
      memory: { '@_unit': 'KiB', '#text': kib(spec.memoryBytes) },
      currentMemory: { '@_unit': 'KiB', '#text': kib(spec.memoryBytes) },
      ...(spec.hugepageSizeBytes !== undefined
        ? { memoryBacking: { hugepages: { page: { '@_size': kib(spec.hugepageSizeBytes), '@_unit': 'KiB' } } } }
        : {}),
      vcpu: { '@_placement': 'static', '#text': spec.vcpus },
      ...(pinned ? { cputune: { vcpupin: spec.pinnedCpus.map((hostCpu, vcpu) => ({ '@_vcpu': vcpu, '@_cpuset': hostCpu })) } } : {}),
      ...numatune,
      os: {
        type: { '@_arch': 'x86_64', '#text': 'hvm' },
        ...(spec.guestBoot === undefined
          ? {}
          : {
              kernel: spec.guestBoot.kernel,
              ...(spec.guestBoot.initrd !== undefined ? { initrd: spec.guestBoot.initrd } : {}),
              ...(spec.guestBoot.cmdline !== undefined ? { cmdline: spec.guestBoot.cmdline } : {}),
            }),
      },
      ...(virtType === 'test' ? {} : { features: { acpi: '' } }),
      ...cpu,
      on_poweroff: 'destroy',
      on_reboot: 'restart',
      on_crash: 'destroy',
      devices: {
        ...(disks.length > 0 ? { disk: disks } : {}),
        ...(nics.length > 0 ? { interface: nics } : {}),
        ...(hostdevs.length > 0 ? { hostdev: hostdevs } : {}),
        serial: { '@_type': 'pty' },
        console: { '@_type': 'pty' },
        memballoon: { '@_model': 'virtio', stats: { '@_period': 5 } },
      },
    },
  };
  return String(builder.build(doc));
}
