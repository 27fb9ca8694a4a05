/**
 * Moves of a pinned VM with a disk between two real libvirt daemons (two `qemu:///session` hosts,
 * each with its own `default-pool`: no shared storage, EXECUTOR_SHARED_STORAGE=off), through the
 * services: inventory, the scheduler, the placement executor and the migration service as processes,
 * the moves asked for with `berth vms migrate`.
 *
 * A stopped pinned filler on the first host takes its CPU 0, so the VM is pinned to CPU 1 there and
 * to CPU 0 on the second: the pinning the destination gets must be its own claim's, not the source's.
 * - live, first host -> second: the disk copied with the memory (`--copy-storage-all`), the domain
 *   there pinned to the destination claim's CPU (`--xml`), live and in its persistent definition;
 * - cold (stopped), back: the disk's new content copied byte for byte, the domain defined from the
 *   destination claim; the source's domain and volume gone; claims where the VM is.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { libvirtUsable, startMigrationPair, type MigrationPair } from '@berth/hypervisor/testing';
import { createTestDatabase, eventually, infraAvailable, type TestDatabase } from '@berth/testing';
import { registerLibvirtHost, startStack, waitForSchedulerHosts, waitForSchedulerInSync, type Stack } from './harness/stack.ts';
import { repoRoot, startService, type ServiceHandle } from './harness/service.ts';
import { domainStates, virsh } from './harness/virsh.ts';

const MiB = 1024 ** 2;
const POOL = 'default-pool';
const VM_ID = 'disky';
const DOMAIN = `berth-${VM_ID}`;
const VOLUME = `${DOMAIN}-disk0`;

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable())(
  'moves of a pinned VM with a disk between two libvirt daemons without shared storage',
  () => {
    let pair: MigrationPair;
    let stack: Stack;
    let migDb: TestDatabase;
    let migration: ServiceHandle;
    let work: string;
    const run = promisify(execFile);

    const migrate = async (to: string): Promise<string> =>
      (
        await run(
          process.execPath,
          [
            `${repoRoot}/tools/cli/bin/berth.js`,
            'vms',
            'migrate',
            VM_ID,
            '--to',
            to,
            '--wait',
            '--timeout',
            '240s',
            '--inventory',
            stack.services.inventory.address,
            '--scheduler',
            stack.services.scheduler.address,
            '--migration',
            migration.address,
          ],
          { timeout: 300_000 },
        )
      ).stdout;
    const vm = async (): Promise<inventoryV1.Vm> => (await callUnary(stack.inventory, 'getVm', { vmId: VM_ID })).vm!;
    const claimOf = async (hostId: string, vmId = VM_ID): Promise<modelV1.Claim | undefined> =>
      (await callUnary(stack.inventory, 'getHost', { hostId })).host!.claims.find((c) => c.vmId === vmId);
    const volumes = async (uri: string): Promise<string[]> =>
      (await virsh(uri, 'vol-list', POOL))
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0] ?? '')
        .filter(Boolean);
    /** Writes `data` at the start of the VM's volume on `uri`, and reads its first bytes back (virsh as root, as an operator would). */
    const upload = async (uri: string, data: Buffer): Promise<void> => {
      const f = join(work, 'up.bin');
      writeFileSync(f, data);
      await virsh(uri, 'vol-upload', '--pool', POOL, VOLUME, f);
    };
    const download = async (uri: string, bytes: number): Promise<Buffer> => {
      const f = join(work, 'down.bin');
      await virsh(uri, 'vol-download', '--pool', POOL, VOLUME, f);
      return readFileSync(f).subarray(0, bytes);
    };
    const pinsIn = (xml: string): string[] => [...xml.matchAll(/<vcpupin vcpu='(\d+)' cpuset='([^']+)'\/>/g)].map((m) => `${m[1]}:${m[2]}`);
    const stop = async (vmId: string): Promise<void> => {
      await callUnary(stack.inventory, 'stopVm', { meta: { commandId: `stop-${vmId}-${Date.now()}` }, vmId, force: true });
      await eventually(
        async () => (await callUnary(stack.inventory, 'getVm', { vmId })).vm?.status === inventoryV1.VmStatus.VM_STATUS_STOPPED,
        `${vmId} stopped`,
        120_000,
        500,
      );
    };

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'berth-disky-'));
      chmodSync(work, 0o755);
      const [[daemons], [started]] = await Promise.all([
        Promise.allSettled([startMigrationPair()]),
        Promise.allSettled([startStack('e2e_disky')]),
      ]);
      if (daemons?.status === 'fulfilled') pair = daemons.value;
      if (started?.status === 'fulfilled') stack = started.value;
      for (const r of [daemons, started]) if (r?.status === 'rejected') throw r.reason;
      migDb = await createTestDatabase('e2e_disky_mig');
      migration = await startService('migration', {
        DATABASE_URL: migDb.url,
        NATS_PREFIX: stack.prefix,
        INVENTORY_ADDR: stack.services.inventory.address,
        SCHEDULER_ADDR: stack.services.scheduler.address,
      });
      // Only the first host exists while the filler and the VM are placed, so both land there.
      await registerLibvirtHost(stack.inventory, 'disk-a', pair.source.uri, { pool: POOL });
      await waitForSchedulerHosts(stack, 1);
    }, 900_000); // two daemons and four services starting on a loaded 2-core machine

    afterAll(async () => {
      await migration?.stop();
      await stack?.stop();
      await migDb?.drop();
      await pair?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("live there with --copy-storage-all and the destination's pinning, then cold back with the disk's content and the source's pinning of its own", async () => {
      const compose = async (vmId: string, disks: { sizeBytes: number; pool: string }[]): Promise<void> => {
        await callUnary(stack.inventory, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({
            name: vmId,
            vcpus: 1,
            memoryBytes: 96 * MiB,
            cpuPolicy: modelV1.CpuPolicy.CPU_POLICY_DEDICATED,
            disks,
          }),
        });
        await eventually(
          async () => (await callUnary(stack.inventory, 'getVm', { vmId })).vm?.status === inventoryV1.VmStatus.VM_STATUS_RUNNING,
          `${vmId} running`,
          180_000,
          500,
        );
      };
      await compose('filler', []);
      await stop('filler'); // it keeps its claim (CPU 0) without costing the machine a running guest
      const fillerCpus = (await claimOf('disk-a', 'filler'))!.pinnedCpus;
      await waitForSchedulerInSync(stack);
      await compose(VM_ID, [{ sizeBytes: 8 * MiB, pool: '' }]);
      const onA = (await claimOf('disk-a'))!;
      expect(onA.pinnedCpus).toHaveLength(1);
      expect(onA.pinnedCpus).not.toEqual(fillerCpus);
      expect(onA.volumes).toEqual([expect.objectContaining({ pool: POOL, sizeBytes: 8 * MiB })]);
      expect(pinsIn(await virsh(pair.source.uri, 'dumpxml', DOMAIN))).toEqual([`0:${onA.pinnedCpus[0]}`]);
      const first = randomBytes(MiB);
      await upload(pair.source.uri, first);

      await registerLibvirtHost(stack.inventory, 'disk-b', pair.destination.uri, { pool: POOL });
      await waitForSchedulerHosts(stack, 2);
      expect(await volumes(pair.destination.uri)).not.toContain(VOLUME);

      // Live, to the second host (nothing taken there: CPU 0).
      expect(await migrate('disk-b')).toMatch(new RegExp(`VM ${VM_ID} disk-a -> disk-b  completed`));
      expect((await domainStates(pair.destination.uri)).get(DOMAIN)).toBe('running');
      expect((await domainStates(pair.source.uri)).has(DOMAIN)).toBe(false);
      const onB = await eventually(
        async () => ((await vm()).hostId === 'disk-b' && (await vm()).migrationId === '' ? claimOf('disk-b') : undefined),
        'inventory: the VM on disk-b',
        30_000,
      );
      expect(onB.pinnedCpus).not.toEqual(onA.pinnedCpus);
      // Pinned to the destination claim's CPU, live and in the definition kept there (not the source's CPU).
      expect(pinsIn(await virsh(pair.destination.uri, 'dumpxml', DOMAIN))).toEqual([`0:${onB.pinnedCpus[0]}`]);
      expect(pinsIn(await virsh(pair.destination.uri, 'dumpxml', '--inactive', DOMAIN))).toEqual([`0:${onB.pinnedCpus[0]}`]);
      // The disk came with the memory; the source's copy is gone.
      expect((await download(pair.destination.uri, MiB)).equals(first)).toBe(true);
      expect(await volumes(pair.source.uri)).not.toContain(VOLUME);
      await eventually(async () => (await claimOf('disk-a')) === undefined, 'source claim released after the live move', 30_000);

      // Cold, back to the first host: stopped, new content on the disk.
      await stop(VM_ID);
      const second = randomBytes(MiB);
      await upload(pair.destination.uri, second);
      await waitForSchedulerInSync(stack);
      expect(await migrate('disk-a')).toMatch(new RegExp(`VM ${VM_ID} disk-b -> disk-a  completed`));
      const back = await eventually(
        async () => ((await vm()).hostId === 'disk-a' && (await vm()).migrationId === '' ? claimOf('disk-a') : undefined),
        'inventory: the VM on disk-a',
        30_000,
      );
      expect((await vm()).status).toBe(inventoryV1.VmStatus.VM_STATUS_STOPPED);
      // Defined from the destination's claim: its CPU (the filler holds the other), not the one it had on disk-b.
      expect(back.pinnedCpus).not.toEqual(fillerCpus);
      expect(back.pinnedCpus).not.toEqual(onB.pinnedCpus);
      expect((await domainStates(pair.source.uri)).get(DOMAIN)).toBe('shut off');
      expect(pinsIn(await virsh(pair.source.uri, 'dumpxml', '--inactive', DOMAIN))).toEqual([`0:${back.pinnedCpus[0]}`]);
      expect((await download(pair.source.uri, MiB)).equals(second)).toBe(true);
      // Gone from the source of the cold move: its domain and its volume.
      expect((await domainStates(pair.destination.uri)).has(DOMAIN)).toBe(false);
      expect(await volumes(pair.destination.uri)).not.toContain(VOLUME);
      await eventually(async () => (await claimOf('disk-b')) === undefined, 'disk-b claim released after the cold move', 30_000);
      expect((await callUnary(stack.inventory, 'getHost', { hostId: 'disk-a' })).host!.claims.map((c) => c.vmId).sort()).toEqual([
        VM_ID,
        'filler',
      ]);
    }, 900_000);
  },
);
