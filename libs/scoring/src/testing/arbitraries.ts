import { fits, hostSnapshot, vmSpec, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { CostFunctionSpec, CurveSpec, HardwareProfile } from '@berth/hardware-config';
import fc from 'fast-check';
import type { PlacementPolicy } from '../weights.ts';

/** Random fleets, cost functions and VMs for the engine's property tests. */
const GiB = 1024 ** 3;

const leaf: fc.Arbitrary<CurveSpec> = fc.oneof(
  fc.record({ curve: fc.constant('constant' as const), value: fc.integer({ min: 0, max: 20 }), scale: fc.constant(1) }),
  fc.record({
    curve: fc.constant('linear' as const),
    slope: fc.integer({ min: 0, max: 5 }),
    base: fc.integer({ min: 0, max: 5 }),
    scale: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    curve: fc.constant('hard-soft' as const),
    soft: fc.integer({ min: 1, max: 8 }),
    hard: fc.integer({ min: 9, max: 24 }),
    softAmt: fc.constant(1),
    hardAmt: fc.constant(10),
    scale: fc.constant(1),
  }),
  fc.constant<CurveSpec>({ curve: 'unavailable', scale: 1 }),
  fc.constant<CurveSpec>({ curve: 'invalid', scale: 1 }),
  fc.record({
    curve: fc.constant('linear' as const),
    slope: fc.constant(1),
    base: fc.constant(0),
    scale: fc.constant(1),
    max: fc.integer({ min: 1, max: 6 }),
  }),
);
const arbCurve: fc.Arbitrary<CurveSpec> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  {
    weight: 1,
    arbitrary: fc.record({
      curve: fc.constant('piecewise' as const),
      cutoff: fc.integer({ min: 0, max: 10 }),
      low: leaf,
      high: leaf,
      scale: fc.constant(1),
    }),
  },
);
/** vCPU/VM curves read small counts; memory curves read bytes, so they get GiB-scaled cut points. */
const memoryCurve: fc.Arbitrary<CurveSpec> = fc.record({
  curve: fc.constant('hard-soft' as const),
  soft: fc.integer({ min: 4, max: 16 }).map((g) => g * GiB),
  hard: fc.integer({ min: 17, max: 64 }).map((g) => g * GiB),
  softAmt: fc.constant(1),
  hardAmt: fc.constant(10),
  scale: fc.constant(1),
});

export const arbCostFunction = (id: string): fc.Arbitrary<CostFunctionSpec> =>
  fc
    .record({
      vms: fc.option(arbCurve, { nil: undefined }),
      vcpus: fc.option(arbCurve, { nil: undefined }),
      memory: fc.option(memoryCurve, { nil: undefined }),
      gpu: fc.option(leaf, { nil: undefined }),
      scale: fc.integer({ min: 1, max: 3 }),
      offset: fc.constantFrom(0, 1000),
    })
    .map(({ gpu, vms, vcpus, memory, ...rest }) => {
      const devices: Record<string, CurveSpec> = gpu ? { gpu } : {};
      return { id, name: id, description: '', devices, ...(vms && { vms }), ...(vcpus && { vcpus }), ...(memory && { memory }), ...rest };
    });

export interface World {
  hosts: HostSnapshot[];
  costFunctions: Record<string, CostFunctionSpec>;
  profiles: Record<string, HardwareProfile>;
}

export const arbWorld: fc.Arbitrary<World> = fc
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
        load: fc.array(
          fc.record({
            vcpus: fc.integer({ min: 1, max: 4 }),
            gib: fc.integer({ min: 1, max: 8 }),
            gpu: fc.boolean(),
            group: fc.constantFrom(undefined, 'g1', 'g2'),
          }),
          { maxLength: 5 },
        ),
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
        hostId: `h${String(i).padStart(2, '0')}`,
        cpus: h.cpus,
        memoryBytes: h.gib * GiB,
        resourcePool: h.pool,
        state: h.state,
        topology: { sockets: h.sockets, coresPerSocket: h.cpus / h.sockets, threadsPerCore: 1 },
        pciDevices: Array.from({ length: h.gpus }, (_, d) => ({ type: 'gpu', address: `0000:0${d}:00.0` })),
        ...(h.profile && { profileId: h.profile }),
      });
      h.load.forEach((l, j) => {
        const r = fits(
          { ...s, capacity: { ...s.capacity, state: 'enabled' } },
          vmSpec({
            vmId: `pre-${i}-${j}`,
            vcpus: l.vcpus,
            memoryBytes: l.gib * GiB,
            devices: l.gpu ? [{ type: 'gpu', count: 1 }] : [],
            affinity: l.group ? [{ group: l.group, polarity: 'affinity', target: 'vm', enforcement: 'soft', hosts: [] }] : [],
          }),
        );
        if (r.ok) s = { ...s, claims: [...s.claims, r.claim] };
      });
      return s;
    });
    return { hosts: snapshots, costFunctions, profiles };
  });

export const arbVm: fc.Arbitrary<VmSpec> = fc
  .record({
    vcpus: fc.integer({ min: 1, max: 6 }),
    gib: fc.integer({ min: 1, max: 12 }),
    gpu: fc.integer({ min: 0, max: 2 }),
    pool: fc.constantFrom(undefined, 'a'),
    hp: fc.boolean(),
    allowed: fc.oneof(
      { weight: 3, arbitrary: fc.constant<number[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 4 }) },
    ),
    rule: fc.option(
      fc.record({
        group: fc.constantFrom('g1', 'g2'),
        polarity: fc.constantFrom('affinity' as const, 'anti-affinity' as const),
        enforcement: fc.constantFrom('hard' as const, 'soft' as const),
      }),
      { nil: undefined },
    ),
  })
  .map((v) =>
    vmSpec({
      vmId: 'vm',
      vcpus: v.vcpus,
      memoryBytes: v.gib * GiB,
      devices: v.gpu > 0 ? [{ type: 'gpu', count: v.gpu }] : [],
      highPerformance: v.hp,
      topology: { sockets: 2, coresPerSocket: 1, threadsPerCore: 1 },
      affinity: v.rule ? [{ ...v.rule, target: 'vm', hosts: [] }] : [],
      allowedHosts: v.allowed.map((i) => `h${String(i).padStart(2, '0')}`),
      ...(v.pool && { resourcePool: v.pool }),
    }),
  );

export const arbPolicy = fc.constantFrom<PlacementPolicy | undefined>(
  undefined,
  { kind: 'pack' },
  { kind: 'spread' },
  { kind: 'pack', weight: 3 },
);
