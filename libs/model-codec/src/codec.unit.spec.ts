import { describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { ValidationError } from '@berth/errors';
import { resolveVmSpec, vmSpec, type Claim } from '@berth/fit';
import { parseHardwareConfig } from '@berth/hardware-config';
import {
  decodeClaim,
  decodeHardwareConfig,
  decodeVmSpec,
  encodeClaim,
  encodeHardwareConfig,
  encodeVmSpec,
  migrationModes,
  vmStatuses,
} from './index.ts';

const GiB = 1024 ** 3;

describe('the one model codec', () => {
  it('a VM spec survives encode -> wire bytes -> decode -> resolve', () => {
    const spec = vmSpec({
      vmId: 'v1',
      name: 'db',
      vcpus: 4,
      memoryBytes: 8 * GiB,
      disks: [{ sizeBytes: GiB, pool: 'fast' }, { sizeBytes: GiB }],
      nics: [{ sriov: true, network: { space: 'data', vlan: 0, ip: '10.0.0.5' } }, { sriov: false }],
      numaNodes: [
        { vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 1 },
        { vcpus: 2, memoryBytes: 4 * GiB },
      ],
      cpuPolicy: 'dedicated',
      hugepageSizeBytes: 2 * 1024 * 1024,
      slaTier: 'gold',
      migrationMode: 'manual',
      affinity: [{ group: 'g', polarity: 'anti-affinity', target: 'host', enforcement: 'soft', hosts: ['h1'] }],
    });
    const wire = modelV1.VmSpec.decode(modelV1.VmSpec.encode(encodeVmSpec(spec)).finish());
    expect(resolveVmSpec('v1', decodeVmSpec(wire))).toEqual(spec);
  });

  it('unknown enum numbers are refused naming the field', () => {
    const bad = modelV1.VmSpec.fromPartial({ name: 'x', vcpus: 1, memoryBytes: GiB, slaTier: 42 as modelV1.SlaTier });
    expect(() => decodeVmSpec(bad, 'vm')).toThrow(ValidationError);
    expect(() => decodeVmSpec(bad, 'vm')).toThrow(/vm\.slaTier: unknown enum value 42/);
  });

  it("another service's answer: every VM status round-trips; a value newer than this build looks up as undefined", () => {
    for (const [name, value] of Object.entries(inventoryV1.VmStatus)) {
      const { VM_STATUS_UNSPECIFIED, UNRECOGNIZED } = inventoryV1.VmStatus;
      if (typeof value !== 'number' || value === VM_STATUS_UNSPECIFIED || value === UNRECOGNIZED) continue;
      const status = vmStatuses.lookup(value);
      expect(status, name).toBeDefined();
      expect(vmStatuses.encode(status!)).toBe(value);
    }
    expect(vmStatuses.lookup(99)).toBeUndefined();
    expect(() => vmStatuses.decode(99, 'status')).toThrow(/status: unknown enum value 99/);
    expect(migrationModes.lookup(modelV1.MigrationMode.MIGRATION_MODE_NONE)).toBe('none');
  });

  it('a claim survives the wire, and is encoded once per object', () => {
    const claim: Claim = {
      vmId: 'v1',
      hostId: 'h1',
      vcpus: 2,
      memoryBytes: GiB,
      pinnedCpus: [0, 1],
      numaCells: [{ guestCell: 0, hostNode: 0, cpus: [0, 1], memoryBytes: GiB, vcpus: 2 }],
      hugepages: [{ numaNode: 0, pageSizeBytes: 2 * 1024 * 1024, count: 512 }],
      devices: [{ type: 'gpu', address: '0000:01:00.0', numaNode: 0 }],
      vfs: [{ nic: 'ens1', count: 1 }],
      volumes: [{ diskIndex: 0, pool: 'default', sizeBytes: GiB }],
      affinityGroups: ['g'],
    };
    expect(encodeClaim(claim)).toBe(encodeClaim(claim));
    expect(decodeClaim(modelV1.Claim.decode(modelV1.Claim.encode(encodeClaim(claim)).finish()))).toEqual(claim);
  });

  it('curves over the wire take the configuration file aliases and defaults', () => {
    const file = parseHardwareConfig(
      'ticrypt.vm.cost-functions.f { name: f, memory { curve: soft-hard, soft: 1 GiB, hard: 2 GiB } }\nticrypt.vm.hardware-profiles {}',
      { file: 'costs.conf' },
    );
    const wire = modelV1.HardwareConfig.fromPartial({
      costFunctions: [{ id: 'f', name: 'f', memory: { curve: 'soft-hard', soft: GiB, hard: 2 * GiB }, devices: {} }],
    });
    expect(decodeHardwareConfig(wire)).toEqual(file);
    expect(decodeHardwareConfig(encodeHardwareConfig(file))).toEqual(file);
    expect(() =>
      decodeHardwareConfig(modelV1.HardwareConfig.fromPartial({ costFunctions: [{ id: 'f', vms: { curve: 'zigzag' }, devices: {} }] })),
    ).toThrow(/config\.costFunctions\[0\]\.vms\.curve: unknown curve type 'zigzag'/);
  });
});
