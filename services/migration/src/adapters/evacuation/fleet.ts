/**
 * The evacuation's view of the fleet: the host snapshots from the KV bucket `berth-host-snapshots`
 * (watched, kept in a HostView as the scheduler keeps its own; an older generation never replaces a
 * newer one), and the VMs on a host from its claims plus inventory's VM record.
 */
import { guestCellVcpus, vmSpec, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import { NotFoundError } from '@berth/errors';
import { openKv } from '@berth/messaging';
import { HostView } from '@berth/scoring';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Evacuee, EvacueeStatus } from '../../domain/evacuation/model.ts';
import type { FleetReader } from '../../application/evacuation-ports.ts';
import type { InventoryPort, VmInfo } from '../../application/ports.ts';
import { EvacueeCache } from './evacuee-cache.ts';

function priorityOf(spec: unknown): number {
  if (typeof spec === 'object' && spec !== null && 'priority' in spec && typeof spec.priority === 'number') return spec.priority;
  return 0;
}

/**
 * What the planner needs of a VM, rebuilt from its claim (the resources it holds are what it asked
 * for) and inventory's record (mode, HP/pinned, pool, priority). Rules the claim cannot carry
 * (affinity, allowed hosts, networks, CPU model) are re-checked by the scheduler when the move
 * starts: a destination that breaks them is refused there and the drain plans again without it.
 */
export function plannerSpec(info: VmInfo, claim: Claim): VmSpec {
  const cellVcpus = guestCellVcpus(claim);
  const devices = new Map<string, number>();
  for (const d of claim.devices) devices.set(d.type, (devices.get(d.type) ?? 0) + 1);
  const hugepageSize = claim.hugepages[0]?.pageSizeBytes;
  return vmSpec({
    vmId: info.vmId,
    name: info.name,
    vcpus: claim.vcpus,
    memoryBytes: claim.memoryBytes,
    cpuPolicy: claim.pinnedCpus.length > 0 ? 'dedicated' : 'shared',
    numaNodes: claim.numaCells.length > 1 ? claim.numaCells.map((c, i) => ({ vcpus: cellVcpus[i] ?? 0, memoryBytes: c.memoryBytes })) : [],
    ...(hugepageSize !== undefined && { hugepageSizeBytes: hugepageSize }),
    devices: [...devices].map(([type, count]) => ({ type, count })),
    nics: claim.vfs.flatMap((v) => Array.from({ length: v.count }, () => ({ sriov: true }))),
    disks: claim.volumes.map((v) => ({ sizeBytes: v.sizeBytes, pool: v.pool })),
    highPerformance: info.highPerformanceOrPinned,
    priority: priorityOf(info.schedulingSpec),
    ...(info.resourcePool !== '' && { resourcePool: info.resourcePool }),
    migrationMode: info.migrationMode,
  });
}

function statusOf(info: VmInfo): EvacueeStatus {
  if (info.migrationId !== '') return 'migrating';
  if (info.status === 'running') return 'running';
  if (info.status === 'stopped') return 'stopped';
  return 'busy';
}

export class KvFleetReader implements FleetReader {
  private readonly live = new HostView();
  private stopWatch: (() => Promise<void>) | undefined;
  /** The VMs of the hosts being drained (see EvacueeCache), fed by `vmEvent`. */
  private readonly cache = new EvacueeCache();

  /** `changed`: told when a drained host's snapshot or one of its VMs changed. */
  constructor(
    private readonly inventory: InventoryPort,
    private readonly changed: (hostId: string) => void = () => undefined,
  ) {}

  /** Replays the bucket, then follows it. */
  async start(nc: NatsConnection, prefix?: string): Promise<void> {
    const kv = await openKv(nc, 'berth-host-snapshots', prefix ? { prefix } : {});
    const w = await kv.watchJson<HostSnapshot>((e) => {
      if (e.value) this.live.upsert(e.value);
      else this.live.remove(e.key);
      if (this.cache.follows(e.key)) this.changed(e.key);
    });
    this.stopWatch = () => w.stop();
  }

  /** One of inventory's VM events (the `migration-vm-events` durable). */
  vmEvent(env: Parameters<EvacueeCache['apply']>[0]): void {
    for (const hostId of this.cache.apply(env)) this.changed(hostId);
  }

  /** The VM as a drain keeps it, when current (MigrateVm takes it instead of asking inventory). */
  known(vmId: string): VmInfo | undefined {
    return this.cache.get(vmId);
  }

  unfollow(hostId: string): void {
    this.cache.forget(hostId);
  }

  invalidate(vmId: string): void {
    this.cache.invalidate(vmId);
  }

  async stop(): Promise<void> {
    await this.stopWatch?.();
  }

  async view(): Promise<HostView> {
    return this.live;
  }

  /**
   * One ListVms of the host for the VMs inventory has there; GetVm only for a claim whose VM it lists
   * elsewhere (one moving in holds its destination claim here; one that left while the snapshot lags).
   * A followed host (a drain) is listed once; later calls take its VMs as kept, and GetVm only those
   * an event made stale and claims of VMs not kept yet.
   */
  async evacuees(hostId: string, opts: { readonly follow?: boolean } = {}): Promise<Evacuee[]> {
    const host = this.live.get(hostId);
    if (!host) return [];
    const follow = opts.follow === true;
    let on: Map<string, VmInfo> | undefined;
    if (!follow || !this.cache.follows(hostId)) {
      const listed = await this.inventory.vmsOn(hostId);
      if (follow) this.cache.load(hostId, listed);
      else on = new Map(listed.map((v) => [v.vmId, v]));
    }
    const lookUp = async (vmId: string): Promise<VmInfo | undefined> => {
      const kept = on === undefined ? this.cache.get(vmId) : on.get(vmId);
      if (kept !== undefined) return kept;
      const info = await this.inventory.getVm(vmId).catch((e: unknown) => {
        if (e instanceof NotFoundError) return undefined; // deleted since the snapshot
        throw e;
      });
      if (info !== undefined && follow) this.cache.put(hostId, info);
      return info;
    };
    const found = await Promise.all(
      host.claims.map(async (claim): Promise<Evacuee | undefined> => {
        const info = await lookUp(claim.vmId);
        if (info?.status === 'deleted') return undefined;
        // The snapshot may lag inventory: a VM that has already moved away (no migration under way,
        // inventory has it elsewhere) holds no claim here any more and is not moved a second time.
        if (!info || (info.migrationId === '' && info.hostId !== hostId)) return undefined;
        return { spec: plannerSpec(info, claim), claim, status: statusOf(info) };
      }),
    );
    return found.filter((e): e is Evacuee => e !== undefined);
  }
}
