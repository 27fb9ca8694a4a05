import { fits, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import { classScore, scoreContext, type ScoreContext } from './class-score.ts';
import { bucketOf, BUCKETS, ensureSorted, type HostClass } from './host-class.ts';
import { candidate, insert, loses, placed, schedule, type Candidate, type ScheduleOptions, type ScheduleResult } from './schedule.ts';
import type { HostView } from './view.ts';
import type { Weights } from './weights.ts';

export interface ScheduleCacheOptions {
  /** As ScheduleOptions.policyFor; must answer the same for a pool as long as the cache is used. */
  readonly policyFor?: ScheduleOptions['policyFor'];
  readonly weights?: Partial<Weights>;
}

/** The fields of a VmSpec no filter, cost or weight reads: VMs differing only in these have one shape. */
type Identity = 'vmId' | 'name' | 'priority' | 'slaTier' | 'tags' | 'migrationMode';

/**
 * What decides where a VM can go and how each host scores for it: the spec without its identity and
 * the fields placement does not read. A deny-list, so a field added to VmSpec later is part of the
 * shape (a cache miss at worst, never a stale answer).
 */
export function placementShape(vm: VmSpec): string {
  const { vmId: _id, name: _n, priority: _p, slaTier: _s, tags: _t, migrationMode: _m, ...rest } = vm satisfies Pick<VmSpec, Identity>;
  return JSON.stringify(rest);
}

const IDENTITY: ReadonlySet<string> = new Set<Identity>(['vmId', 'name', 'priority', 'slaTier', 'tags', 'migrationMode']);

/** Plain data equal all the way down (anything but arrays and plain objects only to itself: a miss, never a false match). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(a);
  if ((proto !== Object.prototype && proto !== null) || Object.getPrototypeOf(b) !== proto) return false;
  return sameFields(a, b, undefined);
}

function sameFields(a: object, b: object, skip: ReadonlySet<string> | undefined): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let fields = 0;
  for (const f in ra) {
    if (skip?.has(f)) continue;
    if (!Object.hasOwn(rb, f) || !same(ra[f], rb[f])) return false;
    fields++;
  }
  for (const f in rb) if (!skip?.has(f)) fields--;
  return fields === 0;
}

/**
 * Whether two VMs have one placement shape (placementShape(a) === placementShape(b), or a miss):
 * compared field by field, without building the key (building it was ~8% of a plan).
 */
export function sameShape(a: VmSpec, b: VmSpec): boolean {
  return a.vcpus === b.vcpus && a.memoryBytes === b.memoryBytes && sameFields(a, b, IDENTITY);
}

/** VMs whose ranking is by host alone (no fleet-wide affinity, no NUMA-alignment search with its cut-off). */
function cacheable(vm: VmSpec): boolean {
  if (vm.affinity.length > 0 || vm.devices.length > 0) return false;
  for (const nic of vm.nics) if (nic.sriov) return false;
  return true;
}

/** fits() of the shape on one host snapshot (the claim holds the VM id it was computed for). */
interface Fitted {
  readonly snapshot: HostSnapshot;
  readonly claim: Claim | undefined;
  candidate?: Candidate;
}

interface Entry {
  /** The first VM of the shape asked for (the others are sameShape as it). */
  readonly spec: VmSpec;
  /** The view's version the classes are complete at. */
  version: number;
  readonly ctx: ScoreContext;
  /**
   * Every class that takes the shape at a finite score (a class's score never changes: its counts are
   * its key), by score: `classes`/`scores` in order, then the rest in a min-heap (`heapClasses`/
   * `heapScores`), none of which scores below the last in order. A walk rarely goes past the first few
   * classes, so a class is put in order only when a walk reaches it (sorting all of them was ~12% of a plan).
   */
  readonly classes: HostClass[];
  readonly scores: number[];
  readonly heapClasses: HostClass[];
  readonly heapScores: number[];
  /** Classes made before the scan were all scored then (HostClass.serial); those made since, once added, are here. */
  readonly madeBefore: number;
  readonly added: Set<HostClass>;
  /** Per host: the fit at the snapshot it was computed on (valid while the view holds that very snapshot). */
  readonly fitted: Map<string, Fitted>;
}

interface Finalist {
  readonly slot: number;
  readonly score: number;
  readonly hostId: string;
  readonly cls: HostClass;
  readonly fit: Fitted;
}

/**
 * `schedule()` for many VMs over one view that changes between them (a plan applying each move
 * before the next): the same results, with the work shared between VMs of the same shape.
 *
 * Per shape it keeps the host classes that take it, ordered by score as far as a walk needs (scored
 * once: a class's counts are its key, so its score never changes; hosts join and leave it), and per host the fit at
 * the snapshot it was computed on. Before answering it asks the view which hosts changed since
 * (`HostView.changedSince`: any upsert, removal or claim, whoever made it) and scores the classes
 * they joined; a fit is reused only while the view holds the very snapshot it was computed on. Then
 * it walks the classes best first, exactly as schedule() does, and stops as soon as the winner and
 * the runners-up are known: a plan pays the fleet-wide class scan once per shape instead of once per
 * VM, and a fit once per host change. VMs with affinity rules, devices or SR-IOV NICs (ranked with
 * fleet-wide or per-claim terms) go straight to schedule(). Meant for one batch of decisions (a
 * plan): it keeps what it learnt until it is dropped.
 */
export class ScheduleCache {
  /** By memory size, then sameShape. */
  private readonly entries = new Map<number, Entry[]>();
  /** Class scans and fits done (figures for tests and benchmarks). */
  scans = 0;
  fitsComputed = 0;

  constructor(
    private readonly view: HostView,
    private readonly options: ScheduleCacheOptions = {},
  ) {}

  schedule(vm: VmSpec, options: Pick<ScheduleOptions, 'excludedHosts' | 'alternates'> = {}): ScheduleResult {
    if (!cacheable(vm)) return this.uncached(vm, options);
    const entry = this.entry(vm);
    const view = this.view;
    const k = 1 + Math.max(0, options.alternates ?? 3);
    const excluded = options.excludedHosts ?? [];
    const allowed = vm.allowedHosts.length > 0 ? vm.allowedHosts : undefined;
    const best: Finalist[] = [];
    const { classes, scores } = entry;
    for (let i = 0; i < classes.length || this.order(entry); i++) {
      const cls = classes[i]!;
      const score = scores[i]!;
      if (cls.members.length === 0) {
        // Emptied, so dropped from the view; a class object never takes members again.
        classes.splice(i, 1);
        scores.splice(i, 1);
        i--;
        continue;
      }
      if (best.length === k && score > best[k - 1]!.score) break;
      ensureSorted(cls);
      for (let m = cls.members.length - 1; m >= 0; m--) {
        const hostId = cls.members[m]!;
        if (loses(best, k, score, hostId)) break; // members ascend: the rest lose too
        if (excluded.includes(hostId)) continue;
        const slot = cls.slots[m]!;
        const snapshot = view.snapshots[slot]!;
        if (allowed && !allowed.includes(hostId) && !allowed.includes(snapshot.capacity.name)) continue;
        let fit = entry.fitted.get(hostId);
        if (fit?.snapshot !== snapshot) {
          this.fitsComputed++;
          const r = fits(snapshot, vm, view.usages[slot]);
          fit = { snapshot, claim: r.ok ? r.claim : undefined };
          entry.fitted.set(hostId, fit);
        }
        if (fit.claim) insert(best, { slot, score, hostId, cls, fit }, k);
      }
    }
    // Nothing takes it: schedule() explains why.
    return placed(vm.vmId, best, (f) => this.answer(entry, f, vm.vmId)) ?? this.uncached(vm, options);
  }

  private uncached(vm: VmSpec, options: Pick<ScheduleOptions, 'excludedHosts' | 'alternates'>): ScheduleResult {
    return schedule(vm, this.view, {
      ...(this.options.policyFor && { policyFor: this.options.policyFor }),
      ...(this.options.weights && { weights: this.options.weights }),
      ...options,
    });
  }

  /** Puts the best class of the heap in order after the others; false when none is left. */
  private order(entry: Entry): boolean {
    const hc = entry.heapClasses;
    const hs = entry.heapScores;
    while (hc.length > 0) {
      const cls = hc[0]!;
      const score = hs[0]!;
      const lastClass = hc.pop()!;
      const lastScore = hs.pop()!;
      if (hc.length > 0) siftDown(hc, hs, 0, lastClass, lastScore);
      if (cls.members.length === 0) continue; // emptied, so dropped from the view (see schedule)
      entry.classes.push(cls);
      entry.scores.push(score);
      return true;
    }
    return false;
  }

  /** The finalist as schedule() reports it, for this VM (the fit's claim was computed for another VM of the shape). */
  private answer(entry: Entry, f: Finalist, vmId: string): Candidate {
    const c = (f.fit.candidate ??= candidate(this.view, entry.ctx, f.cls, {
      slot: f.slot,
      score: f.score,
      hostId: f.hostId,
      claim: f.fit.claim!,
    }));
    return c.claim.vmId === vmId ? c : { ...c, claim: { ...c.claim, vmId } };
  }

  /** The shape's classes, brought up to the view's version (or scanned afresh when the view cannot say what changed). */
  private entry(vm: VmSpec): Entry {
    const view = this.view;
    let list = this.entries.get(vm.memoryBytes);
    if (!list) {
      list = [];
      this.entries.set(vm.memoryBytes, list);
    }
    let at = 0;
    while (at < list.length && !sameShape(list[at]!.spec, vm)) at++;
    const entry = list[at];
    if (entry) {
      if (entry.version === view.version) return entry;
      const changed = view.changedSince(entry.version);
      if (changed) {
        for (const hostId of changed) {
          const slot = view.slot(hostId);
          const cls = slot === undefined ? undefined : view.classAt(slot);
          if (cls && cls.serial >= entry.madeBefore && !entry.added.has(cls)) this.add(entry, cls);
        }
        entry.version = view.version;
        return entry;
      }
    }
    this.scans++;
    const fresh: Entry = {
      spec: entry?.spec ?? vm,
      version: view.version,
      ctx: scoreContext(vm, this.options.weights, this.options.policyFor),
      classes: [],
      scores: [],
      heapClasses: [],
      heapScores: [],
      madeBefore: view.classesMade,
      added: new Set(),
      fitted: entry?.fitted ?? new Map<string, Fitted>(),
    };
    // Classes with fewer free vCPUs than the VM asks for are refused by classScore anyway.
    const hc = fresh.heapClasses;
    const hs = fresh.heapScores;
    for (let b = bucketOf(vm.vcpus); b < BUCKETS; b++) {
      const bucket = view.buckets[b]!;
      for (let i = 0; i < bucket.length; i++) {
        const cls = bucket[i]!;
        const score = classScore(fresh.ctx, cls);
        if (score < Infinity) {
          hc.push(cls);
          hs.push(score);
        }
      }
    }
    for (let i = (hc.length >>> 1) - 1; i >= 0; i--) siftDown(hc, hs, i, hc[i]!, hs[i]!);
    list[at] = fresh;
    return fresh;
  }

  private add(entry: Entry, cls: HostClass): void {
    entry.added.add(cls);
    const score = classScore(entry.ctx, cls);
    if (!(score < Infinity)) return; // refused (NaN) or infinite cost
    const { classes, scores, heapClasses: hc, heapScores: hs } = entry;
    if (hc.length > 0 && score > hs[0]!) {
      siftUp(hc, hs, hc.length, cls, score);
      return;
    }
    let lo = 0;
    let hi = scores.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (scores[mid]! <= score) lo = mid + 1;
      else hi = mid;
    }
    classes.splice(lo, 0, cls);
    scores.splice(lo, 0, score);
  }
}

/** Places (cls, score) at hole `i` of the min-heap or below it (the heap's length stays as it is). */
function siftDown(hc: HostClass[], hs: number[], i: number, cls: HostClass, score: number): void {
  const n = hc.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && hs[child + 1]! < hs[child]!) child++;
    if (hs[child]! >= score) break;
    hc[i] = hc[child]!;
    hs[i] = hs[child]!;
    i = child;
  }
  hc[i] = cls;
  hs[i] = score;
}

/** Adds (cls, score) to the min-heap at hole `i` (its end) or above it. */
function siftUp(hc: HostClass[], hs: number[], i: number, cls: HostClass, score: number): void {
  while (i > 0) {
    const parent = (i - 1) >>> 1;
    if (hs[parent]! <= score) break;
    hc[i] = hc[parent]!;
    hs[i] = hs[parent]!;
    i = parent;
  }
  hc[i] = cls;
  hs[i] = score;
}
