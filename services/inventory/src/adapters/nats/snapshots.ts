import type { NatsConnection } from '@nats-io/transport-node';
import { openKv } from '@berth/messaging';
import type { SnapshotSink } from '../postgres/projection.ts';

export const HOST_SNAPSHOTS_BUCKET = 'berth-host-snapshots';
export const HARDWARE_CONFIG_BUCKET = 'berth-hardware-config';
export const ACTIVE_CONFIG_KEY = 'active';
/**
 * The snapshot projection's log position, `{transactionId, position}` of the last event whose host
 * changes are in the bucket. Keys starting with `_` are never hosts (host ids start with [a-z0-9]).
 */
export const POSITION_KEY = '_position';

/**
 * HostSnapshot JSON under each host id (a removed host's key is deleted), and the applied hardware
 * config under `active`, for the stateless scheduler.
 */
export async function kvSnapshotSink(nc: NatsConnection, prefix?: string): Promise<SnapshotSink> {
  const opts = prefix ? { prefix } : {};
  const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, opts);
  const config = await openKv(nc, HARDWARE_CONFIG_BUCKET, opts);
  return {
    async host(hostId, snapshot) {
      if (snapshot) await hosts.putJson(hostId, snapshot);
      else await hosts.kv.delete(hostId);
    },
    async hardwareConfig(c) {
      await config.putJson(ACTIVE_CONFIG_KEY, c);
    },
    async position(p) {
      await hosts.putJson(POSITION_KEY, { transactionId: p.transactionId, position: p.position });
    },
  };
}
