import { describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { hostRows } from '../commands/hosts.ts';
import { candidates } from '../commands/scheduler.ts';
import { vmRows } from '../commands/vms.ts';
import { enumLabel, formatBytes, keyValue, table } from './table.ts';

describe('table rendering', () => {
  it('aligns columns to the widest cell, last column unpadded', () => {
    expect(
      table(
        ['ID', 'NAME'],
        [
          ['h1', 'kvm-one'],
          ['host-22', 'x'],
        ],
      ),
    ).toBe('ID       NAME\nh1       kvm-one\nhost-22  x');
    expect(table(['ID'], [])).toBe('(none)');
  });

  it('key/value blocks skip empty values', () => {
    expect(
      keyValue([
        ['id', 'h1'],
        ['reason', ''],
        ['generation', '3'],
      ]),
    ).toBe('id:          h1\ngeneration:  3');
  });

  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [34359738368, '32 GiB'],
    [1610612736, '1.5 GiB'],
    [704 * 1024 ** 3, '704 GiB'],
    [1536, '1.5 KiB'],
    [10.5 * 1024 ** 4, '10.5 TiB'],
  ])('formatBytes(%d) = %s', (n, text) => expect(formatBytes(n)).toBe(text));

  it('enum constants read as operators type them', () => {
    expect(enumLabel('HOST_STATE_NO_SCHEDULING', 'HOST_STATE_')).toBe('no-scheduling');
  });

  it('host list shows usage against allocatable (overcommit applied by inventory)', () => {
    const host = inventoryV1.Host.fromPartial({
      hostId: 'h1',
      generation: 7,
      state: modelV1.HostState.HOST_STATE_NO_SCHEDULING,
      spec: { name: 'kvm-1', hypervisorUri: 'qemu:///system', profileId: 'pool1' },
      usage: { vcpusAllocatable: 4, vcpusUsed: 3, memoryAllocatableBytes: 704 * 1024 ** 3, memoryUsedBytes: 12 * 1024 ** 3, vmCount: 4 },
    });
    expect(hostRows([host])).toBe(
      'ID  NAME   STATE          PROFILE  VCPUS  MEMORY            VMS  GEN  URI\n' +
        'h1  kvm-1  no-scheduling  pool1    3 / 4  12 GiB / 704 GiB  4    7    qemu:///system',
    );
  });

  it('VM list shows failures with their reason', () => {
    const vm = inventoryV1.Vm.fromPartial({
      vmId: 'vm-1',
      status: inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED,
      failureReason: '0/3 hosts have 64 GiB free',
      spec: { name: 'big', vcpus: 8, memoryBytes: 64 * 1024 ** 3, slaTier: modelV1.SlaTier.SLA_TIER_SILVER },
    });
    expect(vmRows([vm])).toBe(
      'ID    NAME  STATUS            HOST  VCPUS  MEMORY  SLA     REASON\n' +
        'vm-1  big   placement-failed  -     8      64 GiB  silver  0/3 hosts have 64 GiB free',
    );
  });
});

describe('explanations', () => {
  it('lists the chosen host and runners-up with score and cost', () => {
    const explanation = {
      chosen: { hostId: 'h1', score: 67, breakdown: { cost: { costFunction: 'pool1', total: 4.5 } } },
      runnersUp: [{ hostId: 'h2', score: 1067.125, breakdown: { cost: { costFunction: 'pool2', total: 1004.5 } } }],
    };
    expect(candidates(explanation)).toBe(
      'RANK  HOST  SCORE    COST    COST FUNCTION\n' + '1     h1    67       4.5     pool1\n' + '2     h2    1067.13  1004.5  pool2',
    );
    expect(candidates({ summary: 'fits nowhere', detail: {} })).toBeUndefined();
  });
});
