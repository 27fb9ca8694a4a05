/**
 * berth.model.v1 messages -> the fit model, at the edge: the mapping is @berth/model-codec's (the
 * one codec); the checks here are Score's and WhatIf's. They are deliberately looser than
 * ComposeVm's (`resolveVmSpec`): a what-if spec needs no name and may ask for no memory. Bad input
 * becomes one ValidationError naming every offending field (`vm.vcpus: must be >= 1`).
 */
import { Violations } from '@berth/errors';
import type { VmSpec } from '@berth/fit';
import { modelV1 as pb } from '@berth/contracts';
import { decodeVmSpec } from '@berth/model-codec';

const wholeAtLeast = (v: Violations, value: number, min: number, field: string): void => {
  v.check(Number.isInteger(value) && value >= min, field, `must be a whole number >= ${min}, got ${value}`);
};

function checkAffinity(r: pb.AffinityRule, i: number, v: Violations): void {
  const at = `vm.affinity[${i}]`;
  v.check(r.group !== '' || r.target === pb.AffinityTarget.AFFINITY_TARGET_HOST, `${at}.group`, 'must be set for a vm-target rule');
  v.check(r.polarity !== pb.AffinityPolarity.AFFINITY_POLARITY_UNSPECIFIED, `${at}.polarity`, 'must be set');
  v.check(r.target !== pb.AffinityTarget.AFFINITY_TARGET_UNSPECIFIED, `${at}.target`, 'must be set');
}

/** `vmId`: the VM's id when it exists (ScoreRequest.vm_id), used in explanations. */
export function fromProtoVmSpec(m: pb.VmSpec | undefined, vmId = ''): VmSpec {
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
  if (m.hugepageSizeBytes !== undefined) wholeAtLeast(v, m.hugepageSizeBytes, 0, 'vm.hugepageSizeBytes');
  m.affinity.forEach((r, i) => checkAffinity(r, i, v));
  v.throwIfAny();
  const { hugepageSizeBytes, ...input } = decodeVmSpec(m, 'vm');
  return {
    ...input,
    vmId: vmId || 'what-if',
    name: m.name || vmId || 'the VM',
    ...(hugepageSizeBytes !== undefined && hugepageSizeBytes > 0 && { hugepageSizeBytes }),
    cpuPolicy: input.cpuPolicy ?? 'shared',
    slaTier: input.slaTier ?? 'silver',
    // Scoring ignores the migration mode; the default is ComposeVm's for an unpinned VM.
    migrationMode: input.migrationMode ?? 'manual-and-automatic',
  };
}

/** JSON that survives an infinite cost (JSON has no Infinity). */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
