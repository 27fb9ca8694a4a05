/**
 * berth.scheduler.v1 messages <-> the fit model, at the edge. Bad input becomes one
 * ValidationError naming every offending field (`vm.vcpus: must be >= 1`).
 */
import { Violations } from '@berth/errors';
import type { AffinityRule, NetworkRef, VmSpec } from '@berth/fit';
import { schedulerV1 as pb } from '@berth/contracts';

const SLA: Record<number, VmSpec['slaTier']> = {
  [pb.SlaTier.SLA_TIER_PLATINUM]: 'platinum',
  [pb.SlaTier.SLA_TIER_GOLD]: 'gold',
  [pb.SlaTier.SLA_TIER_SILVER]: 'silver',
  [pb.SlaTier.SLA_TIER_VAPOR]: 'vapor',
};

const wholeAtLeast = (v: Violations, value: number, min: number, field: string): void => {
  v.check(Number.isInteger(value) && value >= min, field, `must be a whole number >= ${min}, got ${value}`);
};

function network(n: pb.NetworkRef | undefined): NetworkRef | undefined {
  if (n === undefined || (n.space === '' && n.subnet === '' && n.vlan === 0)) return undefined;
  return { ...(n.space !== '' && { space: n.space }), ...(n.subnet !== '' && { subnet: n.subnet }), ...(n.vlan !== 0 && { vlan: n.vlan }) };
}

function affinity(r: pb.AffinityRule, i: number, v: Violations): AffinityRule {
  const at = `vm.affinity[${i}]`;
  v.check(r.group !== '' || r.target === pb.AffinityTarget.AFFINITY_TARGET_HOST, `${at}.group`, 'must be set for a vm-target rule');
  v.check(r.polarity !== pb.AffinityPolarity.AFFINITY_POLARITY_UNSPECIFIED, `${at}.polarity`, 'must be set');
  v.check(r.target !== pb.AffinityTarget.AFFINITY_TARGET_UNSPECIFIED, `${at}.target`, 'must be set');
  return {
    group: r.group,
    polarity: r.polarity === pb.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY ? 'anti-affinity' : 'affinity',
    target: r.target === pb.AffinityTarget.AFFINITY_TARGET_HOST ? 'host' : 'vm',
    enforcement: r.enforcement === pb.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT ? 'soft' : 'hard',
    hosts: [...r.hosts],
  };
}

export function fromProtoVmSpec(m: pb.VmSpec | undefined): VmSpec {
  const v = new Violations();
  if (m === undefined) {
    v.add('vm', 'is required');
    v.throwIfAny();
    throw new Error('unreachable');
  }
  wholeAtLeast(v, m.vcpus, 1, 'vm.vcpus');
  wholeAtLeast(v, m.memoryBytes, 0, 'vm.memoryBytes');
  m.disks.forEach((d, i) => wholeAtLeast(v, d.sizeBytes, 1, `vm.disks[${i}].sizeBytes`));
  m.devices.forEach((d, i) => {
    v.check(d.type !== '', `vm.devices[${i}].type`, 'must be set');
    wholeAtLeast(v, d.count, 1, `vm.devices[${i}].count`);
  });
  m.numaNodes.forEach((n, i) => {
    wholeAtLeast(v, n.vcpus, 1, `vm.numaNodes[${i}].vcpus`);
    wholeAtLeast(v, n.memoryBytes, 0, `vm.numaNodes[${i}].memoryBytes`);
  });
  if (m.numaNodes.length > 0) {
    v.check(m.numaNodes.reduce((s, n) => s + n.vcpus, 0) === m.vcpus, 'vm.numaNodes', 'vCPUs of the NUMA nodes must add up to vm.vcpus');
  }
  wholeAtLeast(v, m.hugepageSizeBytes, 0, 'vm.hugepageSizeBytes');
  const affinityRules = m.affinity.map((r, i) => affinity(r, i, v));
  v.throwIfAny();
  const name = m.name || m.vmId || 'the VM';
  return {
    vmId: m.vmId || 'what-if',
    name,
    vcpus: m.vcpus,
    memoryBytes: m.memoryBytes,
    disks: m.disks.map((d) => (d.pool === '' ? { sizeBytes: d.sizeBytes } : { sizeBytes: d.sizeBytes, pool: d.pool })),
    devices: m.devices.map((d) => ({ type: d.type, count: d.count })),
    nics: m.nics.map((n) => {
      const net = network(n.network);
      return net === undefined ? { sriov: n.sriov } : { sriov: n.sriov, network: net };
    }),
    numaNodes: m.numaNodes.map((n) =>
      n.pinnedHostNode === undefined
        ? { vcpus: n.vcpus, memoryBytes: n.memoryBytes }
        : { vcpus: n.vcpus, memoryBytes: n.memoryBytes, pinnedHostNode: n.pinnedHostNode },
    ),
    cpuPolicy: m.cpuPolicy === pb.CpuPolicy.CPU_POLICY_DEDICATED ? 'dedicated' : 'shared',
    ...(m.hugepageSizeBytes > 0 && { hugepageSizeBytes: m.hugepageSizeBytes }),
    passthroughCpu: m.passthroughCpu,
    ...(m.cpuModel !== '' && { cpuModel: m.cpuModel }),
    highPerformance: m.highPerformance,
    ...(m.topology !== undefined && {
      topology: { sockets: m.topology.sockets, coresPerSocket: m.topology.coresPerSocket, threadsPerCore: m.topology.threadsPerCore },
    }),
    slaTier: SLA[m.slaTier] ?? 'silver',
    priority: m.priority,
    tags: [...m.tags],
    allowedHosts: [...m.allowedHosts],
    ...(m.resourcePool !== '' && { resourcePool: m.resourcePool }),
    affinity: affinityRules,
    migrationMode: 'manual-and-automatic',
  };
}

/** JSON that survives an infinite cost (JSON has no Infinity). */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
