import { describe, expect, it } from 'vitest';
import { hostSnapshot, vmSpec } from './builders.ts';
import { applyClaim, claimFits, claimMatchesVm } from './claims.ts';
import { guestCellVcpus } from './numa.ts';
import { fits } from './fits.ts';
import type { FitResult } from './failures.ts';
import type { Claim, HostCapacity, HostSnapshot } from './model.ts';

const GiB = 1024 ** 3;
const MiB2 = 2 * 1024 ** 2;

function claimOf(r: FitResult): Claim {
  if (!r.ok) throw new Error(`expected a fit, got ${r.reasons.map((x) => x.detail).join('; ')}`);
  return r.claim;
}
function filtersOf(r: FitResult): string[] {
  return r.ok ? [] : r.reasons.map((x) => x.filter);
}

/** Two NUMA nodes of 4 CPUs and 16 GiB, each with 2 GiB of 2 MiB hugepages. */
const numaHost = (over: Partial<HostCapacity> = {}): HostSnapshot =>
  hostSnapshot({
    hostId: 'n1',
    cpus: 8,
    memoryBytes: 32 * GiB,
    cpuOvercommit: 4,
    memoryOvercommit: 2,
    numaNodes: [
      { id: 0, cpus: [0, 1, 2, 3], memoryBytes: 16 * GiB, hugepages: [{ pageSizeBytes: MiB2, total: 1024 }] },
      { id: 1, cpus: [4, 5, 6, 7], memoryBytes: 16 * GiB, hugepages: [{ pageSizeBytes: MiB2, total: 1024 }] },
    ],
    ...over,
  });

describe('hugepages are never overcommitted', () => {
  it('takes pages from the pools, not from ordinary memory', () => {
    const claim = claimOf(fits(numaHost(), vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 2 * GiB, hugepageSizeBytes: MiB2 })));
    expect(claim.hugepages).toEqual([{ numaNode: 0, pageSizeBytes: MiB2, count: 1024 }]);
  });
  it('refuses more hugepage memory than the pools hold even with memory overcommit x2', () => {
    const r = fits(numaHost(), vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 5 * GiB, hugepageSizeBytes: MiB2 }));
    expect(filtersOf(r)).toEqual(['hugepages']);
    if (!r.ok) expect(r.reasons[0]).toMatchObject({ needed: 5 * GiB, available: 4 * GiB });
  });
  it('a cell larger than any one node pool fails NUMA fit', () => {
    const r = fits(numaHost(), vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 3 * GiB, hugepageSizeBytes: MiB2 }));
    expect(filtersOf(r)).toEqual(['numa']);
  });
  it('ordinary memory capacity excludes the hugepage reservation (28 GiB x 2)', () => {
    expect(fits(numaHost(), vmSpec({ vmId: 'v', memoryBytes: 56 * GiB })).ok).toBe(true);
    expect(filtersOf(fits(numaHost(), vmSpec({ vmId: 'v', memoryBytes: 56 * GiB + 1 })))).toEqual(['memory']);
  });
});

describe('dedicated CPUs and NUMA', () => {
  it('pins the lowest free CPUs of the first node with room', () => {
    let host = numaHost();
    const a = claimOf(fits(host, vmSpec({ vmId: 'a', vcpus: 3, cpuPolicy: 'dedicated' })));
    expect(a.pinnedCpus).toEqual([0, 1, 2]);
    host = applyClaim(host, a);
    const b = claimOf(fits(host, vmSpec({ vmId: 'b', vcpus: 2, cpuPolicy: 'dedicated' })));
    expect(b.pinnedCpus).toEqual([4, 5]);
    expect(b.numaCells).toEqual([{ guestCell: 0, hostNode: 1, cpus: [4, 5], memoryBytes: GiB, vcpus: 2 }]);
  });
  it('pinned CPUs are never overcommitted although shared vCPUs are (x4)', () => {
    const r = fits(numaHost(), vmSpec({ vmId: 'v', vcpus: 9, cpuPolicy: 'dedicated' }));
    expect(filtersOf(r)).toEqual(['dedicated-cpus']);
    expect(fits(numaHost(), vmSpec({ vmId: 'v', vcpus: 9 })).ok).toBe(true);
  });
  it('pinned CPUs count against vCPU capacity', () => {
    let host = numaHost({ cpuOvercommit: 1 });
    host = applyClaim(host, claimOf(fits(host, vmSpec({ vmId: 'a', vcpus: 4, cpuPolicy: 'dedicated' }))));
    expect(filtersOf(fits(host, vmSpec({ vmId: 'b', vcpus: 5 })))).toEqual(['vcpus']);
  });
  it('honours an explicit pinnedHostNode', () => {
    const claim = claimOf(
      fits(
        numaHost(),
        vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 2 * GiB, numaNodes: [{ vcpus: 2, memoryBytes: 2 * GiB, pinnedHostNode: 1 }] }),
      ),
    );
    expect(claim.numaCells[0]?.hostNode).toBe(1);
  });
  it('places several guest cells and refuses a cell no node can hold', () => {
    const two = claimOf(
      fits(
        numaHost(),
        vmSpec({
          vmId: 'v',
          vcpus: 8,
          cpuPolicy: 'dedicated',
          memoryBytes: 8 * GiB,
          numaNodes: [
            { vcpus: 4, memoryBytes: 4 * GiB },
            { vcpus: 4, memoryBytes: 4 * GiB },
          ],
        }),
      ),
    );
    expect(two.numaCells.map((c) => c.hostNode)).toEqual([0, 1]);
    const r = fits(numaHost(), vmSpec({ vmId: 'w', vcpus: 5, cpuPolicy: 'dedicated' }));
    expect(filtersOf(r)).toEqual(['numa']);
    if (!r.ok) expect(r.reasons[0]).toMatchObject({ needed: 5, available: 4, unit: 'cpus' });
  });
});

describe('hosts without NUMA information', () => {
  it('are one node: dedicated VMs pin CPUs 0.., hugepage VMs find no pool', () => {
    const h = hostSnapshot({ hostId: 'flat', cpus: 4 });
    expect(claimOf(fits(h, vmSpec({ vmId: 'v', vcpus: 2, cpuPolicy: 'dedicated' }))).pinnedCpus).toEqual([0, 1]);
    expect(filtersOf(fits(h, vmSpec({ vmId: 'v', hugepageSizeBytes: MiB2 })))).toEqual(['hugepages']);
  });
});

describe('devices, VFs, storage', () => {
  const host = numaHost({
    pciDevices: [
      { type: 'nvidia-gpu', address: '0000:01:02.0', numaNode: 0 },
      { type: 'nvidia-gpu', address: '0000:02:03.0', numaNode: 1 },
    ],
    sriovNics: [
      { name: 'eth0', numaNode: 0, vfsTotal: 1, networks: [{ space: 'prod' }] },
      { name: 'eth1', numaNode: 1, vfsTotal: 4, networks: [{ space: 'prod' }, { space: 'storage' }] },
    ],
    storagePools: [
      { name: 'fast', type: 'lvm', path: '/x', totalBytes: 100 * GiB, externalUsedBytes: 90 * GiB, isDefault: false },
      { name: 'bulk', type: 'dir', path: '/y', totalBytes: 1000 * GiB, externalUsedBytes: 0, isDefault: true },
    ],
    networks: [{ space: 'prod', vlan: 10 }],
  });
  it('prefers devices and VFs on the NUMA node of the cells', () => {
    const claim = claimOf(
      fits(
        host,
        vmSpec({
          vmId: 'v',
          vcpus: 2,
          cpuPolicy: 'dedicated',
          numaNodes: [{ vcpus: 2, memoryBytes: GiB, pinnedHostNode: 1 }],
          devices: [{ type: 'nvidia-gpu', count: 1 }],
          nics: [{ sriov: true, network: { space: 'prod' } }],
        }),
      ),
    );
    expect(claim.devices.map((d) => d.address)).toEqual(['0000:02:03.0']);
    expect(claim.vfs).toEqual([{ nic: 'eth1', count: 1 }]);
  });
  it('reports missing devices by type with counts', () => {
    const r = fits(host, vmSpec({ vmId: 'v', devices: [{ type: 'nvidia-gpu', count: 3 }] }));
    expect(r.ok ? [] : r.reasons).toMatchObject([{ filter: 'devices', subject: 'nvidia-gpu', needed: 3, available: 2 }]);
  });
  it('VFs are never overcommitted and follow the network', () => {
    const nics = Array.from({ length: 6 }, () => ({ sriov: true, network: { space: 'prod' } }));
    expect(filtersOf(fits(host, vmSpec({ vmId: 'v', nics })))).toEqual(['sriov']);
    expect(claimOf(fits(host, vmSpec({ vmId: 'v', nics: nics.slice(0, 4) }))).vfs).toEqual([
      { nic: 'eth0', count: 1 },
      { nic: 'eth1', count: 3 },
    ]);
    expect(filtersOf(fits(host, vmSpec({ vmId: 'v', nics: [{ sriov: true, network: { space: 'dmz' } }] })))).toEqual(['sriov']);
  });
  it('storage honours total - external used - claimed, default pool when none named', () => {
    const claim = claimOf(fits(host, vmSpec({ vmId: 'v', disks: [{ sizeBytes: 10 * GiB, pool: 'fast' }, { sizeBytes: 20 * GiB }] })));
    expect(claim.volumes).toEqual([
      { diskIndex: 0, pool: 'fast', sizeBytes: 10 * GiB },
      { diskIndex: 1, pool: 'bulk', sizeBytes: 20 * GiB },
    ]);
    const after = applyClaim(host, claim);
    expect(filtersOf(fits(after, vmSpec({ vmId: 'w', disks: [{ sizeBytes: 1, pool: 'fast' }] })))).toEqual(['storage']);
    expect(filtersOf(fits(host, vmSpec({ vmId: 'w', disks: [{ sizeBytes: 1, pool: 'nope' }] })))).toEqual(['storage']);
  });
  it('an IP address needs a host network whose subnet holds it', () => {
    const h = hostSnapshot({ hostId: 'h', networks: [{ space: 'prod', subnet: '10.1.0.0/16' }] });
    expect(fits(h, vmSpec({ vmId: 'v', nics: [{ sriov: false, network: { ip: '10.1.200.7' } }] })).ok).toBe(true);
    expect(filtersOf(fits(h, vmSpec({ vmId: 'v', nics: [{ sriov: false, network: { ip: '10.2.0.1' } }] })))).toEqual(['network']);
    expect(filtersOf(fits(h, vmSpec({ vmId: 'v', nics: [{ sriov: false, network: { ip: 'not-an-ip' } }] })))).toEqual(['network']);
  });
  it('bridged NICs need a reachable network', () => {
    expect(fits(host, vmSpec({ vmId: 'v', nics: [{ sriov: false, network: { space: 'prod', vlan: 10 } }] })).ok).toBe(true);
    expect(filtersOf(fits(host, vmSpec({ vmId: 'v', nics: [{ sriov: false, network: { vlan: 11 } }] })))).toEqual(['network']);
  });
});

describe('host filters', () => {
  it('only enabled hosts receive VMs', () => {
    for (const state of ['no-scheduling', 'disabled', 'maintenance-preparing', 'maintenance'] as const) {
      expect(filtersOf(fits(hostSnapshot({ hostId: 'h', state }), vmSpec({ vmId: 'v' })))).toEqual(['state']);
    }
  });
  it('allowed hosts, resource pool and pass-through CPU model', () => {
    const h = hostSnapshot({ hostId: 'h', resourcePool: 'gpu', cpuModel: 'EPYC' });
    expect(
      filtersOf(fits(h, vmSpec({ vmId: 'v', allowedHosts: ['x'], resourcePool: 'cpu', passthroughCpu: true, cpuModel: 'Skylake' }))),
    ).toEqual(['allowed-hosts', 'resource-pool', 'cpu-model']);
    expect(fits(h, vmSpec({ vmId: 'v', allowedHosts: ['h'], resourcePool: 'gpu', passthroughCpu: true, cpuModel: 'epyc' })).ok).toBe(true);
  });
  it('hard anti-affinity keeps group members apart; host affinity restricts hosts', () => {
    const anti = { group: 'db', polarity: 'anti-affinity', target: 'vm', enforcement: 'hard', hosts: [] } as const;
    let h = hostSnapshot({ hostId: 'h' });
    const first = claimOf(fits(h, vmSpec({ vmId: 'a', affinity: [anti] })));
    expect(first.affinityGroups).toEqual(['db']);
    h = applyClaim(h, first);
    expect(filtersOf(fits(h, vmSpec({ vmId: 'b', affinity: [anti] })))).toEqual(['affinity']);
    expect(fits(h, vmSpec({ vmId: 'b', affinity: [{ ...anti, enforcement: 'soft' }] })).ok).toBe(true);
    const onlyX = { group: 'x', polarity: 'affinity', target: 'host', enforcement: 'hard', hosts: ['x'] } as const;
    expect(filtersOf(fits(h, vmSpec({ vmId: 'c', affinity: [onlyX] })))).toEqual(['affinity']);
  });
});

describe('the claim of a plain VM', () => {
  it('holds its vCPUs and memory, empty lists of its own for the rest, and its VM affinity groups once each, sorted', () => {
    const h = hostSnapshot({ hostId: 'h' });
    const a = claimOf(fits(h, vmSpec({ vmId: 'a', vcpus: 2, memoryBytes: GiB })));
    expect(a).toEqual({
      vmId: 'a',
      hostId: 'h',
      vcpus: 2,
      memoryBytes: GiB,
      pinnedCpus: [],
      numaCells: [],
      hugepages: [],
      devices: [],
      vfs: [],
      volumes: [],
      affinityGroups: [],
    });
    const b = claimOf(fits(h, vmSpec({ vmId: 'b' })));
    for (const k of ['pinnedCpus', 'numaCells', 'hugepages', 'devices', 'vfs', 'volumes', 'affinityGroups'] as const)
      expect(b[k]).not.toBe(a[k]);
    const soft = (group: string, target: 'vm' | 'host') =>
      ({ group, polarity: 'affinity', target, enforcement: 'soft', hosts: [] }) as const;
    expect(
      claimOf(fits(h, vmSpec({ vmId: 'c', affinity: [soft('web', 'vm'), soft('db', 'vm'), soft('web', 'vm'), soft('rack', 'host')] })))
        .affinityGroups,
    ).toEqual(['db', 'web']);
  });
});

describe('claimFits re-checks an exact claim', () => {
  it('accepts a fresh claim and refuses the same resources twice', () => {
    const host = numaHost({ pciDevices: [{ type: 'gpu', address: '0000:01:00.0', numaNode: 0 }] });
    const a = claimOf(fits(host, vmSpec({ vmId: 'a', vcpus: 2, cpuPolicy: 'dedicated', devices: [{ type: 'gpu', count: 1 }] })));
    expect(claimFits(host, a)).toEqual([]);
    const after = applyClaim(host, a);
    const b = { ...a, vmId: 'b' };
    expect(claimFits(after, b).map((f) => f.filter)).toEqual(['dedicated-cpus', 'dedicated-cpus', 'devices']);
    expect(
      claimFits(
        { ...after, capacity: { ...after.capacity, state: 'maintenance' } },
        { ...a, vmId: 'c', pinnedCpus: [], numaCells: [], devices: [] },
      ).map((f) => f.filter),
    ).toEqual(['state']);
  });
});

describe('guest NUMA cells (issue 11)', () => {
  const MiB = 1024 ** 2;
  it('a claimed cell carries its guest vCPUs: [1 vCPU / 256 MiB, 2 vCPUs / 512 MiB] -> 1 and 2', () => {
    const claim = claimOf(
      fits(
        numaHost(),
        vmSpec({
          vmId: 'v',
          vcpus: 3,
          memoryBytes: 768 * MiB,
          numaNodes: [
            { vcpus: 1, memoryBytes: 256 * MiB },
            { vcpus: 2, memoryBytes: 512 * MiB },
          ],
        }),
      ),
    );
    expect(claim.numaCells.map((c) => c.vcpus)).toEqual([1, 2]);
    expect(guestCellVcpus(claim)).toEqual([1, 2]);
  });
  it('claims recorded without cell vCPUs split them so every vCPU is in exactly one cell', () => {
    const cell = (guestCell: number) => ({ guestCell, hostNode: 0, cpus: [], memoryBytes: GiB });
    expect(guestCellVcpus({ vcpus: 4, numaCells: [cell(0), cell(1), cell(2)] })).toEqual([2, 1, 1]);
    expect(
      guestCellVcpus({
        vcpus: 3,
        numaCells: [
          { ...cell(0), cpus: [4] },
          { ...cell(1), cpus: [5, 6] },
        ],
      }),
    ).toEqual([1, 2]);
  });
  it('a pinned VM maps each guest cell to a distinct host node, even when one node could hold both', () => {
    const claim = claimOf(
      fits(
        numaHost(),
        vmSpec({
          vmId: 'v',
          vcpus: 2,
          cpuPolicy: 'dedicated',
          memoryBytes: 2 * GiB,
          numaNodes: [
            { vcpus: 1, memoryBytes: GiB },
            { vcpus: 1, memoryBytes: GiB },
          ],
        }),
      ),
    );
    expect(claim.numaCells.map((c) => c.hostNode)).toEqual([0, 1]);
    expect(claim.pinnedCpus).toEqual([0, 4]);
  });
  it('moves an earlier cell when a later one can only go where it sits (matching, not greedy)', () => {
    // Node 0 has 3 GiB free, node 1 only 1 GiB: the 2 GiB cell must take node 0 although it comes second.
    const host = numaHost({
      memoryOvercommit: 1,
      numaNodes: [
        { id: 0, cpus: [0, 1, 2, 3], memoryBytes: 3 * GiB, hugepages: [] },
        { id: 1, cpus: [4, 5, 6, 7], memoryBytes: GiB, hugepages: [] },
      ],
    });
    const claim = claimOf(
      fits(
        host,
        vmSpec({
          vmId: 'v',
          vcpus: 2,
          cpuPolicy: 'dedicated',
          memoryBytes: 3 * GiB,
          numaNodes: [
            { vcpus: 1, memoryBytes: GiB },
            { vcpus: 1, memoryBytes: 2 * GiB },
          ],
        }),
      ),
    );
    expect(claim.numaCells.map((c) => c.hostNode)).toEqual([1, 0]);
  });
  it('a pinned VM with more guest cells than the host has nodes does not fit there; a shared one does', () => {
    const oneNode = numaHost({ numaNodes: [{ id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7], memoryBytes: 32 * GiB, hugepages: [] }] });
    const cells = [
      { vcpus: 1, memoryBytes: GiB },
      { vcpus: 1, memoryBytes: GiB },
    ];
    const r = fits(oneNode, vmSpec({ vmId: 'v', vcpus: 2, cpuPolicy: 'dedicated', memoryBytes: 2 * GiB, numaNodes: cells }));
    expect(filtersOf(r)).toEqual(['numa']);
    if (!r.ok) expect(r.reasons[0]).toMatchObject({ needed: 2, available: 1, unit: 'nodes', subject: 'distinct nodes' });
    expect(fits(oneNode, vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 2 * GiB, numaNodes: cells })).ok).toBe(true);
  });
  it('inventory re-check: a pinned claim whose cells share a host node is refused, and does not match the VM', () => {
    const vm = vmSpec({
      vmId: 'v',
      vcpus: 2,
      cpuPolicy: 'dedicated',
      memoryBytes: 2 * GiB,
      numaNodes: [
        { vcpus: 1, memoryBytes: GiB },
        { vcpus: 1, memoryBytes: GiB },
      ],
    });
    const good = claimOf(fits(numaHost(), vm));
    expect(claimFits(numaHost(), good)).toEqual([]);
    expect(claimMatchesVm(vm, good)).toEqual([]);
    const bad: Claim = { ...good, pinnedCpus: [0, 1], numaCells: good.numaCells.map((c, i) => ({ ...c, hostNode: 0, cpus: [i] })) };
    expect(claimFits(numaHost(), bad).map((f) => f.filter)).toEqual(['numa']);
    expect(claimMatchesVm(vm, bad).map((f) => f.filter)).toEqual(['numa']);
    expect(claimMatchesVm(vm, { ...good, numaCells: [good.numaCells[0]!] }).map((f) => f.filter)).toEqual(['numa']);
  });
});
