/**
 * A real live migration: two `qemu:///session` libvirt daemons are two hosts; inventory, the
 * scheduler, the placement executor and the migration service run as processes. A QEMU guest
 * (TCG) composed through gRPC on the first host is moved with `berth vms migrate` to the second;
 * virsh on both daemons must show it running on the destination, gone from the source, and its
 * definition persistent there; inventory must show its claim moved.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { libvirtUsable, qemuUsable, startMigrationPair, type MigrationPair } from '@berth/hypervisor/testing';
import { createTestDatabase, eventually, infraAvailable, type TestDatabase } from '@berth/testing';
import { registerLibvirtHost, startStack, waitForSchedulerHosts, type Stack } from './harness/stack.ts';
import { repoRoot, startService, type ServiceHandle } from './harness/service.ts';
import { domainStates, virsh } from './harness/virsh.ts';

const MiB = 1024 ** 2;
const VM_ID = 'live-1';
const DOMAIN = `berth-${VM_ID}`;

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable() || !qemuUsable())(
  'a real live migration with berth vms migrate',
  () => {
    let pair: MigrationPair;
    let stack: Stack;
    let migDb: TestDatabase;
    let migration: ServiceHandle;

    beforeAll(async () => {
      const [[daemons], [started]] = await Promise.all([
        Promise.allSettled([startMigrationPair()]),
        Promise.allSettled([startStack('e2e_live')]),
      ]);
      if (daemons?.status === 'fulfilled') pair = daemons.value;
      if (started?.status === 'fulfilled') stack = started.value;
      for (const r of [daemons, started]) if (r?.status === 'rejected') throw r.reason;
      migDb = await createTestDatabase('e2e_live_mig');
      migration = await startService('migration', {
        DATABASE_URL: migDb.url,
        NATS_PREFIX: stack.prefix,
        INVENTORY_ADDR: stack.services.inventory.address,
        SCHEDULER_ADDR: stack.services.scheduler.address,
      });
      // Only the source exists when the VM is placed, so it lands there.
      await registerLibvirtHost(stack.inventory, 'live-src', pair.source.uri);
      await waitForSchedulerHosts(stack, 1);
    });

    afterAll(async () => {
      await migration?.stop();
      await stack?.stop();
      await migDb?.drop();
      await pair?.stop();
    });

    it('moves the running guest to the other daemon: running there, gone from the source, persistent, claims moved', async () => {
      await callUnary(stack.inventory, 'composeVm', {
        meta: { commandId: `compose-${VM_ID}` },
        vmId: VM_ID,
        spec: modelV1.VmSpec.fromPartial({ name: 'live', vcpus: 1, memoryBytes: 128 * MiB }),
      });
      await eventually(
        async () => (await callUnary(stack.inventory, 'getVm', { vmId: VM_ID })).vm?.status === inventoryV1.VmStatus.VM_STATUS_RUNNING,
        'guest running',
        180_000,
        500,
      );
      expect((await domainStates(pair.source.uri)).get(DOMAIN)).toBe('running');
      await registerLibvirtHost(stack.inventory, 'live-dst', pair.destination.uri);
      await waitForSchedulerHosts(stack, 2);

      const cli = await promisify(execFile)(
        process.execPath,
        [
          `${repoRoot}/tools/cli/bin/berth.js`,
          'vms',
          'migrate',
          VM_ID,
          '--to',
          'live-dst',
          '--wait',
          '--timeout',
          '30s',
          '--inventory',
          stack.services.inventory.address,
          '--scheduler',
          stack.services.scheduler.address,
          '--migration',
          migration.address,
        ],
        { timeout: 240_000 },
      );
      expect(cli.stdout).toMatch(new RegExp(`VM ${VM_ID} live-src -> live-dst  completed`));

      // virsh on both daemons: running on the destination with a persistent definition, gone from the source.
      expect((await domainStates(pair.destination.uri)).get(DOMAIN)).toBe('running');
      expect((await domainStates(pair.source.uri)).has(DOMAIN)).toBe(false);
      expect(await virsh(pair.destination.uri, 'dominfo', DOMAIN)).toMatch(/Persistent:\s+yes/);

      const vm = await eventually(
        async () => {
          const v = (await callUnary(stack.inventory, 'getVm', { vmId: VM_ID })).vm!;
          return v.hostId === 'live-dst' && v.migrationId === '' ? v : undefined;
        },
        'inventory to place the VM on the destination',
        30_000,
      );
      expect(vm.status).toBe(inventoryV1.VmStatus.VM_STATUS_RUNNING);
      const claims = async (hostId: string) => (await callUnary(stack.inventory, 'getHost', { hostId })).host!.claims.map((c) => c.vmId);
      await eventually(async () => (await claims('live-src')).length === 0, 'source claim released', 30_000);
      expect(await claims('live-dst')).toEqual([VM_ID]);
    });
  },
);
