import { IllegalStateError, NotFoundError } from '@berth/errors';
import {
  addClaimToUsage,
  applyClaim,
  releaseClaim,
  removeClaimFromUsage,
  usage,
  type Claim,
  type HostSnapshot,
  type HostUsage,
  type NumaNodeUsage,
} from '@berth/fit';
import type { CostFunctionSpec, HardwareProfile } from '@berth/hardware-config';
import { CompiledCostFunction } from './cost.ts';
import { BUCKETS, classKey, newClass, ensureSorted, searchDescending, staticsFor, type HostClass, type HostStatics } from './host-class.ts';

const JOURNAL_LIMIT = 8192;

export interface CostConfig {
  readonly costFunctions: Readonly<Record<string, CostFunctionSpec>>;
  readonly profiles: Readonly<Record<string, HardwareProfile>>;
}

interface Saved {
  readonly snapshot: HostSnapshot;
  readonly usage: HostUsage;
  readonly claimed: number;
  /** The class the host was in (undefined: none, the host was not enabled). */
  readonly classKey: string | undefined;
}

/** A copy sharing nothing mutable with `u` (addClaimToUsage changes it in place). */
function copyUsage(u: HostUsage): HostUsage {
  const numa = new Map<number, NumaNodeUsage>();
  for (const [id, n] of u.numa)
    numa.set(id, { id: n.id, pinnedCpus: [...n.pinnedCpus], memoryBytes: n.memoryBytes, hugepages: new Map(n.hugepages) });
  return {
    vms: u.vms,
    vcpus: u.vcpus,
    memoryBytes: u.memoryBytes,
    pinnedCpus: new Set(u.pinnedCpus),
    numa,
    devices: new Set(u.devices),
    devicesByType: new Map(u.devicesByType),
    vfs: new Map(u.vfs),
    pools: new Map(u.pools),
    affinityGroups: new Map(u.affinityGroups),
  };
}

/**
 * The scheduler's picture of the fleet: every host snapshot with its usage, kept up to date
 * incrementally (a claim costs O(claims on that host), never a rebuild), and the hosts grouped
 * into classes bucketed by free vCPUs. No I/O: the service feeds it from the snapshot bucket.
 */
export class HostView {
  /** Per slot; `undefined` once a host is removed (its slot is reused). */
  readonly snapshots: (HostSnapshot | undefined)[] = [];
  readonly usages: (HostUsage | undefined)[] = [];
  private readonly classOf: (HostClass | undefined)[] = [];
  private readonly statics: (HostStatics | undefined)[] = [];
  /** All memory claimed per slot, hugepage-backed included. */
  private readonly claimed: number[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private readonly classes = new Map<string, HostClass>();
  /** Enabled-host classes by free vCPUs (last bucket: that many or more). */
  readonly buckets: HostClass[][] = Array.from({ length: BUCKETS }, () => []);
  private readonly compiled = new Map<string, CompiledCostFunction>();
  private readonly config: CostConfig;
  /**
   * Ids of the hosts changed (added, replaced, removed, claimed on), in order: `changedSince` tells a
   * holder of results computed at an earlier `version` which hosts to look at again (ScheduleCache).
   * Bounded: past JOURNAL_LIMIT entries the older half is dropped, and a version from before that
   * answers `undefined` (start again).
   */
  private journal: string[] = [];
  /** The version of journal[0]. */
  private journalStart = 0;
  private classSerial = 0;
  /** Since checkpoint(): per slot, the host as it was before its first claim (see rollback). */
  private saved: Map<number, Saved> | undefined;

  constructor(snapshots: Iterable<HostSnapshot> = [], config: CostConfig = { costFunctions: {}, profiles: {} }) {
    this.config = config;
    for (const s of snapshots) this.upsert(s);
  }

  /** Increases with every change to the view (any host). */
  get version(): number {
    return this.journalStart + this.journal.length;
  }

  /**
   * The hosts changed since `version` (in order, possibly repeated), or `undefined` when the view no
   * longer knows (the journal was trimmed past it, or the version is not one of this view's).
   */
  changedSince(version: number): readonly string[] | undefined {
    if (version < this.journalStart || version > this.version) return undefined;
    return this.journal.slice(version - this.journalStart);
  }

  private changed(hostId: string): void {
    this.journal.push(hostId);
    if (this.journal.length > JOURNAL_LIMIT) {
      const drop = JOURNAL_LIMIT / 2;
      this.journal = this.journal.slice(drop);
      this.journalStart += drop;
    }
  }

  /** Classes made so far: every class made from now on has a serial at least this. */
  get classesMade(): number {
    return this.classSerial;
  }

  /** The class an enabled host belongs to now (hosts in other states are in none). */
  classAt(slot: number): HostClass | undefined {
    return this.classOf[slot];
  }

  get size(): number {
    return this.slotOf.size;
  }

  get(hostId: string): HostSnapshot | undefined {
    const slot = this.slotOf.get(hostId);
    return slot === undefined ? undefined : this.snapshots[slot];
  }

  slot(hostId: string): number | undefined {
    return this.slotOf.get(hostId);
  }

  all(): HostSnapshot[] {
    return this.snapshots.filter((s): s is HostSnapshot => s !== undefined);
  }

  costFunctionOf(snapshot: HostSnapshot): CompiledCostFunction | null {
    const profile = snapshot.capacity.profileId === undefined ? undefined : this.config.profiles[snapshot.capacity.profileId];
    const spec = profile ? this.config.costFunctions[profile.costFunction] : undefined;
    if (!spec) return null;
    let fn = this.compiled.get(spec.id);
    if (!fn) {
      fn = new CompiledCostFunction(spec);
      this.compiled.set(spec.id, fn);
    }
    return fn;
  }

  /** Adds or replaces a host (a newer snapshot from the bucket). Older generations are ignored. */
  upsert(snapshot: HostSnapshot): void {
    this.recording();
    const current = this.get(snapshot.capacity.hostId);
    if (current && current.generation > snapshot.generation) return;
    this.put(snapshot);
  }

  /**
   * Adds or replaces a host whatever the generation the view holds: for a holder that gives the
   * view hosts of its own making (the scheduler's in-flight view: the published snapshot plus the
   * claims on the wire), whose generations need not follow the bucket's.
   */
  replace(snapshot: HostSnapshot): void {
    this.recording();
    this.put(snapshot);
  }

  private put(snapshot: HostSnapshot): void {
    const id = snapshot.capacity.hostId;
    let slot = this.slotOf.get(id);
    let statics: HostStatics | undefined;
    if (slot !== undefined) {
      const current = this.snapshots[slot];
      // The same capacity object (a claim applied or released, a plan's host put back): same statics.
      if (current?.capacity === snapshot.capacity) statics = this.statics[slot];
      this.leaveClass(slot);
    } else {
      slot = this.freeSlots.pop() ?? this.snapshots.length;
      this.slotOf.set(id, slot);
    }
    this.changed(id);
    this.snapshots[slot] = snapshot;
    const u = usage(snapshot);
    this.usages[slot] = u;
    this.statics[slot] = statics ?? staticsFor(snapshot, this.costFunctionOf(snapshot));
    let claimed = 0;
    for (const c of snapshot.claims) claimed += c.memoryBytes;
    this.claimed[slot] = claimed;
    if (snapshot.capacity.state === 'enabled') this.joinClass(slot, snapshot);
  }

  remove(hostId: string): void {
    this.recording();
    const slot = this.slotOf.get(hostId);
    if (slot === undefined) return;
    this.changed(hostId);
    this.leaveClass(slot);
    this.snapshots[slot] = undefined;
    this.usages[slot] = undefined;
    this.statics[slot] = undefined;
    this.slotOf.delete(hostId);
    this.freeSlots.push(slot);
  }

  /** Records a claim the scheduler just made (before inventory's snapshot arrives). */
  applyClaim(claim: Claim): HostSnapshot {
    const current = this.get(claim.hostId);
    if (!current) throw new NotFoundError('host', claim.hostId);
    const next = applyClaim(current, claim);
    const slot = this.slotOf.get(claim.hostId)!;
    if (this.saved && !this.saved.has(slot)) {
      const u = this.usages[slot]!;
      this.saved.set(slot, { snapshot: current, usage: u, claimed: this.claimed[slot]!, classKey: this.classOf[slot]?.key });
      this.usages[slot] = copyUsage(u);
    }
    this.changed(claim.hostId);
    this.leaveClass(slot);
    this.snapshots[slot] = next;
    // The view owns this usage object, so it follows the claim in place instead of being rebuilt.
    addClaimToUsage(this.usages[slot]!, next.capacity, claim);
    this.claimed[slot]! += claim.memoryBytes;
    if (next.capacity.state === 'enabled') this.joinClass(slot, next);
    return next;
  }

  /**
   * From now until `rollback()`, remembers each host as it was before its first `applyClaim`, so
   * that rollback puts the view back exactly as it is now (a plan applies its moves to a shared view
   * one by one and takes them all back before it returns). Only claims may be applied meanwhile:
   * upsert, remove and releaseClaim are refused until the rollback.
   */
  checkpoint(): void {
    if (this.saved) throw new IllegalStateError('the view already has a checkpoint');
    this.saved = new Map();
  }

  /** Puts back every host a claim changed since `checkpoint()`: its snapshot, usage and class as they were. */
  rollback(): void {
    const saved = this.saved;
    if (!saved) throw new IllegalStateError('the view has no checkpoint');
    this.saved = undefined;
    for (const [slot, was] of saved) {
      this.changed(was.snapshot.capacity.hostId);
      this.leaveClass(slot);
      this.snapshots[slot] = was.snapshot;
      this.usages[slot] = was.usage; // never changed: applyClaim worked on a copy
      this.claimed[slot] = was.claimed;
      if (was.snapshot.capacity.state === 'enabled') this.joinClass(slot, was.snapshot, was.classKey);
    }
  }

  private recording(): void {
    if (this.saved) throw new IllegalStateError('the view has a checkpoint: only claims may be applied until its rollback');
  }

  /** The host without `vmId`'s claim, one generation later; its usage gives back what the claim took (no rebuild). */
  releaseClaim(hostId: string, vmId: string): HostSnapshot {
    this.recording();
    const current = this.get(hostId);
    if (!current) throw new NotFoundError('host', hostId);
    const claim = current.claims.find((c) => c.vmId === vmId);
    const next = releaseClaim(current, vmId);
    const slot = this.slotOf.get(hostId)!;
    this.changed(hostId);
    this.leaveClass(slot);
    this.snapshots[slot] = next;
    removeClaimFromUsage(this.usages[slot]!, next.capacity, claim!);
    this.claimed[slot]! -= claim!.memoryBytes;
    if (next.capacity.state === 'enabled') this.joinClass(slot, next);
    return next;
  }

  private joinClass(slot: number, snapshot: HostSnapshot, knownKey?: string): void {
    const st = this.statics[slot]!;
    const u = this.usages[slot]!;
    const key = knownKey ?? classKey(st, u, this.claimed[slot]!);
    let cls = this.classes.get(key);
    if (!cls) {
      cls = newClass(key, st, u, this.claimed[slot]!, this.classSerial++);
      const bucket = this.buckets[cls.bucket]!;
      cls.bucketPos = bucket.length;
      bucket.push(cls);
      this.classes.set(cls.key, cls);
    }
    const id = snapshot.capacity.hostId;
    const n = cls.members.length;
    if (n === 0 || cls.members[n - 1]! > id || cls.dirty || n > 64) {
      // Append (sorted lazily) unless a small insert keeps the order cheaply.
      if (n > 0 && cls.members[n - 1]! < id) cls.dirty = true;
      cls.members.push(id);
      cls.slots.push(slot);
    } else {
      const at = searchDescending(cls.members, id);
      cls.members.splice(at, 0, id);
      cls.slots.splice(at, 0, slot);
    }
    this.classOf[slot] = cls;
  }

  private leaveClass(slot: number): void {
    const cls = this.classOf[slot];
    if (!cls) return;
    this.classOf[slot] = undefined;
    ensureSorted(cls);
    const id = this.snapshots[slot]!.capacity.hostId;
    const at = searchDescending(cls.members, id);
    cls.members.splice(at, 1);
    cls.slots.splice(at, 1);
    if (cls.members.length > 0) return;
    this.classes.delete(cls.key);
    const bucket = this.buckets[cls.bucket]!;
    const last = bucket.pop()!;
    if (last !== cls) {
      bucket[cls.bucketPos] = last;
      last.bucketPos = cls.bucketPos;
    }
  }

  /** Number of distinct host classes (a figure for benchmarks). */
  get classCount(): number {
    return this.classes.size;
  }
}
