import { ValidationError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import { hostSnapshot, vmSpec } from './builders.ts';
import { allocatableMemory, allocatableVcpus } from './capacity.ts';
import { applyClaim } from './claims.ts';
import { fits } from './fits.ts';
import type { HostSnapshot } from './model.ts';

const GiB = 1024 ** 3;

describe('MAAS overcommit arithmetic (seed 000/001)', () => {
  it('8 physical cores x 1 = 8 vCPUs', () => expect(allocatableVcpus(8, 1)).toBe(8));
  it('8 physical cores x 0.5 = 4 vCPUs', () => expect(allocatableVcpus(8, 0.5)).toBe(4));
  it('32 physical cores x 10 = 320 vCPUs', () => expect(allocatableVcpus(32, 10)).toBe(320));
  it('128 GiB x 5.5 = 704 GiB', () => expect(allocatableMemory(128 * GiB, 5.5)).toBe(704 * GiB));
  it('floors fractions but not binary rounding noise', () => {
    expect(allocatableVcpus(3, 0.5)).toBe(1);
    expect(allocatableVcpus(100, 0.29)).toBe(29);
  });
  it('refuses ratios outside 0..10, naming the field', () => {
    expect(() => allocatableVcpus(8, 10.5)).toThrow(ValidationError);
    expect(() => allocatableMemory(8, -1)).toThrow(/memoryOvercommit/);
  });
});

describe('four VMs of 2 cores / 4 GiB on a 4-core, 12 GiB host (seed 000)', () => {
  const place = (cpuOvercommit: number, memoryOvercommit: number): number => {
    let host: HostSnapshot = hostSnapshot({ hostId: 'h', cpus: 4, memoryBytes: 12 * GiB, cpuOvercommit, memoryOvercommit });
    let placed = 0;
    for (let i = 0; i < 4; i++) {
      const r = fits(host, vmSpec({ vmId: `vm-${i}`, vcpus: 2, memoryBytes: 4 * GiB }));
      if (!r.ok) break;
      host = applyClaim(host, r.claim);
      placed++;
    }
    return placed;
  };
  it('all four fit by overcommitting (cpu x2, memory x4/3)', () => expect(place(2, 4 / 3)).toBe(4));
  it('without overcommit only the first two fit (4 cores / 2 per VM)', () => expect(place(1, 1)).toBe(2));
  it('cpu overcommit alone is not enough: memory allows three', () => expect(place(2, 1)).toBe(3));
  it('the fifth VM is refused with numbers', () => {
    let host: HostSnapshot = hostSnapshot({ hostId: 'h', cpus: 4, memoryBytes: 12 * GiB, cpuOvercommit: 2, memoryOvercommit: 4 / 3 });
    for (let i = 0; i < 4; i++) {
      const r = fits(host, vmSpec({ vmId: `vm-${i}`, vcpus: 2, memoryBytes: 4 * GiB }));
      if (r.ok) host = applyClaim(host, r.claim);
    }
    const r = fits(host, vmSpec({ vmId: 'vm-5', vcpus: 2, memoryBytes: 4 * GiB }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reasons.map((x) => x.filter)).toEqual(['vcpus', 'memory']);
      expect(r.reasons[1]).toMatchObject({ needed: 4 * GiB, available: 0, shortBy: 4 * GiB, unit: 'bytes' });
    }
  });
});
