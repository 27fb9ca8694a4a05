import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Claim } from '@berth/fit';
import { overbooking } from '../../application/audit.ts';
import type { HostCommand } from './commands.ts';
import { decideHost } from './decide.ts';
import { GiB, hostSpec, profiles } from '../../testing/host-specs.ts';
import { evolveHost, hostSnapshotOf, initialHost, type Host } from './state.ts';

const devices = ['0000:01:00.0', '0000:02:00.0', '0000:03:00.0'];

const claimArb = fc.record({
  vm: fc.integer({ min: 0, max: 11 }),
  vcpus: fc.integer({ min: 1, max: 6 }),
  memoryGiB: fc.integer({ min: 1, max: 12 }),
  device: fc.option(fc.constantFrom(...devices), { nil: undefined }),
  vfs: fc.integer({ min: 0, max: 3 }),
  diskGiB: fc.integer({ min: 0, max: 30 }),
  stale: fc.boolean(),
});
const opArb = fc.oneof(
  claimArb.map((c) => ({ kind: 'claim' as const, ...c })),
  fc.integer({ min: 0, max: 11 }).map((vm) => ({ kind: 'release' as const, vm })),
);

describe('host claims (property)', () => {
  it('whatever claims and releases arrive, in whatever order and staleness, the host is never overbooked', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 40 }),
        fc.oneof(fc.constantFrom(0.5, 1, 2, 5.5, 10), fc.double({ min: 0, max: 10, noNaN: true })),
        (ops, ratio) => {
          let host: Host = decideHost(
            {
              type: 'RegisterHost',
              hostId: 'h',
              initialState: 'enabled',
              profiles,
              spec: hostSpec({
                cpus: 8,
                memoryBytes: 32 * GiB,
                cpuOvercommit: ratio,
                memoryOvercommit: ratio,
                pciDevices: devices.map((address) => ({ type: 'gpu', address })),
                sriovNics: [{ name: 'eth0', numaNode: 0, vfsTotal: 4, networks: [] }],
                storagePools: [{ name: 'p', type: 'dir', path: '/p', totalBytes: 100 * GiB, externalUsedBytes: 10 * GiB, isDefault: true }],
              }),
            },
            initialHost(),
          ).reduce(evolveHost, initialHost());
          for (const op of ops) {
            const vmId = `vm${op.vm}`;
            let command: HostCommand;
            if (op.kind === 'release') command = { type: 'ReleaseClaim', vmId, reason: 'test' };
            else {
              const claim: Claim = {
                vmId,
                hostId: 'h',
                vcpus: op.vcpus,
                memoryBytes: op.memoryGiB * GiB,
                pinnedCpus: [],
                numaCells: [],
                hugepages: [],
                devices: op.device ? [{ type: 'gpu', address: op.device }] : [],
                vfs: op.vfs > 0 ? [{ nic: 'eth0', count: op.vfs }] : [],
                volumes: op.diskGiB > 0 ? [{ diskIndex: 0, pool: 'p', sizeBytes: op.diskGiB * GiB }] : [],
                affinityGroups: [],
              };
              command = { type: 'ClaimResources', claim, expectedGeneration: op.stale ? host.generation - 1 : host.generation };
            }
            try {
              const events = decideHost(command, host);
              if (command.type === 'ClaimResources') accepted++;
              host = events.reduce(evolveHost, host);
            } catch {
              refused++; // nothing changes
            }
            if (host.status !== 'active') throw new Error('host vanished');
            expect(overbooking(hostSnapshotOf(host))).toEqual([]);
          }
        },
      ),
      { numRuns: 300 },
    );
    // Both outcomes must actually occur, or the property says nothing.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(100);
  });
});
