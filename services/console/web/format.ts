import { HostState } from '@berth/proto/berth/model/v1/host.ts';
import { MigrationMode, SlaTier } from '@berth/proto/berth/model/v1/vm.ts';
import { VmStatus } from '@berth/proto/berth/inventory/v1/vm.ts';
// Types only: the module holds the gRPC service too (@grpc/grpc-js), which must stay out of the browser bundle.
import type { MigrationStatus } from '@berth/proto/berth/migration/v1/migration_service.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function bytes(n: number): string {
  if (n >= 1024 * GiB) return `${+(n / (1024 * GiB)).toFixed(2)} TiB`;
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(0)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export const pageSize = (n: number): string => (n >= GiB ? `${n / GiB} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`);

export const HOST_STATES: ReadonlyArray<[HostState, string]> = [
  [HostState.HOST_STATE_ENABLED, 'enabled'],
  [HostState.HOST_STATE_NO_SCHEDULING, 'no scheduling'],
  [HostState.HOST_STATE_DISABLED, 'disabled'],
  [HostState.HOST_STATE_MAINTENANCE_PREPARING, 'preparing for maintenance'],
  [HostState.HOST_STATE_MAINTENANCE, 'maintenance'],
];
export const hostState = (s: HostState): string => HOST_STATES.find(([v]) => v === s)?.[1] ?? 'unknown';

export const VM_STATUSES: ReadonlyArray<[VmStatus, string]> = [
  [VmStatus.VM_STATUS_REQUESTED, 'requested'],
  [VmStatus.VM_STATUS_WAITING_FOR_CAPACITY, 'waiting for capacity'],
  [VmStatus.VM_STATUS_PLACED, 'placed'],
  [VmStatus.VM_STATUS_PROVISIONING, 'provisioning'],
  [VmStatus.VM_STATUS_RUNNING, 'running'],
  [VmStatus.VM_STATUS_STOPPING, 'stopping'],
  [VmStatus.VM_STATUS_STOPPED, 'stopped'],
  [VmStatus.VM_STATUS_DELETING, 'deleting'],
  [VmStatus.VM_STATUS_DELETED, 'deleted'],
  [VmStatus.VM_STATUS_PLACEMENT_FAILED, 'placement failed'],
  [VmStatus.VM_STATUS_PROVISION_FAILED, 'provision failed'],
];
export const vmStatus = (s: VmStatus): string => VM_STATUSES.find(([v]) => v === s)?.[1] ?? 'unknown';

/** berth.migration.v1.MigrationStatus in words, by value (the enum lives in the service module: see the import). */
const MIGRATION_STATUS_WORDS: readonly string[] = [
  'unknown',
  'requested',
  'destination chosen',
  'destination claimed',
  'migrating',
  'switched over',
  'source released',
  'completed',
  'releasing destination',
  'waiting to retry',
  'aborting',
  'aborted',
  'failed',
  'post-copy paused',
  'queued',
];
/** A migration's status in words (`queued`: waiting for a concurrency slot; its reason says which cap). */
export const migrationStatus = (s: MigrationStatus): string => MIGRATION_STATUS_WORDS[s] ?? 'unknown';

export const slaTier = (s: SlaTier): string =>
  ({
    [SlaTier.SLA_TIER_PLATINUM]: 'platinum',
    [SlaTier.SLA_TIER_GOLD]: 'gold',
    [SlaTier.SLA_TIER_SILVER]: 'silver',
    [SlaTier.SLA_TIER_VAPOR]: 'vapor',
  })[s as number] ?? 'none';

export const migrationMode = (m: MigrationMode): string =>
  ({
    [MigrationMode.MIGRATION_MODE_NONE]: 'none',
    [MigrationMode.MIGRATION_MODE_MANUAL]: 'manual',
    [MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC]: 'manual and automatic',
  })[m as number] ?? 'default';

/** "0-3,8,10-11" from a list of CPU ids. */
export function ranges(ids: readonly number[]): string {
  const s = [...ids].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',') || '—';
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const time = (iso: string): string => (iso ? new Date(iso).toLocaleTimeString(undefined, { hour12: false }) : '—');
