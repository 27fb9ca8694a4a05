import { describe, expect, it } from 'vitest';
import { fits, hostSnapshot, vmSpec } from '@berth/fit';
import { fitEngine } from './fit-engine.ts';
import { applyClaimToSnapshot } from './explain.ts';

const GiB = 1024 ** 3;

describe('fitEngine', () => {
  it('packs: the fullest host that fits wins, with the others as alternates', () => {
    const small = hostSnapshot({ hostId: 'a', cpus: 4, memoryBytes: 8 * GiB });
    const big = hostSnapshot({ hostId: 'b', cpus: 32, memoryBytes: 64 * GiB });
    const d = fitEngine.decide(vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 4 * GiB }), [big, small], { excludedHosts: [], alternates: 3 });
    expect(d.kind).toBe('placed');
    if (d.kind !== 'placed') return;
    expect(d.chosen.hostId).toBe('a');
    expect(d.alternates.map((c) => c.hostId)).toEqual(['b']);
    expect(fits(small, vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 4 * GiB })).ok).toBe(true);
  });

  it('explains a failure per filter with the closest miss', () => {
    const hosts = [
      hostSnapshot({ hostId: 'm1', state: 'maintenance' }),
      hostSnapshot({ hostId: 'h1', memoryBytes: 12 * GiB }),
      hostSnapshot({ hostId: 'h2', memoryBytes: 8 * GiB }),
      hostSnapshot({ hostId: 'h3' }),
    ];
    const d = fitEngine.decide(vmSpec({ vmId: 'vm-7', memoryBytes: 16 * GiB }), hosts, { excludedHosts: ['h3'], alternates: 1 });
    expect(d.kind).toBe('failed');
    if (d.kind !== 'failed') return;
    expect(d.summary).toBe(
      '0/4 hosts can take vm-7: 1 are not enabled (host m1 is maintenance), 2 lack memory (needs 16 GiB; the best has 12 GiB free), 1 excluded by the request',
    );
  });

  it('counts how many more VMs of a spec fit, per host', () => {
    const h = hostSnapshot({ hostId: 'h', cpus: 8, memoryBytes: 16 * GiB });
    const used = applyClaimToSnapshot(h, { vmId: 'x', hostId: 'h', vcpus: 2, memoryBytes: 0, pinnedCpus: [], numaCells: [], hugepages: [], devices: [], vfs: [], volumes: [], affinityGroups: [] });
    const r = fitEngine.whatIf(vmSpec({ vmId: '', vcpus: 2, memoryBytes: 2 * GiB }), [h, used, hostSnapshot({ hostId: 'off', state: 'disabled' })]);
    expect(r.perHost.map((p) => p.count)).toEqual([4, 3, 0]);
    expect(r.total).toBe(7);
  });
});
