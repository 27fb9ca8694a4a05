import { fits, hostSnapshot, type HostSnapshot, type HostState, type VmSpec } from '@berth/fit';
import { formatExplanation, HostView, schedule, type PlacementPolicy } from '@berth/scoring';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS } from '../caps/caps.ts';
import { GiB, vmSpec } from '../../testing/evacuation-hosts.ts';
import type { Blocker, EvacuationPlan, Evacuee, EvacueeStatus, PlanInput, PlannedMove } from './model.ts';
import { allocationLoad, byStartOrder, isPinned, PERFORMANCE_WARNING, PINNED_WEIGHT, planEvacuation } from './plan.ts';

/**
 * The planner against the straightforward one: schedule() for every VM over a private view of the
 * snapshots, the choice's claim applied to it before the next VM, the load after a move summed from
 * the destination's claims. Written out here from the rules (docs/evacuation-and-balancer.md, "The
 * plan"), so that the planner's shared work (ScheduleCache, the view's checkpoint, loads from the
 * view's usage) must give exactly its plans.
 */
function straightforward(input: PlanInput, hosts: readonly HostSnapshot[]): EvacuationPlan {
  const view = new HostView(hosts);
  const policyFor = (pool: string): PlacementPolicy => input.policyFor?.(pool) ?? { kind: 'spread' };
  const pinned = (hostId: string): number => {
    const snap = view.get(hostId)!;
    return snap.capacity.cpus === 0 ? 0 : view.usages[view.slot(hostId)!]!.pinnedCpus.size / snap.capacity.cpus;
  };
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  const moves: PlannedMove[] = [];
  const blockers: Blocker[] = [];
  const inFlight: string[] = [];
  const deferred: string[] = [];
  const block = (vm: Evacuee, kind: Blocker['kind'], reason: string, remedies: string[]): void => {
    blockers.push({ vmId: vm.spec.vmId, vmName: vm.spec.name, priority: vm.spec.priority, kind, reason, remedies });
  };
  for (const vm of [...input.vms].sort(byStartOrder)) {
    const spec = vm.spec;
    const live = vm.status === 'running';
    if (vm.status === 'migrating') inFlight.push(spec.vmId);
    else if (vm.status === 'busy')
      block(vm, 'busy', 'it is being started, stopped or deleted', ['wait: the drain retries when it settles']);
    else if (live && spec.migrationMode === 'none')
      block(vm, 'mode-none', 'its migration mode is none: it cannot be migrated', [
        'change its migration mode to manual or manual-and-automatic',
        'stop it: a stopped VM moves cold',
      ]);
    else if (live && spec.migrationMode === 'manual' && input.trigger === 'automatic')
      block(vm, 'manual-only', 'its migration mode is manual only: automatic evacuations do not move it', [
        'migrate it by hand (berth vms migrate)',
        'put the host in maintenance yourself: an operator maintenance moves manual-only VMs',
        'change its migration mode to manual-and-automatic',
      ]);
    else if (moves.length >= (input.maxMoves ?? Infinity)) deferred.push(spec.vmId);
    else {
      const excludedHosts = [input.hostId, ...(input.excludedFor?.(spec.vmId) ?? [])];
      const r = schedule(spec, view, { policyFor, excludedHosts, alternates: 4 });
      if (r.kind === 'failed') {
        blockers.push({
          vmId: spec.vmId,
          vmName: spec.name,
          priority: spec.priority,
          kind: 'no-destination',
          reason: `no host can take it: ${formatExplanation(r.explanation)}`,
          remedies: [
            'free or add capacity on a host that matches its requirements (retried automatically)',
            'stop it or delete it',
            'relax its placement constraints',
          ],
          explanation: r.explanation,
        });
        continue;
      }
      const ranked = [r.breakdown, ...r.alternates].map((c) => ({ c, s: c.score + PINNED_WEIGHT * pinned(c.hostId) }));
      const best = ranked.reduce((a, b) => (b.s < a.s || (b.s === a.s && b.c.hostId < a.c.hostId) ? b : a)).c;
      const after = allocationLoad(view.applyClaim(best.claim));
      moves.push({
        vmId: spec.vmId,
        vmName: spec.name,
        priority: spec.priority,
        memoryBytes: vm.claim.memoryBytes,
        mode: spec.migrationMode,
        kind: live ? 'live' : 'cold',
        destinationHostId: best.hostId,
        destinationName: view.get(best.hostId)!.capacity.name,
        destinationGeneration: best.generation,
        claim: best.claim,
        reason: `best of the hosts that fit (score ${+best.score.toFixed(2)}): ${pct(after.cpu)} vCPUs and ${pct(after.memory)} memory allocated after the move, ${pct(pinned(best.hostId))} of its CPUs pinned`,
        warnings: live && (spec.highPerformance || isPinned(spec)) ? [PERFORMANCE_WARNING] : [],
      });
    }
  }
  return {
    hostId: input.hostId,
    trigger: input.trigger,
    moves,
    blockers,
    inFlight,
    deferred,
    totalMemoryBytes: moves.reduce((s, m) => s + m.memoryBytes, 0),
    concurrency: { effective: Math.min(input.caps.outboundPerHost, input.caps.fleet), caps: input.caps },
    complete: blockers.length === 0,
  };
}

/** A seeded fleet: hosts of several sizes, pools and states, partly filled, and a source host whose VMs are to move. */
function fleet(seed: number): { hosts: HostSnapshot[]; input: Omit<PlanInput, 'hosts' | 'view'> } {
  let s = seed;
  const random = (): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const numa = (cpus: number, gib: number) => [
    { id: 0, cpus: Array.from({ length: cpus / 2 }, (_, i) => i), memoryBytes: (gib / 2) * GiB, hugepages: [] },
    { id: 1, cpus: Array.from({ length: cpus / 2 }, (_, i) => cpus / 2 + i), memoryBytes: (gib / 2) * GiB, hugepages: [] },
  ];
  const shape = (vmId: string): VmSpec => {
    const dedicated = random() < 0.1;
    return vmSpec({
      vmId,
      vcpus: pick([1, 1, 2, 2, 4]),
      memoryBytes: pick([1, 2, 4, 8]) * GiB,
      priority: pick([0, 0, 5, 10]),
      cpuPolicy: dedicated ? 'dedicated' : 'shared',
      highPerformance: random() < 0.1,
      migrationMode: pick(['manual-and-automatic', 'manual-and-automatic', 'manual', 'none'] as const),
      ...(random() < 0.15 && { resourcePool: pick(['a', 'b']) }),
    });
  };
  const place = (host: HostSnapshot, spec: VmSpec): HostSnapshot | undefined => {
    const r = fits({ ...host, capacity: { ...host.capacity, state: 'enabled' } }, spec);
    return r.ok ? { ...host, generation: host.generation + 1, claims: [...host.claims, r.claim] } : undefined;
  };
  const hosts: HostSnapshot[] = [];
  // Small fleets fill up (VMs with no destination), large ones spread.
  const count = pick([3, 6, 25, 40, 60]);
  for (let i = 0; i < count; i++) {
    const cpus = pick([16, 32, 48]);
    const gib = pick([64, 128, 256]);
    let h = hostSnapshot({
      hostId: `h${String(i).padStart(3, '0')}`,
      cpus,
      memoryBytes: gib * GiB,
      cpuOvercommit: pick([1, 2, 4]),
      topology: { sockets: 2, coresPerSocket: cpus / 2, threadsPerCore: 1 },
      numaNodes: numa(cpus, gib),
      resourcePool: pick(['default', 'default', 'a', 'b']),
      state: pick<HostState>(['enabled', 'enabled', 'enabled', 'enabled', 'disabled', 'maintenance-preparing']),
    });
    const load = Math.floor(random() * 40);
    for (let j = 0; j < load; j++) h = place(h, shape(`pre-${i}-${j}`)) ?? h;
    hosts.push(h);
  }
  let source = hostSnapshot({ hostId: 'src', cpus: 128, memoryBytes: 1024 * GiB, numaNodes: numa(128, 1024), cpuOvercommit: 2 });
  const vms: Evacuee[] = [];
  const evacuees = 10 + Math.floor(random() * 70);
  for (let i = 0; i < evacuees; i++) {
    const spec = shape(`vm-${i}`);
    const next = place(source, spec);
    if (!next) continue;
    vms.push({
      spec,
      claim: next.claims.at(-1)!,
      status: pick<EvacueeStatus>(['running', 'running', 'running', 'running', 'stopped', 'migrating', 'busy']),
    });
    source = next;
  }
  hosts.push({ ...source, capacity: { ...source.capacity, state: 'maintenance-preparing' } });
  const failed = new Map(vms.filter(() => random() < 0.1).map((v) => [v.spec.vmId, [pick(hosts).capacity.hostId]]));
  const pack = random() < 0.3 ? pick(['a', 'b', 'default']) : undefined;
  return {
    hosts,
    input: {
      hostId: 'src',
      vms,
      trigger: pick(['operator', 'automatic'] as const),
      caps: DEFAULT_CAPS,
      ...(random() < 0.2 && { maxMoves: Math.floor(random() * 20) }),
      excludedFor: (vmId: string) => failed.get(vmId) ?? [],
      ...(pack !== undefined && { policyFor: (pool: string) => (pool === pack ? { kind: 'pack' as const } : undefined) }),
    },
  };
}

describe('planEvacuation against the straightforward planner (schedule() per VM)', () => {
  it('plans exactly the same over 60 seeded fleets, over a shared view as over the snapshots, and leaves the view as it was', () => {
    let moves = 0;
    let blocked = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const { hosts, input } = fleet(seed);
      const expected = straightforward(input, hosts);
      expect(planEvacuation({ ...input, hosts }), `seed ${seed}`).toEqual(expected);
      const view = new HostView(hosts);
      const before = view.all();
      expect(planEvacuation({ ...input, view }), `seed ${seed}, shared view`).toEqual(expected);
      expect(planEvacuation({ ...input, view }), `seed ${seed}, shared view again`).toEqual(expected);
      view.all().forEach((h, i) => expect(h).toBe(before[i]));
      moves += expected.moves.length;
      blocked += expected.blockers.filter((b) => b.kind === 'no-destination').length;
    }
    // The fleets exercise both outcomes.
    expect(moves).toBeGreaterThan(500);
    expect(blocked).toBeGreaterThan(0);
  }, 120_000);
});
