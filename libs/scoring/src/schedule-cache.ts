import { fits, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import { classScore, scoreContext, type ScoreContext } from './class-score.ts';
import { bucketOf, BUCKETS, ensureSorted, type HostClass } from './host-class.ts';
import { candidate, schedule, type Candidate, type ScheduleOptions, type ScheduleResult } from './schedule.ts';
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
  /** The view's version `classes` is complete at. */
  version: number;
  readonly ctx: ScoreContext;
  /** Every class that takes the shape at a finite score, by score (a class's score never changes: its counts are its key). */
  readonly classes: HostClass[];
  readonly scores: number[];
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

function loses(best: readonly Finalist[], k: number, score: number, hostId: string): boolean {
  const w = best.length < k ? undefined : best[k - 1]!;
  return w !== undefined && (score > w.score || (score === w.score && hostId > w.hostId));
}

/**
 * `schedule()` for many VMs over one view that changes between them (a plan applying each move
 * before the next): the same results, with the work shared between VMs of the same shape.
 *
 * Per shape it keeps the host classes that take it, sorted by their score (scored once: a class's
 * counts are its key, so its score never changes; hosts join and leave it), and per host the fit at
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
  private readonly entries = new Map<string, Entry>();
  /** Class scans and fits done (figures for tests and benchmarks). */
  scans = 0;
  fitsComputed = 0;

  constructor(
    private readonly view: HostView,
    private readonly options: ScheduleCacheOptions = {},
  ) {}

  schedule(vm: VmSpec, options: Pick<ScheduleOptions, 'excludedHosts' | 'alternates'> = {}): ScheduleResult {
    const full: ScheduleOptions = {
      ...(this.options.policyFor && { policyFor: this.options.policyFor }),
      ...(this.options.weights && { weights: this.options.weights }),
      ...options,
    };
    if (!cacheable(vm)) return schedule(vm, this.view, full);
    const entry = this.entry(vm);
    const view = this.view;
    const k = 1 + Math.max(0, options.alternates ?? 3);
    const excluded = options.excludedHosts ?? [];
    const allowed = vm.allowedHosts.length > 0 ? vm.allowedHosts : undefined;
    const best: Finalist[] = [];
    const { classes, scores } = entry;
    for (let i = 0; i < classes.length; i++) {
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
        if (!fit.claim) continue;
        let at = best.length;
        while (at > 0 && (best[at - 1]!.score > score || (best[at - 1]!.score === score && best[at - 1]!.hostId > hostId))) at--;
        best.splice(at, 0, { slot, score, hostId, cls, fit });
        if (best.length > k) best.pop();
      }
    }
    if (best.length === 0) return schedule(vm, view, full); // nothing takes it: schedule() explains why
    const chosen = this.answer(entry, best[0]!, vm.vmId);
    const alternates: Candidate[] = [];
    for (let i = 1; i < best.length; i++) alternates.push(this.answer(entry, best[i]!, vm.vmId));
    return {
      kind: 'placed',
      vmId: vm.vmId,
      hostId: chosen.hostId,
      generation: chosen.generation,
      claim: chosen.claim,
      breakdown: chosen,
      alternates,
    };
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
    const key = placementShape(vm);
    const view = this.view;
    const entry = this.entries.get(key);
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
      version: view.version,
      ctx: scoreContext(vm, this.options.weights, this.options.policyFor),
      classes: [],
      scores: [],
      madeBefore: view.classesMade,
      added: new Set(),
      fitted: entry?.fitted ?? new Map<string, Fitted>(),
    };
    // Classes with fewer free vCPUs than the VM asks for are refused by classScore anyway.
    const taken: { cls: HostClass; score: number }[] = [];
    for (let b = bucketOf(vm.vcpus); b < BUCKETS; b++) {
      const bucket = view.buckets[b]!;
      for (let i = 0; i < bucket.length; i++) {
        const cls = bucket[i]!;
        const score = classScore(fresh.ctx, cls);
        if (score < Infinity) taken.push({ cls, score });
      }
    }
    taken.sort((a, b) => a.score - b.score);
    for (const t of taken) {
      fresh.classes.push(t.cls);
      fresh.scores.push(t.score);
    }
    this.entries.set(key, fresh);
    return fresh;
  }

  private add(entry: Entry, cls: HostClass): void {
    entry.added.add(cls);
    const score = classScore(entry.ctx, cls);
    if (!(score < Infinity)) return; // refused (NaN) or infinite cost
    const { classes, scores } = entry;
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
