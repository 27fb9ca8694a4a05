import { hostSnapshot, vmSpec, type HostCapacity, type HostSnapshot, type VmSpec } from '@berth/fit';
import { parseHardwareConfig } from '@berth/hardware-config';
import { describe, expect, it } from 'vitest';
import { formatExplanation } from './format.ts';
import { schedule, type ScheduleResult } from './schedule.ts';
import { HostView } from './view.ts';

const GiB = 1024 ** 3;

/** The cost functions and profiles of seed 003 (Simple, GPU, pools) as the seed writes them. */
const seed = parseHardwareConfig(
  `ticrypt.vm.cost-functions {
    simple {
      name: "Simple"
      vms: { curve: "linear", slope: 1, base: 0 }
      vcpus: { curve: "hard-soft", soft: 8, hard: 16, softAmt: 4, hardAmt: 32 }
      memory: { curve: "hard-soft", soft: 16 GiB, hard: 32 GiB, scale: 10}
    }
    nvidia-gpu {
      name: "GPU Node"
      vms: { curve: "linear", slope: 1, base: 0 }
      vcpus: { curve: "hard-soft", soft: 8, hard: 16, softAmt: 4, hardAmt: 32 }
      memory: { curve: "hard-soft", soft: 16 GiB, hard: 32 GiB, scale: 10}
      devices.nvidia-gpu: { curve: linear, slope: 1, base: 0, max: 2}
      offset: 100000
    }
    pool2 { vms: { curve: "linear", slope: 1, base: 0 }, offset: 1000 }
  }
  ticrypt.vm.hardware-profiles {
    simple: { cores: 8, memory: 32 GiB, cost-function: simple }
    pool2: { cores: 8, memory: 32 GiB, cost-function: pool2 }
    nvidia-gpu-node: { cores: 8, memory: 32 GiB, cost-function: nvidia-gpu,
      devices = [ {type: "nvidia-gpu", addr: "0000:01:02.0"}, {type: "nvidia-gpu", addr: "02:03.0"}, {type: "nvidia-gpu", addr: "03:03.0"} ] }
  }`,
  { file: 'seed-003.conf' },
);

const host = (hostId: string, profileId: string | undefined, over: Partial<HostCapacity> = {}): HostSnapshot =>
  hostSnapshot({ hostId, cpus: 16, memoryBytes: 64 * GiB, ...(profileId && { profileId }), ...over });
const gpuHost = (hostId: string): HostSnapshot =>
  host(hostId, 'nvidia-gpu-node', { pciDevices: seed.profiles['nvidia-gpu-node']!.devices.map((d) => ({ ...d, numaNode: 0 })) });

function placed(r: ScheduleResult): Extract<ScheduleResult, { kind: 'placed' }> {
  if (r.kind !== 'placed') throw new Error(formatExplanation(r.explanation));
  return r;
}

describe('cost functions of seed 003', () => {
  it('Simple: 1 VM of 2 vCPUs and 4 GiB costs vms 1 + vcpus 1 + memory 2.5', () => {
    const r = placed(schedule(vmSpec({ vmId: 'v', vcpus: 2, memoryBytes: 4 * GiB }), [host('a', 'simple')], seed));
    expect(r.breakdown.cost).toMatchObject({ costFunction: 'simple', vms: 1, vcpus: 1, memory: 2.5, scale: 1, offset: 0, total: 4.5 });
  });
  it('Simple: a host past 16 vCPUs costs infinity and is never chosen', () => {
    const r = schedule(vmSpec({ vmId: 'v', vcpus: 17 }), [host('a', 'simple', { cpus: 32 })], seed);
    expect(r.kind).toBe('failed');
    if (r.kind === 'failed')
      expect(formatExplanation(r.explanation)).toBe(
        '0/1 hosts can take v: 1 cost infinity under cost function simple (vcpus: hard-soft past hard 16 at 17)',
      );
  });
  it('an infinite cost is explained to the curve and its input: vCPUs at 18, memory in GiB, a device past max', () => {
    const busy = host('a', 'simple', { cpus: 32 });
    const twoOn = {
      ...busy,
      claims: [
        {
          vmId: 'w',
          hostId: 'a',
          vcpus: 2,
          memoryBytes: GiB,
          pinnedCpus: [],
          numaCells: [],
          hugepages: [],
          devices: [],
          vfs: [],
          volumes: [],
          affinityGroups: [],
        },
      ],
    };
    const cpu = schedule(vmSpec({ vmId: 'v', vcpus: 16 }), [twoOn], seed);
    expect(cpu.kind === 'failed' && cpu.explanation.groups[0]?.detail).toBe('vcpus: hard-soft past hard 16 at 18');
    const mem = schedule(vmSpec({ vmId: 'v', memoryBytes: 40 * GiB }), [host('a', 'simple')], seed);
    expect(mem.kind === 'failed' && formatExplanation(mem.explanation)).toBe(
      '0/1 hosts can take v: 1 cost infinity under cost function simple (memory: hard-soft past hard 32 GiB at 40 GiB)',
    );
    const gpu = schedule(vmSpec({ vmId: 'v', devices: [{ type: 'nvidia-gpu', count: 3 }] }), [gpuHost('g')], seed);
    expect(gpu.kind === 'failed' && gpu.explanation.groups[0]?.detail).toBe('devices.nvidia-gpu: linear past max 2 at 3');
  });
  it('a pinned VM with more guest NUMA cells than a host has nodes goes to a host with enough, else is explained', () => {
    const two = [
      { id: 0, cpus: [0, 1, 2, 3], memoryBytes: 32 * GiB, hugepages: [] },
      { id: 1, cpus: [4, 5, 6, 7], memoryBytes: 32 * GiB, hugepages: [] },
    ];
    const one = [{ id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7], memoryBytes: 64 * GiB, hugepages: [] }];
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
    const r = placed(
      schedule(vm, [host('a-one', undefined, { cpus: 8, numaNodes: one }), host('b-two', undefined, { cpus: 8, numaNodes: two })], seed),
    );
    expect(r.hostId).toBe('b-two');
    expect(r.claim.numaCells.map((c) => c.hostNode)).toEqual([0, 1]);
    const f = schedule(vm, [host('a-one', undefined, { cpus: 8, numaNodes: one })], seed);
    expect(f.kind === 'failed' && formatExplanation(f.explanation)).toBe(
      '0/1 hosts can take v: 1 have too few NUMA nodes for its guest cells (needs 2 distinct; the best has 1)',
    );
  });
  it('GPU node: the offset keeps ordinary VMs away unless there is no other choice', () => {
    expect(placed(schedule(vmSpec({ vmId: 'v' }), [gpuHost('a-gpu'), host('b', 'simple')], seed)).hostId).toBe('b');
    const only = placed(schedule(vmSpec({ vmId: 'v' }), [gpuHost('a-gpu')], seed));
    expect(only.breakdown.cost.total).toBe(100000 + 1 + 0.5 + (1 / 16) * 10);
  });
  it('GPU node: nvidia-gpu costs 1 each up to a max of 2 used', () => {
    const two = placed(schedule(vmSpec({ vmId: 'v', devices: [{ type: 'nvidia-gpu', count: 2 }] }), [gpuHost('g')], seed));
    expect(two.breakdown.cost.devices).toEqual({ 'nvidia-gpu': 2 });
    const three = schedule(vmSpec({ vmId: 'w', devices: [{ type: 'nvidia-gpu', count: 3 }] }), [gpuHost('g')], seed);
    expect(three.kind).toBe('failed');
  });
  it('a device type with no curve is unavailable', () => {
    const h = host('s', 'simple', { pciDevices: [{ type: 'fpga', address: '0000:05:00.0' }] });
    expect(schedule(vmSpec({ vmId: 'v', devices: [{ type: 'fpga', count: 1 }] }), [h], seed).kind).toBe('failed');
    expect(
      placed(
        schedule(
          vmSpec({ vmId: 'v', devices: [{ type: 'fpga', count: 1 }] }),
          [{ ...h, capacity: { ...h.capacity, profileId: undefined } }],
          seed,
        ),
      ).hostId,
    ).toBe('s');
  });
  it('pool2 (offset 1000) is used only when pool 1 is full', () => {
    const pool1 = host('p1', 'simple', { cpus: 2 });
    expect(placed(schedule(vmSpec({ vmId: 'v' }), [host('p2', 'pool2'), pool1], seed)).hostId).toBe('p1');
    expect(placed(schedule(vmSpec({ vmId: 'v', vcpus: 4 }), [host('p2', 'pool2'), pool1], seed)).hostId).toBe('p2');
  });
  it('the offset is not scaled', () => {
    const scaled = { ...seed, costFunctions: { ...seed.costFunctions, 'nvidia-gpu': { ...seed.costFunctions['nvidia-gpu']!, scale: 2 } } };
    const one = placed(schedule(vmSpec({ vmId: 'v' }), [gpuHost('g')], seed)).breakdown.cost.total;
    const two = placed(schedule(vmSpec({ vmId: 'v' }), [gpuHost('g')], scaled)).breakdown.cost.total;
    expect(two - 100000).toBeCloseTo(2 * (one - 100000));
  });
});

describe('choosing', () => {
  it('lowest cost wins, ties broken by host id, alternates follow in order', () => {
    const hosts = ['h3', 'h1', 'h2'].map((id) => host(id, 'simple'));
    const r = placed(schedule(vmSpec({ vmId: 'v' }), hosts, { ...seed, alternates: 5 }));
    expect([r.hostId, ...r.alternates.map((a) => a.hostId)]).toEqual(['h1', 'h2', 'h3']);
    const view = new HostView(hosts, seed);
    view.applyClaim(r.claim);
    expect(placed(schedule(vmSpec({ vmId: 'w' }), view)).hostId).toBe('h2');
  });
  it('pack fills the most loaded host that fits, spread the least loaded', () => {
    const view = new HostView([host('a', undefined), host('b', undefined)]);
    view.applyClaim(placed(schedule(vmSpec({ vmId: 'x', vcpus: 4 }), view)).claim);
    const vm = vmSpec({ vmId: 'v' });
    expect(placed(schedule(vm, view, { policyFor: () => ({ kind: 'pack' }) })).hostId).toBe('a');
    expect(placed(schedule(vm, view, { policyFor: () => ({ kind: 'spread' }) })).hostId).toBe('b');
  });
  it('excluded hosts are skipped', () => {
    expect(
      placed(schedule(vmSpec({ vmId: 'v' }), [host('a', 'simple'), host('b', 'simple')], { ...seed, excludedHosts: ['a'] })).hostId,
    ).toBe('b');
  });
  it('high-performance VMs prefer hosts with at least their sockets, cores and threads', () => {
    const small = host('a', undefined, { topology: { sockets: 1, coresPerSocket: 8, threadsPerCore: 1 } });
    const big = host('b', undefined, { topology: { sockets: 2, coresPerSocket: 8, threadsPerCore: 2 } });
    const vm: VmSpec = vmSpec({ vmId: 'v', highPerformance: true, topology: { sockets: 2, coresPerSocket: 2, threadsPerCore: 2 } });
    const r = placed(schedule(vm, [small, big]));
    expect(r.hostId).toBe('b');
    expect(r.alternates[0]?.weights.hpTopology).toBe(10);
  });
  it('soft affinity and hard together-affinity follow the group', () => {
    const group = { group: 'web', polarity: 'affinity', target: 'vm', hosts: [] } as const;
    const view = new HostView([host('a', undefined), host('b', undefined)]);
    view.applyClaim(
      placed(schedule(vmSpec({ vmId: 'first', affinity: [{ ...group, enforcement: 'soft' }] }), view, { excludedHosts: ['a'] })).claim,
    );
    expect(placed(schedule(vmSpec({ vmId: 's', affinity: [{ ...group, enforcement: 'soft' }] }), view)).hostId).toBe('b');
    expect(placed(schedule(vmSpec({ vmId: 'h', affinity: [{ ...group, enforcement: 'hard' }] }), view)).hostId).toBe('b');
    const anti = placed(schedule(vmSpec({ vmId: 'n', affinity: [{ ...group, polarity: 'anti-affinity', enforcement: 'soft' }] }), view));
    expect(anti.hostId).toBe('a');
  });
});

describe('explanations', () => {
  it('says per filter how many hosts it removed, with the closest miss', () => {
    const hosts: HostSnapshot[] = [];
    const gpus = [{ type: 'nvidia-gpu', address: '0000:01:00.0' }];
    for (let i = 0; i < 80; i++)
      hosts.push(host(`m${String(i).padStart(2, '0')}`, undefined, { memoryBytes: (i === 7 ? 12 : 8) * GiB, pciDevices: gpus }));
    for (let i = 0; i < 30; i++) hosts.push(host(`x${i}`, undefined, { state: 'maintenance', pciDevices: gpus }));
    for (let i = 0; i < 10; i++) hosts.push(host(`g${i}`, undefined));
    const r = schedule(vmSpec({ vmId: 'vm-7', memoryBytes: 16 * GiB, devices: [{ type: 'nvidia-gpu', count: 1 }] }), hosts);
    expect(r.kind).toBe('failed');
    if (r.kind !== 'failed') return;
    expect(formatExplanation(r.explanation)).toBe(
      '0/120 hosts can take vm-7: 80 lack memory (needs 16 GiB; the best has 12 GiB free), 30 in maintenance, 10 have no free nvidia-gpu',
    );
    expect(r.explanation.groups[0]).toMatchObject({
      reason: 'memory',
      hosts: 80,
      needed: 16 * GiB,
      bestAvailable: 12 * GiB,
      sampleHosts: ['m00', 'm01', 'm02'],
    });
  });
});

describe('soft affinity in a large class', () => {
  it('finds the one host running the group among many identical ones', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => host(`h${String(i).padStart(3, '0')}`, undefined));
    const view = new HostView(hosts);
    const group = { group: 'db', polarity: 'affinity', target: 'vm', enforcement: 'soft', hosts: [] } as const;
    // h150 runs a db VM; h151 an identical load without the group: both land in one class.
    view.applyClaim(
      placed(
        schedule(vmSpec({ vmId: 'db-1', affinity: [group] }), view, { excludedHosts: hosts.slice(0, 150).map((h) => h.capacity.hostId) }),
      ).claim,
    );
    view.applyClaim(
      placed(schedule(vmSpec({ vmId: 'other' }), view, { excludedHosts: hosts.slice(0, 151).map((h) => h.capacity.hostId) })).claim,
    );
    for (let i = 0; i < 60; i++) {
      const id = `x-${i}`;
      view.applyClaim(
        placed(schedule(vmSpec({ vmId: id }), view, { excludedHosts: ['h150', 'h151'], policyFor: () => ({ kind: 'spread' }) })).claim,
      );
    }
    const r = placed(schedule(vmSpec({ vmId: 'db-2', affinity: [group] }), view, { policyFor: () => ({ kind: 'spread' }) }));
    expect(r.hostId).toBe('h150');
    expect(r.breakdown.weights.softAffinity).toBe(0);
  });
});
