import { modelV1 } from '@berth/contracts';
import { UsageError } from '../errors.ts';
import type { Input, OptionSpec } from '../commands/types.ts';
import { bytes, cpuList, int, keyValues, real } from '../values.ts';

/** HostSpec from `berth hosts add` options, on top of an optional `--spec FILE` (proto JSON). */

export const HOST_SPEC_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  uri: {
    type: 'string',
    value: 'URI',
    help: 'hypervisor URI: qemu:///system, qemu+ssh://[user@]host[:port]/system, https://lxd-host:8443, lxd+unix:///path/unix.socket, test:///default, ...',
  },
  profile: { type: 'string', value: 'ID', help: 'hardware profile id (from `berth config apply`)' },
  cpus: { type: 'string', value: 'N', help: "logical CPUs for VMs (default: the profile's cores)" },
  memory: { type: 'string', value: 'SIZE', help: "memory for VMs, e.g. 128GiB (default: the profile's memory)" },
  'cpu-overcommit': { type: 'string', value: 'RATIO', help: '0..10, default 1 (8 cores x 0.5 = 4 vCPUs)' },
  'memory-overcommit': { type: 'string', value: 'RATIO', help: '0..10, default 1 (128 GiB x 5.5 = 704 GiB)' },
  'cpu-model': { type: 'string', value: 'MODEL', help: 'host CPU model, e.g. Skylake-Server' },
  topology: { type: 'string', value: 'SxCxT', help: 'sockets x cores per socket x threads per core, e.g. 2x8x2' },
  'resource-pool': { type: 'string', value: 'POOL', help: 'resource pool the host belongs to' },
  tag: { type: 'string', multiple: true, value: 'TAG', help: 'host tag (repeatable)' },
  numa: {
    type: 'string',
    multiple: true,
    value: 'KV',
    help: 'NUMA node: id=0,cpus=0-7,memory=64GiB[,hugepages=2MiB:512+1GiB:4] (repeatable)',
  },
  device: { type: 'string', multiple: true, value: 'TYPE@ADDR', help: 'PCI device, e.g. nvidia-gpu@02:03.0[@numa=0] (repeatable)' },
  sriov: { type: 'string', multiple: true, value: 'KV', help: 'SR-IOV NIC: name=ens1f0,numa=0,vfs=16[,space=,subnet=,vlan=] (repeatable)' },
  storage: {
    type: 'string',
    multiple: true,
    value: 'KV',
    help: 'storage pool: name=images,size=500GiB[,path=/var/lib/libvirt/images,type=dir,used=0,default] (repeatable)',
  },
  network: {
    type: 'string',
    multiple: true,
    value: 'KV',
    help: 'reachable network: space=public[,subnet=10.0.0.0/24,vlan=100] (repeatable)',
  },
  sat: { type: 'string', value: 'ADDR:PORT', help: 'static address translation: VMs reached at ADDR:(PORT + last octet)' },
  spec: { type: 'string', value: 'FILE', help: 'HostSpec as proto JSON; options given here override it' },
};

function network(kv: Record<string, string>, field: string): modelV1.NetworkRef {
  return {
    space: kv.space ?? '',
    subnet: kv.subnet ?? '',
    ...(kv.vlan !== undefined && { vlan: int(kv.vlan, `${field} vlan`, 0, 4094) }),
  };
}

function numaNode(text: string): modelV1.NumaNode {
  const field = '--numa';
  const kv = keyValues(text, field, ['id', 'cpus', 'memory', 'hugepages']);
  for (const key of ['id', 'cpus', 'memory']) if (kv[key] === undefined) throw new UsageError(field, `${key}= is required in "${text}"`);
  const hugepages = (kv.hugepages ?? '')
    .split('+')
    .filter((h) => h !== '')
    .map((h) => {
      const [size, count] = h.split(':');
      if (size === undefined || count === undefined) throw new UsageError(field, `hugepages are SIZE:COUNT, got "${h}"`);
      return { pageSizeBytes: bytes(size, `${field} hugepages`), total: int(count, `${field} hugepages`) };
    });
  return {
    id: int(kv.id!, `${field} id`),
    cpus: cpuList(kv.cpus!, `${field} cpus`),
    memoryBytes: bytes(kv.memory!, `${field} memory`),
    hugepages,
  };
}

function device(text: string): modelV1.PciDevice {
  const [type, address, numa] = text.split('@');
  if (!type || !address) throw new UsageError('--device', `expected TYPE@ADDRESS (e.g. nvidia-gpu@02:03.0), got "${text}"`);
  const numaNode = numa === undefined ? undefined : int(numa.replace(/^numa=/, ''), '--device numa');
  return { type, address, ...(numaNode !== undefined && { numaNode }) };
}

function sriovNic(text: string): modelV1.SriovNic {
  const kv = keyValues(text, '--sriov', ['name', 'numa', 'vfs', 'space', 'subnet', 'vlan']);
  if (!kv.name || kv.vfs === undefined) throw new UsageError('--sriov', `name= and vfs= are required in "${text}"`);
  const hasNetwork = kv.space !== undefined || kv.subnet !== undefined || kv.vlan !== undefined;
  return {
    name: kv.name,
    numaNode: int(kv.numa ?? '0', '--sriov numa'),
    vfsTotal: int(kv.vfs, '--sriov vfs'),
    networks: hasNetwork ? [network(kv, '--sriov')] : [],
  };
}

function storagePool(text: string): modelV1.StoragePool {
  const kv = keyValues(text, '--storage', ['name', 'size', 'path', 'type', 'used', 'default']);
  if (!kv.name || kv.size === undefined) throw new UsageError('--storage', `name= and size= are required in "${text}"`);
  return {
    name: kv.name,
    type: kv.type ?? 'dir',
    path: kv.path ?? '',
    totalBytes: bytes(kv.size, '--storage size'),
    externalUsedBytes: kv.used === undefined ? 0 : bytes(kv.used, '--storage used'),
    isDefault: kv.default !== undefined,
  };
}

function topology(text: string): modelV1.CpuTopology {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError('--topology', `expected SOCKETSxCORESxTHREADS (e.g. 2x8x2), got "${text}"`);
  return { sockets: Number(m[1]), coresPerSocket: Number(m[2]), threadsPerCore: Number(m[3]) };
}

/** Parses a `--spec` file body (proto JSON of HostSpec). */
export function hostSpecFromJson(text: string, file: string): modelV1.HostSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError('--spec', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return modelV1.HostSpec.fromJSON(parsed);
}

export function buildHostSpec(name: string, input: Input, base: modelV1.HostSpec = modelV1.HostSpec.fromPartial({})): modelV1.HostSpec {
  const s = input.string.bind(input);
  const spec: modelV1.HostSpec = { ...base, name: name || base.name };
  if (s('uri') !== undefined) spec.hypervisorUri = s('uri')!;
  if (spec.hypervisorUri === '') throw new UsageError('--uri', 'is required (e.g. qemu:///system)');
  if (s('profile') !== undefined) spec.profileId = s('profile')!;
  if (s('cpus') !== undefined) spec.cpus = int(s('cpus')!, '--cpus', 1);
  if (s('memory') !== undefined) spec.memoryBytes = bytes(s('memory')!, '--memory');
  if (s('cpu-overcommit') !== undefined) spec.cpuOvercommit = real(s('cpu-overcommit')!, '--cpu-overcommit', 0, 10);
  if (s('memory-overcommit') !== undefined) spec.memoryOvercommit = real(s('memory-overcommit')!, '--memory-overcommit', 0, 10);
  if (s('cpu-model') !== undefined) spec.cpuModel = s('cpu-model')!;
  if (s('topology') !== undefined) spec.topology = topology(s('topology')!);
  if (s('resource-pool') !== undefined) spec.resourcePool = s('resource-pool')!;
  spec.tags = [...spec.tags, ...input.list('tag')];
  spec.numaNodes = [...spec.numaNodes, ...input.list('numa').map(numaNode)];
  spec.pciDevices = [...spec.pciDevices, ...input.list('device').map(device)];
  spec.sriovNics = [...spec.sriovNics, ...input.list('sriov').map(sriovNic)];
  spec.storagePools = [...spec.storagePools, ...input.list('storage').map(storagePool)];
  spec.networks = [
    ...spec.networks,
    ...input.list('network').map((n) => network(keyValues(n, '--network', ['space', 'subnet', 'vlan']), '--network')),
  ];
  if (s('sat') !== undefined) {
    const m = /^(.+):(\d+)$/.exec(s('sat')!);
    if (!m) throw new UsageError('--sat', `expected ADDRESS:BASE_PORT, got "${s('sat')}"`);
    spec.addressTranslation = { address: m[1]!, basePort: int(m[2]!, '--sat port', 1, 65535) };
  }
  return spec;
}
