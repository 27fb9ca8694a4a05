import { modelV1 } from '@berth/contracts';
import { ValidationError } from '@berth/errors';
import { resolveVmSpec } from '@berth/fit';
import { decodeVmSpec } from '@berth/model-codec';
import { UsageError } from '../errors.ts';
import type { Input, OptionSpec } from '../commands/types.ts';
import { MIGRATION_MODES, parseMigrationMode, parseSlaTier, SLA_TIERS } from '../render/labels.ts';
import { bytes, int, keyValues } from '../values.ts';

/** VmSpec from `berth vms create` / `berth what-if` options, on top of an optional `--spec FILE`. */

export const VM_SPEC_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  vcpus: { type: 'string', value: 'N', help: 'virtual CPUs (required)' },
  memory: { type: 'string', value: 'SIZE', help: 'memory, e.g. 4GiB (required)' },
  disk: { type: 'string', multiple: true, value: 'SIZE[@POOL]', help: 'disk from a storage pool (default pool when omitted), repeatable' },
  device: { type: 'string', multiple: true, value: 'TYPE[:COUNT]', help: 'PCI devices by type, e.g. nvidia-gpu:2 (repeatable)' },
  nic: { type: 'string', multiple: true, value: 'KV', help: 'NIC: space=,subnet=,vlan=,ip=[,sriov] (repeatable)' },
  numa: { type: 'string', multiple: true, value: 'KV', help: 'guest NUMA node: vcpus=2,memory=4GiB[,host=0] (repeatable)' },
  dedicated: { type: 'boolean', help: 'pin every vCPU to its own host CPU (never overcommitted)' },
  hugepages: { type: 'string', value: 'SIZE', help: 'back memory with hugepages of this size, e.g. 2MiB or 1GiB' },
  'passthrough-cpu': { type: 'boolean', help: 'pass the host CPU through' },
  'cpu-model': { type: 'string', value: 'MODEL', help: 'required host CPU model' },
  'high-performance': { type: 'boolean', help: '"high performance" VM type (migration defaults to manual)' },
  topology: { type: 'string', value: 'SxCxT', help: 'guest sockets x cores x threads' },
  sla: { type: 'string', value: 'TIER', help: `SLA tier: ${SLA_TIERS.join(', ')}` },
  priority: { type: 'string', value: 'N', help: 'priority within the tier' },
  tag: { type: 'string', multiple: true, value: 'TAG', help: 'VM tag (repeatable)' },
  'allowed-host': { type: 'string', multiple: true, value: 'HOST', help: 'host the VM may run on (repeatable; default any)' },
  'resource-pool': { type: 'string', value: 'POOL', help: 'resource pool to place in' },
  affinity: {
    type: 'string',
    multiple: true,
    value: 'KV',
    help: 'group=NAME[,anti][,soft][,hosts=h1,h2] (repeatable; hosts= makes it VM-to-host)',
  },
  migration: { type: 'string', value: 'MODE', help: `migration mode: ${MIGRATION_MODES.join(', ')}` },
  spec: { type: 'string', value: 'FILE', help: 'VmSpec as proto JSON; options given here override it' },
};

function nic(text: string): modelV1.NicRequest {
  const kv = keyValues(text, '--nic', ['space', 'subnet', 'vlan', 'ip', 'sriov']);
  return {
    network: {
      space: kv.space ?? '',
      subnet: kv.subnet ?? '',
      ...(kv.vlan !== undefined && { vlan: int(kv.vlan, '--nic vlan', 0, 4094) }),
    },
    ip: kv.ip ?? '',
    sriov: kv.sriov !== undefined,
  };
}

function numaNode(text: string): modelV1.VirtualNumaNode {
  const kv = keyValues(text, '--numa', ['vcpus', 'memory', 'host']);
  if (kv.vcpus === undefined || kv.memory === undefined) throw new UsageError('--numa', `vcpus= and memory= are required in "${text}"`);
  return {
    vcpus: int(kv.vcpus, '--numa vcpus', 1),
    memoryBytes: bytes(kv.memory, '--numa memory'),
    ...(kv.host !== undefined && { pinnedHostNode: int(kv.host, '--numa host') }),
  };
}

function affinity(text: string): modelV1.AffinityRule {
  const kv = keyValues(text, '--affinity', ['group', 'anti', 'soft', 'hard', 'hosts']);
  if (!kv.group) throw new UsageError('--affinity', `group= is required in "${text}"`);
  const hosts = (kv.hosts ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  return {
    group: kv.group,
    polarity:
      kv.anti !== undefined
        ? modelV1.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY
        : modelV1.AffinityPolarity.AFFINITY_POLARITY_AFFINITY,
    target: hosts.length > 0 ? modelV1.AffinityTarget.AFFINITY_TARGET_HOST : modelV1.AffinityTarget.AFFINITY_TARGET_VM,
    enforcement:
      kv.soft !== undefined ? modelV1.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT : modelV1.AffinityEnforcement.AFFINITY_ENFORCEMENT_HARD,
    hosts,
  };
}

export function vmSpecFromJson(text: string, file: string): modelV1.VmSpec {
  try {
    return modelV1.VmSpec.fromJSON(JSON.parse(text));
  } catch (e) {
    throw new UsageError('--spec', `${file} is not valid JSON: ${(e as Error).message}`);
  }
}

export function buildVmSpec(name: string, input: Input, base: modelV1.VmSpec = modelV1.VmSpec.fromPartial({})): modelV1.VmSpec {
  const s = input.string.bind(input);
  const spec: modelV1.VmSpec = { ...base, name: name || base.name };
  if (s('vcpus') !== undefined) spec.vcpus = int(s('vcpus')!, '--vcpus', 1);
  if (s('memory') !== undefined) spec.memoryBytes = bytes(s('memory')!, '--memory');
  if (spec.vcpus <= 0) throw new UsageError('--vcpus', 'is required');
  if (spec.memoryBytes <= 0) throw new UsageError('--memory', 'is required (e.g. 4GiB)');
  spec.disks = [
    ...spec.disks,
    ...input.list('disk').map((d) => {
      const [size, pool] = d.split('@');
      return { sizeBytes: bytes(size ?? '', '--disk'), pool: pool ?? '' };
    }),
  ];
  spec.devices = [
    ...spec.devices,
    ...input.list('device').map((d) => {
      const [type, count] = d.split(':');
      if (!type) throw new UsageError('--device', `expected TYPE[:COUNT], got "${d}"`);
      return { type, count: count === undefined ? 1 : int(count, '--device count', 1) };
    }),
  ];
  spec.nics = [...spec.nics, ...input.list('nic').map(nic)];
  spec.numaNodes = [...spec.numaNodes, ...input.list('numa').map(numaNode)];
  if (input.flag('dedicated')) spec.cpuPolicy = modelV1.CpuPolicy.CPU_POLICY_DEDICATED;
  if (s('hugepages') !== undefined) spec.hugepageSizeBytes = bytes(s('hugepages')!, '--hugepages');
  if (input.flag('passthrough-cpu')) spec.passthroughCpu = true;
  if (s('cpu-model') !== undefined) spec.cpuModel = s('cpu-model')!;
  if (input.flag('high-performance')) spec.highPerformance = true;
  if (s('topology') !== undefined) {
    const m = /^(\d+)x(\d+)x(\d+)$/.exec(s('topology')!);
    if (!m) throw new UsageError('--topology', `expected SOCKETSxCORESxTHREADS, got "${s('topology')}"`);
    spec.topology = { sockets: Number(m[1]), coresPerSocket: Number(m[2]), threadsPerCore: Number(m[3]) };
  }
  if (s('sla') !== undefined) spec.slaTier = parseSlaTier(s('sla')!, '--sla');
  if (s('priority') !== undefined) spec.priority = int(s('priority')!, '--priority', -1_000_000, 1_000_000);
  spec.tags = [...spec.tags, ...input.list('tag')];
  spec.allowedHosts = [...spec.allowedHosts, ...input.list('allowed-host')];
  if (s('resource-pool') !== undefined) spec.resourcePool = s('resource-pool')!;
  spec.affinity = [...spec.affinity, ...input.list('affinity').map(affinity)];
  if (s('migration') !== undefined) spec.migrationMode = parseMigrationMode(s('migration')!, '--migration');
  checkVmSpec(spec);
  return spec;
}

/**
 * Refuses what ComposeVm would refuse, with inventory's own validator (`resolveVmSpec` through the
 * one codec), before anything is sent; storage pool names are checked by inventory, which knows them.
 */
export function checkVmSpec(spec: modelV1.VmSpec): void {
  try {
    resolveVmSpec('', decodeVmSpec(spec));
  } catch (e) {
    if (e instanceof ValidationError) throw new UsageError('', e.message);
    throw e;
  }
}
