import { allocatableVcpus, claimFits, fits, ordinaryMemoryCapacity, usage, type VmSpec } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledCostFunction } from './cost.ts';
import { schedule } from './schedule.ts';
import { HostView } from './view.ts';
import { arbCostFunction, arbPolicy, arbVm, arbWorld, type World } from './testing/arbitraries.ts';
import { DEFAULT_WEIGHTS, hpTopologyPenalty, numaAlignmentPenalty, softAffinityPenalty, type PlacementPolicy } from './weights.ts';

const GiB = 1024 ** 3;

/** Every host, the slow obvious way: full fit, full cost, every weight. */
function reference(vm: VmSpec, w: World, policy: PlacementPolicy | undefined): { hostId: string; score: number }[] {
  const hard = vm.affinity.find((r) => r.enforcement === 'hard' && r.polarity === 'affinity');
  const withGroup = hard
    ? w.hosts.filter((h) => h.claims.some((c) => c.affinityGroups.includes(hard.group))).map((h) => h.capacity.hostId)
    : [];
  const out: { hostId: string; score: number }[] = [];
  for (const h of w.hosts) {
    const u = usage(h);
    const r = fits(h, vm, u);
    if (!r.ok || (withGroup.length > 0 && !withGroup.includes(h.capacity.hostId))) continue;
    const profile = h.capacity.profileId ? w.profiles[h.capacity.profileId] : undefined;
    const spec = profile ? w.costFunctions[profile.costFunction] : undefined;
    const devices = new Map(u.devicesByType);
    for (const d of vm.devices) devices.set(d.type, (devices.get(d.type) ?? 0) + d.count);
    const claimed = h.claims.reduce((s, c) => s + c.memoryBytes, 0) + vm.memoryBytes;
    const cost = spec
      ? new CompiledCostFunction(spec).cost({ vms: u.vms + 1, vcpus: u.vcpus + vm.vcpus, memoryBytes: claimed, devices })
      : 0;
    if (cost === Infinity) continue;
    const util = Math.min(
      1,
      Math.max(
        (u.vcpus + vm.vcpus) / allocatableVcpus(h.capacity.cpus, 1),
        (u.memoryBytes + vm.memoryBytes) / ordinaryMemoryCapacity(h.capacity),
      ),
    );
    const pol = policy
      ? (policy.weight ?? DEFAULT_WEIGHTS.policy) * (policy.kind === 'spread' ? util : u.vms === 0 ? 0.5 + 0.5 * util : 0.5 * (1 - util))
      : 0;
    const score =
      cost +
      pol +
      DEFAULT_WEIGHTS.hpTopology * hpTopologyPenalty(vm, h.capacity.topology) +
      DEFAULT_WEIGHTS.softAffinity * softAffinityPenalty(vm, h.capacity, u) +
      DEFAULT_WEIGHTS.numaAlignment * numaAlignmentPenalty(r.claim, h.capacity);
    out.push({ hostId: h.capacity.hostId, score });
  }
  return out.sort((a, b) => a.score - b.score || (a.hostId < b.hostId ? -1 : 1));
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe('schedule (properties)', () => {
  it('chooses what the exhaustive reference chooses; the chosen host fits and its cost is finite', () => {
    fc.assert(
      fc.property(arbWorld, arbVm, arbPolicy, (world, vm, policy) => {
        const view = new HostView(world.hosts, world);
        const r = schedule(vm, view, { policyFor: () => policy, alternates: 2 });
        const ref = reference(vm, world, policy);
        if (r.kind === 'failed') {
          expect(ref).toEqual([]);
          expect(r.explanation.eligibleHosts).toBe(0);
          return;
        }
        expect(ref.length).toBeGreaterThan(0);
        expect(close(r.breakdown.score, ref[0]!.score)).toBe(true);
        expect(close(ref.find((x) => x.hostId === r.hostId)!.score, ref[0]!.score)).toBe(true);
        expect(r.breakdown.cost.total).toBeLessThan(Infinity);
        const chosen = view.get(r.hostId)!;
        expect(fits(chosen, vm).ok).toBe(true);
        expect(claimFits(chosen, r.claim)).toEqual([]);
        expect(r.generation).toBe(chosen.generation);
        expect(r.alternates.length).toBe(Math.min(2, ref.length - 1));
        for (const a of r.alternates) expect(a.score).toBeGreaterThanOrEqual(r.breakdown.score);
      }),
      { numRuns: 300 },
    );
  });

  it('scale multiplies the curves and the offset is added unscaled', () => {
    fc.assert(
      fc.property(
        arbCostFunction('f'),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.double({ min: -1e5, max: 1e5, noNaN: true }),
        (spec, vms, vcpus, gib, gpus, scale, offset) => {
          const inputs = { vms, vcpus, memoryBytes: gib * GiB, devices: new Map([['gpu', gpus]]) };
          const plain = new CompiledCostFunction({ ...spec, scale: 1, offset: 0 }).cost(inputs);
          const scaled = new CompiledCostFunction({ ...spec, scale, offset }).cost(inputs);
          return plain === Infinity ? scaled === Infinity : close(scaled, offset + scale * plain);
        },
      ),
      { numRuns: 500 },
    );
  });
});
