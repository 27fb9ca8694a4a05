import { describe, expect, it } from 'vitest';
import { applySla, slaFloorKib, type GuestSla } from './sla.ts';

const g = (vmId: string, tier: GuestSla['tier'], priority = 0, curKib = 1_000_000, maxKib = 1_000_000): GuestSla => ({
  vmId,
  tier,
  priority,
  curKib,
  maxKib,
  minChangePercent: 0.0025,
});

describe('SLA clamp', () => {
  it('floors: platinum its allocation, gold 75%, silver and vapor nothing', () => {
    expect(slaFloorKib('platinum', 1000)).toBe(1000);
    expect(slaFloorKib('gold', 1000)).toBe(750);
    expect(slaFloorKib('gold', 1001)).toBe(751);
    expect(slaFloorKib('silver', 1000)).toBe(0);
    expect(slaFloorKib('vapor', 1000)).toBe(0);
  });

  it('platinum is never ballooned below its allocation, gold never below 75%, and the clamp is recorded', () => {
    const r = applySla([g('p', 'platinum'), g('au', 'gold'), g('s', 'silver')], { p: 500_000, au: 500_000, s: 500_000 });
    expect(r.targets).toEqual({ au: 750_000, s: 500_000 });
    expect(r.clamps).toEqual([
      { vmId: 'p', control: 'balloon_target', decided: 500_000, applied: 1_000_000, rule: 'platinum-full-allocation' },
      { vmId: 'au', control: 'balloon_target', decided: 500_000, applied: 750_000, rule: 'gold-75-percent' },
    ]);
  });

  it('a move smaller than the minimum step is not sent (no oscillation at the floor)', () => {
    const r = applySla([g('s', 'silver', 0, 1_000_000), g('au', 'gold', 0, 750_100)], { s: 998_000, au: 700_000 });
    expect(r.targets).toEqual({});
    expect(r.clamps.map((c) => [c.vmId, c.rule, c.applied])).toEqual([
      ['au', 'gold-75-percent', 750_000],
      ['s', 'below-minimum-step', null],
      ['au', 'below-minimum-step', null],
    ]);
  });

  it('within a class the lowest priority gives first, the class total kept, nobody more than the most asked of one', () => {
    const r = applySla([g('hi', 'silver', 100), g('lo', 'silver', 1), g('mid', 'silver', 50)], { hi: 900_000, lo: 950_000, mid: 950_000 });
    // asked: 100k + 50k + 50k = 200k; most asked of one guest 100k: lo gives 100k, mid 100k, hi nothing.
    expect(r.targets).toEqual({ lo: 900_000, mid: 900_000 });
    expect(
      r.clamps
        .filter((c) => c.rule === 'priority-order')
        .map((c) => c.vmId)
        .sort(),
    ).toEqual(['hi', 'lo', 'mid']);
  });

  it('above the maximum or below zero is bounded', () => {
    const r = applySla([g('a', 'silver', 0, 500_000, 1_000_000), g('b', 'silver', 0, 500_000, 1_000_000)], { a: 2_000_000, b: -5 });
    expect(r.targets).toEqual({ a: 1_000_000, b: 0 });
  });
});
