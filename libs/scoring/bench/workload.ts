import { hostSnapshot, vmSpec, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { CostFunctionSpec, HardwareProfile } from '@berth/hardware-config';

/**
 * The benchmark's seeded fleet and VM stream (documented in README.md):
 * hosts: 1% GPU nodes (32 cores, 256 GiB, 4 nvidia-gpu, offset 1000), of the rest two thirds
 * 32 cores / 256 GiB and one third 64 cores / 512 GiB; CPU overcommit 2, two NUMA nodes each;
 * 5% of all hosts in maintenance or disabled.
 * VMs: 62.5% small (1-2 vCPUs, 2-8 GiB), 20% medium (4 vCPUs, 8-16 GiB), 12% large (8-16 vCPUs,
 * 32-64 GiB), 5% dedicated and NUMA-pinned (4 pinned CPUs, 16 GiB on node 0 or 1), 0.5% GPU
 * (8 vCPUs, 64 GiB, one nvidia-gpu).
 */
const GiB = 1024 ** 3;

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const curve = (soft: number, hard: number) => ({ curve: 'hard-soft' as const, soft, hard, softAmt: 0.5, hardAmt: 2, scale: 1 });

export const costFunctions: Record<string, CostFunctionSpec> = {
  compute: {
    id: 'compute',
    name: 'Compute',
    description: '',
    vms: { curve: 'linear', slope: 0.01, base: 0, scale: 1 },
    vcpus: curve(96, 128),
    devices: {},
    scale: 1,
    offset: 0,
  },
  gpu: {
    id: 'gpu',
    name: 'GPU node',
    description: '',
    vms: { curve: 'linear', slope: 0.01, base: 0, scale: 1 },
    vcpus: curve(48, 64),
    devices: { 'nvidia-gpu': { curve: 'linear', slope: 1, base: 0, max: 4, scale: 1 } },
    scale: 1,
    offset: 1000,
  },
};

export const profiles: Record<string, HardwareProfile> = {
  compute: { id: 'compute', name: 'Compute', description: '', cores: 32, memoryBytes: 256 * GiB, devices: [], costFunction: 'compute' },
  gpu: { id: 'gpu', name: 'GPU', description: '', cores: 32, memoryBytes: 256 * GiB, devices: [], costFunction: 'gpu' },
};

export function makeHosts(n: number, random: () => number): HostSnapshot[] {
  const hosts: HostSnapshot[] = [];
  for (let i = 0; i < n; i++) {
    const gpu = i % 100 === 99;
    const big = !gpu && random() < 1 / 3;
    const cores = big ? 64 : 32;
    const mem = (big ? 512 : 256) * GiB;
    const half = cores / 2;
    const roll = random();
    const state = roll < 0.04 ? 'maintenance' : roll < 0.05 ? 'disabled' : 'enabled';
    hosts.push(
      hostSnapshot({
        hostId: `host-${String(i).padStart(6, '0')}`,
        state,
        cpus: cores,
        memoryBytes: mem,
        cpuOvercommit: 2,
        topology: { sockets: 2, coresPerSocket: half, threadsPerCore: 1 },
        numaNodes: [0, 1].map((id) => ({
          id,
          cpus: Array.from({ length: half }, (_, c) => id * half + c),
          memoryBytes: mem / 2,
          hugepages: [],
        })),
        pciDevices: gpu ? [0, 1, 2, 3].map((d) => ({ type: 'nvidia-gpu', address: `0000:0${d}:00.0`, numaNode: d >> 1 })) : [],
        profileId: gpu ? 'gpu' : 'compute',
      }),
    );
  }
  return hosts;
}

export function makeVms(m: number, random: () => number): VmSpec[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const vms: VmSpec[] = [];
  for (let i = 0; i < m; i++) {
    const vmId = `vm-${String(i).padStart(7, '0')}`;
    const r = random();
    if (r < 0.625) {
      const [vcpus, gib] = pick([
        [1, 2],
        [1, 4],
        [2, 4],
        [2, 8],
      ] as const);
      vms.push(vmSpec({ vmId, vcpus, memoryBytes: gib * GiB }));
    } else if (r < 0.825) {
      vms.push(vmSpec({ vmId, vcpus: 4, memoryBytes: pick([8, 16]) * GiB }));
    } else if (r < 0.945) {
      const [vcpus, gib] = pick([
        [8, 32],
        [16, 64],
      ] as const);
      vms.push(vmSpec({ vmId, vcpus, memoryBytes: gib * GiB }));
    } else if (r < 0.995) {
      vms.push(
        vmSpec({
          vmId,
          vcpus: 4,
          memoryBytes: 16 * GiB,
          cpuPolicy: 'dedicated',
          numaNodes: [{ vcpus: 4, memoryBytes: 16 * GiB, pinnedHostNode: pick([0, 1]) }],
        }),
      );
    } else {
      vms.push(vmSpec({ vmId, vcpus: 8, memoryBytes: 64 * GiB, devices: [{ type: 'nvidia-gpu', count: 1 }] }));
    }
  }
  return vms;
}
