import { applyClaim, fits, hostSnapshot, vmSpec, type HostSnapshot, type VmSpec } from '@berth/fit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbVm, arbWorld } from './testing/arbitraries.ts';
import { howManyFit, whatIf } from './whatif.ts';

const GiB = 1024 ** 3;

/** The definition: keep applying claims to a copy until the next copy does not fit. */
function byApplying(spec: VmSpec, host: HostSnapshot): number {
  let copy = host;
  let n = 0;
  for (;;) {
    const r = fits(copy, { ...spec, vmId: `c${n}` });
    if (!r.ok) return n;
    copy = applyClaim(copy, r.claim);
    n++;
  }
}

describe('whatIf', () => {
  it('counts per host and in total (the four-VM host of seed 000 takes four more)', () => {
    const maas = hostSnapshot({ hostId: 'maas', cpus: 4, memoryBytes: 12 * GiB, cpuOvercommit: 2, memoryOvercommit: 4 / 3 });
    const plain = hostSnapshot({ hostId: 'plain', cpus: 4, memoryBytes: 12 * GiB });
    const down = hostSnapshot({ hostId: 'down', cpus: 4, memoryBytes: 12 * GiB, state: 'maintenance' });
    const r = whatIf(vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 4 * GiB }), [plain, down, maas]);
    expect(r).toEqual({
      total: 6,
      perHost: [
        { hostId: 'maas', count: 4 },
        { hostId: 'plain', count: 2 },
      ],
    });
  });

  it('the arithmetic shortcut agrees with applying claims one by one', () => {
    fc.assert(
      fc.property(arbWorld, arbVm, (world, vm) => {
        for (const h of world.hosts) expect(howManyFit(vm, h)).toBe(byApplying(vm, h));
      }),
      { numRuns: 100 },
    );
  });
});
