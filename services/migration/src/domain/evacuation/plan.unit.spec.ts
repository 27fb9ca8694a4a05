import { claimFits, applyClaim, type HostSnapshot } from '@berth/fit';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS } from '../caps/caps.ts';
import { GiB, numaHost, placeOn, vmSpec } from '../../testing/evacuation-hosts.ts';
import type { Evacuee, PlanInput } from './model.ts';
import { PERFORMANCE_WARNING, planEvacuation } from './plan.ts';

/** The maintenance scene: a plain VM, a pinned high-performance VM (manual only) and a `none` VM. */
function scene(): { source: HostSnapshot; vms: Evacuee[]; others: HostSnapshot[] } {
  let source = numaHost('src');
  const vms: Evacuee[] = [];
  const specs = [
    vmSpec({ vmId: 'plain', vcpus: 2, memoryBytes: 4 * GiB, priority: 1 }),
    vmSpec({
      vmId: 'pinned-hp',
      vcpus: 4,
      memoryBytes: 8 * GiB,
      priority: 10,
      highPerformance: true,
      cpuPolicy: 'dedicated',
      passthroughCpu: true,
      numaNodes: [{ vcpus: 4, memoryBytes: 8 * GiB, pinnedHostNode: 0 }],
      migrationMode: 'manual',
    }),
    vmSpec({ vmId: 'stuck', vcpus: 1, memoryBytes: 2 * GiB, priority: 5, migrationMode: 'none' }),
  ];
  for (const s of specs) {
    const r = placeOn(source, s);
    source = r.host;
    vms.push(r.vm);
  }
  return {
    source: { ...source, capacity: { ...source.capacity, state: 'maintenance-preparing' } },
    vms,
    others: [numaHost('dst-a'), numaHost('dst-b')],
  };
}

const input = (over: Partial<PlanInput> & Pick<PlanInput, 'hosts' | 'vms'>): PlanInput => ({
  hostId: 'src',
  trigger: 'operator',
  caps: DEFAULT_CAPS,
  ...over,
});

describe('planEvacuation', () => {
  it('given an operator maintenance, moves the plain and the manual-only pinned VM (with the warning), blocks the none VM, high priority first', () => {
    const { source, vms, others } = scene();
    const plan = planEvacuation(input({ hosts: [source, ...others], vms }));
    expect(plan.moves.map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(plan.moves[0]!.warnings).toEqual([PERFORMANCE_WARNING]);
    expect(plan.moves[1]!.warnings).toEqual([]);
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]).toMatchObject({ vmId: 'stuck', kind: 'mode-none' });
    expect(plan.blockers[0]!.remedies.join(' ')).toMatch(/change its migration mode/);
    expect(plan.blockers[0]!.remedies.join(' ')).toMatch(/stop it/);
    expect(plan.totalMemoryBytes).toBe(12 * GiB);
    expect(plan.complete).toBe(false);
    expect(plan.concurrency.effective).toBe(2);
    for (const m of plan.moves) expect(['dst-a', 'dst-b']).toContain(m.destinationHostId);
  });

  it('given an automatic evacuation, the manual-only VM is a blocker too', () => {
    const { source, vms, others } = scene();
    const plan = planEvacuation(input({ hosts: [source, ...others], vms, trigger: 'automatic' }));
    expect(plan.moves.map((m) => m.vmId)).toEqual(['plain']);
    expect(plan.blockers.map((b) => [b.vmId, b.kind])).toEqual([
      ['pinned-hp', 'manual-only'],
      ['stuck', 'mode-none'],
    ]);
  });

  it('given the none VM stopped, it moves cold and the plan is complete', () => {
    const { source, vms, others } = scene();
    const stopped = vms.map((v) => (v.spec.vmId === 'stuck' ? { ...v, status: 'stopped' as const } : v));
    const plan = planEvacuation(input({ hosts: [source, ...others], vms: stopped }));
    expect(plan.complete).toBe(true);
    expect(plan.moves.find((m) => m.vmId === 'stuck')).toMatchObject({ kind: 'cold', warnings: [] });
  });

  it('prefers the less loaded host, then the less pinned one', () => {
    const { source, vms } = scene();
    let busy = numaHost('dst-a');
    busy = placeOn(busy, vmSpec({ vmId: 'x', vcpus: 8, memoryBytes: 30 * GiB })).host;
    const plan = planEvacuation(input({ hosts: [source, busy, numaHost('dst-b')], vms: vms.filter((v) => v.spec.vmId === 'plain') }));
    expect(plan.moves[0]!.destinationHostId).toBe('dst-b');

    let pinned = numaHost('dst-a');
    pinned = placeOn(pinned, vmSpec({ vmId: 'p', vcpus: 1, memoryBytes: GiB, cpuPolicy: 'dedicated' })).host;
    let shared = numaHost('dst-b');
    shared = placeOn(shared, vmSpec({ vmId: 's', vcpus: 1, memoryBytes: GiB })).host;
    const plan2 = planEvacuation(input({ hosts: [source, pinned, shared], vms: vms.filter((v) => v.spec.vmId === 'plain') }));
    expect(plan2.moves[0]!.destinationHostId).toBe('dst-b');
  });

  it('given the inbound slots free, passes over a destination with none for the next best that has one, and keeps the best when none has', () => {
    const { source, vms } = scene();
    let busy = numaHost('dst-b');
    busy = placeOn(busy, vmSpec({ vmId: 'x', vcpus: 8, memoryBytes: 30 * GiB })).host;
    const hosts = [source, numaHost('dst-a'), busy, numaHost('dst-c')];
    const movable = vms.filter((v) => v.spec.vmId !== 'stuck');
    // Without the slots: both to the emptier hosts, dst-a and dst-c.
    const free = planEvacuation(input({ hosts, vms: movable }));
    expect(free.moves.map((m) => m.destinationHostId).sort()).toEqual(['dst-a', 'dst-c']);
    // dst-a and dst-c have no inbound slot free: the busier dst-b, which has, takes the first move; the
    // plan's own move fills its one slot, so the second keeps its best host, the emptiest (dst-a and dst-c
    // tie: the first by id; the caps hold the move back).
    const slots = new Map([
      ['dst-a', 0],
      ['dst-b', 1],
      ['dst-c', 0],
    ]);
    const held = planEvacuation(input({ hosts, vms: movable, inboundFree: (h) => slots.get(h) ?? 2 }));
    expect(held.moves.map((m) => [m.vmId, m.destinationHostId])).toEqual([
      ['pinned-hp', 'dst-b'],
      ['plain', 'dst-a'],
    ]);
    // Every destination with slots: the plan is the plan without them.
    const open = planEvacuation(input({ hosts, vms: movable, inboundFree: () => 2 }));
    expect(open.moves).toEqual(free.moves);
  });

  it('never overcommits a destination: later VMs see the earlier moves of the same plan', () => {
    let source = numaHost('src', { cpus: 16 });
    const vms: Evacuee[] = [];
    for (let i = 0; i < 6; i++) {
      const r = placeOn(source, vmSpec({ vmId: `v${i}`, vcpus: 2, memoryBytes: 10 * GiB }));
      source = r.host;
      vms.push(r.vm);
    }
    // Room for three such VMs on each destination by memory (32 GiB).
    const dst = (id: string): HostSnapshot => numaHost(id, { memoryBytes: 32 * GiB, numaNodes: [] });
    const plan = planEvacuation(input({ hosts: [source, dst('a'), dst('b')], vms }));
    expect(plan.moves).toHaveLength(6);
    const hosts = new Map([
      ['a', dst('a')],
      ['b', dst('b')],
    ]);
    for (const m of plan.moves) {
      const h = hosts.get(m.destinationHostId)!;
      expect(claimFits(h, m.claim)).toEqual([]);
      hosts.set(m.destinationHostId, applyClaim(h, m.claim));
    }
    expect(hosts.get('a')!.claims).toHaveLength(3);
  });

  it('names the scheduler reasons when no host fits', () => {
    const { source, vms } = scene();
    const small = numaHost('tiny', { cpus: 1, numaNodes: [], memoryBytes: GiB });
    const plan = planEvacuation(input({ hosts: [source, small], vms: vms.filter((v) => v.spec.vmId === 'plain') }));
    expect(plan.moves).toEqual([]);
    expect(plan.blockers[0]!.kind).toBe('no-destination');
    expect(plan.blockers[0]!.reason).toMatch(/0\/2 hosts can take plain: .*lack vCPUs/);
    expect(plan.blockers[0]!.reason).toMatch(/excluded/);
  });

  it('lists VMs already migrating and VMs in transition separately', () => {
    const { source, vms, others } = scene();
    const plan = planEvacuation(
      input({
        hosts: [source, ...others],
        vms: [
          { ...vms[0]!, status: 'migrating' },
          { ...vms[1]!, status: 'busy' },
        ],
      }),
    );
    expect(plan.inFlight).toEqual(['plain']);
    expect(plan.blockers.map((b) => b.kind)).toEqual(['busy']);
    expect(plan.moves).toEqual([]);
  });
});
