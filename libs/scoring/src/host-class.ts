import { allocatableVcpus, ordinaryMemoryCapacity, type CpuTopology, type HostSnapshot, type HostUsage } from '@berth/fit';
import type { CompiledCostFunction } from './cost.ts';

/**
 * Hosts that score identically for any VM: same cost function, pool, CPU model, networks,
 * topology, capacity and consumption. The engine scores a class once and only looks at its
 * members (lowest host id first) when the class is among the best, which is what keeps a
 * placement far below one curve evaluation per host.
 */
export interface HostClass {
  readonly key: string;
  /** Order of creation in its view (HostView.classesMade): a class made after a given moment is new. */
  readonly serial: number;
  readonly cost: CompiledCostFunction | null;
  readonly pool: string;
  readonly cpuModel: string;
  readonly topology: CpuTopology;
  readonly allocVcpus: number;
  readonly allocMemory: number;
  readonly usedVcpus: number;
  /** Ordinary (non-hugepage) memory claimed. */
  readonly usedMemory: number;
  /** All claimed memory, hugepage-backed included (what the memory curve reads). */
  readonly claimedMemory: number;
  readonly vms: number;
  readonly devicesInUse: ReadonlyMap<string, number>;
  readonly devicesTotal: ReadonlyMap<string, number>;
  /** Device curves at the current counts (before the placement). */
  readonly deviceSum: number;
  /** Host ids of the members, descending (see searchDescending); `slots` holds their view slots in the same order. */
  readonly members: string[];
  readonly slots: number[];
  bucket: number;
  bucketPos: number;
  /** Members were appended out of order (bulk loads); sorted on first use. */
  dirty: boolean;
}

export const BUCKETS = 256;

export function bucketOf(freeVcpus: number): number {
  return Math.max(0, Math.min(BUCKETS - 1, Math.floor(freeVcpus)));
}

function mapKey(m: ReadonlyMap<string, number>): string {
  if (m.size === 0) return '';
  return [...m.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** What a class takes from the host's capacity: computed once per snapshot capacity, not per claim. */
export interface HostStatics {
  readonly capacityKey: string;
  readonly cost: CompiledCostFunction | null;
  readonly pool: string;
  readonly cpuModel: string;
  readonly topology: CpuTopology;
  readonly allocVcpus: number;
  readonly allocMemory: number;
  readonly devicesTotal: ReadonlyMap<string, number>;
}

export function staticsFor(snapshot: HostSnapshot, cost: CompiledCostFunction | null): HostStatics {
  const cap = snapshot.capacity;
  const devicesTotal = new Map<string, number>();
  for (const d of cap.pciDevices) devicesTotal.set(d.type, (devicesTotal.get(d.type) ?? 0) + 1);
  const allocVcpus = allocatableVcpus(cap.cpus, cap.cpuOvercommit);
  const allocMemory = ordinaryMemoryCapacity(cap);
  const t = cap.topology;
  const networks = cap.networks
    .map((n) => `${n.space ?? ''}/${n.subnet ?? ''}/${n.vlan ?? ''}`)
    .sort()
    .join(';');
  const capacityKey = [
    cost?.id ?? '-',
    cap.resourcePool,
    cap.cpuModel,
    `${t.sockets}x${t.coresPerSocket}x${t.threadsPerCore}`,
    networks,
    allocVcpus,
    allocMemory,
    mapKey(devicesTotal),
  ].join('|');
  return {
    capacityKey,
    cost,
    pool: cap.resourcePool,
    cpuModel: cap.cpuModel.toLowerCase(),
    topology: t,
    allocVcpus,
    allocMemory,
    devicesTotal,
  };
}

export function classKey(st: HostStatics, u: HostUsage, claimedMemory: number): string {
  return `${st.capacityKey}|${u.vcpus}|${u.memoryBytes}|${claimedMemory}|${u.vms}|${mapKey(u.devicesByType)}`;
}

/** A new, empty class (one object literal: spreading a shape into it was measured at ~40 µs). */
export function newClass(key: string, st: HostStatics, u: HostUsage, claimedMemory: number, serial = 0): HostClass {
  return {
    key,
    serial,
    cost: st.cost,
    pool: st.pool,
    cpuModel: st.cpuModel,
    topology: st.topology,
    allocVcpus: st.allocVcpus,
    allocMemory: st.allocMemory,
    usedVcpus: u.vcpus,
    usedMemory: u.memoryBytes,
    claimedMemory,
    vms: u.vms,
    // A copy: the view updates its usages in place, a class must keep the counts it was keyed by.
    devicesInUse: new Map(u.devicesByType),
    devicesTotal: st.devicesTotal,
    deviceSum: st.cost ? st.cost.deviceSum(u.devicesByType) : 0,
    members: [],
    slots: [],
    bucket: bucketOf(st.allocVcpus - u.vcpus),
    bucketPos: 0,
    dirty: false,
  };
}

/**
 * Index of `id` in `ids` sorted descending, or where it would be inserted. Descending, because the
 * lowest id is taken first: it sits at the end, where removing it moves nothing.
 */
export function searchDescending(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! > id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Restores the descending order after appends (one sort instead of a shifting insert per host). */
export function ensureSorted(c: HostClass): void {
  if (!c.dirty) return;
  const order = c.members.map((_, i) => i).sort((a, b) => (c.members[a]! > c.members[b]! ? -1 : 1));
  const members = order.map((i) => c.members[i]!);
  const slots = order.map((i) => c.slots[i]!);
  for (let i = 0; i < order.length; i++) {
    c.members[i] = members[i]!;
    c.slots[i] = slots[i]!;
  }
  c.dirty = false;
}

/** The member a tie goes to: the lowest host id. */
export function firstMember(c: HostClass): string {
  ensureSorted(c);
  return c.members[c.members.length - 1]!;
}
