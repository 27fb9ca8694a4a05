/**
 * SLA classes (seed 002): applied to what the policy decided before any controller acts.
 * - platinum: never ballooned below its full allocation;
 * - gold: never below 75% of it;
 * - silver, vapor: as the policy decides (vapor may also be powered off, see pressure.ts).
 * Within a class, priorities order who gives memory first: what the policy asked the class to give
 * in an interval is taken from its lowest-priority guests first, each down to its floor. And MOM's
 * minimum step: a target that moves the balloon by less than `min_balloon_change_percent` of its
 * current size is not sent.
 */
export type SlaTier = 'platinum' | 'gold' | 'silver' | 'vapor';

export const SLA_TIERS: readonly SlaTier[] = ['platinum', 'gold', 'silver', 'vapor'];

export interface GuestSla {
  readonly vmId: string;
  readonly tier: SlaTier;
  readonly priority: number;
  readonly curKib: number;
  readonly maxKib: number;
  /** MOM's min_balloon_change_percent (0.0025 by default). */
  readonly minChangePercent: number;
}

export type ClampRule =
  'platinum-full-allocation' | 'gold-75-percent' | 'above-maximum' | 'below-zero' | 'priority-order' | 'below-minimum-step';

export interface Clamp {
  readonly vmId: string;
  readonly control: 'balloon_target';
  readonly decided: number;
  readonly applied: number | null;
  readonly rule: ClampRule;
}

export const GOLD_FLOOR = 0.75;

/** The least a guest of the tier may be ballooned to (KiB). */
export function slaFloorKib(tier: SlaTier, maxKib: number): number {
  if (tier === 'platinum') return maxKib;
  if (tier === 'gold') return Math.ceil(maxKib * GOLD_FLOOR);
  return 0;
}

export interface BalloonOutcome {
  /** vmId -> target to send (KiB); guests not listed get nothing sent. */
  readonly targets: Readonly<Record<string, number>>;
  readonly clamps: readonly Clamp[];
}

/** Applies floors, the priority order within each class, then the minimum step. Pure. */
export function applySla(guests: readonly GuestSla[], decided: Readonly<Record<string, number>>): BalloonOutcome {
  const clamps: Clamp[] = [];
  const bounded = new Map<string, number>();
  for (const g of guests) {
    const d = decided[g.vmId];
    if (d === undefined) continue;
    let t = Math.round(d);
    if (t > g.maxKib) {
      clamps.push({ vmId: g.vmId, control: 'balloon_target', decided: d, applied: g.maxKib, rule: 'above-maximum' });
      t = g.maxKib;
    }
    if (t < 0) {
      clamps.push({ vmId: g.vmId, control: 'balloon_target', decided: d, applied: 0, rule: 'below-zero' });
      t = 0;
    }
    const floor = slaFloorKib(g.tier, g.maxKib);
    if (t < floor) {
      clamps.push({
        vmId: g.vmId,
        control: 'balloon_target',
        decided: d,
        applied: floor,
        rule: g.tier === 'platinum' ? 'platinum-full-allocation' : 'gold-75-percent',
      });
      t = floor;
    }
    bounded.set(g.vmId, t);
  }
  for (const tier of SLA_TIERS)
    reorderByPriority(
      guests.filter((g) => g.tier === tier && bounded.has(g.vmId)),
      bounded,
      clamps,
    );
  const targets: Record<string, number> = {};
  for (const g of guests) {
    const t = bounded.get(g.vmId);
    if (t === undefined) continue;
    const step = Math.abs(t - g.curKib);
    if (step === 0) continue;
    if (step < g.curKib * g.minChangePercent) {
      clamps.push({ vmId: g.vmId, control: 'balloon_target', decided: t, applied: null, rule: 'below-minimum-step' });
      continue;
    }
    targets[g.vmId] = t;
  }
  return { targets, clamps };
}

/**
 * What the policy asked a class to give (the sum of its shrinking guests' reductions) is taken from
 * the lowest priority first, each down to its floor and by no more than the most the policy asked of
 * any one guest of the class; guests asked to grow keep their targets. With
 * one priority in the class nothing changes.
 */
function reorderByPriority(tierGuests: readonly GuestSla[], bounded: Map<string, number>, clamps: Clamp[]): void {
  const shrinking = tierGuests.filter((g) => (bounded.get(g.vmId) ?? g.curKib) < g.curKib);
  if (shrinking.length === 0 || new Set(tierGuests.map((g) => g.priority)).size < 2) return;
  const givers = tierGuests.filter((g) => (bounded.get(g.vmId) ?? g.curKib) <= g.curKib);
  const asked = shrinking.map((g) => g.curKib - (bounded.get(g.vmId) ?? g.curKib));
  let need = asked.reduce((s, a) => s + a, 0);
  // Nobody gives more in one interval than the policy asked of the guest it asked most of.
  const most = Math.max(...asked);
  const order = [...givers].sort((a, b) => a.priority - b.priority || (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0));
  for (const g of order) {
    const before = bounded.get(g.vmId) ?? g.curKib;
    const room = Math.min(most, Math.max(0, g.curKib - slaFloorKib(g.tier, g.maxKib)));
    const give = Math.min(room, need);
    need -= give;
    const t = g.curKib - give;
    if (t !== before) clamps.push({ vmId: g.vmId, control: 'balloon_target', decided: before, applied: t, rule: 'priority-order' });
    bounded.set(g.vmId, t);
  }
}
