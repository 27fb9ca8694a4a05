import { ConcurrencyError, IllegalStateError, ValidationError } from '@berth/errors';
import { fits, vmSpec, type Claim, type VmSpec } from '@berth/fit';
import { describe, expect, it } from 'vitest';
import { specFor } from '../shared/given.ts';
import type { HostCommand, HostSpecInput } from './commands.ts';
import { decideHost } from './decide.ts';
import type { HostEvent } from './events.ts';
import { GiB, hostSpec, profiles } from '../../testing/host-specs.ts';
import { evolveHost, foldHost, hostSnapshotOf, initialHost, type Host } from './state.ts';

const given = specFor<HostCommand, HostEvent, Host>({ decide: decideHost, evolve: evolveHost, initialState: initialHost });

const register = (spec: HostSpecInput, hostId = 'h1'): HostEvent[] =>
  decideHost({ type: 'RegisterHost', hostId, spec, initialState: 'enabled', profiles }, initialHost());

function violationsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.violations.map((v) => v.field);
    throw e;
  }
  throw new Error('expected a ValidationError');
}

/** Places VMs one after the other through the claim path: fit -> ClaimResources -> fold. */
function placeAll(history: HostEvent[], vms: VmSpec[]): { placed: string[]; refused: string[]; history: HostEvent[] } {
  const placed: string[] = [];
  const refused: string[] = [];
  for (const vm of vms) {
    const host = foldHost(history);
    if (host.status !== 'active') throw new Error('host not active');
    const fit = fits(hostSnapshotOf(host), vm);
    if (!fit.ok) {
      refused.push(vm.vmId);
      continue;
    }
    history = [...history, ...decideHost({ type: 'ClaimResources', claim: fit.claim, expectedGeneration: host.generation }, host)];
    placed.push(vm.vmId);
  }
  return { placed, refused, history };
}

const vms = (n: number, over: Partial<VmSpec>): VmSpec[] => Array.from({ length: n }, (_, i) => vmSpec({ vmId: `vm${i}`, ...over }));

describe('host registration', () => {
  it('records the effective host: defaults, first pool as default, profile devices, short PCI form normalised', () => {
    const [e] = register(
      hostSpec({
        profileId: 'nvidia-gpu-node',
        cpus: undefined,
        memoryBytes: undefined,
        pciDevices: [{ type: 'nic', address: '03:00.1' }],
        storagePools: [
          { name: 'pool-a', type: 'dir', path: '/a', totalBytes: 100 * GiB, externalUsedBytes: 0, isDefault: false },
          { name: 'pool-b', type: 'dir', path: '/b', totalBytes: 50 * GiB, externalUsedBytes: 0, isDefault: false },
        ],
      }),
    );
    expect(e?.type).toBe('HostRegistered');
    const cap = e?.type === 'HostRegistered' ? e.data.capacity : undefined;
    expect(cap?.cpus).toBe(8);
    expect(cap?.memoryBytes).toBe(32 * GiB);
    expect(cap?.cpuOvercommit).toBe(1);
    expect(cap?.memoryOvercommit).toBe(1);
    expect(cap?.pciDevices.map((d) => d.address)).toEqual(['0000:01:02.0', '0000:02:03.0', '0000:03:00.1']);
    expect(cap?.storagePools.map((p) => p.isDefault)).toEqual([true, false]);
  });

  it('names every invalid field at once', () => {
    const fields = violationsOf(() =>
      register(
        hostSpec({
          hypervisorUri: 'qemu+ssh://user@/system',
          profileId: 'no-such-profile',
          cpuOvercommit: 10.5,
          memoryOvercommit: -1,
          pciDevices: [{ type: 'gpu', address: '1:2:3' }],
          storagePools: [{ name: 'p', type: 'dir', path: '/p', totalBytes: -5, externalUsedBytes: 0, isDefault: true }],
        }),
      ),
    );
    expect(fields).toEqual(
      expect.arrayContaining([
        'spec.hypervisorUri',
        'spec.profileId',
        'spec.cpuOvercommit',
        'spec.memoryOvercommit',
        'spec.pciDevices[0].address',
        'spec.storagePools[0].totalBytes',
      ]),
    );
  });

  it('accepts overcommit at both ends of 0..10', () => {
    expect(register(hostSpec({ cpuOvercommit: 0, memoryOvercommit: 10 }))).toHaveLength(1);
  });

  it('refuses two default pools and hugepages larger than the node', () => {
    const pool = { type: 'dir', path: '/p', totalBytes: GiB, externalUsedBytes: 0, isDefault: true };
    const fields = violationsOf(() =>
      register(
        hostSpec({
          storagePools: [
            { name: 'a', ...pool },
            { name: 'b', ...pool },
          ],
          numaNodes: [{ id: 0, cpus: [0, 1], memoryBytes: 2 * GiB, hugepages: [{ pageSizeBytes: GiB, total: 3 }] }],
        }),
      ),
    );
    expect(fields).toEqual(expect.arrayContaining(['spec.storagePools', 'spec.numaNodes[0].hugepages']));
  });

  it('refuses registering the same host twice', () => {
    expect(() =>
      given(...register(hostSpec()))
        .when({ type: 'RegisterHost', hostId: 'h1', spec: hostSpec(), initialState: 'enabled', profiles })
        .run(),
    ).toThrow(IllegalStateError);
  });
});

describe('MAAS overcommit through the claim path', () => {
  it('8 physical cores x 1 = 8 vCPUs', () => {
    const r = placeAll(register(hostSpec({ cpus: 8, cpuOvercommit: 1 })), vms(9, { vcpus: 1, memoryBytes: GiB }));
    expect(r.placed).toHaveLength(8);
    expect(r.refused).toEqual(['vm8']);
  });

  it('8 physical cores x 0.5 = 4 vCPUs', () => {
    const r = placeAll(register(hostSpec({ cpus: 8, cpuOvercommit: 0.5 })), vms(5, { vcpus: 1, memoryBytes: GiB }));
    expect(r.placed).toEqual(['vm0', 'vm1', 'vm2', 'vm3']);
    expect(r.refused).toEqual(['vm4']);
  });

  it('32 physical cores x 10 = 320 vCPUs', () => {
    const r = placeAll(
      register(hostSpec({ cpus: 32, cpuOvercommit: 10, memoryBytes: 512 * GiB })),
      vms(11, { vcpus: 32, memoryBytes: GiB }),
    );
    expect(r.placed).toHaveLength(10);
    expect(r.refused).toEqual(['vm10']);
  });

  it('128 GiB x 5.5 = 704 GiB', () => {
    const r = placeAll(
      register(hostSpec({ cpus: 64, memoryBytes: 128 * GiB, memoryOvercommit: 5.5 })),
      vms(12, { vcpus: 1, memoryBytes: 64 * GiB }),
    );
    expect(r.placed).toHaveLength(11);
    const more = placeAll(r.history, [vmSpec({ vmId: 'one-byte', memoryBytes: 1 })]);
    expect(more.refused).toEqual(['one-byte']);
  });

  it('four VMs of 2 cores and 4 GB on a 4-core 12 GB host fit only when overcommitted', () => {
    const four = vms(4, { vcpus: 2, memoryBytes: 4 * GiB });
    const plain = placeAll(register(hostSpec({ cpus: 4, memoryBytes: 12 * GiB })), four);
    expect(plain.placed).toEqual(['vm0', 'vm1']);
    const over = placeAll(register(hostSpec({ cpus: 4, memoryBytes: 12 * GiB, cpuOvercommit: 2, memoryOvercommit: 1.5 })), [
      ...four,
      vmSpec({ vmId: 'fifth', vcpus: 2, memoryBytes: 4 * GiB }),
    ]);
    expect(over.placed).toEqual(['vm0', 'vm1', 'vm2', 'vm3']);
    expect(over.refused).toEqual(['fifth']);
  });

  it('hugepages are never overcommitted, whatever the memory ratio', () => {
    const host = register(
      hostSpec({
        cpus: 8,
        memoryBytes: 16 * GiB,
        memoryOvercommit: 10,
        numaNodes: [{ id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7], memoryBytes: 16 * GiB, hugepages: [{ pageSizeBytes: GiB, total: 4 }] }],
      }),
    );
    const r = placeAll(host, vms(2, { vcpus: 1, memoryBytes: 4 * GiB, hugepageSizeBytes: GiB }));
    expect(r.placed).toEqual(['vm0']);
    expect(r.refused).toEqual(['vm1']);
  });
});

describe('claims', () => {
  const history = register(hostSpec({ cpus: 2 }));
  const claim = (vmId: string, vcpus: number): Claim => {
    const f = fits(hostSnapshotOf(foldHost(history) as never), vmSpec({ vmId, vcpus }));
    if (!f.ok) throw new Error('does not fit');
    return f.claim;
  };

  it('a claim based on an older generation that no longer fits is a conflict', () => {
    const first = decideHost({ type: 'ClaimResources', claim: claim('a', 2), expectedGeneration: 1 }, foldHost(history));
    expect(() =>
      given(...history, ...first)
        .when({ type: 'ClaimResources', claim: claim('b', 1), expectedGeneration: 1 })
        .run(),
    ).toThrow(ConcurrencyError);
  });

  it('a claim based on an older generation is re-checked and taken when all it names is still free', () => {
    const first = decideHost({ type: 'ClaimResources', claim: claim('a', 1), expectedGeneration: 1 }, foldHost(history));
    const b = claim('b', 1);
    given(...history, ...first)
      .when({ type: 'ClaimResources', claim: b, expectedGeneration: 1 })
      .then([{ type: 'ResourcesClaimed', data: { claim: b, expectedGeneration: 1 } }]);
  });

  it('a stale claim with affinity groups, or one from a generation not reached yet, is a conflict', () => {
    const first = decideHost({ type: 'ClaimResources', claim: claim('a', 1), expectedGeneration: 1 }, foldHost(history));
    const grouped: Claim = { ...claim('b', 1), affinityGroups: ['web'] };
    expect(() =>
      given(...history, ...first)
        .when({ type: 'ClaimResources', claim: grouped, expectedGeneration: 1 })
        .run(),
    ).toThrow(ConcurrencyError);
    expect(() =>
      given(...history)
        .when({ type: 'ClaimResources', claim: claim('b', 1), expectedGeneration: 5 })
        .run(),
    ).toThrow(ConcurrencyError);
  });

  it('a claim that no longer fits is refused even at the current generation', () => {
    const first = decideHost({ type: 'ClaimResources', claim: claim('a', 2), expectedGeneration: 1 }, foldHost(history));
    expect(() =>
      given(...history, ...first)
        .when({ type: 'ClaimResources', claim: claim('b', 1), expectedGeneration: 2 })
        .run(),
    ).toThrow(IllegalStateError);
  });

  it('releasing returns exactly what the claim took, and twice changes nothing', () => {
    const c = claim('a', 2);
    const claimed = [...history, ...decideHost({ type: 'ClaimResources', claim: c, expectedGeneration: 1 }, foldHost(history))];
    const released = given(...claimed)
      .when({ type: 'ReleaseClaim', vmId: 'a', reason: 'deleted' })
      .then([{ type: 'ClaimReleased', data: { vmId: 'a', claim: c, reason: 'deleted' } }]);
    given(...claimed, ...released)
      .when({ type: 'ReleaseClaim', vmId: 'a', reason: 'deleted' })
      .then([]);
  });

  it('maintenance waits for the last claim, then completes', () => {
    const c = claim('a', 1);
    const claimed = [...history, ...decideHost({ type: 'ClaimResources', claim: c, expectedGeneration: 1 }, foldHost(history))];
    const prep = given(...claimed)
      .when({ type: 'SetHostState', to: 'maintenance', reason: 'kernel' })
      .then([{ type: 'HostStateChanged', data: { from: 'enabled', to: 'maintenance-preparing', reason: 'kernel' } }]);
    given(...claimed, ...prep)
      .when({ type: 'ReleaseClaim', vmId: 'a', reason: 'migrated' })
      .then([
        { type: 'ClaimReleased', data: { vmId: 'a', claim: c, reason: 'migrated' } },
        { type: 'HostStateChanged', data: { from: 'maintenance-preparing', to: 'maintenance', reason: 'last claim released' } },
      ]);
    expect(() =>
      given(...claimed)
        .when({ type: 'RemoveHost', reason: 'gone' })
        .run(),
    ).toThrow(IllegalStateError);
  });

  it('an update must keep room for every claim', () => {
    const c = claim('a', 2);
    const claimed = [...history, ...decideHost({ type: 'ClaimResources', claim: c, expectedGeneration: 1 }, foldHost(history))];
    expect(() =>
      given(...claimed)
        .when({ type: 'UpdateHost', spec: hostSpec({ cpus: 1 }), profiles })
        .run(),
    ).toThrow(IllegalStateError);
    expect(
      given(...claimed)
        .when({ type: 'UpdateHost', spec: hostSpec({ cpus: 4 }), profiles })
        .run()[0]?.type,
    ).toBe('HostUpdated');
  });
});
