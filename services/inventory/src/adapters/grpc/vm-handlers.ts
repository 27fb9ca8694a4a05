/** VM RPCs, one named handler each: decode -> application (in the caller's scope) -> encode. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { inventoryV1 as pb } from '@berth/contracts';
import type { CallContext } from '@berth/grpc-kit';
import { withCall } from '@berth/event-store';
import { decodeVmSpec } from '@berth/model-codec';
import { scopeOf } from './caller.ts';
import { commandId, required } from './decode.ts';
import { vmStatuses } from '@berth/model-codec';
import type { InventoryApp } from './service.ts';
import { encodeVm } from './vm-codec.ts';

const WATCH_POLL_MILLIS = 200;

export async function composeVm({ vms }: InventoryApp, r: pb.ComposeVmRequest, ctx: CallContext): Promise<pb.ComposeVmResponse> {
  const id = commandId(r.meta);
  const wait = r.waitForCapacityMillis;
  return {
    vm: encodeVm(
      await vms.compose(
        {
          commandId: id,
          vmId: r.vmId,
          project: r.project ?? '',
          scope: scopeOf(ctx),
          spec: decodeVmSpec(required(r.spec, 'spec')),
          ...(wait !== undefined ? { waitForCapacityMillis: wait } : {}),
        },
        ctx,
      ),
    ),
  };
}

export async function getVm({ vms }: InventoryApp, r: pb.GetVmRequest, ctx: CallContext): Promise<pb.GetVmResponse> {
  return { vm: encodeVm(await vms.get(r.vmId, scopeOf(ctx), ctx)) };
}

export async function listVms({ vms, readModel }: InventoryApp, r: pb.ListVmsRequest, ctx: CallContext): Promise<pb.ListVmsResponse> {
  const status = vmStatuses.decode(r.status, 'status');
  const visible = await vms.visibleProjects(scopeOf(ctx), ctx);
  const list = await withCall(ctx, 'listVms', () =>
    readModel.listVms({
      hostId: r.hostId,
      ...(r.project ? { project: r.project } : {}),
      ...(status ? { status } : {}),
      ...(visible ? { projects: visible } : {}),
    }),
  );
  return { vms: list.flatMap((v) => (v.vm.status === 'absent' ? [] : [encodeVm({ ...v, vm: v.vm })])) };
}

export async function deleteVm({ vms }: InventoryApp, r: pb.DeleteVmRequest, ctx: CallContext): Promise<pb.DeleteVmResponse> {
  return { vm: encodeVm(await vms.delete({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) }, ctx)) };
}

export async function startVm({ vms }: InventoryApp, r: pb.StartVmRequest, ctx: CallContext): Promise<pb.StartVmResponse> {
  return { vm: encodeVm(await vms.start({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) }, ctx)) };
}

export async function stopVm({ vms }: InventoryApp, r: pb.StopVmRequest, ctx: CallContext): Promise<pb.StopVmResponse> {
  return { vm: encodeVm(await vms.stop({ commandId: commandId(r.meta), vmId: r.vmId, force: r.force, scope: scopeOf(ctx) }, ctx)) };
}

export async function rebootVm({ vms }: InventoryApp, r: pb.RebootVmRequest, ctx: CallContext): Promise<pb.RebootVmResponse> {
  return { vm: encodeVm(await vms.reboot({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) }, ctx)) };
}

/** The VM's events from `fromPosition` on, each with the VM after it, until it is deleted or the call ends. */
export async function* watchVm({ vms }: InventoryApp, r: pb.WatchVmRequest, ctx: CallContext): AsyncIterable<pb.WatchVmResponse> {
  await vms.get(r.vmId, scopeOf(ctx), ctx); // NOT_FOUND (also another project's VM) before streaming anything
  let position = Math.max(0, r.fromPosition);
  while (!ctx.signal.aborted) {
    for (const { event, vm } of await vms.eventsAfter(r.vmId, position, ctx)) {
      position = event.streamPosition;
      if (vm.status === 'absent') continue;
      const v = encodeVm({ vm, requestedAt: '', updatedAt: event.occurredAt });
      yield {
        event: {
          eventId: event.id,
          type: event.type,
          streamPosition: event.streamPosition,
          occurredAt: event.occurredAt,
          dataJson: JSON.stringify(event.data),
          vm: v,
        },
      };
      if (vm.status === 'deleted') return;
    }
    await sleep(WATCH_POLL_MILLIS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}
