/** Host and hardware-config RPCs, one named handler each: decode -> application -> encode. */
import type { inventoryV1 as pb } from '@berth/contracts';
import { withCall } from '@berth/event-store';
import type { CallContext } from '@berth/grpc-kit';
import { decodeHardwareConfig, decodeHostSpec, encodeHardwareConfig, hostStates } from '@berth/model-codec';
import { commandId, required } from './decode.ts';
import { encodeHost, encodeSnapshot } from './host-codec.ts';
import type { InventoryApp } from './service.ts';

export async function registerHost({ hosts }: InventoryApp, r: pb.RegisterHostRequest, ctx: CallContext): Promise<pb.RegisterHostResponse> {
  const state = hostStates.decode(r.state, 'state');
  const host = await hosts.register(
    {
      commandId: commandId(r.meta),
      hostId: r.hostId,
      spec: decodeHostSpec(required(r.spec, 'spec')),
      ...(state ? { state } : {}),
    },
    ctx,
  );
  return { host: encodeHost(host) };
}

export async function updateHost({ hosts }: InventoryApp, r: pb.UpdateHostRequest, ctx: CallContext): Promise<pb.UpdateHostResponse> {
  const host = await hosts.update(
    {
      commandId: commandId(r.meta),
      hostId: r.hostId,
      spec: decodeHostSpec(required(r.spec, 'spec')),
      ...(r.expectedGeneration === undefined ? {} : { expectedGeneration: r.expectedGeneration }),
    },
    ctx,
  );
  return { host: encodeHost(host) };
}

export async function removeHost({ hosts }: InventoryApp, r: pb.RemoveHostRequest, ctx: CallContext): Promise<pb.RemoveHostResponse> {
  await hosts.remove({ commandId: commandId(r.meta), hostId: r.hostId, reason: 'removed by operator' }, ctx);
  return {};
}

export async function setHostState({ hosts }: InventoryApp, r: pb.SetHostStateRequest, ctx: CallContext): Promise<pb.SetHostStateResponse> {
  const state = required(hostStates.decode(r.state, 'state'), 'state');
  return { host: encodeHost(await hosts.setState({ commandId: commandId(r.meta), hostId: r.hostId, state, reason: r.reason }, ctx)) };
}

export async function getHost({ hosts }: InventoryApp, r: pb.GetHostRequest, ctx: CallContext): Promise<pb.GetHostResponse> {
  return { host: encodeHost(await hosts.get(r.hostId, ctx)) };
}

export async function listHosts({ readModel }: InventoryApp, r: pb.ListHostsRequest, ctx: CallContext): Promise<pb.ListHostsResponse> {
  const state = hostStates.decode(r.state, 'state');
  const list = await withCall(ctx, 'listHosts', () =>
    readModel.listHosts({ ...(state ? { state } : {}), resourcePool: r.resourcePool, tag: r.tag }),
  );
  return { hosts: list.flatMap((h) => (h.status === 'active' ? [encodeHost(h)] : [])) };
}

export async function listHostSnapshots({ readModel }: InventoryApp, ctx: CallContext): Promise<pb.ListHostSnapshotsResponse> {
  const list = await withCall(ctx, 'listHostSnapshots', () => readModel.listHosts({}));
  return { snapshots: list.flatMap((h) => (h.status === 'active' ? [encodeSnapshot(h)] : [])) };
}

export async function applyHardwareConfig(
  { hosts }: InventoryApp,
  r: pb.ApplyHardwareConfigRequest,
  ctx: CallContext,
): Promise<pb.ApplyHardwareConfigResponse> {
  const id = commandId(r.meta);
  const version = await hosts.applyHardwareConfig(
    {
      commandId: id,
      config: decodeHardwareConfig(required(r.config, 'config')),
      source: r.source,
    },
    ctx,
  );
  return { version };
}

export async function getHardwareConfig({ hosts }: InventoryApp, ctx: CallContext): Promise<pb.GetHardwareConfigResponse> {
  const { config, version } = await hosts.hardwareConfig(ctx);
  return { config: encodeHardwareConfig(config), version };
}
