/**
 * Placement as a client in another language sees it (issue 11): the real inventory, scheduler and
 * executor (simulated hosts), and a harness that NEVER waits for the scheduler's view — it composes
 * the moment inventory has answered, as a client would.
 *
 * - A VM composed right after RegisterHost, after DeleteVm released a claim (GetHost shows it), or
 *   after a host was set back to enabled is placed: the scheduler waits for its view to reach the
 *   request's position in inventory's log before it calls a VM unplaceable.
 * - A VM that asked to wait for capacity on a full fleet waits (WAITING_FOR_CAPACITY), survives a
 *   scheduler restart, and is placed when a claim is released; one whose deadline passes fails with
 *   the scheduler's explanation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1 as pb, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { startService, type ServiceHandle } from './harness/service.ts';
import { startStack, type Stack } from './harness/stack.ts';

const GiB = 1024 ** 3;
const { VmStatus } = pb;
const { HostState } = modelV1;

describe.skipIf(!(await infraAvailable('postgres', 'nats')))(
  'placement from outside: no failure on a stale view, waiting for capacity',
  () => {
    let stack: Stack;
    let restarted: ServiceHandle | undefined;

    beforeAll(async () => {
      stack = await startStack('e2e_consistency', { inventory: { INVENTORY_CAPACITY_SWEEP: '200ms' } });
    });
    afterAll(async () => {
      await restarted?.stop();
      await stack?.stop();
    });

    const meta = () => ({ commandId: randomUUID() });
    /** Each scenario has its own resource pool, so VMs only ever see that scenario's hosts. */
    const register = (hostId: string, pool: string, cpus: number) =>
      callUnary(stack.inventory, 'registerHost', {
        meta: meta(),
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'sim',
          cpus,
          memoryBytes: 16 * GiB,
          resourcePool: pool,
        }),
        state: HostState.HOST_STATE_ENABLED,
      });
    const compose = (vmId: string, pool: string, vcpus: number, waitForCapacityMillis?: number) =>
      callUnary(stack.inventory, 'composeVm', {
        meta: meta(),
        vmId,
        spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus, memoryBytes: GiB, resourcePool: pool }),
        ...(waitForCapacityMillis !== undefined ? { waitForCapacityMillis } : {}),
      });
    const getVm = async (vmId: string): Promise<pb.Vm> => (await callUnary(stack.inventory, 'getVm', { vmId })).vm!;
    /** Waits until the VM leaves the states a placement passes through; returns it. */
    const settled = (
      vmId: string,
      transient: readonly pb.VmStatus[] = [VmStatus.VM_STATUS_REQUESTED, VmStatus.VM_STATUS_PLACED, VmStatus.VM_STATUS_PROVISIONING],
    ) =>
      eventually(
        async () => {
          const vm = await getVm(vmId);
          return transient.includes(vm.status) ? undefined : vm;
        },
        `${vmId} to settle`,
        60_000,
        100,
      );
    const placing = [VmStatus.VM_STATUS_REQUESTED, VmStatus.VM_STATUS_PLACED, VmStatus.VM_STATUS_PROVISIONING];
    const expectRunningOn = async (vmId: string, hostId: string, transient = placing): Promise<void> => {
      const vm = await settled(vmId, transient);
      expect(vm.failureReason, `${vmId}: ${pb.VmStatus[vm.status]}`).toBe('');
      expect(vm.status).toBe(VmStatus.VM_STATUS_RUNNING);
      expect(vm.hostId).toBe(hostId);
    };

    it('places a VM composed right after RegisterHost of the only host in its pool', async () => {
      await register('a-1', 'pool-a', 4);
      await compose('a-vm', 'pool-a', 4);
      await expectRunningOn('a-vm', 'a-1');
    });

    it('places a VM composed right after DeleteVm released the claim it needs', async () => {
      await register('b-1', 'pool-b', 2);
      await compose('b-first', 'pool-b', 2);
      await expectRunningOn('b-first', 'b-1');
      await callUnary(stack.inventory, 'deleteVm', { meta: meta(), vmId: 'b-first' });
      await eventually(
        async () => (await callUnary(stack.inventory, 'getHost', { hostId: 'b-1' })).host!.claims.length === 0,
        'the claim released',
        60_000,
        50,
      );
      await compose('b-second', 'pool-b', 2);
      await expectRunningOn('b-second', 'b-1');
    });

    it('places a VM composed right after its host was set back to enabled', async () => {
      await register('c-1', 'pool-c', 2);
      await callUnary(stack.inventory, 'setHostState', {
        meta: meta(),
        hostId: 'c-1',
        state: HostState.HOST_STATE_DISABLED,
        reason: 'repair',
      });
      await callUnary(stack.inventory, 'setHostState', {
        meta: meta(),
        hostId: 'c-1',
        state: HostState.HOST_STATE_ENABLED,
        reason: 'repaired',
      });
      await compose('c-vm', 'pool-c', 2);
      await expectRunningOn('c-vm', 'c-1');
    });

    it('a VM waiting for capacity on a full fleet survives a scheduler restart and is placed when a claim is released', async () => {
      await register('d-1', 'pool-d', 2);
      await compose('d-fill', 'pool-d', 2);
      await expectRunningOn('d-fill', 'd-1');
      await compose('d-wait', 'pool-d', 2, 10 * 60_000);
      const waiting = await settled('d-wait');
      expect(waiting.status).toBe(VmStatus.VM_STATUS_WAITING_FOR_CAPACITY);
      expect(Date.parse(waiting.capacityDeadline)).toBeGreaterThan(Date.now() + 9 * 60_000);
      expect(waiting.failureReason).toMatch(/lack vCPUs/);
      // The scheduler is stateless: the wait and its deadline live in inventory's log.
      await stack.services.scheduler.stop();
      restarted = await startService(
        'scheduler',
        { NATS_PREFIX: stack.prefix, INVENTORY_ADDR: stack.services.inventory.address },
        { label: 'scheduler-restarted' },
      );
      await callUnary(stack.inventory, 'deleteVm', { meta: meta(), vmId: 'd-fill' });
      await expectRunningOn('d-wait', 'd-1', [...placing, VmStatus.VM_STATUS_WAITING_FOR_CAPACITY]);
    });

    it('a VM whose capacity deadline passes fails with the explanation', async () => {
      await register('e-1', 'pool-e', 1);
      await compose('e-fill', 'pool-e', 1);
      await expectRunningOn('e-fill', 'e-1');
      await compose('e-late', 'pool-e', 1, 1500);
      const failed = await settled('e-late', [VmStatus.VM_STATUS_REQUESTED, VmStatus.VM_STATUS_WAITING_FOR_CAPACITY]);
      expect(failed.status).toBe(VmStatus.VM_STATUS_PLACEMENT_FAILED);
      expect(failed.failureReason).toMatch(/before its capacity deadline .*: 0\/\d+ hosts can take e-late: .*lack vCPUs/);
      expect(Date.parse(failed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(failed.capacityDeadline));
    });
  },
);
