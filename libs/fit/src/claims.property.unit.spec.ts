import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostSnapshot, vmSpec } from './builders.ts';
import { allocatableVcpus, ordinaryMemoryCapacity, ordinaryNodeMemoryCapacity } from './capacity.ts';
import { applyClaim, claimFits, releaseClaim } from './claims.ts';
import { fits } from './fits.ts';
import type { HostSnapshot, VmSpec } from './model.ts';
import { removeClaimFromUsage, usage } from './usage.ts';

const GiB = 1024 ** 3;
const MiB2 = 2 * 1024 ** 2;

const arbHost: fc.Arbitrary<HostSnapshot> = fc
  .record({
    nodes: fc.integer({ min: 1, max: 3 }),
    cpusPerNode: fc.integer({ min: 1, max: 8 }),
    gibPerNode: fc.integer({ min: 2, max: 16 }),
    pagesPerNode: fc.integer({ min: 0, max: 1024 }),
    cpuOvercommit: fc.constantFrom(0.5, 1, 1.5, 4),
    memoryOvercommit: fc.constantFrom(1, 4 / 3, 2),
    gpus: fc.integer({ min: 0, max: 3 }),
    vfs: fc.integer({ min: 0, max: 3 }),
    poolGiB: fc.integer({ min: 1, max: 100 }),
    externalGiB: fc.integer({ min: 0, max: 10 }),
  })
  .map((p) => {
    const numaNodes = Array.from({ length: p.nodes }, (_, id) => ({
      id,
      cpus: Array.from({ length: p.cpusPerNode }, (_, i) => id * p.cpusPerNode + i),
      memoryBytes: p.gibPerNode * GiB,
      hugepages: [{ pageSizeBytes: MiB2, total: p.pagesPerNode }],
    }));
    return hostSnapshot({
      hostId: 'h',
      cpus: p.nodes * p.cpusPerNode,
      memoryBytes: p.nodes * p.gibPerNode * GiB,
      cpuOvercommit: p.cpuOvercommit,
      memoryOvercommit: p.memoryOvercommit,
      numaNodes,
      pciDevices: Array.from({ length: p.gpus }, (_, i) => ({ type: 'gpu', address: `0000:0${i}:00.0`, numaNode: i % p.nodes })),
      sriovNics: [{ name: 'eth0', numaNode: 0, vfsTotal: p.vfs, networks: [] }],
      storagePools: [
        {
          name: 'p',
          type: 'dir',
          path: '/p',
          totalBytes: p.poolGiB * GiB,
          externalUsedBytes: Math.min(p.externalGiB, p.poolGiB) * GiB,
          isDefault: true,
        },
      ],
    });
  });

const arbVm: fc.Arbitrary<Omit<VmSpec, 'vmId'>> = fc
  .record({
    vcpus: fc.integer({ min: 1, max: 6 }),
    memMiB: fc.integer({ min: 256, max: 8192 }),
    dedicated: fc.boolean(),
    hugepages: fc.boolean(),
    gpus: fc.integer({ min: 0, max: 2 }),
    vfs: fc.integer({ min: 0, max: 2 }),
    diskGiB: fc.integer({ min: 0, max: 20 }),
    pinNode: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  })
  .map((v) => {
    const memoryBytes = v.memMiB * 1024 ** 2;
    const base = vmSpec({
      vmId: 'x',
      vcpus: v.vcpus,
      memoryBytes,
      cpuPolicy: v.dedicated ? 'dedicated' : 'shared',
      devices: v.gpus > 0 ? [{ type: 'gpu', count: v.gpus }] : [],
      nics: Array.from({ length: v.vfs }, () => ({ sriov: true })),
      disks: v.diskGiB > 0 ? [{ sizeBytes: v.diskGiB * GiB }] : [],
      numaNodes: v.pinNode === undefined ? [] : [{ vcpus: v.vcpus, memoryBytes, pinnedHostNode: v.pinNode }],
      ...(v.hugepages ? { hugepageSizeBytes: MiB2 } : {}),
    });
    const { vmId: _, ...rest } = base;
    return rest;
  });

function placeAll(host: HostSnapshot, vms: readonly Omit<VmSpec, 'vmId'>[]): HostSnapshot {
  let h = host;
  vms.forEach((vm, i) => {
    const r = fits(h, { ...vm, vmId: `vm-${i}` });
    if (r.ok) h = applyClaim(h, r.claim);
  });
  return h;
}

describe('claims (properties)', () => {
  it('never over capacity after any sequence of fitting claims', () => {
    fc.assert(
      fc.property(arbHost, fc.array(arbVm, { maxLength: 12 }), (host, vms) => {
        const h = placeAll(host, vms);
        const cap = h.capacity;
        const u = usage(h);
        expect(u.vcpus).toBeLessThanOrEqual(allocatableVcpus(cap.cpus, cap.cpuOvercommit));
        expect(u.memoryBytes).toBeLessThanOrEqual(ordinaryMemoryCapacity(cap));
        const pinned = h.claims.flatMap((c) => c.pinnedCpus);
        expect(new Set(pinned).size).toBe(pinned.length);
        for (const node of cap.numaNodes) {
          const nu = u.numa.get(node.id)!;
          expect(nu.memoryBytes).toBeLessThanOrEqual(ordinaryNodeMemoryCapacity(cap, node));
          expect(nu.hugepages.get(MiB2) ?? 0).toBeLessThanOrEqual(node.hugepages[0]!.total);
          expect(nu.pinnedCpus.every((c) => node.cpus.includes(c))).toBe(true);
        }
        const addrs = h.claims.flatMap((c) => c.devices.map((d) => d.address));
        expect(new Set(addrs).size).toBe(addrs.length);
        expect(u.vfs.get('eth0') ?? 0).toBeLessThanOrEqual(cap.sriovNics[0]!.vfsTotal);
        const pool = cap.storagePools[0]!;
        expect(u.pools.get('p') ?? 0).toBeLessThanOrEqual(pool.totalBytes - pool.externalUsedBytes);
        // Each claim is one inventory would still accept against the host without it.
        for (const c of h.claims) expect(claimFits(releaseClaim(h, c.vmId), c)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('release returns exactly what was taken', () => {
    fc.assert(
      fc.property(arbHost, fc.array(arbVm, { maxLength: 8 }), arbVm, (host, before, extra) => {
        const h = placeAll(host, before);
        const r = fits(h, { ...extra, vmId: 'extra' });
        fc.pre(r.ok);
        if (!r.ok) return;
        const released = releaseClaim(applyClaim(h, r.claim), 'extra');
        expect(usage(released)).toEqual(usage(h));
        expect(released.claims).toEqual(h.claims);
        expect(fits(released, { ...extra, vmId: 'extra' })).toEqual(r);
      }),
      { numRuns: 150 },
    );
  });

  it('taking claims out of a usage one by one, in any order, leaves the usage of the claims still held', () => {
    fc.assert(
      fc.property(
        arbHost,
        fc.boolean(),
        fc.array(arbVm, { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (numaHost, listNodes, vms, picks) => {
          // Also hosts without NUMA information, whose one implicit node a usage holds only while a claim names it.
          const host = listNodes ? numaHost : { ...numaHost, capacity: { ...numaHost.capacity, numaNodes: [] } };
          let h = placeAll(host, vms);
          const u = usage(h);
          for (const pick of [...picks, ...h.claims.map(() => 0)]) {
            if (h.claims.length === 0) break;
            const claim = h.claims[pick % h.claims.length]!;
            removeClaimFromUsage(u, h.capacity, claim);
            h = releaseClaim(h, claim.vmId);
            expect(u).toEqual(usage(h));
          }
          expect(u).toEqual(usage(host));
        },
      ),
      { numRuns: 200 },
    );
  });
});
