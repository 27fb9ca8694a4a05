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

  constructor(private readonly inventory: InventoryPort) {}

  /** Replays the bucket, then follows it. */
  async start(nc: NatsConnection, prefix?: string): Promise<void> {
    const kv = await openKv(nc, 'berth-host-snapshots', prefix ? { prefix } : {});
    const w = await kv.watchJson<HostSnapshot>((e) => {
      if (e.value) this.live.upsert(e.value);
      else this.live.remove(e.key);
    });
    this.stopWatch = () => w.stop();
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
   */
  async evacuees(hostId: string): Promise<Evacuee[]> {
    const host = this.live.get(hostId);
    if (!host) return [];
    const on = new Map((await this.inventory.vmsOn(hostId)).map((v) => [v.vmId, v]));
    const lookUp = (vmId: string): Promise<VmInfo | undefined> =>
      this.inventory.getVm(vmId).catch((e: unknown) => {
        if (e instanceof NotFoundError) return undefined; // deleted since the snapshot
        throw e;
      });
    const found = await Promise.all(
      host.claims.map(async (claim): Promise<Evacuee | undefined> => {
        const info = on.get(claim.vmId) ?? (await lookUp(claim.vmId));
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
