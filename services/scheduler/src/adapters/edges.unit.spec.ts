import { describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { schedulerV1 as pb } from '@berth/contracts';
import { vmSpec } from '@berth/fit';
import type { ConsumeContext } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { DecisionLog } from '../application/decision-log.ts';
import type { PlaceVmDeps } from '../application/place-vm.ts';
import { FakeEngine, FakeInventory, FakeSource, MapView, host } from '../application/testing/fakes.ts';
import { fromProtoVmSpec, toJson } from './grpc/translate.ts';
import { parseCostConfig } from './nats/hardware-config-watch.ts';
import { parseSnapshot } from './nats/snapshot-watch.ts';
import { vmRequestedHandler } from './nats/vm-requested.ts';
import { vmRequested } from './nats/nats-test-helpers.ts';

const GiB = 1024 ** 3;
const logger = createLogger('test', { level: 'silent' });

describe('fromProtoVmSpec', () => {
  it('maps every field to the fit model, with defaults for empty values', () => {
    const spec = fromProtoVmSpec(
      pb.VmSpec.fromPartial({
        vmId: 'v1',
        vcpus: 4,
        memoryBytes: 8 * GiB,
        disks: [{ sizeBytes: GiB, pool: '' }, { sizeBytes: 2 * GiB, pool: 'fast' }],
        devices: [{ type: 'nvidia-gpu', count: 1 }],
        nics: [{ sriov: true, network: { space: 'data', subnet: '', vlan: 0 } }, { sriov: false }],
        numaNodes: [{ vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 1 }, { vcpus: 2, memoryBytes: 4 * GiB }],
        cpuPolicy: pb.CpuPolicy.CPU_POLICY_DEDICATED,
        hugepageSizeBytes: 2 * 1024 * 1024,
        slaTier: pb.SlaTier.SLA_TIER_GOLD,
        affinity: [{ group: 'db', polarity: pb.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY, target: pb.AffinityTarget.AFFINITY_TARGET_VM, enforcement: pb.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT, hosts: [] }],
      }),
    );
    expect(spec).toMatchObject({
      vmId: 'v1',
      name: 'v1',
      disks: [{ sizeBytes: GiB }, { sizeBytes: 2 * GiB, pool: 'fast' }],
      nics: [{ sriov: true, network: { space: 'data' } }, { sriov: false }],
      numaNodes: [{ vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 1 }, { vcpus: 2, memoryBytes: 4 * GiB }],
      cpuPolicy: 'dedicated',
      hugepageSizeBytes: 2 * 1024 * 1024,
      slaTier: 'gold',
      affinity: [{ group: 'db', polarity: 'anti-affinity', target: 'vm', enforcement: 'soft' }],
    });
    expect(spec.disks[0]).not.toHaveProperty('pool');
    expect(spec).not.toHaveProperty('cpuModel');
    expect(spec).not.toHaveProperty('resourcePool');
  });

  it('names every bad field at once', () => {
    const bad = () =>
      fromProtoVmSpec(
        pb.VmSpec.fromPartial({ vcpus: 3, memoryBytes: 1.5, devices: [{ type: '', count: 0 }], numaNodes: [{ vcpus: 1, memoryBytes: 0 }] }),
      );
    expect(bad).toThrow(ValidationError);
    try {
      bad();
    } catch (e) {
      expect((e as ValidationError).violations.map((v) => v.field)).toEqual([
        'vm.memoryBytes',
        'vm.devices[0].type',
        'vm.devices[0].count',
        'vm.numaNodes',
      ]);
    }
  });

  it('writes infinite costs as strings rather than null', () => {
    expect(toJson({ total: Infinity, a: 1 })).toBe('{"total":"Infinity","a":1}');
  });
});

describe('bucket and event payloads', () => {
  it('rejects malformed snapshots and configs with the reason', () => {
    expect(parseSnapshot({ generation: 1, claims: [], capacity: { hostId: '', cpus: 1, memoryBytes: 1 } })).toBe('capacity.hostId: must be a non-empty string');
    expect(parseSnapshot({ generation: 1.5, claims: [] })).toBe('generation: must be an integer');
    expect(parseSnapshot(host('h', 2))).toMatchObject({ capacity: { hostId: 'h' } });
    expect(parseCostConfig({ costFunctions: {} })).toBe('profiles: must be an object');
    expect(parseCostConfig({ costFunctions: {}, profiles: {}, realm: {} })).toEqual({ costFunctions: {}, profiles: {} });
  });
});

describe('vmRequestedHandler', () => {
  const ctx = (deliveryCount: number): ConsumeContext => ({ working: () => undefined, deliveryCount, subject: 's', streamSequence: 1 });
  function deps(inventory: FakeInventory): PlaceVmDeps {
    const view = new MapView();
    view.upsert(host('h1', 4));
    return { engine: new FakeEngine(view), view, source: new FakeSource(new Map()), inventory, decisions: new DecisionLog(), maxAttempts: 2, alternates: 1, hostSubsetSize: 1, random: () => 0, now: () => new Date(0) };
  }

  it('acks once inventory answered, naks with jitter under contention, terms malformed events, waits for the view', async () => {
    const placed = new FakeInventory();
    const ok = vmRequestedHandler({ deps: deps(placed), maxDeliver: 3, isReady: () => true, logger, random: () => 0.5 });
    expect(await ok(vmRequested(vmSpec({ vmId: 'v1', vcpus: 2 })), ctx(1))).toEqual({ kind: 'ack' });
    expect(placed.claims).toHaveLength(1);

    const refused = new FakeInventory({ h1: Array.from({ length: 9 }, () => ({ kind: 'no-longer-fits' as const, detail: 'full' })) });
    const busy = vmRequestedHandler({ deps: deps(refused), maxDeliver: 3, isReady: () => true, logger, random: () => 0.5 });
    expect(await busy(vmRequested(vmSpec({ vmId: 'v2', vcpus: 2 })), ctx(1))).toEqual({ kind: 'nak', delayMillis: 550 });
    expect(await busy(vmRequested(vmSpec({ vmId: 'v2', vcpus: 2 })), ctx(3))).toEqual({ kind: 'ack' });
    expect(refused.failures.map((f) => f.vmId)).toEqual(['v2']);

    const bad = { ...vmRequested(vmSpec({ vmId: 'v3' })), data: { vmId: 'v3', spec: { vcpus: 'two' } } };
    expect(await ok(bad, ctx(1))).toEqual({ kind: 'term', reason: 'malformed VmRequested: data.spec.vcpus/memoryBytes: must be numbers' });
    const notReady = vmRequestedHandler({ deps: deps(new FakeInventory()), maxDeliver: 3, isReady: () => false, logger });
    expect(await notReady(vmRequested(vmSpec({ vmId: 'v4' })), ctx(1))).toEqual({ kind: 'nak', delayMillis: 1000 });
    expect(await ok({ ...vmRequested(vmSpec({ vmId: 'v5' })), type: 'VmPlaced' }, ctx(1))).toEqual({ kind: 'ack' });
  });
});
