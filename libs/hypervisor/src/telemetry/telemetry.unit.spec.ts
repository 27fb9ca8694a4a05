import { describe, expect, it } from 'vitest';
import { SimulatorFleet } from '../simulator/simulator.ts';
import {
  parseBlkdeviotune,
  parseDomblklist,
  parseGuestDomstats,
  parseMeminfo,
  parseNodeCpuStats,
  parseNodeMemoryTune,
  parseNodeMemStats,
  parseSchedinfo,
} from './parse.ts';
import { HostFileStats, parseHostFiles, sshTargetOf } from './local.ts';
import { LibvirtTelemetry } from './libvirt.ts';
import { SimMemoryModel } from './simulator.ts';

describe('virsh telemetry parsers', () => {
  it('nodememstats: mem_free counts buffers and cache, mem_unused does not (MOM HostMemory)', () => {
    const s = parseNodeMemStats('total  :  8000000 KiB\nfree   :  1000000 KiB\nbuffers:  200000 KiB\ncached :  300000 KiB\n');
    expect(s).toEqual({ mem_available: 8000000, mem_unused: 1000000, mem_free: 1500000 });
    expect(parseNodeMemStats('nothing')).toEqual({});
  });

  it('nodecpustats, node-memory-tune, meminfo, schedinfo', () => {
    expect(parseNodeCpuStats('user:  100\nsystem:  50\nidle:  800\niowait:  50\n')).toEqual({ busy: 150, total: 1000 });
    expect(
      parseNodeMemoryTune('Shared memory:\n\tshm_pages_to_scan   100\n\tshm_sleep_millisecs 20\n\tshm_merge_across_nodes 1\n'),
    ).toEqual({ ksm_pages_to_scan: 100, ksm_sleep_millisecs: 20, ksm_merge_across_nodes: 1 });
    expect(parseMeminfo('MemTotal: 100 kB\nSwapTotal:  4000 kB\nSwapFree:  3000 kB\nAnonPages: 77 kB\n')).toEqual({
      swap_total: 4000,
      swap_usage: 1000,
      anon_pages: 77,
    });
    expect(parseSchedinfo('Scheduler      : posix\ncpu_shares     : 1024\nvcpu_period    : 100000\nvcpu_quota     : -1\n')).toEqual({
      quota: -1,
      period: 100000,
    });
  });

  it("domblklist --details: the disks (not cdroms), target and source; blkdeviotune: MOM's six limits", () => {
    expect(
      parseDomblklist(' file   disk   vda   /var/lib/libvirt/images/a.qcow2\n file   cdrom  sda   -\n block  disk   vdb   /dev/sdb\n'),
    ).toEqual([
      { name: 'vda', path: '/var/lib/libvirt/images/a.qcow2' },
      { name: 'vdb', path: '/dev/sdb' },
    ]);
    const text = [
      'total_bytes_sec: 2097152',
      'read_bytes_sec : 0',
      'write_bytes_sec: 0',
      'total_iops_sec : 300',
      'read_iops_sec  : 0',
      'write_iops_sec : 0',
      'total_bytes_sec_max: 0',
      'size_iops_sec  : 0',
      'group_name     : drive-virtio-disk0',
    ].join('\n');
    expect(parseBlkdeviotune(text)).toEqual({
      total_bytes_sec: 2097152,
      read_bytes_sec: 0,
      write_bytes_sec: 0,
      total_iops_sec: 300,
      read_iops_sec: 0,
      write_iops_sec: 0,
    });
  });

  it('domstats: running guests only, MOM names, unreported statistics absent', () => {
    const text = [
      "Domain: 'berth-0d2c8a9e-1111-4222-8333-444455556666'",
      '  state.state=1',
      '  balloon.current=524288',
      '  balloon.maximum=1048576',
      '  balloon.rss=300000',
      '  balloon.unused=100000',
      '  vcpu.current=2',
      '  cpu.time=123456789',
      '',
      "Domain: 'other'",
      '  state.state=5',
      '  balloon.current=1',
      '',
    ].join('\n');
    const g = parseGuestDomstats(text);
    expect(g).toHaveLength(1);
    expect(g[0]).toEqual({
      name: 'berth-0d2c8a9e-1111-4222-8333-444455556666',
      vmId: '0d2c8a9e-1111-4222-8333-444455556666',
      stats: { balloon_cur: 524288, balloon_max: 1048576, rss: 300000, mem_unused: 100000, vcpu_count: 2, cpu_time: 123456789 },
    });
    expect(g[0]?.stats['mem_available']).toBeUndefined();
  });
});

describe('the simulator memory model', () => {
  const spec = (vmId: string, gib: number) => ({ vmId, vcpus: 2, memoryBytes: gib * 1024 ** 3 });

  it('a guest gets what its workload wants up to its balloon; the rest is paged out; the host holds the sum', async () => {
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 8 * 1024 ** 3 });
    const d = fleet.driver('sim://h1');
    let t = 0;
    const model = new SimMemoryModel(fleet, { now: () => t });
    const a = '0d2c8a9e-1111-4222-8333-444455556666';
    await d.define(spec(a, 4) as never);
    await d.start(a);
    model.setWorkload(a, 0.75);
    const src = model.source('h1');
    let s = await src.sample();
    expect(s.guests[0]?.stats).toMatchObject({
      balloon_cur: 4 * 1024 ** 2,
      balloon_max: 4 * 1024 ** 2,
      rss: 3 * 1024 ** 2,
      mem_unused: 1024 ** 2,
    });
    expect(s.host['mem_available']).toBe(8 * 1024 ** 2);
    expect(s.host['mem_free']).toBe(8 * 1024 ** 2 - Math.floor(8 * 1024 ** 2 * 0.02) - 3 * 1024 ** 2);
    await d.setBalloonTarget(a, 2 * 1024 ** 3);
    t = 5;
    s = await src.sample();
    expect(s.guests[0]?.stats).toMatchObject({ balloon_cur: 2 * 1024 ** 2, rss: 2 * 1024 ** 2, mem_unused: 0, swap_out: 1024 ** 2 });
    // CPU: the guest's 2 vCPUs ran 30% each over the 5 s, on a host of 8 CPUs: 0.6 / 8 = 7.5%
    expect(s.host['cpu_usage']).toBe(7.5);
    await src.setKsm({ run: 1, pagesToScan: 64 });
    expect((await src.sample()).host).toMatchObject({ ksm_run: 1, ksm_pages_to_scan: 64 });
  });

  it("each disk's I/O limits as MOM's GuestIoTune reports them: the VM's policy (guaranteed, maximum) and what is in force", async () => {
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 8 * 1024 ** 3 });
    const d = fleet.driver('sim://h1');
    const model = new SimMemoryModel(fleet, { now: () => 0 });
    const [a, b] = ['0d2c8a9e-1111-4222-8333-444455556666', '0d2c8a9e-1111-4222-8333-444455556667'];
    const volumes = [
      { name: `berth-${a}-disk0`, pool: 'p', sizeBytes: 1024 ** 3 },
      { name: `berth-${a}-disk1`, pool: 'p', sizeBytes: 1024 ** 3 },
    ];
    await d.define({ ...spec(a, 1), volumes } as never);
    await d.define({ ...spec(b, 1), volumes: [] } as never);
    await d.start(a);
    await d.start(b);
    model.setIoPolicy(a, { maximum: { total_bytes_sec: 10_000_000, total_iops_sec: 500 }, guaranteed: { total_iops_sec: 100 } });
    const src = model.source('h1');
    const zero = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 0, read_iops_sec: 0, write_iops_sec: 0 };
    const byVm = async () => new Map((await src.sample()).guests.map((g) => [g.vmId, g.ioTune]));
    let io = await byVm();
    expect(io.get(b)).toBeUndefined(); // no disk, no I/O limits
    expect(io.get(a)).toEqual([
      {
        name: 'vda',
        path: `p/berth-${a}-disk0`,
        guaranteed: { ...zero, total_iops_sec: 100 },
        maximum: { ...zero, total_bytes_sec: 10_000_000, total_iops_sec: 500 },
        current: zero,
      },
      expect.objectContaining({ name: 'vdb', path: `p/berth-${a}-disk1`, current: zero }),
    ]);
    // a control sets the named limits of one disk; the others stay
    await src.setIoTune(`berth-${a}`, { device: 'vdb', totalBytesSec: 10_000_000, totalIopsSec: 500 });
    await src.setIoTune(`berth-${a}`, { device: 'vdb', totalIopsSec: 400 });
    io = await byVm();
    expect(io.get(a)?.map((x) => x.current)).toEqual([zero, { ...zero, total_bytes_sec: 10_000_000, total_iops_sec: 400 }]);
    await expect(src.setIoTune(`berth-${a}`, { device: 'vdc', totalIopsSec: 1 })).rejects.toThrow(/no disk vdc/);
  });
});

describe("MOM's host files of a libvirt host reached over SSH", () => {
  it('the SSH target of a libvirt URI: user, host, port, key and no_verify; none for TCP, TLS or a local socket', () => {
    expect(sshTargetOf('qemu+ssh://ops@kvm-7.example:2222/system?keyfile=/k/id&no_verify=1')).toEqual({
      host: 'kvm-7.example',
      port: 2222,
      user: 'ops',
      keyfile: '/k/id',
      noVerify: true,
    });
    expect(sshTargetOf('qemu+libssh2://[fd00::7]/system')).toEqual({ host: 'fd00::7', noVerify: false });
    for (const uri of ['qemu+tcp://kvm-7/system', 'qemu+tls://kvm-7/system', 'qemu:///system', 'qemu+unix:///system?socket=/s'])
      expect(sshTargetOf(uri)).toBeUndefined();
    // the endpoint named for a TCP or TLS host's files (EXECUTOR_HOST_FILES_SSH)
    expect(sshTargetOf('ssh://berth@kvm-7:2200?keyfile=/etc/berth/k')).toEqual({
      host: 'kvm-7',
      port: 2200,
      user: 'berth',
      keyfile: '/etc/berth/k',
      noVerify: false,
    });
  });

  it('a TCP or TLS host declares whether its own files are read: only with an SSH endpoint for them', () => {
    expect(new LibvirtTelemetry({ uri: 'qemu+tls://kvm-7/system' }).capabilities.hostFiles).toBe(false);
    expect(new LibvirtTelemetry({ uri: 'qemu+tcp://kvm-7/system', hostFilesSsh: 'ssh://kvm-7' }).capabilities.hostFiles).toBe(true);
    expect(new LibvirtTelemetry({ uri: 'qemu+ssh://kvm-7/system' }).capabilities.hostFiles).toBe(true);
    expect(new LibvirtTelemetry({ uri: 'qemu:///system' }).capabilities.hostFiles).toBe(true);
    expect(() => new LibvirtTelemetry({ uri: 'qemu+tls://kvm-7/system', hostFilesSsh: 'kvm-7:22' })).toThrow(/not an ssh:/);
  });

  it('a session daemon declares no CPU tuning (libvirt refuses schedinfo there); a system daemon does', () => {
    for (const uri of ['qemu:///session', 'qemu+unix:///session?socket=/tmp/s/libvirt-sock', 'qemu+ssh://me@kvm-7/session'])
      expect(new LibvirtTelemetry({ uri }).capabilities.cpuTune, uri).toBe(false);
    for (const uri of ['qemu:///system', 'qemu+tls://kvm-7/system', 'qemu+ssh://kvm-7/system?keyfile=/k'])
      expect(new LibvirtTelemetry({ uri }).capabilities.cpuTune, uri).toBe(true);
  });

  it("the script's output split by file, turned into MOM's HostMemory and HostKSM statistics (swap traffic and ksmd since the last sample)", async () => {
    const out = (pswpin: number, ticks: number): string =>
      [
        '@@berth-host-file ksm/run',
        '1',
        '@@berth-host-file ksm/pages_to_scan',
        '300',
        '@@berth-host-file meminfo',
        'MemTotal:       16000000 kB',
        'AnonPages:       2000000 kB',
        'SwapTotal:       1000000 kB',
        'SwapFree:         750000 kB',
        '@@berth-host-file vmstat',
        `pswpin ${pswpin}`,
        'pswpout 9',
        '@@berth-host-file ksmd',
        `41 (ksmd) S 2 0 0 0 -1 2129984 0 0 0 0 ${ticks} 0 0 0 25 5 1 0 70 0 0`,
        '',
      ].join('\n');
    const files = parseHostFiles(out(5, 10));
    expect([...files.ksm]).toEqual([
      ['run', '1'],
      ['pages_to_scan', '300'],
    ]);
    let n = 0;
    const stats = new HostFileStats(async () => parseHostFiles(n++ === 0 ? out(5, 10) : out(12, 10)));
    expect(await stats.sample()).toEqual({
      swap_total: 1000000,
      swap_usage: 250000,
      anon_pages: 2000000,
      ksm_run: 1,
      ksm_pages_to_scan: 300,
      swap_in: 0,
      swap_out: 0,
      ksmd_cpu_usage: 0,
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(await stats.sample()).toMatchObject({ swap_in: 7, swap_out: 0, ksmd_cpu_usage: 0 });
  });
});
