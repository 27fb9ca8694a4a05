import type { Host } from '@berth/proto/berth/inventory/v1/host.ts';
import type { HostUsageAnswer } from '../../src/api.ts';
import { hostState } from '../format.ts';

/** One host's measured usage from telemetry (berth-host-usage). */
export type MeasuredUsage = HostUsageAnswer['hosts'][string];

/** One fleet row: the numbers the meters show, computed once per ListHosts answer. */
export interface FleetRow {
  readonly host: Host;
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly pool: string;
  readonly cpus: number;
  readonly cpuOvercommit: number;
  readonly vcpusTotal: number;
  readonly vcpusUsed: number;
  readonly memoryTotal: number;
  readonly memoryUsed: number;
  readonly memoryOvercommit: number;
  readonly hugepagesReserved: number;
  readonly hugepages: readonly { pageSizeBytes: number; total: number; used: number }[];
  readonly vfsTotal: number;
  readonly vfsUsed: number;
  readonly devices: number;
  readonly devicesUsed: number;
  readonly vmCount: number;
  readonly cpuPct: number;
  readonly memPct: number;
  /** Telemetry's reading, when it reports this host: memory really used, host CPU busy (percent). */
  readonly measured: MeasuredUsage | undefined;
  readonly measuredMemPct: number | undefined;
  readonly measuredCpuPct: number | undefined;
  readonly search: string;
}

export function fleetRow(h: Host, measured?: MeasuredUsage): FleetRow {
  const u = h.usage;
  const spec = h.spec;
  const bySize = new Map<number, { pageSizeBytes: number; total: number; used: number }>();
  for (const n of u?.numaNodes ?? []) {
    for (const p of n.hugepages) {
      const e = bySize.get(p.pageSizeBytes) ?? { pageSizeBytes: p.pageSizeBytes, total: 0, used: 0 };
      e.total += p.total;
      e.used += p.used;
      bySize.set(p.pageSizeBytes, e);
    }
  }
  const hugepages = [...bySize.values()].sort((a, b) => a.pageSizeBytes - b.pageSizeBytes);
  const vcpusTotal = u?.vcpusAllocatable ?? 0;
  const memoryTotal = u?.memoryAllocatableBytes ?? 0;
  const name = spec?.name || h.hostId;
  const state = hostState(h.state);
  const pool = spec?.resourcePool || 'default';
  return {
    host: h,
    id: h.hostId,
    name,
    state,
    pool,
    cpus: spec?.cpus ?? 0,
    cpuOvercommit: spec?.cpuOvercommit ?? 1,
    vcpusTotal,
    vcpusUsed: u?.vcpusUsed ?? 0,
    memoryTotal,
    memoryUsed: u?.memoryUsedBytes ?? 0,
    memoryOvercommit: spec?.memoryOvercommit ?? 1,
    hugepagesReserved: hugepages.reduce((s, p) => s + p.pageSizeBytes * p.total, 0),
    hugepages,
    vfsTotal: (u?.vfs ?? []).reduce((s, v) => s + v.total, 0),
    vfsUsed: (u?.vfs ?? []).reduce((s, v) => s + v.used, 0),
    devices: u?.devices.length ?? 0,
    devicesUsed: (u?.devices ?? []).filter((d) => d.vmId).length,
    vmCount: u?.vmCount ?? 0,
    cpuPct: vcpusTotal > 0 ? (u!.vcpusUsed / vcpusTotal) * 100 : 0,
    memPct: memoryTotal > 0 ? (u!.memoryUsedBytes / memoryTotal) * 100 : 0,
    measured,
    measuredMemPct: measured ? measured.memoryPressure * 100 : undefined,
    measuredCpuPct: measured?.cpuPercent,
    search:
      `${h.hostId} ${name} ${state} ${pool} ${(spec?.tags ?? []).join(' ')} ${spec?.cpuModel ?? ''} ${(u?.devices ?? []).map((d) => d.type).join(' ')}`.toLowerCase(),
  };
}

/** Heat-map bucket of a percentage: 0 (0–9 %) … 9 (90–100 %). */
export const bucketOf = (pct: number): number => Math.min(9, Math.floor(pct / 10));
