import type { NatsConnection } from '@nats-io/transport-node';
import { openKv } from '@berth/messaging';
import type { SnapshotSink } from '../postgres/projection.ts';

export const HOST_SNAPSHOTS_BUCKET = 'berth-host-snapshots';
export const HARDWARE_CONFIG_BUCKET = 'berth-hardware-config';
export const ACTIVE_CONFIG_KEY = 'active';
/**
 * The snapshot projection's log position, in its own bucket (the host bucket holds hosts only):
 * key `inventory`, value {@link ViewPositionRecord}.
 */
export const VIEW_POSITION_BUCKET = 'berth-view-position';
export const VIEW_POSITION_KEY = 'inventory';
/** Where the position was kept before it had a bucket of its own; deleted from the host bucket at start. */
const LEGACY_POSITION_KEY = '_position';

/**
 * `{transactionId, position}` of the last event whose host changes are in the host bucket, and
 * `hostsRevision`: the host bucket's revision (stream sequence) of the last snapshot written up to
 * then. The two buckets are two streams, so a reader sees them in no common order: it counts the
 * position as reached once its watch of the host bucket has applied `hostsRevision`.
 */
export interface ViewPositionRecord {
  readonly transactionId: string;
  readonly position: string;
  readonly hostsRevision: number;
}

/**
 * HostSnapshot JSON under each host id (a removed host's key is deleted), the applied hardware
 * config under `active`, and the view position, for the stateless scheduler.
 */
export async function kvSnapshotSink(nc: NatsConnection, prefix?: string): Promise<SnapshotSink> {
  const opts = prefix ? { prefix } : {};
  const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, opts);
  const config = await openKv(nc, HARDWARE_CONFIG_BUCKET, opts);
  const position = await openKv(nc, VIEW_POSITION_BUCKET, opts);
  if ((await hosts.kv.get(LEGACY_POSITION_KEY))?.operation === 'PUT') await hosts.kv.purge(LEGACY_POSITION_KEY);
  // Every snapshot written before this process (and the purge above) is at or below the stream's last sequence.
  let hostsRevision = (await hosts.kv.status()).streamInfo.state.last_seq;
  return {
    async host(hostId, snapshot) {
      if (snapshot) {
        const revision = await hosts.putJson(hostId, snapshot);
        hostsRevision = Math.max(hostsRevision, revision);
      } else {
        // A removal's revision is not returned; a reader that reaches the position without it still
        // holds the host a little longer, which can only make a placement try it (and inventory refuse it).
        await hosts.kv.delete(hostId);
      }
    },
    async hardwareConfig(c) {
      await config.putJson(ACTIVE_CONFIG_KEY, c);
    },
    async position(p) {
      const record: ViewPositionRecord = { transactionId: p.transactionId, position: p.position, hostsRevision };
      await position.putJson(VIEW_POSITION_KEY, record);
    },
  };
}
