import { claimFits, fits, hostSnapshot, ordinaryMemoryCapacity, allocatableVcpus, usage, vmSpec, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { CostFunctionSpec, CurveSpec, HardwareProfile } from '@berth/hardware-config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledCostFunction } from './cost.ts';
import { schedule } from './schedule.ts';
import { HostView } from './view.ts';
import { DEFAULT_WEIGHTS, hpTopologyPenalty, numaAlignmentPenalty, softAffinityPenalty, type PlacementPolicy } from './weights.ts';

const GiB = 1024 ** 3;

const leaf: fc.Arbitrary<CurveSpec> = fc.oneof(
  fc.record({ curve: fc.constant('constant' as const), value: fc.integer({ min: 0, max: 20 }), scale: fc.constant(1) }),
  fc.record({ curve: fc.constant('linear' as const), slope: fc.integer({ min: 0, max: 5 }), base: fc.integer({ min: 0, max: 5 }), scale: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ curve: fc.constant('hard-soft' as const), soft: fc.integer({ min: 1, max: 8 }), hard: fc.integer({ min: 9, max: 24 }), softAmt: fc.constant(1), hardAmt: fc.constant(10), scale: fc.constant(1) }),
  fc.constant<CurveSpec>({ curve: 'unavailable', scale: 1 }),
  fc.constant<CurveSpec>({ curve: 'invalid', scale: 1 }),
  fc.record({ curve: fc.constant('linear' as const), slope: fc.constant(1), base: fc.constant(0), scale: fc.constant(1), max: fc.integer({ min: 1, max: 6 }) }),
);
const arbCurve: fc.Arbitrary<CurveSpec> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 1, arbitrary: fc.record({ curve: fc.constant('piecewise' as const), cutoff: fc.integer({ min: 0, max: 10 }), low: leaf, high: leaf, scale: fc.constant(1) }) },
);
/** vCPU/VM curves read small counts; memory curves read bytes, so they get GiB-scaled cut points. */
const memoryCurve: fc.Arbitrary<CurveSpec> = fc.record({ curve: fc.constant('hard-soft' as const), soft: fc.integer({ min: 4, max: 16 }).map((g) => g * GiB), hard: fc.integer({ min: 17, max: 64 }).map((g) => g * GiB), softAmt: fc.constant(1), hardAmt: fc.constant(10), scale: fc.constant(1) });

const arbCostFunction = (id: string): fc.Arbitrary<CostFunctionSpec> =>
  fc.record({
    vms: fc.option(arbCurve, { nil: undefined }),
    vcpus: fc.option(arbCurve, { nil: undefined }),
    memory: fc.option(memoryCurve, { nil: undefined }),
    gpu: fc.option(leaf, { nil: undefined }),
    scale: fc.integer({ min: 1, max: 3 }),
    offset: fc.constantFrom(0, 1000),
  }).map(({ gpu, vms, vcpus, memory, ...rest }) => {
    const devices: Record<string, CurveSpec> = gpu ? { gpu } : {};
    return { id, name: id, description: '', devices, ...(vms && { vms }), ...(vcpus && { vcpus }), ...(memory && { memory }), ...rest };
  });

interface World { hosts: HostSnapshot[]; costFunctions: Record<string, CostFunctionSpec>; profiles: Record<string, HardwareProfile> }

const arbWorld: fc.Arbitrary<World> = fc
  .record({
    cf: fc.tuple(arbCostFunction('cf0'), arbCostFunction('cf1')),
    hosts: fc.array(
      fc.record({
        cpus: fc.constantFrom(4, 8, 16),
        gib: fc.constantFrom(16, 32),
        profile: fc.constantFrom('p0', 'p1', undefined),
        state: fc.constantFrom('enabled', 'enabled', 'enabled', 'maintenance' as const),
        gpus: fc.integer({ min: 0, max: 2 }),
        pool: fc.constantFrom('a', 'b'),
        sockets: fc.constantFrom(1, 2),
        load: fc.array(fc.record({ vcpus: fc.integer({ min: 1, max: 4 }), gib: fc.integer({ min: 1, max: 8 }), gpu: fc.boolean(), group: fc.constantFrom(undefined, 'g1', 'g2') }), { maxLength: 5 }),
      }),
      { minLength: 1, maxLength: 24 },
    ),
  })
  .map(({ cf, hosts }) => {
    const costFunctions = { cf0: cf[0], cf1: cf[1] };
    const profiles: Record<string, HardwareProfile> = {
      p0: { id: 'p0', name: 'p0', description: '', cores: 8, memoryBytes: 32 * GiB, devices: [], costFunction: 'cf0' },
      p1: { id: 'p1', name: 'p1', description: '', cores: 8, memoryBytes: 32 * GiB, devices: [], costFunction: 'cf1' },
    };
    const snapshots = hosts.map((h, i) => {
      let s = hostSnapshot({
        hostId: `h${String(i).padStart(2, '0')}`, cpus: h.cpus, memoryBytes: h.gib * GiB, resourcePool: h.pool, state: h.state,
        topology: { sockets: h.sockets, coresPerSocket: h.cpus / h.sockets, threadsPerCore: 1 },
        pciDevices: Array.from({ length: h.gpus }, (_, d) => ({ type: 'gpu', address: `0000:0${d}:00.0` })),
        ...(h.profile && { profileId: h.profile }),
      });
      h.load.forEach((l, j) => {
        const r = fits({ ...s, capacity: { ...s.capacity, state: 'enabled' } }, vmSpec({ vmId: `pre-${i}-${j}`, vcpus: l.vcpus, memoryBytes: l.gib * GiB, devices: l.gpu ? [{ type: 'gpu', count: 1 }] : [], affinity: l.group ? [{ group: l.group, polarity: 'affinity', target: 'vm', enforcement: 'soft', hosts: [] }] : [] }));
        if (r.ok) s = { ...s, claims: [...s.claims, r.claim] };
      });
      return s;
    });
    return { hosts: snapshots, costFunctions, profiles };
  });

const arbVm: fc.Arbitrary<VmSpec> = fc
  .record({
    vcpus: fc.integer({ min: 1, max: 6 }), gib: fc.integer({ min: 1, max: 12 }), gpu: fc.integer({ min: 0, max: 2 }),
    pool: fc.constantFrom(undefined, 'a'), hp: fc.boolean(),
    rule: fc.option(fc.record({ group: fc.constantFrom('g1', 'g2'), polarity: fc.constantFrom('affinity' as const, 'anti-affinity' as const), enforcement: fc.constantFrom('hard' as const, 'soft' as const) }), { nil: undefined }),
  })
  .map((v) => vmSpec({
    vmId: 'vm', vcpus: v.vcpus, memoryBytes: v.gib * GiB, devices: v.gpu > 0 ? [{ type: 'gpu', count: v.gpu }] : [],
    highPerformance: v.hp, topology: { sockets: 2, coresPerSocket: 1, threadsPerCore: 1 },
    affinity: v.rule ? [{ ...v.rule, target: 'vm', hosts: [] }] : [],
    ...(v.pool && { resourcePool: v.pool }),
  }));

const arbPolicy = fc.constantFrom<PlacementPolicy | undefined>(undefined, { kind: 'pack' }, { kind: 'spread' }, { kind: 'pack', weight: 3 });

/** Every host, the slow obvious way: full fit, full cost, every weight. */
function reference(vm: VmSpec, w: World, policy: PlacementPolicy | undefined): { hostId: string; score: number }[] {
  const hard = vm.affinity.find((r) => r.enforcement === 'hard' && r.polarity === 'affinity');
  const withGroup = hard ? w.hosts.filter((h) => h.claims.some((c) => c.affinityGroups.includes(hard.group))).map((h) => h.capacity.hostId) : [];
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
    const cost = spec ? new CompiledCostFunction(spec).cost({ vms: u.vms + 1, vcpus: u.vcpus + vm.vcpus, memoryBytes: claimed, devices }) : 0;
    if (cost === Infinity) continue;
    const util = Math.min(1, Math.max((u.vcpus + vm.vcpus) / allocatableVcpus(h.capacity.cpus, 1), (u.memoryBytes + vm.memoryBytes) / ordinaryMemoryCapacity(h.capacity)));
    const pol = policy ? (policy.weight ?? DEFAULT_WEIGHTS.policy) * (policy.kind === 'spread' ? util : u.vms === 0 ? 0.5 + 0.5 * util : 0.5 * (1 - util)) : 0;
    const score = cost + pol + DEFAULT_WEIGHTS.hpTopology * hpTopologyPenalty(vm, h.capacity.topology) + DEFAULT_WEIGHTS.softAffinity * softAffinityPenalty(vm, h.capacity, u) + DEFAULT_WEIGHTS.numaAlignment * numaAlignmentPenalty(r.claim, h.capacity);
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
      fc.property(arbCostFunction('f'), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 }), fc.double({ min: 0.1, max: 50, noNaN: true }), fc.double({ min: -1e5, max: 1e5, noNaN: true }),
        (spec, vms, vcpus, gib, gpus, scale, offset) => {
          const inputs = { vms, vcpus, memoryBytes: gib * GiB, devices: new Map([['gpu', gpus]]) };
          const plain = new CompiledCostFunction({ ...spec, scale: 1, offset: 0 }).cost(inputs);
          const scaled = new CompiledCostFunction({ ...spec, scale, offset }).cost(inputs);
          return plain === Infinity ? scaled === Infinity : close(scaled, offset + scale * plain);
        }),
      { numRuns: 500 },
    );
  });
});
