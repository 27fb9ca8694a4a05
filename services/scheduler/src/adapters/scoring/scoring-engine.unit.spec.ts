import { describe, expect, it } from 'vitest';
import { applyClaim, fits, hostSnapshot, vmSpec } from '@berth/fit';
import type { CostConfig } from '@berth/scoring';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from './scoring-engine.ts';

const GiB = 1024 ** 3;

// Hosts of profile `cheap` cost 0; hosts of profile `dear` cost an offset of 1000 (tiCrypt seed style).
const config: CostConfig = {
  costFunctions: {
    cheap: { id: 'cheap', name: 'cheap', description: '', devices: {}, scale: 1, offset: 0 },
    dear: { id: 'dear', name: 'dear', description: '', devices: {}, scale: 1, offset: 1000 },
  },
  profiles: {
    cheap: { id: 'cheap', name: 'cheap', description: '', cores: 8, memoryBytes: 32 * GiB, devices: [], costFunction: 'cheap' },
    dear: { id: 'dear', name: 'dear', description: '', cores: 8, memoryBytes: 32 * GiB, devices: [], costFunction: 'dear' },
  },
};

describe('ScoringEngine', () => {
  it('follows the hardware config: a new config re-scores the same hosts', () => {
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    engine.upsert(hostSnapshot({ hostId: 'a', profileId: 'dear' }, 2));
    engine.upsert(hostSnapshot({ hostId: 'b', profileId: 'cheap' }, 5));
    const vm = vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 2 * GiB });

    const before = engine.decide(vm, { excludedHosts: [], alternates: 1 });
    expect(before.kind === 'placed' && before.chosen.hostId).toBe('a'); // equal hosts, no cost: tie by id

    engine.setConfig(config);
    expect(engine.size).toBe(2);
    const after = engine.decide(vm, { excludedHosts: [], alternates: 1 });
    if (after.kind !== 'placed') throw new Error(after.summary);
    expect(after.chosen).toMatchObject({ hostId: 'b', generation: 5 });
    expect(after.alternates.map((c) => c.hostId)).toEqual(['a']);
    expect(after.alternates[0]!.score - after.chosen.score).toBeGreaterThanOrEqual(1000);
    expect(after.chosen.breakdown).toMatchObject({ cost: { costFunction: 'cheap', offset: 0 } });
    expect(fits(engine.get('b')!, vm)).toEqual({ ok: true, claim: after.chosen.claim });
  });

  it('explains a failure in one sentence and honours excluded hosts', () => {
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    engine.upsert(hostSnapshot({ hostId: 'a', memoryBytes: 12 * GiB }));
    engine.upsert(hostSnapshot({ hostId: 'm', state: 'maintenance' }));
    engine.upsert(hostSnapshot({ hostId: 'x' }));
    const d = engine.decide(vmSpec({ vmId: 'vm-7', memoryBytes: 16 * GiB }), { excludedHosts: ['x'], alternates: 3 });
    expect(d.kind).toBe('failed');
    expect(d.summary).toMatch(/^0\/3 hosts can take vm-7: /);
    expect(d.summary).toContain('1 lack memory (needs 16 GiB; the best has 12 GiB free)');
    expect(d.summary).toContain('1 in maintenance');
  });

  it('what-if counts per host, optionally restricted, with host names', () => {
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
    engine.upsert(hostSnapshot({ hostId: 'a', name: 'alpha', cpus: 8, memoryBytes: 64 * GiB }));
    engine.upsert(hostSnapshot({ hostId: 'b', name: 'beta', cpus: 4, memoryBytes: 64 * GiB }));
    const vm = vmSpec({ vmId: '', vcpus: 2, memoryBytes: GiB });
    expect(engine.whatIf(vm)).toEqual({
      total: 6,
      perHost: [
        { hostId: 'a', hostName: 'alpha', count: 4 },
        { hostId: 'b', hostName: 'beta', count: 2 },
      ],
    });
    expect(engine.whatIf(vm, ['b', 'unknown']).total).toBe(2);
  });

  it('applies a claim incrementally exactly as an upsert of the claimed snapshot would', () => {
    const incremental = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
    const rebuilt = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
    for (const e of [incremental, rebuilt]) for (const id of ['a', 'b', 'c']) e.upsert(hostSnapshot({ hostId: id, cpus: 8 }, 3));
    for (let i = 0; i < 6; i++) {
      const vm = vmSpec({ vmId: `v${i}`, vcpus: 1 + (i % 3), memoryBytes: GiB });
      const d = incremental.decide(vm, { excludedHosts: [], alternates: 2 });
      expect(rebuilt.decide(vm, { excludedHosts: [], alternates: 2 })).toEqual(d);
      if (d.kind !== 'placed') throw new Error(d.summary);
      incremental.applyClaim(d.chosen.claim);
      rebuilt.upsert(applyClaim(rebuilt.get(d.chosen.hostId)!, d.chosen.claim));
      expect(incremental.get(d.chosen.hostId)).toEqual(rebuilt.get(d.chosen.hostId));
    }
    expect(incremental.get('a')!.generation + incremental.get('b')!.generation + incremental.get('c')!.generation).toBe(9 + 6);
  });

  it('keeps the newer generation when an older snapshot arrives late', () => {
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    engine.upsert(hostSnapshot({ hostId: 'a', cpus: 8 }, 4));
    engine.upsert(hostSnapshot({ hostId: 'a', cpus: 2 }, 3));
    expect(engine.get('a')).toMatchObject({ generation: 4, capacity: { cpus: 8 } });
    engine.remove('a');
    expect(engine.size).toBe(0);
  });
});
