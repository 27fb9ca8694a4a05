import { describe, expect, it } from 'vitest';
import { migrateArgs, parseJobInfo } from './migrate-args.ts';

// Captured from libvirt 9.0 (`virsh domjobinfo --rawstats`) during a 1 MiB/s migration between two session daemons.
const RUNNING = `Job type: 2

operation: 5
time_elapsed: 4068
downtime: 100
setup_time: 2
data_total: 67641344
data_processed: 1764511
data_remaining: 49270784
memory_total: 67641344
memory_processed: 1764511
memory_remaining: 49270784
memory_bps: 1067220
memory_dirty_rate: 25
memory_iteration: 1
memory_postcopy_requests: 0
memory_page_size: 4096
disk_total: 0
`;

describe('migrateArgs', () => {
  it('asks for a live, persistent migration that undefines the source, with every option spelled as virsh wants', () => {
    expect(migrateArgs('berth-a', { destinationUri: 'qemu+ssh://h2/system' })).toEqual([
      'migrate',
      '--live',
      '--persistent',
      '--undefinesource',
      'berth-a',
      'qemu+ssh://h2/system',
    ]);
    expect(
      migrateArgs(
        'berth-a',
        {
          destinationUri: 'qemu+tls://h2/system',
          migrateUri: 'tcp://10.0.0.2',
          listenAddress: '10.0.0.2',
          bandwidthMiBps: 1.4,
          autoConverge: true,
          postCopy: true,
          copyStorage: true,
        },
        true,
      ),
    ).toEqual([
      'migrate',
      '--live',
      '--persistent',
      '--undefinesource',
      '--auto-converge',
      '--postcopy',
      '--postcopy-after-precopy',
      '--postcopy-resume',
      '--copy-storage-all',
      '--bandwidth',
      '1',
      'berth-a',
      'qemu+tls://h2/system',
      '--migrateuri',
      'tcp://10.0.0.2',
      '--listen-address',
      '10.0.0.2',
    ]);
  });
});

describe('parseJobInfo', () => {
  it('reads the counts, the iteration and the dirty rate in bytes', () => {
    expect(parseJobInfo(RUNNING)).toEqual({
      dataTotalBytes: 67641344,
      dataProcessedBytes: 1764511,
      dataRemainingBytes: 49270784,
      memoryDirtyRateBytesPerSecond: 25 * 4096,
      iteration: 1,
      elapsedMillis: 4068,
      phase: 'precopy',
    });
    expect(parseJobInfo(RUNNING, 'postcopy')?.phase).toBe('postcopy');
  });

  it('says no job when there is none or it has ended', () => {
    expect(parseJobInfo('Job type: 0\n\n')).toBeUndefined();
    expect(parseJobInfo('Job type:         None\n')).toBeUndefined();
    expect(parseJobInfo(RUNNING.replace('Job type: 2', 'Job type: 3'))).toBeUndefined();
    expect(parseJobInfo('')).toBeUndefined();
  });
});

describe('migrateArgs with the destination definitions', () => {
  it('passes the live and the persistent definition files', () => {
    expect(
      migrateArgs('berth-a', { destinationUri: 'qemu:///h2', copyStorage: true, xmlFile: '/t/live.xml', persistentXmlFile: '/t/p.xml' }),
    ).toEqual([
      'migrate',
      '--live',
      '--persistent',
      '--undefinesource',
      '--copy-storage-all',
      'berth-a',
      'qemu:///h2',
      '--xml',
      '/t/live.xml',
      '--persistent-xml',
      '/t/p.xml',
    ]);
  });
});
