import type { NatsConnection } from '@nats-io/transport-node';
import type { HostSnapshot } from '@berth/fit';
import { openKv, type JsonKv } from '@berth/messaging';
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

export interface KvSnapshotSink extends SnapshotSink {
  /**
   * Puts the snapshot of every host in `current` (the read model's) whose generation the bucket does
   * not hold, e.g. claims held back (lingerClaims) when the process stopped without flushing them.
   * Answers how many it put.
   */
  resync(current: readonly HostSnapshot[]): Promise<number>;
}

/** The generation of every host snapshot in the bucket, by host id (one ordered watch of the last values). */
async function generations(kv: JsonKv['kv']): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if ((await kv.status()).values === 0) return out;
  const watch = await kv.watch();
  try {
    for await (const e of watch) {
      if (e.operation === 'PUT') out.set(e.key, e.json<HostSnapshot>().generation);
      if (e.delta === 0) break;
    }
  } finally {
    watch.stop();
  }
  return out;
}

/**
 * HostSnapshot JSON under each host id (a removed host's key is deleted), the applied hardware
 * config under `active`, and the view position, for the stateless scheduler.
 */
export async function kvSnapshotSink(nc: NatsConnection, prefix?: string): Promise<KvSnapshotSink> {
  const opts = prefix ? { prefix } : {};
  const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, opts);
  const config = await openKv(nc, HARDWARE_CONFIG_BUCKET, opts);
  const position = await openKv(nc, VIEW_POSITION_BUCKET, opts);
  if ((await hosts.kv.get(LEGACY_POSITION_KEY))?.operation === 'PUT') await hosts.kv.purge(LEGACY_POSITION_KEY);
  // Every snapshot written before this process (and the purge above) is at or below the stream's last sequence.
  let hostsRevision = (await hosts.kv.status()).streamInfo.state.last_seq;
  const put = async (hostId: string, snapshot: HostSnapshot | undefined): Promise<void> => {
    if (snapshot) {
      const revision = await hosts.putJson(hostId, snapshot);
      hostsRevision = Math.max(hostsRevision, revision);
    } else {
      // A removal's revision is not returned; a reader that reaches the position without it still
      // holds the host a little longer, which can only make a placement try it (and inventory refuse it).
      await hosts.kv.delete(hostId);
    }
  };
  return {
    // One put per host, all in flight at once (each is a NATS round trip inside the projection's open transaction).
    async hosts(changes) {
      await Promise.all(changes.map((c) => put(c.hostId, c.snapshot)));
    },
    async resync(current) {
      const held = await generations(hosts.kv);
      // Never back: a bucket ahead of the read model holds a batch whose commit failed, which its retry puts again.
      const behind = current.filter((s) => (held.get(s.capacity.hostId) ?? -1) < s.generation);
      await Promise.all(behind.map((s) => put(s.capacity.hostId, s)));
      return behind.length;
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
