import { execFileSync } from 'node:child_process';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCapacity } from '@berth/fit';
import { guestKernel, libvirtUsable, startSessionLibvirtd, type SessionLibvirtd } from '@berth/hypervisor/testing';
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

/**
 * (In-process executor and telemetry, real everything else.) A real QEMU guest under TCG on a
 * qemu:///session daemon, booted into Debian's kernel with a busybox initramfs that loads the
 * virtio balloon driver (the realm's `guest-boot`; scripts/fetch-guest-kernel.sh): its statistics
 * reach telemetry through the executor's collectors, and a balloon decision of a policy reaches the
 * guest — its driver inflates the balloon and libvirt shows the new current memory.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuInstalled())(
  'telemetry against a real QEMU guest',
  () => {
    let session: SessionLibvirtd;
    let exDb: TestDatabase;
    let telDb: TestDatabase;
    let nc: NatsConnection;
    let ex: RunningExecutor;
    let tel: RunningTelemetry;
    const prefix = testSubjectPrefix('tlv');
    const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', session.uri, ...args], { encoding: 'utf8' });

    beforeAll(async () => {
      [session, exDb, telDb, nc] = await Promise.all([
        startSessionLibvirtd(),
        createTestDatabase('tlv_ex'),
        createTestDatabase('tlv_tel'),
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
        createLogger('tlv-executor'),
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
        createLogger('tlv-telemetry'),
        { loop: false },
      );
      const inv = new FakeInventory(nc, prefix);
      await inv.emit('host-q1', 'HostRegistered', {
        hostId: 'q1',
        hypervisorUri: session.uri,
        capacity: hostCapacity({ hostId: 'q1', cpus: 1, memoryBytes: 1024 * MiB }),
      });
      // the executor took the registration (a malformed one is dead-lettered and the host never registered)
      await eventually(async () => (await ex.readModel.hostUri('q1')) !== undefined, 'the executor registers q1', 10_000);
      expect(await ex.readModel.hostUri('q1')).toBe(session.uri);
      await inv.place('qbal', 'q1', session.uri, { memoryBytes: 128 * MiB }, { memoryBytes: 128 * MiB, slaTier: 'silver' });
    });
    afterAll(async () => {
      await tel?.stop();
      await ex?.stop();
      await nc?.close();
      await session?.stop();
      await Promise.all([exDb?.drop(), telDb?.drop()]);
    });

    it("the guest's statistics reach telemetry, a balloon decision reaches the guest, and CPU tuning is declared unsupported", async () => {
      await expect
        .poll(
          () => {
            try {
              return virsh('domstate', 'berth-qbal').trim();
            } catch {
              return 'missing';
            }
          },
          { timeout: 60_000, interval: 500 },
        )
        .toBe('running');
      await expect
        .poll(() => tel.history.get('q1')?.guests.get('qbal')?.at(-1)?.['balloon_cur'], { timeout: 30_000, interval: 500 })
        .toBe(128 * 1024);
      // once the guest kernel has loaded its balloon driver, the guest's own view of its memory arrives too
      await expect
        .poll(() => tel.history.get('q1')?.guests.get('qbal')?.at(-1)?.['mem_unused'], { timeout: 180_000, interval: 1000 })
        .toBeGreaterThan(0);
      const h = tel.history.get('q1')!;
      const guest = h.guests.get('qbal')!.at(-1)!;
      expect(guest['mem_unused']).toBeLessThan(128 * 1024);
      expect(guest).toMatchObject({ balloon_max: 128 * 1024, vcpu_count: 1 });
      expect(guest['cpu_time']).toBeGreaterThan(0);
      expect(guest['rss']).toBeGreaterThan(0);
      const host = h.host.at(-1)!;
      expect(host['mem_available']).toBeGreaterThan(0);
      expect(host['mem_free']).toBeGreaterThanOrEqual(host['mem_unused']!);
      expect(host['cpu_count']).toBeGreaterThan(0);
      expect(h.capabilities).toMatchObject({ balloon: true, ksmRun: false });

      // A host policy that wants every guest at 75% of its maximum.
      await tel.policies.apply('host:q1', [
        { name: '01-shrink.policy', text: '(with Guests guest (guest.Control "balloon_target" (* guest.balloon_max 0.75)))\n' },
      ]);
      const r = await tel.evaluator.evaluateHost('q1');
      expect(r.error).toBeUndefined();
      expect(r.outcome).toBe('changed');
      expect(r.controlReply?.results).toEqual([{ ok: true }]);
      const decisions = await tel.queries.decisions('q1', 5);
      expect(decisions[0]?.data).toMatchObject({ controls: [{ kind: 'balloon', vmId: 'qbal', targetKib: 96 * 1024 }] });
      // the guest's balloon driver inflates the balloon: libvirt's current memory follows, and the next
      // sample shows it to telemetry as the guest's balloon
      const usedKib = (): number => Number(/Used memory:\s+(\d+) KiB/.exec(virsh('dominfo', 'berth-qbal'))?.[1]);
      await expect.poll(usedKib, { timeout: 60_000, interval: 500 }).toBe(96 * 1024);
      expect(virsh('dumpxml', 'berth-qbal')).toMatch(/<currentMemory unit='KiB'>98304<\/currentMemory>/);
      await expect
        .poll(() => tel.history.get('q1')?.guests.get('qbal')?.at(-1)?.['balloon_cur'], { timeout: 30_000, interval: 500 })
        .toBe(96 * 1024);

      // CPU tune: a session daemon has no cgroups (libvirt: "CPU tuning is not available in session
      // mode"), so the host declares it cannot and a policy's vcpu_quota is never sent to it.
      expect(tel.history.get('q1')!.capabilities).toMatchObject({ cpuTune: false });
      await tel.policies.apply('host:q1', [{ name: '01-cpu.policy', text: '(with Guests guest (guest.Control "vcpu_quota" 50000))\n' }]);
      const c = await tel.evaluator.evaluateHost('q1');
      expect(c.error).toBeUndefined();
      expect(c.outcome).toBe('unchanged');
      expect(c.controlReply).toBeUndefined();
    });
  },
);
