/**
 * A real QEMU guest through the whole placement path: inventory, scheduler and placement-executor
 * as processes, one host served by a `qemu:///session` libvirtd run as an unprivileged user
 * (QEMU under TCG, no /dev/kvm needed). The VM is composed through gRPC; libvirt itself (virsh)
 * must show it running as a QEMU process of that user, with real memory statistics.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { libvirtUsable, qemuUsable, startSessionLibvirtd, type SessionLibvirtd } from '@berth/hypervisor/testing';
import { eventually, infraAvailable } from '@berth/testing';
import { registerLibvirtHost, startStack, waitForSchedulerHosts, type Stack } from './harness/stack.ts';
import { domainStates, domMemStat, virsh } from './harness/virsh.ts';

const MiB = 1024 ** 2;
const VM_ID = 'qemu-guest-1';
const DOMAIN = `berth-${VM_ID}`;

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuUsable())(
  'a real QEMU guest composed through gRPC',
  () => {
    let session: SessionLibvirtd;
    let stack: Stack;

    beforeAll(async () => {
      // Side by side; whatever started is cleaned up by afterAll even when the other failed.
      const [[daemon], [started]] = await Promise.all([
        Promise.allSettled([startSessionLibvirtd()]),
        Promise.allSettled([startStack('e2e_qemu')]),
      ]);
      if (daemon?.status === 'fulfilled') session = daemon.value;
      if (started?.status === 'fulfilled') stack = started.value;
      for (const r of [daemon, started]) if (r?.status === 'rejected') throw r.reason;
      await registerLibvirtHost(stack.inventory, 'qemu-1', session.uri);
      await waitForSchedulerHosts(stack, 1);
    });

    afterAll(async () => {
      await stack?.stop();
      await session?.stop();
    });

    it('boots under TCG as the unprivileged user and reports real memory statistics', async () => {
      await callUnary(stack.inventory, 'composeVm', {
        meta: { commandId: `compose-${VM_ID}` },
        vmId: VM_ID,
        spec: modelV1.VmSpec.fromPartial({ name: 'tiny', vcpus: 1, memoryBytes: 64 * MiB }),
      });

      await eventually(
        async () => (await domainStates(session.uri)).get(DOMAIN) === 'running',
        `${DOMAIN} running in libvirt`,
        120_000,
        500,
      );
      // TCG: no KVM acceleration asked for, and the guest is a QEMU process of the daemon's user.
      expect(await virsh(session.uri, 'dumpxml', DOMAIN)).toMatch(/<domain type=['"]qemu['"]/);
      const qemu = execFileSync('ps', ['-eo', 'user:32,args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes('qemu-system') && l.includes(`guest=${DOMAIN}`));
      expect(qemu).toHaveLength(1);
      expect(qemu[0]!.trim().split(/\s+/)[0]).toBe(session.user);

      // Memory figures measured by libvirt: the balloon's current size and the QEMU process's RSS.
      const stats = await eventually(
        async () => {
          const s = await domMemStat(session.uri, DOMAIN);
          return (s.get('rss') ?? 0) > 0 ? s : undefined;
        },
        'dommemstat rss',
        30_000,
        500,
      );
      expect(stats.get('actual')).toBe(64 * 1024);
      expect(stats.get('rss')).toBeGreaterThan(0);

      const vm = await eventually(
        async () => {
          const v = (await callUnary(stack.inventory, 'getVm', { vmId: VM_ID })).vm;
          return v?.status === inventoryV1.VmStatus.VM_STATUS_RUNNING ? v : undefined;
        },
        'inventory to record the VM running',
        60_000,
      );
      expect(vm.hostId).toBe('qemu-1');
    });

    it('deletes the guest through gRPC: the domain is gone from libvirt', async () => {
      await callUnary(stack.inventory, 'deleteVm', { meta: { commandId: `delete-${VM_ID}` }, vmId: VM_ID });
      await eventually(async () => !(await domainStates(session.uri)).has(DOMAIN), `${DOMAIN} undefined`, 120_000, 500);
      await eventually(
        async () => {
          const v = (await callUnary(stack.inventory, 'getVm', { vmId: VM_ID })).vm;
          return v?.status === inventoryV1.VmStatus.VM_STATUS_DELETED;
        },
        'inventory to record the VM deleted',
        60_000,
      );
      const host = (await callUnary(stack.inventory, 'getHost', { hostId: 'qemu-1' })).host!;
      expect(host.claims.map((c) => c.vmId)).toEqual([]);
    });
  },
);
