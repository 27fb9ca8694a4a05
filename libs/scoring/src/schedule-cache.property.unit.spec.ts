import { hostSnapshot, vmSpec, type Claim, type HostSnapshot, type HostState, type VmSpec } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placementShape, sameShape, ScheduleCache } from './schedule-cache.ts';
import { schedule, type ScheduleResult } from './schedule.ts';
import { arbPolicy, arbWorld } from './testing/arbitraries.ts';
import { HostView } from './view.ts';
import type { PlacementPolicy } from './weights.ts';

const GiB = 1024 ** 3;

/** Shapes the cache keeps (plain, dedicated, pool, HP, allow-list) and ones it hands to schedule() (devices, affinity). */
const arbShape = fc
  .record({
    vcpus: fc.integer({ min: 1, max: 6 }),
    gib: fc.integer({ min: 1, max: 12 }),
    dedicated: fc.boolean(),
    pool: fc.constantFrom(undefined, 'a'),
    hp: fc.boolean(),
    allowed: fc.oneof(
      { weight: 3, arbitrary: fc.constant<number[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 4 }) },
    ),
    gpu: fc.constantFrom(0, 0, 0, 1),
    rule: fc.constantFrom(undefined, undefined, undefined, 'soft' as const, 'hard' as const),
  })
  .map(
    (v) => (vmId: string) =>
      vmSpec({
        vmId,
        vcpus: v.vcpus,
        memoryBytes: v.gib * GiB,
        cpuPolicy: v.dedicated ? 'dedicated' : 'shared',
        highPerformance: v.hp,
        topology: { sockets: 2, coresPerSocket: 1, threadsPerCore: 1 },
        devices: v.gpu > 0 ? [{ type: 'gpu', count: v.gpu }] : [],
        affinity: v.rule ? [{ group: 'g1', polarity: 'anti-affinity', target: 'vm', enforcement: v.rule, hosts: [] }] : [],
        allowedHosts: v.allowed.map((i) => `h${String(i).padStart(2, '0')}`),
        ...(v.pool && { resourcePool: v.pool }),
      }),
  );

type Op =
  | { kind: 'schedule'; shape: number; apply: boolean; exclude: number | undefined; alternates: number }
  | { kind: 'release'; host: number; nth: number }
  | { kind: 'state'; host: number; state: HostState }
  | { kind: 'remove'; host: number }
  | { kind: 'restore'; host: number }
  | { kind: 'shrink'; host: number };

const host = fc.integer({ min: 0, max: 23 });
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('schedule' as const),
      shape: fc.integer({ min: 0, max: 3 }),
      apply: fc.boolean(),
      exclude: fc.option(host, { nil: undefined }),
      alternates: fc.integer({ min: 0, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), host, nth: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('state' as const),
      host,
      state: fc.constantFrom<HostState>('enabled', 'maintenance', 'disabled'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), host }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), host }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('shrink' as const), host }) },
);

const id = (i: number, hosts: readonly HostSnapshot[]): string => hosts[i % hosts.length]!.capacity.hostId;

describe('ScheduleCache (properties)', () => {
  it('answers exactly what schedule() answers over the view as it is, whatever changed the view in between', () => {
    fc.assert(
      fc.property(
        arbWorld,
        fc.array(arbShape, { minLength: 4, maxLength: 4 }),
        arbPolicy,
        fc.array(arbOp, { minLength: 1, maxLength: 40 }),
        (world, shapes, policy, ops) => {
          const view = new HostView(world.hosts, world);
          const policyFor = (): PlacementPolicy | undefined => policy;
          const cache = new ScheduleCache(view, { policyFor });
          const removed = new Map<string, HostSnapshot>();
          let n = 0;
          for (const op of ops) {
            if (op.kind === 'schedule') {
              const vm: VmSpec = shapes[op.shape]!(`vm-${n++}`);
              const options = {
                alternates: op.alternates,
                ...(op.exclude !== undefined && { excludedHosts: [id(op.exclude, world.hosts)] }),
              };
              const got = cache.schedule(vm, options);
              expect(got).toEqual(schedule(vm, view, { ...options, policyFor }));
              if (op.apply && got.kind === 'placed') view.applyClaim(got.claim);
              continue;
            }
            const hostId = id(op.host, world.hosts);
            const current = view.get(hostId);
            if (op.kind === 'restore') {
              const back = removed.get(hostId);
              if (back && !current) view.upsert(back);
              continue;
            }
            if (!current) continue;
            if (op.kind === 'release') {
              if (current.claims.length > 0) view.releaseClaim(hostId, current.claims[op.nth % current.claims.length]!.vmId);
            } else if (op.kind === 'state') {
              view.upsert({ ...current, generation: current.generation + 1, capacity: { ...current.capacity, state: op.state } });
            } else if (op.kind === 'remove') {
              removed.set(hostId, current);
              view.remove(hostId);
            } else {
              // Someone else's snapshot: the same claims on less memory (a failed DIMM).
              const cap = current.capacity;
              view.upsert({ ...current, generation: current.generation + 1, capacity: { ...cap, memoryBytes: cap.memoryBytes / 2 } });
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});

describe('sameShape', () => {
  it('says two VMs have one shape exactly when their placement shapes (the cache key before session 9) are equal', () => {
    const arbSpec = fc
      .record({
        vmId: fc.constantFrom('a', 'b'),
        priority: fc.integer({ min: 0, max: 2 }),
        tags: fc.constantFrom([], ['x']),
        vcpus: fc.integer({ min: 1, max: 2 }),
        gib: fc.integer({ min: 1, max: 2 }),
        dedicated: fc.boolean(),
        pool: fc.constantFrom(undefined, 'a'),
        sockets: fc.constantFrom(undefined, 1, 2),
        disk: fc.constantFrom(undefined, 10, 20),
        allowed: fc.constantFrom([], ['h1'], ['h1', 'h2'], ['h2', 'h1']),
        node: fc.constantFrom(undefined, 0, 1),
      })
      .map((v) =>
        vmSpec({
          vmId: v.vmId,
          priority: v.priority,
          tags: v.tags,
          vcpus: v.vcpus,
          memoryBytes: v.gib * GiB,
          cpuPolicy: v.dedicated ? 'dedicated' : 'shared',
          allowedHosts: v.allowed,
          ...(v.disk !== undefined && { disks: [{ sizeBytes: v.disk * GiB }] }),
          ...(v.node !== undefined && { numaNodes: [{ vcpus: v.vcpus, memoryBytes: v.gib * GiB, pinnedHostNode: v.node }] }),
          ...(v.sockets !== undefined && { topology: { sockets: v.sockets, coresPerSocket: 1, threadsPerCore: 1 } }),
          ...(v.pool !== undefined && { resourcePool: v.pool }),
        }),
      );
    fc.assert(
      fc.property(arbSpec, arbSpec, (a, b) => {
        expect(sameShape(a, b)).toBe(placementShape(a) === placementShape(b));
        expect(sameShape(a, { ...a, vmId: 'other', name: 'other', migrationMode: 'none', slaTier: 'gold' })).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

/** The claim of a placement that must succeed. */
function placed(r: ScheduleResult): Claim {
  if (r.kind !== 'placed') throw new Error(`not placed: ${JSON.stringify(r.explanation)}`);
  return r.claim;
}

describe('ScheduleCache', () => {
  const plain = (vmId: string): VmSpec => vmSpec({ vmId, vcpus: 2, memoryBytes: 4 * GiB });
  const spread = (): PlacementPolicy => ({ kind: 'spread' });

  it('takes a host that became the best after the ranking was kept (claims released there by someone else)', () => {
    const hosts = ['a', 'b', 'c'].map((h) => hostSnapshot({ hostId: h, cpus: 16, memoryBytes: 64 * GiB }));
    const view = new HostView(hosts);
    for (let i = 0; i < 6; i++) view.applyClaim({ ...placed(schedule(plain(`fill-${i}`), view, { policyFor: spread })), hostId: 'a' });
    const cache = new ScheduleCache(view, { policyFor: spread });
    const first = cache.schedule(plain('vm-1'));
    expect(first.kind === 'placed' && first.hostId).not.toBe('a'); // a is the fullest
    for (const c of [...view.get('a')!.claims]) view.releaseClaim('a', c.vmId);
    for (const h of ['b', 'c']) view.applyClaim({ ...placed(first), vmId: `more-${h}`, hostId: h });
    const second = cache.schedule(plain('vm-2'));
    expect(second).toEqual(schedule(plain('vm-2'), view, { policyFor: spread }));
    expect(second.kind === 'placed' && second.hostId).toBe('a');
  });

  it('never answers a fit computed on a snapshot the view no longer holds (a host in the same class lost its disk space)', () => {
    // Storage is not part of a host class: a and b stay in one class while a's pool fills up.
    const pool = { name: 'local', type: 'dir', path: '/var/lib/berth', totalBytes: 100 * GiB, externalUsedBytes: 0, isDefault: true };
    const view = new HostView(['a', 'b'].map((h) => hostSnapshot({ hostId: h, cpus: 16, memoryBytes: 64 * GiB, storagePools: [pool] })));
    const cache = new ScheduleCache(view, { policyFor: spread });
    const withDisk = (vmId: string) => vmSpec({ vmId, vcpus: 2, memoryBytes: 4 * GiB, disks: [{ sizeBytes: 60 * GiB }] });
    expect(cache.schedule(withDisk('x'))).toMatchObject({ kind: 'placed', hostId: 'a' });
    const a = view.get('a')!;
    view.upsert({
      ...a,
      generation: a.generation + 1,
      capacity: { ...a.capacity, storagePools: [{ ...pool, externalUsedBytes: 90 * GiB }] },
    });
    const r = cache.schedule(withDisk('y'));
    expect(r).toEqual(schedule(withDisk('y'), view, { policyFor: spread }));
    expect(r).toMatchObject({ kind: 'placed', hostId: 'b', alternates: [] });
  });

  it('starts again when the view no longer knows what changed since its ranking (journal trimmed)', () => {
    const view = new HostView(['a', 'b'].map((h) => hostSnapshot({ hostId: h, cpus: 64, memoryBytes: 256 * GiB })));
    const cache = new ScheduleCache(view, { policyFor: spread });
    cache.schedule(plain('first'));
    const since = view.version;
    expect(view.changedSince(since)).toEqual([]);
    // Far more changes than the view keeps: claims come and go on a, and b ends up the fuller.
    for (let i = 0; i < 10_000; i++) {
      const r = schedule(plain(`churn-${i}`), view, { policyFor: spread, excludedHosts: ['b'] });
      if (r.kind !== 'placed') throw new Error('a is full');
      view.applyClaim(r.claim);
      view.releaseClaim('a', r.claim.vmId);
    }
    view.applyClaim({ ...placed(schedule(plain('on-b'), view, { excludedHosts: ['a'] })) });
    expect(view.changedSince(since)).toBeUndefined();
    const scans = cache.scans;
    const r = cache.schedule(plain('after'));
    expect(cache.scans).toBe(scans + 1);
    expect(r).toEqual(schedule(plain('after'), view, { policyFor: spread }));
    expect(r.kind === 'placed' && r.hostId).toBe('a');
  }, 60_000);

  it('shares one ranking between VMs that differ only in identity, priority, tags, SLA tier and mode', () => {
    const a = vmSpec({ vmId: 'a', name: 'a', vcpus: 2, memoryBytes: 4 * GiB, priority: 1, tags: ['x'], migrationMode: 'manual' });
    const b = vmSpec({ vmId: 'b', name: 'b', vcpus: 2, memoryBytes: 4 * GiB, priority: 9, slaTier: 'gold', migrationMode: 'none' });
    expect(placementShape(a)).toBe(placementShape(b));
    expect(placementShape(a)).not.toBe(placementShape(vmSpec({ vmId: 'a', vcpus: 2, memoryBytes: 4 * GiB, resourcePool: 'p' })));
    const view = new HostView(['h1', 'h2'].map((h) => hostSnapshot({ hostId: h, cpus: 16, memoryBytes: 64 * GiB })));
    const cache = new ScheduleCache(view, { policyFor: spread });
    const ra = cache.schedule(a);
    if (ra.kind === 'placed') view.applyClaim(ra.claim);
    const rb = cache.schedule(b);
    expect(cache.scans).toBe(1);
    expect(rb).toEqual(schedule(b, view, { policyFor: spread }));
    expect(rb.kind === 'placed' && rb.claim.vmId).toBe('b');
  });
});
