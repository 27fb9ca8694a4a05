import { telemetry } from '@berth/contracts';
import { openKv, type JsonKv } from '@berth/messaging';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MomSample, UsageSink } from '../../application/ports.ts';

const KIB = 1024;

/** Measured usage from one sample (see HostUsage in @berth/contracts). */
export function usageOf(hostId: string, at: string, host: MomSample, guests: readonly MomSample[]): telemetry.HostUsage | undefined {
  const total = host['mem_available'];
  const free = host['mem_free'];
  if (total === undefined || free === undefined || total <= 0) return undefined;
  const sum = (k: string): number => guests.reduce((s, g) => s + (g[k] ?? 0), 0);
  const used = Math.max(0, total - free);
  return {
    hostId,
    at,
    memoryTotalBytes: total * KIB,
    memoryUsedBytes: used * KIB,
    memoryPressure: Math.round((used / total) * 10_000) / 10_000,
    swapUsedBytes: (host['swap_usage'] ?? 0) * KIB,
    ...(host['cpu_usage'] !== undefined ? { cpuPercent: host['cpu_usage'] } : {}),
    guests: guests.length,
    guestBalloonBytes: sum('balloon_cur') * KIB,
    guestAllocatedBytes: sum('balloon_max') * KIB,
    guestRssBytes: sum('rss') * KIB,
  };
}

/** The `berth-host-usage` bucket, beside inventory's host snapshots: one key per host, the latest only. */
export async function openUsageSink(nc: NatsConnection, prefix?: string): Promise<UsageSink & { readonly kv: JsonKv }> {
  const kv = await openKv(nc, telemetry.HOST_USAGE_BUCKET, prefix !== undefined ? { prefix } : {});
  return {
    kv,
    put(u) {
      void kv.putJson(u.hostId, u).catch(() => undefined);
    },
  };
}
