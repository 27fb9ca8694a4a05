import { applyClaim, claimFits, fits, hostSnapshot, vmSpec, type HostSnapshot, type MigrationMode } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostView } from '@berth/scoring';
import { admitMany } from '../caps/caps.ts';
import type { Evacuee, EvacueeStatus, EvacuationTrigger } from './model.ts';
import { planEvacuation } from './plan.ts';

const GiB = 1024 ** 3;

interface Scene {
  hosts: HostSnapshot[];
  vms: Evacuee[];
  trigger: EvacuationTrigger;
  fleet: number;
  outbound: number;
  inbound: number;
}

const arbScene: fc.Arbitrary<Scene> = fc
  .record({
    dests: fc.array(
      fc.record({
        cpus: fc.constantFrom(4, 8, 16),
        gib: fc.constantFrom(8, 16, 32),
        state: fc.constantFrom('enabled', 'enabled', 'enabled', 'disabled', 'maintenance-preparing' as const),
        load: fc.array(fc.record({ vcpus: fc.integer({ min: 1, max: 4 }), gib: fc.integer({ min: 1, max: 8 }) }), { maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    vms: fc.array(
      fc.record({
        vcpus: fc.integer({ min: 1, max: 4 }),
        gib: fc.integer({ min: 1, max: 6 }),
        priority: fc.integer({ min: 0, max: 3 }),
        mode: fc.constantFrom<MigrationMode>('none', 'manual', 'manual-and-automatic'),
        status: fc.constantFrom<EvacueeStatus>('running', 'running', 'running', 'stopped', 'migrating', 'busy'),
        dedicated: fc.boolean(),
        hp: fc.boolean(),
      }),
      { maxLength: 14 },
    ),
    trigger: fc.constantFrom<EvacuationTrigger>('operator', 'automatic'),
    fleet: fc.integer({ min: 1, max: 6 }),
    outbound: fc.integer({ min: 1, max: 3 }),
    inbound: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ dests, vms, trigger, fleet, outbound, inbound }) => {
    let source = hostSnapshot({
      hostId: 'src',
      cpus: 64,
      memoryBytes: 128 * GiB,
      numaNodes: [{ id: 0, cpus: Array.from({ length: 64 }, (_, i) => i), memoryBytes: 128 * GiB, hugepages: [] }],
    });
    const evacuees: Evacuee[] = [];
    vms.forEach((v, i) => {
      const spec = vmSpec({
        vmId: `vm${i}`,
        vcpus: v.vcpus,
        memoryBytes: v.gib * GiB,
        priority: v.priority,
        migrationMode: v.mode,
        cpuPolicy: v.dedicated ? 'dedicated' : 'shared',
        highPerformance: v.hp,
      });
      const r = fits(source, spec);
      if (!r.ok) return;
      source = applyClaim(source, r.claim);
      evacuees.push({ spec, claim: r.claim, status: v.status });
    });
    const hosts = dests.map((d, i) => {
      let h = hostSnapshot({
        hostId: `h${i}`,
        cpus: d.cpus,
        memoryBytes: d.gib * GiB,
        state: d.state,
        numaNodes: [{ id: 0, cpus: Array.from({ length: d.cpus }, (_, c) => c), memoryBytes: d.gib * GiB, hugepages: [] }],
      });
      d.load.forEach((l, j) => {
        const r = fits(
          { ...h, capacity: { ...h.capacity, state: 'enabled' } },
          vmSpec({ vmId: `pre${i}-${j}`, vcpus: l.vcpus, memoryBytes: l.gib * GiB }),
        );
        if (r.ok) h = applyClaim(h, r.claim);
      });
      return h;
    });
    return {
      hosts: [{ ...source, capacity: { ...source.capacity, state: 'maintenance-preparing' as const } }, ...hosts],
      vms: evacuees,
      trigger,
      fleet,
      outbound,
      inbound,
    };
  });

const plan = (s: Scene) =>
  planEvacuation({
    hostId: 'src',
    hosts: s.hosts,
    vms: s.vms,
    trigger: s.trigger,
    caps: { fleet: s.fleet, outboundPerHost: s.outbound, inboundPerHost: s.inbound },
  });

describe('planEvacuation (properties)', () => {
  it('never overcommits a destination: replaying the planned claims in order, inventory would accept every one', () => {
    fc.assert(
      fc.property(arbScene, (s) => {
        const p = plan(s);
        const hosts = new Map(s.hosts.map((h) => [h.capacity.hostId, h]));
        for (const m of p.moves) {
          const h = hosts.get(m.destinationHostId)!;
          expect(h.capacity.state).toBe('enabled');
          expect(m.destinationHostId).not.toBe('src');
          expect(claimFits(h, m.claim)).toEqual([]);
          hosts.set(m.destinationHostId, applyClaim(h, m.claim));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('planned over a shared view, decides the same and leaves the view as it was', () => {
    fc.assert(
      fc.property(arbScene, (s) => {
        const view = new HostView(s.hosts);
        const before = view
          .all()
          .map((h) => [h.capacity.hostId, h.generation, h.claims.length])
          .sort();
        const viaView = planEvacuation({
          hostId: 'src',
          view,
          vms: s.vms,
          trigger: s.trigger,
          caps: { fleet: s.fleet, outboundPerHost: s.outbound, inboundPerHost: s.inbound },
        });
        expect(viaView).toEqual(plan(s));
        expect(
          view
            .all()
            .map((h) => [h.capacity.hostId, h.generation, h.claims.length])
            .sort(),
        ).toEqual(before);
        // And a second plan over it is the same again.
        expect(
          planEvacuation({
            hostId: 'src',
            view,
            vms: s.vms,
            trigger: s.trigger,
            caps: { fleet: s.fleet, outboundPerHost: s.outbound, inboundPerHost: s.inbound },
          }),
        ).toEqual(viaView);
      }),
      { numRuns: 100 },
    );
  });

  it('respects modes and accounts for every VM exactly once, in priority order', () => {
    fc.assert(
      fc.property(arbScene, (s) => {
        const p = plan(s);
        const byId = new Map(s.vms.map((v) => [v.spec.vmId, v]));
        for (const m of p.moves) {
          const v = byId.get(m.vmId)!;
          if (v.status === 'running') {
            expect(v.spec.migrationMode).not.toBe('none');
            if (s.trigger === 'automatic') expect(v.spec.migrationMode).toBe('manual-and-automatic');
          } else {
            expect(v.status).toBe('stopped');
          }
        }
        const seen = [...p.moves.map((m) => m.vmId), ...p.blockers.map((b) => b.vmId), ...p.inFlight].sort();
        expect(seen).toEqual(s.vms.map((v) => v.spec.vmId).sort());
        for (let i = 1; i < p.moves.length; i++) expect(p.moves[i - 1]!.priority).toBeGreaterThanOrEqual(p.moves[i]!.priority);
        expect(p.complete).toBe(p.blockers.length === 0);
      }),
      { numRuns: 150 },
    );
  });

  it('run through the caps, a plan never has more moves at once than the caps allow', () => {
    fc.assert(
      fc.property(arbScene, fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 4 }), (s, busyDests) => {
        const p = plan(s);
        const caps = { fleet: s.fleet, outboundPerHost: s.outbound, inboundPerHost: s.inbound };
        // Other migrations already in flight (other drains, manual moves) arriving on random hosts.
        let inFlight = busyDests.map((d, i) => ({ vmId: `other${i}`, sourceHostId: `elsewhere${i}`, destinationHostId: `h${d}` }));
        let queue = p.moves.map((m) => ({ vmId: m.vmId, sourceHostId: 'src', destinationHostId: m.destinationHostId }));
        let rounds = 0;
        while (queue.length > 0 && rounds++ < 100) {
          const r = admitMany(caps, inFlight, queue);
          const all = [...inFlight, ...r.admitted];
          if (r.admitted.length > 0) expect(all.length).toBeLessThanOrEqual(caps.fleet);
          expect(all.filter((m) => m.sourceHostId === 'src').length).toBeLessThanOrEqual(caps.outboundPerHost);
          for (const a of r.admitted) {
            expect(all.filter((m) => m.destinationHostId === a.destinationHostId).length).toBeLessThanOrEqual(caps.inboundPerHost);
          }
          // The oldest in flight finishes; what was admitted is now in flight.
          inFlight = all.slice(1);
          queue = queue.filter((q) => !r.admitted.includes(q));
        }
        expect(queue).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
