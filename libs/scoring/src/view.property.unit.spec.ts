import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schedule, type ScheduleResult } from './schedule.ts';
import { arbPolicy, arbVm, arbWorld } from './testing/arbitraries.ts';
import { HostView } from './view.ts';

/** What a decision is, without object identity: host, score and the runners-up in order. */
function decision(r: ScheduleResult): unknown {
  return r.kind === 'placed'
    ? {
        host: r.hostId,
        generation: r.generation,
        score: r.breakdown.score,
        claim: r.claim,
        alternates: r.alternates.map((a) => [a.hostId, a.score]),
      }
    : { failed: r.explanation };
}

describe('HostView (properties)', () => {
  it('a view kept up to date claim by claim decides exactly like one rebuilt from its snapshots', () => {
    fc.assert(
      fc.property(
        arbWorld,
        fc.array(fc.tuple(arbVm, fc.boolean()), { minLength: 1, maxLength: 25 }),
        arbPolicy,
        arbVm,
        (world, steps, policy, probe) => {
          const view = new HostView(world.hosts, world);
          const options = { policyFor: () => policy, alternates: 2 };
          const placed: { hostId: string; vmId: string }[] = [];
          steps.forEach(([vm, release], i) => {
            const r = schedule({ ...vm, vmId: `vm-${i}` }, view, options);
            if (r.kind === 'placed') {
              view.applyClaim(r.claim);
              placed.push({ hostId: r.hostId, vmId: r.vmId });
            }
            const victim = release ? placed.shift() : undefined;
            if (victim) view.releaseClaim(victim.hostId, victim.vmId);
          });
          const rebuilt = new HostView(view.all(), world);
          expect(rebuilt.classCount).toBe(view.classCount);
          expect(decision(schedule(probe, view, options))).toEqual(decision(schedule(probe, rebuilt, options)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a rollback puts back exactly the view of its checkpoint, whatever claims were applied meanwhile', () => {
    fc.assert(
      fc.property(arbWorld, fc.array(arbVm, { minLength: 1, maxLength: 25 }), arbPolicy, arbVm, (world, vms, policy, probe) => {
        const view = new HostView(world.hosts, world);
        const options = { policyFor: () => policy, alternates: 2 };
        const before = view.all();
        const usages = before.map((h) => structuredClone(view.usages[view.slot(h.capacity.hostId)!]));
        const classes = view.classCount;
        const decided = decision(schedule(probe, view, options));
        view.checkpoint();
        vms.forEach((vm, i) => {
          const r = schedule({ ...vm, vmId: `vm-${i}` }, view, options);
          if (r.kind === 'placed') view.applyClaim(r.claim);
        });
        expect(() => view.upsert(before[0]!)).toThrow(/checkpoint/);
        expect(() => view.remove(before[0]!.capacity.hostId)).toThrow(/checkpoint/);
        view.rollback();
        // The very snapshots, usages equal to what they were, the same classes and the same decisions.
        expect(view.all()).toEqual(before);
        view.all().forEach((h, i) => expect(h).toBe(before[i]));
        expect(before.map((h) => view.usages[view.slot(h.capacity.hostId)!])).toEqual(usages);
        expect(view.classCount).toBe(classes);
        expect(new HostView(before, world).classCount).toBe(classes);
        expect(decision(schedule(probe, view, options))).toEqual(decided);
        expect(() => view.rollback()).toThrow(/no checkpoint/);
        view.upsert(before[0]!); // allowed again
      }),
      { numRuns: 150 },
    );
  });

  it('upsert ignores older generations, replace does not, and remove forgets the host', () => {
    fc.assert(
      fc.property(arbWorld, (world) => {
        const view = new HostView(world.hosts, world);
        const first = world.hosts[0]!;
        view.upsert({ ...first, generation: first.generation - 1, claims: [] });
        expect(view.get(first.capacity.hostId)).toBe(first);
        const older = { ...first, generation: first.generation - 1, claims: [] };
        view.replace(older);
        expect(view.get(first.capacity.hostId)).toBe(older);
        expect(new HostView(view.all(), world).classCount).toBe(view.classCount);
        view.replace(first);
        view.remove(first.capacity.hostId);
        expect(view.get(first.capacity.hostId)).toBeUndefined();
        expect(view.size).toBe(world.hosts.length - 1);
      }),
      { numRuns: 30 },
    );
  });
});
