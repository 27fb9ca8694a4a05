import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@berth/observability';
import type { HostSnapshot } from '@berth/fit';
import { openKv, type JsonKv } from '@berth/messaging';
import { snapshotJson } from '../postgres/doc-json.ts';
import type { SnapshotSink } from '../postgres/projection.ts';
import { oneAtATime } from './one-at-a-time.ts';

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
   * not hold, e.g. claims held back (lingerClaims) when the process stopped without flushing them, or
   * puts a restarted server lost (the buckets are not synced to disk per put: infra/nats/streams.json),
   * then the last view position this sink wrote. Runs between the projection's puts, never beside
   * one, so it never puts a host back behind a newer put. `current` is read when it runs. Answers how
   * many hosts it put.
   */
  resync(current: () => Promise<readonly HostSnapshot[]>): Promise<number>;
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
  let lastPosition: ViewPositionRecord | undefined;
  // Batches' puts and resyncs one after another (see resync).
  const serial = oneAtATime();
  const put = async (hostId: string, snapshot: HostSnapshot | undefined): Promise<void> => {
    if (snapshot) {
      const revision = await hosts.putJsonText(hostId, snapshotJson(snapshot));
      hostsRevision = Math.max(hostsRevision, revision);
    } else {
      // A removal's revision is not returned; a reader that reaches the position without it still
      // holds the host a little longer, which can only make a placement try it (and inventory refuse it).
      await hosts.kv.delete(hostId);
    }
  };
  return {
    // One put per host, all in flight at once (each is a NATS round trip inside the projection's open transaction).
    hosts: (changes) => serial(async () => void (await Promise.all(changes.map((c) => put(c.hostId, c.snapshot))))),
    resync: (current) =>
      serial(async () => {
        const held = await generations(hosts.kv);
        // Never back: a bucket ahead of the read model holds a batch whose commit failed, which its retry puts again.
        const behind = (await current()).filter((s) => (held.get(s.capacity.hostId) ?? -1) < s.generation);
        await Promise.all(behind.map((s) => put(s.capacity.hostId, s)));
        // A server that lost puts numbers the next ones again from where its store ends.
        hostsRevision = (await hosts.kv.status()).streamInfo.state.last_seq;
        if (lastPosition !== undefined) {
          lastPosition = { ...lastPosition, hostsRevision };
          await position.putJson(VIEW_POSITION_KEY, lastPosition);
        }
        return behind.length;
      }),
    async hardwareConfig(c) {
      await config.putJson(ACTIVE_CONFIG_KEY, c);
    },
    position: (p) =>
      serial(async () => {
        lastPosition = { transactionId: p.transactionId, position: p.position, hostsRevision };
        await position.putJson(VIEW_POSITION_KEY, lastPosition);
      }),
  };
}

/**
 * Resyncs the buckets after every reconnect: they are not synced to disk per put, so a server that
 * restarted may have lost the last puts (and any reconnect may follow such a restart). Stops with
 * the connection.
 */
export function resyncOnReconnect(
  nc: NatsConnection,
  sink: KvSnapshotSink,
  current: () => Promise<readonly HostSnapshot[]>,
  logger: Logger,
): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'reconnect') continue;
      try {
        const n = await sink.resync(current);
        if (n > 0) logger.info({ hosts: n }, 'host snapshots the bucket lacked after a reconnect were put');
      } catch (err) {
        logger.warn({ err }, 'host snapshots not resynced after a reconnect');
      }
    }
  })();
}
