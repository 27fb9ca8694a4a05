/**
 * The VMs of the hosts being drained, kept between a drain's passes: loaded once per host (one
 * ListVms), then kept fresh from inventory's VM events (durable `migration-vm-events`) instead of
 * asking inventory on every pass.
 *
 * Each record carries the VM stream's version. An event is applied only when it is the very next
 * one (its position = version + 1) and of a kind folded here: the migration events, which are what
 * a drain's VMs mostly see, folded as inventory folds them. Any other newer event, or a gap, marks
 * the record stale: the next pass reads that VM again (GetVm reads inventory's log, not its read
 * model). An event at or below the record's version changes nothing, so redeliveries and a durable
 * that resumes behind the records are harmless. ListVms reads inventory's read model, which may lag
 * the events already delivered: the newest position seen per VM is kept, and a record loaded behind
 * it is stale from the start.
 */
import type { EventEnvelope } from '@berth/contracts';
import type { VmInfo } from '../../application/ports.ts';

interface Entry {
  info: VmInfo;
  version: number;
  stale: boolean;
}

/** VMs whose newest event position is remembered (a whole fleet's worth; the oldest go first). */
const SEEN_LIMIT = 100_000;

const str = (data: unknown, key: string): string | undefined => {
  const v = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v : undefined;
};

/** The record after a migration event, as inventory's evolveVm has it; undefined: not folded here. */
export function foldVmEvent(info: VmInfo, type: string, data: unknown): VmInfo | undefined {
  if (info.status === 'deleting' || info.status === 'deleted') return undefined;
  const migrationId = str(data, 'migrationId');
  switch (type) {
    case 'VmMigrationStarted':
      return migrationId === undefined || info.hostId === '' ? undefined : { ...info, migrationId };
    case 'VmMigrated': {
      const hostId = str(data, 'hostId');
      const hypervisorUri = str(data, 'hypervisorUri');
      if (hostId === undefined || hypervisorUri === undefined || info.hostId === '') return undefined;
      return { ...info, hostId, hypervisorUri, migrationId: '' };
    }
    case 'VmMigrationAborted':
      return { ...info, migrationId: '' };
    default:
      return undefined;
  }
}

export class EvacueeCache {
  private readonly entries = new Map<string, Entry>();
  /** Followed hosts and the VMs kept for each. */
  private readonly hosts = new Map<string, Set<string>>();
  private readonly seen = new Map<string, number>();

  follows(hostId: string): boolean {
    return this.hosts.has(hostId);
  }

  /** Starts following a host with what ListVms answered. */
  load(hostId: string, vms: readonly VmInfo[]): void {
    const kept = this.hosts.get(hostId) ?? new Set<string>();
    this.hosts.set(hostId, kept);
    for (const info of vms) this.put(hostId, info);
  }

  /** Keeps a VM read from inventory for a followed host (a newer record already kept wins). */
  put(hostId: string, info: VmInfo): void {
    const kept = this.hosts.get(hostId);
    if (kept === undefined) return;
    kept.add(info.vmId);
    const version = info.version ?? 0;
    const current = this.entries.get(info.vmId);
    if (current !== undefined && !current.stale && current.version >= version) return;
    this.entries.set(info.vmId, { info, version, stale: (this.seen.get(info.vmId) ?? 0) > version });
  }

  /** The VM as kept, when it is known to be current. */
  get(vmId: string): VmInfo | undefined {
    const e = this.entries.get(vmId);
    return e === undefined || e.stale ? undefined : e.info;
  }

  /** What is kept of this VM may be wrong (e.g. a move of it failed): read it again next time. */
  invalidate(vmId: string): void {
    const e = this.entries.get(vmId);
    if (e) e.stale = true;
  }

  forget(hostId: string): void {
    const kept = this.hosts.get(hostId);
    if (kept === undefined) return;
    this.hosts.delete(hostId);
    const stillKept = new Set([...this.hosts.values()].flatMap((s) => [...s]));
    for (const vmId of kept) if (!stillKept.has(vmId)) this.entries.delete(vmId);
  }

  /**
   * One of inventory's VM events. Answers the followed hosts whose VM it changed (folded, or now
   * stale): their drains may have something new to do.
   */
  apply(env: Pick<EventEnvelope, 'streamId' | 'streamPosition' | 'type' | 'data'>): string[] {
    if (!env.streamId.startsWith('vm-')) return [];
    const vmId = env.streamId.slice('vm-'.length);
    const position = env.streamPosition;
    if (env.type === 'VmDeleted') this.seen.delete(vmId);
    else if (position > (this.seen.get(vmId) ?? 0)) {
      this.seen.delete(vmId); // re-inserted last: the oldest entries are the first to go
      this.seen.set(vmId, position);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value!);
    }
    const e = this.entries.get(vmId);
    if (e === undefined || position <= e.version) return [];
    const folded = position === e.version + 1 && !e.stale ? foldVmEvent(e.info, env.type, env.data) : undefined;
    if (folded) {
      e.info = folded;
      e.version = position;
    } else e.stale = true;
    return [...this.hosts].filter(([, vms]) => vms.has(vmId)).map(([hostId]) => hostId);
  }
}
