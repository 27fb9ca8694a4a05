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
 * Measured usage per host: every put to the telemetry service's `berth-host-usage` KV bucket (one key
 * per host, the latest sample) as it is published, by a plain subscription to the bucket's subjects
 * (`$KV.berth-host-usage.<host>`), as the console follows events: no consumer, no position, and it is
 * what the read-only `reader` NATS user may do. Telemetry writes every host every sample interval
 * (5 s), so the view is full one interval after start. A reading older than `maxAgeMillis` (telemetry
 * stopped, the host gone) no longer counts as measured; a deleted key is forgotten.
 */
export function followHostUsage(nc: NatsConnection, prefix: string | undefined, maxAgeMillis: number, logger: Logger): HostUsageView {
  const keys = `$KV.${bucketName(telemetry.HOST_USAGE_BUCKET, prefix)}.`;
  const latest = new Map<string, telemetry.HostUsage>();
  const sub = nc.subscribe(`${keys}>`, {
    callback: (err, m) => {
      if (err) {
        logger.warn({ subject: `${keys}>`, err: err.message }, 'console: host usage subscription failed');
        return;
      }
      const hostId = m.subject.slice(keys.length);
      const op = m.headers?.get('KV-Operation');
      if (op === 'DEL' || op === 'PURGE') {
        latest.delete(hostId);
        return;
      }
      try {
        const u = m.json<telemetry.HostUsage>();
        if (typeof u.memoryTotalBytes === 'number' && typeof u.at === 'string') latest.set(hostId, u);
      } catch {
        logger.warn({ subject: m.subject }, 'console: a host usage reading that is not JSON was skipped');
      }
    },
  });
  return {
    current(now = Date.now()) {
      const out: Record<string, telemetry.HostUsage> = {};
      for (const [hostId, u] of latest) if (now - Date.parse(u.at) <= maxAgeMillis) out[hostId] = u;
      return out;
    },
    stop() {
      sub.unsubscribe();
      return Promise.resolve();
    },
  };
}
