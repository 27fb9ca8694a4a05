import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCapacity } from '@berth/fit';
import { guestKernel, libvirtUsable, startSystemLibvirtd, type SystemLibvirtd } from '@berth/hypervisor/testing';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningExecutor } from '@berth/placement-executor';
import { FakeInventory } from '@berth/placement-executor/testing';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@berth/telemetry';
import { connectTestNats, createTestDatabase, eventually, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { serviceTlsEnv } from './harness/tls.ts';

const qemuInstalled = (): boolean => {
  try {
    execFileSync('qemu-system-x86_64', ['--version']);
    return true;
  } catch {
    if (process.env['REQUIRE_INFRA'] === '1') throw new Error('REQUIRE_INFRA=1 but qemu-system-x86_64 is not installed');
    return false;
  }
};

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
describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuInstalled())(
  'CPU and I/O tune on a real QEMU guest',
  () => {
    let sys: SystemLibvirtd;
    let exDb: TestDatabase;
    let telDb: TestDatabase;
    let nc: NatsConnection;
    let ex: RunningExecutor;
    let tel: RunningTelemetry;
    const prefix = testSubjectPrefix('tune');
    const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', sys.uri, ...args], { encoding: 'utf8' });
    const field = (text: string, name: string): number => Number(new RegExp(`^${name}\\s*:\\s*(-?\\d+)$`, 'm').exec(text)?.[1]);

    beforeAll(async () => {
      [sys, exDb, telDb, nc] = await Promise.all([
        startSystemLibvirtd('tune', { cgroups: true, storage: true }),
        createTestDatabase('tune_ex'),
        createTestDatabase('tune_tel'),
        connectTestNats(),
      ]);
      ex = await startExecutor(
        loadExecutorConfig({
          ...serviceTlsEnv('placement-executor'),
          DATABASE_URL: exDb.url,
          NATS_URL: process.env['NATS_URL'],
          NATS_PREFIX: prefix,
          EXECUTOR_GRPC_PORT: '0',
          EXECUTOR_SAMPLE_INTERVAL: '1s',
          EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '60s', 'poll-frequency': '1h', 'guest-boot': guestKernel() }),
          EXECUTOR_STOP_TIMEOUT: '1s',
        }),
        createLogger('tune-executor'),
        { sweepMillis: 500 },
      );
      tel = await startTelemetry(
        loadTelemetryConfig({
          ...serviceTlsEnv('telemetry'),
          DATABASE_URL: telDb.url,
          NATS_URL: process.env['NATS_URL'],
          NATS_PREFIX: prefix,
          TELEMETRY_GRPC_PORT: '0',
          TELEMETRY_LOG_FLUSH: '20ms',
          TELEMETRY_SAMPLE_INTERVAL: '1s',
        }),
        createLogger('tune-telemetry'),
        { loop: false },
      );
      const inv = new FakeInventory(nc, prefix);
      await inv.emit('host-t1', 'HostRegistered', {
        hostId: 't1',
        hypervisorUri: sys.uri,
        capacity: hostCapacity({ hostId: 't1', cpus: 1, memoryBytes: 1024 * MiB }),
      });
      await eventually(async () => (await ex.readModel.hostUri('t1')) !== undefined, 'the executor registers t1', 10_000);
      expect(await ex.readModel.hostUri('t1')).toBe(sys.uri);
      await inv.place(
        VM,
        't1',
        sys.uri,
        { memoryBytes: 64 * MiB, volumes: [{ diskIndex: 0, pool: 'default-pool', sizeBytes: 4 * MiB }] },
        { memoryBytes: 64 * MiB, slaTier: 'silver' },
      );
    });
    afterAll(async () => {
      await tel?.stop();
      await ex?.stop();
      await nc?.close();
      await sys?.stop();
      await Promise.all([exDb?.drop(), telDb?.drop()]);
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
