import { inventoryV1 } from '@berth/contracts';
import { CallError, targetOf } from '../grpc.ts';
import { vmStatusLabel } from '../render/labels.ts';
import type { Context } from './types.ts';

const S = inventoryV1.VmStatus;
const FINAL = [S.VM_STATUS_PLACEMENT_FAILED, S.VM_STATUS_PROVISION_FAILED, S.VM_STATUS_DELETED, S.VM_STATUS_STOPPED];
/** Statuses that end `--wait`: the one asked for, anything past it, or a final one. */
export const WAIT_UNTIL = {
  placed: new Set([S.VM_STATUS_PLACED, S.VM_STATUS_PROVISIONING, S.VM_STATUS_RUNNING, ...FINAL]),
  running: new Set([S.VM_STATUS_RUNNING, ...FINAL]),
} as const;

/**
 * Follows the VM's events after `vm` (as last read) until it reaches `until`. Starting from the VM's
 * current version, not the start of its stream: an old `running` in its history must not end the wait.
 */
export function waitForVm(
  ctx: Context,
  vm: inventoryV1.Vm,
  until: ReadonlySet<inventoryV1.VmStatus>,
  timeoutMillis: number,
): Promise<inventoryV1.Vm> {
  if (until.has(vm.status)) return Promise.resolve(vm);
  const client = ctx.backends.inventory();
  return new Promise((resolve, reject) => {
    let last = vm;
    const stream = client.watchVm({ vmId: vm.vmId, fromPosition: vm.version }, { deadline: Date.now() + timeoutMillis });
    stream.on('data', (res: inventoryV1.WatchVmResponse) => {
      const event = res.event;
      if (!event) return;
      if (event.vm && event.vm.version < last.version) return; // already seen
      last = event.vm ?? last;
      ctx.progress(`${event.occurredAt}  ${event.type}  -> ${vmStatusLabel(last.status)}${last.hostId ? ` on ${last.hostId}` : ''}`);
      if (until.has(last.status)) {
        stream.cancel();
        resolve(last);
      }
    });
    stream.on('error', (err: Error & { code?: number }) => {
      if (err.code === 1 /* CANCELLED by us */) return;
      reject(new CallError(targetOf(client), 'watchVm', err as never));
    });
    stream.on('end', () => resolve(last));
  });
}
