import { applyClaim, fits, hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocationLoad } from '../evacuation/plan.ts';
import { afterRun, GiB, input, type Pool } from '../../testing/balancer-pools.ts';
import type { LoadSample } from './model.ts';
import { defaultPolicy, validatePolicy, type BalancerPolicy } from './policy.ts';
import { pressureOf, pressurePassDue } from './pressure.ts';
import { balance } from './run.ts';

const NOW = 1_000_000_000;
const policy = (p: Partial<BalancerPolicy> = {}): BalancerPolicy => ({
  ...defaultPolicy('default'),
  pressureThreshold: 0.9,
  pressureClearThreshold: 0.8,
  windowSeconds: 60,
  ...p,
});
/** Memory readings `ago` seconds before NOW, oldest first. */
const samples = (...pairs: [number, number][]): LoadSample[] => pairs.map(([ago, memory]) => ({ at: NOW - ago * 1000, cpu: 0.1, memory }));

describe('pressureOf (hysteresis)', () => {
  it('enters only when every sample over the whole window is above the threshold', () => {
    expect(pressureOf(false, samples([70, 0.95], [40, 0.95], [10, 0.95]), NOW, policy()).pressured).toBe(true);
    // one dip inside the window (ballooning relieved it for a while): not yet
    expect(pressureOf(false, samples([70, 0.95], [40, 0.85], [10, 0.95]), NOW, policy()).pressured).toBe(false);
    // above, but measured for less than the window
    const short = pressureOf(false, samples([40, 0.95], [10, 0.95]), NOW, policy());
    expect(short).toEqual({ pressured: false, reason: 'above 90%, but for less than the 60 s window' });
    // window 0: the latest alone
    expect(pressureOf(false, samples([1, 0.91]), NOW, policy({ windowSeconds: 0 })).pressured).toBe(true);
  });

  it('stays under pressure until the latest falls below the clear threshold, and never enters between the two', () => {
    expect(pressureOf(true, samples([10, 0.85]), NOW, policy()).pressured).toBe(true);
    expect(pressureOf(true, samples([10, 0.8]), NOW, policy()).pressured).toBe(true);
    expect(pressureOf(true, samples([10, 0.79]), NOW, policy())).toEqual({ pressured: false, reason: 'memory 79% fell below 80%' });
    expect(pressureOf(false, samples([70, 0.85], [10, 0.85]), NOW, policy()).pressured).toBe(false);
  });

  it('off at threshold 0 (the default), and nothing measured is no pressure', () => {
    expect(pressureOf(true, samples([70, 0.99], [1, 0.99]), NOW, defaultPolicy('default'))).toEqual({
      pressured: false,
      reason: 'the pressure trigger is off',
    });
    expect(pressureOf(true, [], NOW, policy())).toEqual({ pressured: false, reason: 'no measured usage' });
  });

  it('a pass is due with a host under pressure, at most once per interval', () => {
    expect(pressurePassDue(0, undefined, NOW, policy())).toBe(false);
    expect(pressurePassDue(1, undefined, NOW, policy())).toBe(true);
    expect(pressurePassDue(2, NOW - 59_000, NOW, policy({ intervalSeconds: 60 }))).toBe(false);
    expect(pressurePassDue(2, NOW - 60_000, NOW, policy({ intervalSeconds: 60 }))).toBe(true);
  });

  it('validation names the pressure fields', () => {
    expect(validatePolicy(policy({ pressureThreshold: 1.2, pressureClearThreshold: 0 })).map((v) => v.field)).toEqual([
      'policy.pressureThreshold',
      'policy.pressureClearThreshold',
    ]);
    expect(validatePolicy(policy({ pressureThreshold: 0.7, pressureClearThreshold: 0.8 }))).toEqual([
      { field: 'policy.pressureClearThreshold', reason: 'must be below pressureThreshold (0.7), got 0.8' },
    ]);
    expect(validatePolicy(policy({ pressureThreshold: 0, pressureClearThreshold: 0.8 }))).toEqual([]);
  });
});

/** Hosts of 16 vCPUs and 16 GiB; VMs of 1 vCPU and `gib` GiB placed as listed [host, gib]. */
function memPool(hosts: number, placements: readonly (readonly [number, number])[]): Pool {
  const snaps: HostSnapshot[] = Array.from({ length: hosts }, (_, i) => hostSnapshot({ hostId: `h${i}`, cpus: 16, memoryBytes: 16 * GiB }));
  const vms: Pool['vms'] = [];
  placements.forEach(([h, gib], i) => {
    const spec = vmSpec({
      vmId: `vm${String(i).padStart(2, '0')}`,
      vcpus: 1,
      memoryBytes: gib * GiB,
      migrationMode: 'manual-and-automatic',
    });
    const r = fits(snaps[h]!, spec);
    if (!r.ok) return;
    snaps[h] = applyClaim(snaps[h]!, r.claim);
    vms.push({ spec, hostId: `h${h}`, running: true, migrating: false });
  });
  return { hosts: snaps, vms };
}

describe('balance, trigger pressure (measured load)', () => {
  it('moves a VM off the host under pressure whatever the mode, never taking a destination to the clear threshold', () => {
    const p = memPool(3, [
      [0, 2],
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    // Measured memory: h0 95% (the guests use everything), h1 50%, h2 70%.
    const measured: Record<string, number> = { h0: 0.95, h1: 0.5, h2: 0.7 };
    const history = (h: string): LoadSample[] => [{ at: NOW, cpu: 0.1, memory: measured[h]! }];
    const run = balance(
      input(p, policy({ mode: 'off' }), { source: 'measured', history, trigger: 'pressure', pressured: new Set(['h0']), now: NOW }),
    );
    expect(run.trigger).toBe('pressure');
    expect(run.hosts.find((h) => h.hostId === 'h0')).toMatchObject({ role: 'over', note: 'under memory pressure (95% measured)' });
    expect(run.moves).toHaveLength(1);
    // A 2 GiB VM is ~13% of h1's allocatable memory: h1 50% -> ~63%; h2 would reach ~83%, above 80%.
    expect(run.moves[0]).toMatchObject({ from: 'h0', to: 'h1' });
    expect(run.summary).toMatch(/^pressure: moved vm0[01] from h0 to h1$/);
    // Without h1, nothing qualifies and the record says why h2 was refused.
    const noRoom = balance(
      input(p, policy({ mode: 'off', highThreshold: 0.95 }), {
        source: 'measured',
        history: (h) => [{ at: NOW, cpu: 0.1, memory: h === 'h1' ? 0.75 : measured[h]! }],
        trigger: 'pressure',
        pressured: new Set(['h0']),
        now: NOW,
      }),
    );
    expect(noRoom.moves).toEqual([]);
    expect(noRoom.candidates[0]!.reason).toMatch(
      /^destination memory would reach 8\d(\.\d)?%, not below the pressure clear threshold 80%$/,
    );
  });

  it('with the pressure trigger and mode off, a periodic run moves nothing', () => {
    const p = memPool(2, [[0, 2]]);
    const run = balance(input(p, policy({ mode: 'off' }), { source: 'measured', history: () => [{ at: NOW, cpu: 0, memory: 0.99 }] }));
    expect(run.moves).toEqual([]);
    expect(run.summary).toBe('balancing is off for pool default');
  });

  it('property: no destination ends under pressure, and a second pass never moves a VM the first one moved (no ping-pong)', () => {
    const arb = fc.record({
      hosts: fc.integer({ min: 2, max: 6 }),
      vms: fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 4 })), { maxLength: 20 }),
      measured: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }),
      threshold: fc.constantFrom(0.85, 0.9, 0.95),
      gap: fc.constantFrom(0.05, 0.1, 0.2),
      minImprovement: fc.constantFrom(0.05, 0.2),
    });
    fc.assert(
      fc.property(arb, ({ hosts, vms, measured, threshold, gap, minImprovement }) => {
        const p = memPool(
          hosts,
          vms.map(([h, g]) => [h % hosts, g] as const),
        );
        const pol = policy({
          mode: 'off',
          pressureThreshold: threshold,
          pressureClearThreshold: threshold - gap,
          minImprovement,
          cooldownSeconds: 0,
          maxMovesPerInterval: 100,
        });
        const mem = new Map(p.hosts.map((h, i) => [h.capacity.hostId, measured[i]!]));
        const pressured = new Set(
          [...mem]
            .filter(([, m]) => pressureOf(false, [{ at: NOW, cpu: 0, memory: m }], NOW, { ...pol, windowSeconds: 0 }).pressured)
            .map(([h]) => h),
        );
        const history = (m: Map<string, number>) => (h: string) => [{ at: NOW, cpu: 0, memory: m.get(h)! }];
        const run1 = balance(input(p, pol, { source: 'measured', history: history(mem), trigger: 'pressure', pressured, now: NOW }));
        const p2 = afterRun(p, run1);
        // Measured after the moves: each host's measurement plus the allocation it gained or lost.
        const mem2 = new Map(
          p2.hosts.map((h) => {
            const before = p.hosts.find((x) => x.capacity.hostId === h.capacity.hostId)!;
            return [h.capacity.hostId, mem.get(h.capacity.hostId)! + allocationLoad(h).memory - allocationLoad(before).memory];
          }),
        );
        const pressured2 = new Set(
          [...mem2]
            .filter(([h, m]) => pressureOf(pressured.has(h), [{ at: NOW, cpu: 0, memory: m }], NOW, { ...pol, windowSeconds: 0 }).pressured)
            .map(([h]) => h),
        );
        for (const m of run1.moves) {
          expect(pressured.has(m.from)).toBe(true);
          expect(mem2.get(m.to)!).toBeLessThan(pol.pressureClearThreshold);
          expect(pressured2.has(m.to)).toBe(false);
        }
        const run2 = balance(
          input(p2, pol, { source: 'measured', history: history(mem2), trigger: 'pressure', pressured: pressured2, now: NOW + 60_000 }),
        );
        const movedFirst = new Set(run1.moves.map((m) => m.vmId));
        for (const m of run2.moves) expect(movedFirst.has(m.vmId)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
