import { afterEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '@berth/errors';
import { modelV1 } from '@berth/contracts';
import { vmSpec } from '@berth/fit';
import type { ConsumeContext } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { DecisionLog } from '../application/decision-log.ts';
import type { PlaceVmDeps } from '../application/place-vm.ts';
import { FakeEngine, FakeInventory, FakeSource, MapView, host } from '../testing/fake-ports.ts';
import { fromProtoVmSpec, toJson } from './grpc/translate.ts';
import { parseCostConfig } from './nats/hardware-config-watch.ts';
import { isStale, parseSnapshot, peekGeneration } from './nats/snapshot-watch.ts';
import { KeepAlive, vmRequestedHandler } from './nats/vm-requested.ts';
import { vmRequested } from '../testing/nats.ts';

const GiB = 1024 ** 3;
const logger = createLogger('test', { level: 'silent' });

describe('fromProtoVmSpec', () => {
  it('maps every field to the fit model, with defaults for empty values', () => {
    const spec = fromProtoVmSpec(
      modelV1.VmSpec.fromPartial({
        vcpus: 4,
        memoryBytes: 8 * GiB,
        disks: [
          { sizeBytes: GiB, pool: '' },
          { sizeBytes: 2 * GiB, pool: 'fast' },
        ],
        devices: [{ type: 'nvidia-gpu', count: 1 }],
        nics: [{ sriov: true, network: { space: 'data', subnet: '' } }, { sriov: false }],
        numaNodes: [
          { vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 1 },
          { vcpus: 2, memoryBytes: 4 * GiB },
        ],
        cpuPolicy: modelV1.CpuPolicy.CPU_POLICY_DEDICATED,
        hugepageSizeBytes: 2 * 1024 * 1024,
        slaTier: modelV1.SlaTier.SLA_TIER_GOLD,
        affinity: [
          {
            group: 'db',
            polarity: modelV1.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY,
            target: modelV1.AffinityTarget.AFFINITY_TARGET_VM,
            enforcement: modelV1.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT,
            hosts: [],
          },
        ],
      }),
      'v1',
    );
    expect(spec).toMatchObject({
      vmId: 'v1',
      name: 'v1',
      disks: [{ sizeBytes: GiB }, { sizeBytes: 2 * GiB, pool: 'fast' }],
      nics: [{ sriov: true, network: { space: 'data' } }, { sriov: false }],
      numaNodes: [
        { vcpus: 2, memoryBytes: 4 * GiB, pinnedHostNode: 1 },
        { vcpus: 2, memoryBytes: 4 * GiB },
      ],
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
        modelV1.VmSpec.fromPartial({
          vcpus: 3,
          memoryBytes: 1.5,
          devices: [{ type: '', count: 0 }],
          numaNodes: [{ vcpus: 1, memoryBytes: 0 }],
        }),
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
    expect(parseSnapshot({ generation: 1, claims: [], capacity: { hostId: '', cpus: 1, memoryBytes: 1 } })).toBe(
      'capacity.hostId: must be a non-empty string',
    );
    expect(parseSnapshot({ generation: 1.5, claims: [] })).toBe('generation: must be an integer');
    expect(parseSnapshot(host('h', 2))).toMatchObject({ capacity: { hostId: 'h' } });
    expect(parseCostConfig({ costFunctions: {} })).toBe('profiles: must be an object');
    expect(parseCostConfig({ costFunctions: {}, profiles: {}, realm: {} })).toEqual({ costFunctions: {}, profiles: {} });
  });
});

describe("reading a snapshot's generation without parsing it", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('finds the top-level generation of what inventory writes (JSON.stringify)', () => {
    expect(peekGeneration(bytes(JSON.stringify(host('h', 2, 42))))).toBe(42);
    expect(peekGeneration(bytes('{"claims":[],"generation":7}'))).toBe(7);
    expect(peekGeneration(bytes('{"generation":0,"claims":[]}'))).toBe(0);
    // The text of a key inside a string value is escaped, so it cannot be mistaken for the key.
    const named = host('h', 2, 3);
    expect(peekGeneration(bytes(JSON.stringify({ ...named, capacity: { ...named.capacity, name: 'x","generation":99,"y' } })))).toBe(3);
    // A view over part of a larger buffer.
    const whole = bytes(`xx${JSON.stringify(host('h', 2, 11))}yy`);
    expect(peekGeneration(whole.subarray(2, whole.length - 2))).toBe(11);
  });

  it('gives up (the caller parses) whenever it cannot be sure', () => {
    for (const text of [
      JSON.stringify(host('h', 2, 5), null, 2), // whitespace
      '{"capacity":{"generation":1},"generation":5,"claims":[]}', // a second key of that name
      '{"generation":1.5,"claims":[]}',
      '{"generation":-1,"claims":[]}',
      '{"generation":12345678901234567890,"claims":[]}',
      '{"generation":"5","claims":[]}',
      '{"generation":}',
      'not json',
      '',
    ]) {
      expect(peekGeneration(bytes(text)), text).toBeUndefined();
    }
  });

  it('calls an update stale when the view holds that generation of the host or a later one', () => {
    const view = new MapView();
    view.upsert(host('h1', 4, 5));
    const at = (g: number) => bytes(JSON.stringify(host('h1', 4, g)));
    expect([4, 5, 6].map((g) => isStale(view, 'h1', at(g)))).toEqual([true, true, false]);
    expect(isStale(view, 'h2', bytes(JSON.stringify(host('h2', 4, 1))))).toBe(false);
    expect(isStale(view, 'h1', bytes('garbage'))).toBe(false);
  });
});

describe('KeepAlive', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports progress for each message in hand every interval, with one timer, gone once none is in hand', () => {
    vi.useFakeTimers();
    const keepAlive = new KeepAlive(5000);
    const calls: string[] = [];
    const endA = keepAlive.begin(() => calls.push('a'));
    vi.advanceTimersByTime(3000);
    const endB = keepAlive.begin(() => calls.push('b'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2000); // a: 5 s in hand
    expect(calls).toEqual(['a']);
    vi.advanceTimersByTime(3000); // b: 5 s in hand
    expect(calls).toEqual(['a', 'b']);
    endA();
    vi.advanceTimersByTime(5000);
    expect(calls).toEqual(['a', 'b', 'b']);
    endB();
    expect(keepAlive.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(20_000);
    expect(calls).toHaveLength(3);
  });
});

describe('vmRequestedHandler', () => {
  const ctx = (deliveryCount: number): ConsumeContext => ({
    working: () => undefined,
    deliveryCount,
    subject: 's',
    streamSequence: 1,
    header: () => undefined,
  });
  function deps(inventory: FakeInventory): PlaceVmDeps {
    const view = new MapView();
    view.upsert(host('h1', 4));
    return {
      engine: new FakeEngine(view),
      view,
      source: new FakeSource(new Map()),
      inventory,
      decisions: new DecisionLog(),
      maxAttempts: 2,
      alternates: 1,
      hostSubsetSize: 1,
      random: () => 0,
      now: () => new Date(0),
    };
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
