import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libvirtUsable, qemuUsable, startSessionLibvirtd, type SessionLibvirtd } from '@berth/hypervisor/testing';
import type { RunningTelemetry } from '@berth/telemetry';
import { infraAvailable } from '@berth/testing';
import { startTelemetryExecutor, type TelemetryExecutor } from './harness/telemetry-executor.ts';

const MiB = 1024 ** 2;

/**
 * (In-process executor and telemetry, real everything else.) A real QEMU guest under TCG on a
 * qemu:///session daemon, booted into Debian's kernel with a busybox initramfs that loads the
 * virtio balloon driver (the realm's `guest-boot`; scripts/fetch-guest-kernel.sh): its statistics
 * reach telemetry through the executor's collectors, and a balloon decision of a policy reaches the
 * guest — its driver inflates the balloon and libvirt shows the new current memory.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuUsable())(
  'telemetry against a real QEMU guest',
  () => {
    let session: SessionLibvirtd;
    let plane: TelemetryExecutor;
    let tel: RunningTelemetry;
    const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', session.uri, ...args], { encoding: 'utf8' });

    beforeAll(async () => {
      session = await startSessionLibvirtd();
      plane = await startTelemetryExecutor('tlv', 'q1', session.uri);
      tel = plane.telemetry;
      await plane.inventory.place('qbal', 'q1', session.uri, { memoryBytes: 128 * MiB }, { memoryBytes: 128 * MiB, slaTier: 'silver' });
    });
    afterAll(async () => {
      await plane?.stop();
      await session?.stop();
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
