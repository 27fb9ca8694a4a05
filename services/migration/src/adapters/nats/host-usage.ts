/**
 * Telemetry's measured usage per host (KV `berth-host-usage`, one key per host, the latest sample),
 * watched and kept in memory for the balancer (docs/evacuation-and-balancer.md, "Measured load").
 */
import { telemetry } from '@berth/contracts';
import { openKv } from '@berth/messaging';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MeasuredUsage, UsageReader } from '../../application/balancer.ts';

/** The measured load of one usage record: memory used/total, CPU busy (when reported) as a fraction. */
export function measuredOf(u: telemetry.HostUsage): MeasuredUsage | undefined {
  const at = Date.parse(u.at);
  if (!Number.isFinite(at) || !Number.isFinite(u.memoryPressure)) return undefined;
  return {
    at,
    memory: Math.min(1, Math.max(0, u.memoryPressure)),
    ...(u.cpuPercent !== undefined && Number.isFinite(u.cpuPercent) && { cpu: Math.min(1, Math.max(0, u.cpuPercent / 100)) }),
  };
}

export class KvUsageReader implements UsageReader {
  private readonly latest = new Map<string, MeasuredUsage>();
  private stopWatch: (() => Promise<void>) | undefined;

  /** Replays the bucket, then follows it. */
  async start(nc: NatsConnection, prefix?: string): Promise<void> {
    const kv = await openKv(nc, telemetry.HOST_USAGE_BUCKET, prefix ? { prefix } : {});
    const w = await kv.watchJson<telemetry.HostUsage>((e) => {
      const m = e.value ? measuredOf(e.value) : undefined;
      if (m) this.latest.set(e.key, m);
      else this.latest.delete(e.key);
    });
    this.stopWatch = () => w.stop();
  }

  async stop(): Promise<void> {
    await this.stopWatch?.();
  }

  usage(hostId: string): MeasuredUsage | undefined {
    return this.latest.get(hostId);
  }
}
