import { filterOrder, fits, type FilterName, type FitUnit, type VmSpec } from '@berth/fit';
import { classCost } from './class-score.ts';
import type { HostView } from './view.ts';

/** Why hosts were removed: a fit filter, an infinite cost, an exclusion or hard VM affinity. */
export type RemovalReason = FilterName | 'cost' | 'excluded' | 'affinity-together';

export interface RemovalGroup {
  readonly reason: RemovalReason;
  /** What ran short or was wrong: a host state, device type, pool, network, group. */
  readonly subject?: string;
  readonly hosts: number;
  readonly needed?: number;
  /** The closest miss: the most any removed host had free. */
  readonly bestAvailable?: number;
  readonly unit?: FitUnit;
  /** Up to three of the hosts, for drilling down. */
  readonly sampleHosts: readonly string[];
  /** For `cost`: which curve went infinite at what input on the first such host, e.g. `vcpus: hard-soft past hard 16 at 18`. */
  readonly detail?: string;
}

export interface FailureExplanation {
  readonly vmId: string;
  readonly vmName: string;
  readonly totalHosts: number;
  /** Hosts that could take the VM (0 when placement failed). */
  readonly eligibleHosts: number;
  /** Largest group first. */
  readonly groups: readonly RemovalGroup[];
}

interface MutableGroup {
  reason: RemovalReason;
  subject?: string;
  hosts: number;
  needed?: number;
  bestAvailable?: number;
  unit?: FitUnit;
  sampleHosts: string[];
  detail?: string;
}

const order: readonly RemovalReason[] = ['excluded', ...filterOrder, 'affinity-together', 'cost'];

/**
 * Runs every filter on every host (the slow path, only when nothing fits) and groups the hosts by
 * the first reason that removed them, keeping the closest miss of each group.
 */
export function explainFailure(
  view: HostView,
  vm: VmSpec,
  excluded: ReadonlySet<string>,
  together: ReadonlySet<string> | null,
): FailureExplanation {
  const groups = new Map<string, MutableGroup>();
  const add = (
    hostId: string,
    reason: RemovalReason,
    subject?: string,
    needed?: number,
    available?: number,
    unit?: FitUnit,
    detail?: string,
  ): void => {
    // Hosts a cost function refuses are grouped by the curve that refused them (the text before ':').
    const key = `${reason}\u0000${subject ?? ''}\u0000${detail?.split(':')[0] ?? ''}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        reason,
        hosts: 0,
        sampleHosts: [],
        ...(subject !== undefined && { subject }),
        ...(unit !== undefined && { unit }),
        ...(detail !== undefined && { detail }),
      };
      groups.set(key, g);
    }
    g.hosts++;
    if (g.sampleHosts.length < 3) g.sampleHosts.push(hostId);
    if (needed !== undefined) g.needed = needed;
    if (available !== undefined) g.bestAvailable = Math.max(g.bestAvailable ?? 0, available);
  };
  let total = 0;
  let eligible = 0;
  view.snapshots.forEach((snap, slot) => {
    if (!snap) return;
    total++;
    const id = snap.capacity.hostId;
    if (excluded.has(id)) return add(id, 'excluded');
    const r = fits(snap, vm, view.usages[slot]);
    if (!r.ok) {
      const f = r.reasons[0]!;
      const subjectKept =
        f.filter === 'state' ||
        f.filter === 'devices' ||
        f.filter === 'storage' ||
        f.filter === 'network' ||
        f.filter === 'resource-pool' ||
        f.filter === 'sriov' ||
        f.filter === 'affinity' ||
        f.filter === 'cpu-model' ||
        (f.filter === 'numa' && f.unit === 'nodes');
      return add(id, f.filter, subjectKept ? f.subject : undefined, f.needed, f.available, f.unit);
    }
    if (together && !together.has(id))
      return add(
        id,
        'affinity-together',
        vm.affinity.find((a) => a.polarity === 'affinity' && a.target === 'vm' && a.enforcement === 'hard')?.group,
      );
    const cost = view.costFunctionOf(snap);
    if (cost) {
      const u = view.usages[slot]!;
      let claimed = 0;
      for (const c of snap.claims) claimed += c.memoryBytes;
      const deviceSum = cost.deviceSum(u.devicesByType);
      const c = classCost({ cost, deviceSum, devicesInUse: u.devicesByType, vms: u.vms, usedVcpus: u.vcpus, claimedMemory: claimed }, vm);
      if (c === Infinity) {
        const devices = new Map(u.devicesByType);
        for (const req of vm.devices) devices.set(req.type, (devices.get(req.type) ?? 0) + req.count);
        const why = cost.whyInfinite({ vms: u.vms + 1, vcpus: u.vcpus + vm.vcpus, memoryBytes: claimed + vm.memoryBytes, devices });
        return add(id, 'cost', cost.id, undefined, undefined, undefined, why);
      }
    }
    eligible++;
  });
  const sorted = [...groups.values()].sort(
    (a, b) => b.hosts - a.hosts || order.indexOf(a.reason) - order.indexOf(b.reason) || (a.subject ?? '').localeCompare(b.subject ?? ''),
  );
  return { vmId: vm.vmId, vmName: vm.name, totalHosts: total, eligibleHosts: eligible, groups: sorted };
}
