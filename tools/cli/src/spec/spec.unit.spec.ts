import { describe, expect, it } from 'vitest';
import { modelV1, schedulerV1 } from '@berth/contracts';
import { findCommand, parseCommandLine } from '../cli.ts';
import { UsageError } from '../errors.ts';
import { buildHostSpec } from './host-spec.ts';
import { buildVmSpec } from './vm-spec.ts';

const GiB = 1024 ** 3;
const inputOf = (argv: string[]) => parseCommandLine(findCommand(argv).command!, argv).input;

describe('host spec from options', () => {
  it('every option lands in the HostSpec message', () => {
    const input = inputOf([
      'hosts',
      'add',
      'kvm-1',
      '--uri',
      'qemu+ssh://root@kvm-1:2222/system',
      '--profile',
      'pool1',
      '--cpus',
      '8',
      '--memory',
      '128GiB',
      '--cpu-overcommit',
      '0.5',
      '--memory-overcommit',
      '5.5',
      '--topology',
      '2x4x1',
      '--numa',
      'id=0,cpus=0-3,memory=64GiB,hugepages=2MiB:512+1GiB:4',
      '--numa',
      'id=1,cpus=4-7,memory=64GiB',
      '--device',
      'nvidia-gpu@02:03.0@numa=1',
      '--sriov',
      'name=ens1f0,numa=0,vfs=16,space=public,vlan=100',
      '--storage',
      'name=images,size=500GiB,path=/var/lib/libvirt/images,default',
      '--network',
      'space=public,subnet=10.0.0.0/24',
      '--resource-pool',
      'rack-a',
      '--tag',
      'ssd',
      '--tag',
      'gpu',
      '--sat',
      '192.0.2.10:20000',
    ]);
    const spec = buildHostSpec('kvm-1', input);
    expect(spec).toMatchObject({
      name: 'kvm-1',
      hypervisorUri: 'qemu+ssh://root@kvm-1:2222/system',
      profileId: 'pool1',
      cpus: 8,
      memoryBytes: 128 * GiB,
      cpuOvercommit: 0.5,
      memoryOvercommit: 5.5,
      topology: { sockets: 2, coresPerSocket: 4, threadsPerCore: 1 },
      numaNodes: [
        {
          id: 0,
          cpus: [0, 1, 2, 3],
          memoryBytes: 64 * GiB,
          hugepages: [
            { pageSizeBytes: 2 * 1024 ** 2, total: 512 },
            { pageSizeBytes: GiB, total: 4 },
          ],
        },
        { id: 1, cpus: [4, 5, 6, 7], memoryBytes: 64 * GiB, hugepages: [] },
      ],
      pciDevices: [{ type: 'nvidia-gpu', address: '02:03.0', numaNode: 1 }],
      sriovNics: [{ name: 'ens1f0', numaNode: 0, vfsTotal: 16, networks: [{ space: 'public', subnet: '', vlan: 100 }] }],
      storagePools: [
        { name: 'images', type: 'dir', path: '/var/lib/libvirt/images', totalBytes: 500 * GiB, externalUsedBytes: 0, isDefault: true },
      ],
      networks: [{ space: 'public', subnet: '10.0.0.0/24' }],
      resourcePool: 'rack-a',
      tags: ['ssd', 'gpu'],
      addressTranslation: { address: '192.0.2.10', basePort: 20000 },
    });
    // What is built must survive the wire encoding unchanged.
    expect(modelV1.HostSpec.decode(modelV1.HostSpec.encode(spec).finish())).toEqual(spec);
  });

  it('options override and extend a --spec base', () => {
    const base = modelV1.HostSpec.fromJSON({ name: 'from-file', hypervisorUri: 'test:///default', tags: ['a'], cpus: 4 });
    const spec = buildHostSpec('', inputOf(['hosts', 'add', 'x', '--cpus', '16', '--tag', 'b']), base);
    expect(spec).toMatchObject({ name: 'from-file', hypervisorUri: 'test:///default', cpus: 16, tags: ['a', 'b'] });
  });

  it.each([
    [['--numa', 'id=0,cpus=0-3'], '--numa', /memory= is required/],
    [['--numa', 'id=0,cpus=3-0,memory=1GiB'], '--numa cpus', /runs backwards/],
    [['--device', 'nvidia-gpu'], '--device', /TYPE@ADDRESS/],
    [['--storage', 'name=x,size=big'], '--storage size', /expected bytes/],
    [['--sat', '10.0.0.1'], '--sat', /ADDRESS:BASE_PORT/],
    [['--topology', '2-8-2'], '--topology', /SOCKETSxCORESxTHREADS/],
    [['--network', 'zone=a'], '--network', /unknown key "zone"/],
  ])('%j is refused naming %s', (extra, field, reason) => {
    const input = inputOf(['hosts', 'add', 'h', '--uri', 'qemu:///system', ...extra]);
    expect(() => buildHostSpec('h', input)).toThrow(UsageError);
    try {
      buildHostSpec('h', input);
    } catch (e) {
      expect((e as UsageError).field).toBe(field);
      expect((e as UsageError).reason).toMatch(reason);
    }
  });
});

describe('VM spec from options', () => {
  const argv = [
    'vms',
    'create',
    'db-1',
    '--vcpus',
    '4',
    '--memory',
    '16GiB',
    '--disk',
    '40GiB',
    '--disk',
    '1TiB@fast',
    '--device',
    'nvidia-gpu:2',
    '--nic',
    'space=public,vlan=100,sriov',
    '--numa',
    'vcpus=2,memory=8GiB,host=0',
    '--numa',
    'vcpus=2,memory=8GiB',
    '--dedicated',
    '--hugepages',
    '1GiB',
    '--passthrough-cpu',
    '--high-performance',
    '--sla',
    'gold',
    '--priority',
    '5',
    '--tag',
    'db',
    '--allowed-host',
    'h1',
    '--allowed-host',
    'h2',
    '--affinity',
    'group=db,anti',
    '--affinity',
    'group=gpu,soft,hosts=h1,h2',
    '--migration',
    'manual',
  ];

  it('every option lands in the VmSpec message', () => {
    const spec = buildVmSpec('db-1', inputOf(argv));
    expect(spec).toMatchObject({
      name: 'db-1',
      vcpus: 4,
      memoryBytes: 16 * GiB,
      disks: [
        { sizeBytes: 40 * GiB, pool: '' },
        { sizeBytes: 1024 * GiB, pool: 'fast' },
      ],
      devices: [{ type: 'nvidia-gpu', count: 2 }],
      nics: [{ network: { space: 'public', subnet: '', vlan: 100 }, ip: '', sriov: true }],
      numaNodes: [
        { vcpus: 2, memoryBytes: 8 * GiB, pinnedHostNode: 0 },
        { vcpus: 2, memoryBytes: 8 * GiB },
      ],
      cpuPolicy: modelV1.CpuPolicy.CPU_POLICY_DEDICATED,
      hugepageSizeBytes: GiB,
      passthroughCpu: true,
      highPerformance: true,
      slaTier: modelV1.SlaTier.SLA_TIER_GOLD,
      priority: 5,
      tags: ['db'],
      allowedHosts: ['h1', 'h2'],
      migrationMode: modelV1.MigrationMode.MIGRATION_MODE_MANUAL,
      affinity: [
        {
          group: 'db',
          polarity: modelV1.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY,
          target: modelV1.AffinityTarget.AFFINITY_TARGET_VM,
          enforcement: modelV1.AffinityEnforcement.AFFINITY_ENFORCEMENT_HARD,
          hosts: [],
        },
        {
          group: 'gpu',
          polarity: modelV1.AffinityPolarity.AFFINITY_POLARITY_AFFINITY,
          target: modelV1.AffinityTarget.AFFINITY_TARGET_HOST,
          enforcement: modelV1.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT,
          hosts: ['h1', 'h2'],
        },
      ],
    });
  });

  it('the scheduler takes the same VmSpec message (berth.model.v1), the VM id beside it', () => {
    const spec = buildVmSpec('db-1', inputOf(argv));
    const json = schedulerV1.ScoreRequest.toJSON(schedulerV1.ScoreRequest.fromPartial({ vm: spec, vmId: 'vm-9' })) as {
      vmId: string;
      vm: Record<string, unknown>;
    };
    expect(json.vmId).toBe('vm-9');
    expect(json.vm).toMatchObject({
      vcpus: 4,
      cpuPolicy: 'CPU_POLICY_DEDICATED',
      slaTier: 'SLA_TIER_GOLD',
      hugepageSizeBytes: GiB,
      nics: [{ network: { space: 'public', vlan: 100 }, sriov: true }],
      affinity: [
        { polarity: 'AFFINITY_POLARITY_ANTI_AFFINITY', target: 'AFFINITY_TARGET_VM' },
        { enforcement: 'AFFINITY_ENFORCEMENT_SOFT', hosts: ['h1', 'h2'] },
      ],
    });
  });

  it.each([
    [['--memory', '4GiB'], '--vcpus', /is required/],
    [['--vcpus', '0', '--memory', '4GiB'], '--vcpus', /between 1/],
    [['--vcpus', '2', '--memory', '4GiB', '--sla', 'bronze'], '--sla', /platinum, gold, silver, vapor/],
    [['--vcpus', '2', '--memory', '4GiB', '--device', 'gpu:0'], '--device count', /between 1/],
    [['--vcpus', '2', '--memory', '4GiB', '--migration', 'auto'], '--migration', /none, manual, manual-and-automatic/],
  ])('%j is refused naming %s', (extra, field, reason) => {
    const input = inputOf(['vms', 'create', 'v', ...extra]);
    let error: unknown;
    try {
      buildVmSpec('v', input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ field, reason: expect.stringMatching(reason) as unknown });
  });
});
