import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libvirtUsable, qemuUsable, startSystemLibvirtd, type SystemLibvirtd } from '@berth/hypervisor/testing';
import type { RunningTelemetry } from '@berth/telemetry';
import { infraAvailable } from '@berth/testing';
import { startTelemetryExecutor, type TelemetryExecutor } from './harness/telemetry-executor.ts';

const MiB = 1024 ** 2;
const VM = 'tune1';
const DOMAIN = `berth-${VM}`;
const POLICY = new URL('./fixtures/telemetry-tune.policy', import.meta.url);

/**
 * (In-process executor and telemetry, real everything else.) CPU and I/O tune carried out on a real
 * QEMU guest (TCG) with a disk, on a privileged libvirtd whose guests are in cgroups (a system daemon:
 * a session daemon cannot set vCPU bandwidth). The executor provisions the VM with one volume, its
 * sampling pass reads the domain's vcpu_quota/vcpu_period (schedinfo) and each disk's limits
 * (blkdeviotune: in force, and as defined = the VM's maximum); a policy of ours in MOM's language
 * (test/fixtures/telemetry-tune.policy) asks for half a CPU and each disk at its maximum; telemetry's
 * controllers send it through the executor, and `virsh schedinfo` / `virsh blkdeviotune` read the
 * new values back from the domain.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuUsable())(
  'CPU and I/O tune on a real QEMU guest',
  () => {
    let sys: SystemLibvirtd;
    let plane: TelemetryExecutor;
    let tel: RunningTelemetry;
    const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', sys.uri, ...args], { encoding: 'utf8' });
    const field = (text: string, name: string): number => Number(new RegExp(`^${name}\\s*:\\s*(-?\\d+)$`, 'm').exec(text)?.[1]);

    beforeAll(async () => {
      sys = await startSystemLibvirtd('tune', { cgroups: true, storage: true });
      plane = await startTelemetryExecutor('tune', 't1', sys.uri);
      tel = plane.telemetry;
      await plane.inventory.place(
        VM,
        't1',
        sys.uri,
        { memoryBytes: 64 * MiB, volumes: [{ diskIndex: 0, pool: 'default-pool', sizeBytes: 4 * MiB }] },
        { memoryBytes: 64 * MiB, slaTier: 'silver' },
      );
    });
    afterAll(async () => {
      await plane?.stop();
      await sys?.stop();
    });

    it("a policy's vcpu_quota and each disk's limits reach the domain: schedinfo and blkdeviotune show them", async () => {
      await expect
        .poll(
          () => {
            try {
              return virsh('domstate', DOMAIN).trim();
            } catch {
              return 'missing';
            }
          },
          { timeout: 60_000, interval: 500 },
        )
        .toBe('running');
      expect(field(virsh('schedinfo', DOMAIN), 'vcpu_quota')).toBe(-1);
      // The VM is defined with an I/O limit (its maximum); none is in force yet.
      virsh('blkdeviotune', DOMAIN, 'vda', '--config', '--total-bytes-sec', '2097152', '--total-iops-sec', '300');
      expect(field(virsh('blkdeviotune', DOMAIN, 'vda', '--live'), 'total_bytes_sec')).toBe(0);

      // the executor's sampling pass reads both (the disks' limits again within 12 samples)
      const io = () => tel.history.get('t1')?.ioTune.get(VM)?.[0];
      await expect.poll(() => io()?.maximum['total_bytes_sec'], { timeout: 30_000, interval: 500 }).toBe(2097152);
      expect(io()).toMatchObject({
        name: 'vda',
        path: expect.stringMatching(/berth-tune1-disk0/),
        maximum: { total_iops_sec: 300 },
        current: { total_bytes_sec: 0, total_iops_sec: 0 },
      });
      expect(tel.history.get('t1')!.guests.get(VM)!.at(-1)).toMatchObject({ vcpu_quota: -1, vcpu_period: 100000 });
      expect(tel.history.get('t1')!.capabilities).toMatchObject({ cpuTune: true, ioTune: true });

      await tel.policies.apply('host:t1', [{ name: '01-tune.policy', text: readFileSync(POLICY, 'utf8') }]);
      const r = await tel.evaluator.evaluateHost('t1');
      expect(r.error).toBeUndefined();
      expect(r.outcome).toBe('changed');
      expect(r.controlReply?.results).toEqual([{ ok: true }, { ok: true }]);
      const [decision] = await tel.queries.decisions('t1', 1);
      expect((decision?.data as { controls?: unknown } | undefined)?.controls).toEqual([
        { kind: 'cpuTune', vmId: VM, quota: 50000, period: 100000 },
        {
          kind: 'ioTune',
          vmId: VM,
          device: 'vda',
          totalBytesSec: 2097152,
          readBytesSec: 0,
          writeBytesSec: 0,
          totalIopsSec: 300,
          readIopsSec: 0,
          writeIopsSec: 0,
        },
      ]);

      // read back from the domain (its vCPU cgroup and QEMU's throttle group)
      const sched = virsh('schedinfo', DOMAIN);
      expect(field(sched, 'vcpu_quota')).toBe(50000);
      expect(field(sched, 'vcpu_period')).toBe(100000);
      const live = virsh('blkdeviotune', DOMAIN, 'vda', '--live');
      expect(field(live, 'total_bytes_sec')).toBe(2097152);
      expect(field(live, 'total_iops_sec')).toBe(300);
      expect(field(live, 'read_bytes_sec')).toBe(0);

      // the next samples report them, and the policy has nothing left to change
      await expect
        .poll(() => [tel.history.get('t1')?.guests.get(VM)?.at(-1)?.['vcpu_quota'], io()?.current['total_bytes_sec']], {
          timeout: 15_000,
          interval: 500,
        })
        .toEqual([50000, 2097152]);
      const again = await tel.evaluator.evaluateHost('t1');
      expect(again.error).toBeUndefined();
      expect(again.outcome).toBe('unchanged');
    });
  },
);
