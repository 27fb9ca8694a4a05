import { applyClaim, claimFits, fits, hostSnapshot, releaseClaim, vmSpec, type MigrationMode } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterRun, GiB, input, type Pool } from '../../testing/balancer-pools.ts';
import type { BalancerPolicy } from './policy.ts';
import { balance } from './run.ts';

const arbPool: fc.Arbitrary<Pool> = fc
  .record({
    hosts: fc.array(fc.record({ cpus: fc.constantFrom(4, 8, 16), gib: fc.constantFrom(8, 16) }), { minLength: 2, maxLength: 6 }),
    vms: fc.array(
      fc.record({
        host: fc.nat(5),
        vcpus: fc.integer({ min: 1, max: 4 }),
        gib: fc.integer({ min: 1, max: 4 }),
        mode: fc.constantFrom<MigrationMode>('manual-and-automatic', 'manual-and-automatic', 'manual', 'none'),
        running: fc.constantFrom(true, true, true, false),
      }),
      { maxLength: 24 },
    ),
  })
  .map(({ hosts, vms }) => {
    const snaps = hosts.map((h, i) => hostSnapshot({ hostId: `h${i}`, cpus: h.cpus, memoryBytes: h.gib * GiB }));
    const placed: Pool['vms'] = [];
    vms.forEach((v, i) => {
      const at = v.host % snaps.length;
      const spec = vmSpec({ vmId: `vm${String(i).padStart(2, '0')}`, vcpus: v.vcpus, memoryBytes: v.gib * GiB, migrationMode: v.mode });
      const r = fits(snaps[at]!, spec);
      if (!r.ok) return;
      snaps[at] = applyClaim(snaps[at]!, r.claim);
      placed.push({ spec, hostId: `h${at}`, running: v.running, migrating: false });
    });
    return { hosts: snaps, vms: placed };
  });

const arbPolicy: fc.Arbitrary<Partial<BalancerPolicy>> = fc.record({
  mode: fc.constantFrom('pack' as const, 'spread' as const),
  highThreshold: fc.constantFrom(0.6, 0.7, 0.8, 0.9),
  lowThreshold: fc.constantFrom(0.1, 0.2, 0.3),
  minImprovement: fc.constantFrom(0.05, 0.1, 0.2, 0.4),
});

describe('balance (properties)', () => {
  it('a run on its own output proposes nothing (no ping-pong)', () => {
    fc.assert(
      fc.property(arbPool, arbPolicy, (p, policy) => {
        const first = balance(input(p, { ...policy, maxMovesPerInterval: 100 }));
        const second = balance(input(afterRun(p, first), { ...policy, maxMovesPerInterval: 100 }));
        expect(second.moves).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('without any cooldown, one move per run, repeated runs settle and never undo a move at once', () => {
    fc.assert(
      fc.property(arbPool, arbPolicy, (start, policy) => {
        let p = start;
        let previous: { vmId: string; from: string; to: string } | undefined;
        let runs = 0;
        for (;;) {
          const run = balance(input(p, { ...policy, cooldownSeconds: 0, maxMovesPerInterval: 1 }));
          if (run.moves.length === 0) break;
          const m = run.moves[0]!;
          if (previous) expect([m.vmId, m.from, m.to]).not.toEqual([previous.vmId, previous.to, previous.from]);
          previous = m;
          p = afterRun(p, run);
          expect(++runs).toBeLessThan(400);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('moves only running manual-and-automatic VMs, onto hosts that take the claim, never above the high threshold', () => {
    fc.assert(
      fc.property(arbPool, arbPolicy, (p, policy) => {
        const run = balance(input(p, { ...policy, maxMovesPerInterval: 100 }));
        const hosts = new Map(p.hosts.map((h) => [h.capacity.hostId, h]));
        const vms = new Map(p.vms.map((v) => [v.spec.vmId, v]));
        for (const m of run.moves) {
          const vm = vms.get(m.vmId)!;
          expect(vm.running).toBe(true);
          expect(vm.spec.migrationMode).toBe('manual-and-automatic');
          expect(m.from).not.toBe(m.to);
          expect(claimFits(hosts.get(m.to)!, m.claim)).toEqual([]);
          hosts.set(m.to, applyClaim(hosts.get(m.to)!, m.claim));
          hosts.set(m.from, releaseClaim(hosts.get(m.from)!, m.vmId));
          expect(m.after.to).toBeLessThanOrEqual(run.policy.highThreshold);
          expect(m.improvement).toBeGreaterThanOrEqual(run.policy.minImprovement);
        }
        expect(new Set(run.moves.map((m) => m.vmId)).size).toBe(run.moves.length);
      }),
      { numRuns: 200 },
    );
  });
});
