import { jetstream, DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { telemetry } from '@berth/contracts';
import { bucketName } from '@berth/messaging';
import type { Logger } from '@berth/observability';

export interface HostUsageView {
  /** The latest reading of every host that reported within `maxAgeMillis` of now. */
  current(now?: number): Record<string, telemetry.HostUsage>;
  stop(): Promise<void>;
}

/**
 * Measured usage per host: the telemetry service's `berth-host-usage` KV bucket (one key per host,
 * the latest sample only), followed with an ordered consumer on the bucket's stream (last value per
 * key, then every put), the same kind of consumer the console uses for events: no durable state, and
 * the read-only `reader` NATS user may create it. The view lives as long as the process; a reading
 * older than `maxAgeMillis` (telemetry stopped, the host gone) no longer counts as measured. A bucket
 * that does not exist yet is looked for again every few seconds.
 */
export function followHostUsage(nc: NatsConnection, prefix: string | undefined, maxAgeMillis: number, logger: Logger): HostUsageView {
  const js = jetstream(nc);
  const bucket = bucketName(telemetry.HOST_USAGE_BUCKET, prefix);
  const keyPrefix = `$KV.${bucket}.`;
  const latest = new Map<string, telemetry.HostUsage>();
  let stopped = false;
  let open: ConsumerMessages | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(`KV_${bucket}`, { deliver_policy: DeliverPolicy.LastPerSubject });
        open = await consumer.consume();
        for await (const m of open) {
          const hostId = m.subject.slice(keyPrefix.length);
          const op = m.headers?.get('KV-Operation');
          if (op === 'DEL' || op === 'PURGE') {
            latest.delete(hostId);
            continue;
          }
          try {
            const u = m.json<telemetry.HostUsage>();
            if (typeof u.memoryTotalBytes === 'number' && typeof u.at === 'string') latest.set(hostId, u);
          } catch {
            logger.warn({ subject: m.subject }, 'console: a host usage reading that is not JSON was skipped');
          }
        }
      } catch (e) {
        if (stopped) return;
        logger.debug({ bucket, err: e instanceof Error ? e.message : String(e) }, 'console: host usage not followed yet, retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();
  return {
    current(now = Date.now()) {
      const out: Record<string, telemetry.HostUsage> = {};
      for (const [hostId, u] of latest) if (now - Date.parse(u.at) <= maxAgeMillis) out[hostId] = u;
      return out;
    },
    async stop() {
      stopped = true;
      open?.stop();
      await Promise.race([loop, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}
